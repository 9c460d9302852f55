"""evals: known-answer canaries per step and tier (`devloop eval`).

A case is a small, fixed input to one model step with an answer devloop already knows: a
plan missing a requirement (validate-requirements must fail it and name it), a plan calling
an interface with the wrong signature (validate-integration), a build plan that drops a plan
item (double-check), diffs with a planted bug, a contract violation and a security slip
(review and audit must report them where they are), a failing test run whose cause is in a
changed file (triage must name it), a small implement task with hidden tests (the build
agent's work must pass them). The same question, asked over and over, on each tier:

- cases.py: the case format, the bundled cases (cases/*.toml) and a user's own directory;
- judge.py: the deterministic judge of one answer (passed, and what was missed);
- runner.py: each case through the real Door on each tier, priced into the ledger under a
  feature tagged "eval", scored, kept under .devloop/evals/ and compared with the last run;
- implement_case.py: an implement case: the build agent in a fresh repository, in the
  sandbox, then the hidden tests.

May import: loop (prompts), agent, sandbox, git, model, ledger, the leaf modules. Only cli
imports it.
"""

from devloop.evals.cases import Case, load_cases
from devloop.evals.runner import EvalRun, Outcome, run_eval

__all__ = ["Case", "EvalRun", "Outcome", "load_cases", "run_eval"]

"""The loop: one feature from spec to committed change through the step table.

Its job: start, resume and list features (start.py), walk the table (engine.py) with the
step bodies (bodies.py, commit.py), gates (gates.py) and bookkeeping (steprun.py) over one
run's context (feature_run.py); render prompts (prompts.py, with codemap's project map);
price a run before it starts (dryrun.py, projection.py, preflight.py); compare routes (ab.py).

May import: the leaf modules (steps, config, state, schemas, spec, money, tokens, sandbox,
proc, errors), model, ledger, agent, git, checks, routing, reports, codemap. Never cli or demo.
"""

from devloop.loop.commit import commit_message
from devloop.loop.events import Emit, Event, RunOptions, RunResult, StepFailed
from devloop.loop.start import FeatureStatus, load_spec, repo_head, resume, start, statuses

__all__ = [
    "Emit",
    "Event",
    "FeatureStatus",
    "RunOptions",
    "RunResult",
    "StepFailed",
    "commit_message",
    "load_spec",
    "repo_head",
    "resume",
    "start",
    "statuses",
]

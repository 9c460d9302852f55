"""agent: the build agent, the tool-using half of the build and verify steps.

- contract.py: the one interface the loop calls (BuildAgent, StepContext, StepOutcome);
- builder.py: implement (one conversation per task), remediate, final-remediate, docs;
- conversation.py: one piece of work: attempts, limits, escalation to the frontier tier;
- worktree.py: checks after the work, snapshots, test-tamper detection;
- tools/: the editor and the shell the model uses (workspace.py, editor.py), in the sandbox.

May import: model (every call goes through the Door), checks, git, sandbox and the leaf
modules (config, steps, schemas, state, errors, redaction). Never loop, reports or cli.
"""

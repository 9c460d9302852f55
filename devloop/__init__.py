"""devloop: a routed plan/build/verify loop for one feature, with every model call priced.

The packages, top layer first (ARCHITECTURE.md has the diagram; import-linter enforces it):
cli > demo | evals > loop > agent | reports > checks > routing | sandbox | model >
git | ledger, over leaf modules every layer may import (steps, config, state, schemas, spec,
errors, money, proc, tokens, ...). sim, the offline API server, stands apart from all of them.
"""

__version__ = "0.1.0"

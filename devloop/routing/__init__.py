"""routing: which worker runs each step, and why.

- decide.py: the routers (rule, complexity, hybrid), Route, ROUTING.md rendered from the
  step table and the config;
- signals.py: a feature's complexity signals, from the spec or the build plan;
- outcomes.py: how a step run went, recorded with it for suggest, ab and explain.

May import: ledger, git and the leaf modules (steps, config, schemas, errors).
"""

from devloop.routing.decide import (  # noqa: F401
    ADAPTIVE,
    FRONTIER,
    LIGHT,
    MID,
    ROUTING_DOC,
    Route,
    decide,
    render_markdown,
    routes,
    rule_route,
)

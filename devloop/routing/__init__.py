"""Which worker runs each step, and why."""

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

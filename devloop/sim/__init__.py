"""devloop's offline Anthropic-compatible server, for tests and demos without network or key.

The real ``anthropic`` SDK talks to it over HTTP on 127.0.0.1: ``POST /v1/messages`` (JSON and
SSE streaming), ``POST /v1/messages/count_tokens``, ``GET /v1/models[/{id}]``. Replies come
from a scenario (format: ``devloop.sim.scenario``); usage and prompt caching are computed from
the request (``devloop.promptcache``, shared with the ledger's baseline); requests are
validated like the API (``devloop.sim.validate``). Standard library only: the SDK is a
client, never imported here.

May import: the leaf modules shared with the engine's model of the API (promptcache, tokens,
capabilities, errors); nothing of the engine (an import-linter contract).
"""

from devloop.sim.app import SimRequest
from devloop.sim.scenario import (
    Scenario,
    ScenarioError,
    bundled_scenarios,
    find_scenario,
    load_scenario,
    parse_scenario,
)
from devloop.sim.server import SimServer

__all__ = [
    "Scenario",
    "ScenarioError",
    "SimRequest",
    "SimServer",
    "bundled_scenarios",
    "find_scenario",
    "load_scenario",
    "parse_scenario",
]

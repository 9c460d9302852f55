"""ROUTING.md matches what `devloop routing --markdown` renders for the config."""

from __future__ import annotations

from typing import TYPE_CHECKING

from devloop.checks.results import CheckResult, Detail
from devloop.config import Config

if TYPE_CHECKING:
    pass


FIX_ROUTING = "devloop routing --markdown > ROUTING.md"


def check_routing(cfg: Config) -> CheckResult:
    """ROUTING.md matches what `devloop routing --markdown` renders for this config."""
    from devloop import routing  # only when ROUTING.md or the config is involved

    name, doc = "routing doc", routing.ROUTING_DOC
    path = cfg.root / doc
    expected = routing.render_markdown(cfg)
    if not path.is_file():
        return CheckResult(name, False, f"{doc} is missing", [Detail("missing", doc)], FIX_ROUTING)
    actual = path.read_text(encoding="utf-8", errors="replace")
    if actual == expected:
        return CheckResult(name, True, f"{doc} matches the routing config")
    have, want = actual.splitlines(), expected.splitlines()
    line = next(
        (i for i, (a, b) in enumerate(zip(have, want, strict=False), 1) if a != b),
        min(len(have), len(want)) + 1,
    )
    detail = Detail("differs from what the routing config renders from here on", doc, line)
    return CheckResult(name, False, f"{doc} is out of date with the config", [detail], FIX_ROUTING)

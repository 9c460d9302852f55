"""`devloop routing calibrate`: the high threshold that sends a chosen share to frontier.

The quantile method RouteLLM uses: over the complexity scores the ledger recorded for
adaptive routing decisions (one per step run routed by the complexity or hybrid router),
the threshold is the score below which all but the wanted share fall. Ties are kept on one
side of the threshold, so the share reached is the closest the recorded scores allow, and
the threshold sits halfway between two recorded scores so a rounding never moves it.

Under the complexity router the share is exactly the share of model steps sent to
frontier; under the hybrid router it is the share promoted (or kept) at frontier by score,
since the rule's frontier steps stay there anyway.

Writing the threshold changes one line of the config file (devloop.toml, or
[tool.devloop.routing] in pyproject.toml), leaving the rest of the file as it was, and
re-reads the config to prove it; a file that would not read back is restored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from devloop import config as config_mod
from devloop.config import Config
from devloop.errors import ConfigError
from devloop.ledger import Ledger
from devloop.routing import ADAPTIVE
from devloop.state import atomic_write

FEW_DECISIONS = 20  # below this the threshold is a rough one, and we say so


@dataclass(frozen=True)
class Calibration:
    threshold: float
    decisions: int  # scored decisions in the ledger
    features: int
    frontier: int  # decisions at or above the threshold
    target_share: float

    @property
    def share(self) -> float:
        return self.frontier / self.decisions if self.decisions else 0.0


def recorded_scores(ledger: Ledger) -> tuple[list[float], int]:
    """The scores of every adaptive routing decision recorded, and how many features."""
    scores, features = [], set()
    for run in ledger.step_run_records():
        route = run.route or {}
        if route.get("router") in ADAPTIVE and isinstance(route.get("score"), int | float):
            scores.append(float(route["score"]))
            features.add(run.feature)
    return scores, len(features)


def threshold_for(scores: list[float], share: float) -> tuple[float, int]:
    """(threshold, decisions at or above it) closest to `share` of `scores`."""
    if not scores:
        raise ValueError("no scores to calibrate on")
    ordered = sorted(scores, reverse=True)
    n, target = len(ordered), share * len(ordered)
    # A cut after the k highest scores is possible only between two different scores.
    cuts = [k for k in range(n + 1) if k in (0, n) or ordered[k - 1] > ordered[k]]
    if ordered[0] >= 1.0:
        cuts = [k for k in cuts if k > 0]  # a threshold above 1 cannot be configured
    k = min(cuts, key=lambda c: (abs(c - target), c))
    if k == 0:
        threshold = round(min(1.0, ordered[0] + 0.001), 4)
    elif k == n:
        threshold = ordered[-1]
    else:
        threshold = round((ordered[k - 1] + ordered[k]) / 2, 4)
    return threshold, sum(1 for s in ordered if s >= threshold)


def calibrate(ledger: Ledger, share: float) -> Calibration:
    scores, features = recorded_scores(ledger)
    threshold, frontier = threshold_for(scores, share)
    return Calibration(threshold, len(scores), features, frontier, share)


# ------------------------------------------------------------------ writing


def write_threshold(cfg: Config, high: float) -> tuple[Path, list[str]]:
    """Set [routing] high_threshold (and low_threshold, when it would be above it) in the
    config file; returns the file and the lines changed."""
    path = cfg.source or cfg.root / config_mod.CONFIG_FILE
    table = "tool.devloop.routing" if path.name == config_mod.PYPROJECT else "routing"
    original = path.read_text(encoding="utf-8") if path.exists() else None
    values = {"high_threshold": high}
    if cfg.routing.low_threshold > high:
        values["low_threshold"] = high
    text = original or ""
    for key, value in values.items():
        text = _set_key(text, table, key, f"{value:g}")
    atomic_write(path, text)
    try:
        loaded = config_mod.load(cfg.root)
        if loaded.routing.high_threshold != high:
            raise ConfigError(f"{path}: high_threshold did not read back as {high:g}")
    except ConfigError as exc:
        if original is None:
            path.unlink()
        else:
            atomic_write(path, original)
        raise ConfigError(
            f"{exc.message} The file is unchanged; set [{table}] high_threshold = {high:g} by hand."
        ) from None
    return path, [f"[{table}] {key} = {value:g}" for key, value in values.items()]


def _set_key(text: str, table: str, key: str, value: str) -> str:
    """`key = value` in [table]: the existing line replaced, or added under the header,
    or a new table appended. Comments and the rest of the file are left alone."""
    lines = text.splitlines()
    header = re.compile(r"\s*\[\s*" + re.escape(table).replace(r"\.", r"\s*\.\s*") + r"\s*\]")
    start = next((i for i, line in enumerate(lines) if header.fullmatch(line.split("#")[0])), None)
    if start is None:
        block = (
            ["", f"[{table}]", f"{key} = {value}"] if lines else [f"[{table}]", f"{key} = {value}"]
        )
        return "\n".join(lines + block) + "\n"
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines)
    )
    pattern = re.compile(r"\s*" + re.escape(key) + r"\s*=")
    for i in range(start + 1, end):
        if pattern.match(lines[i]):
            comment = lines[i].split("#", 1)[1] if "#" in lines[i] else ""
            lines[i] = f"{key} = {value}" + (f"  #{comment}" if comment else "")
            return "\n".join(lines) + "\n"
    lines.insert(start + 1, f"{key} = {value}")
    return "\n".join(lines) + "\n"

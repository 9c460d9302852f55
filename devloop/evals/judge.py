"""The deterministic judge of one eval answer: did it find what was planted?

- a verdict step: the verdict must be the expected one; a failing verdict must name each of
  `names` (case-insensitive) in a finding or in a coverage row it marks partly or missing;
- a findings step: some finding at `location` (the file, within 3 lines of the line) at
  least `min_severity` severe;
- a notes step (triage): the answer names each of `mentions`;
- an implement case: its hidden tests pass on the agent's work (implement_case.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from devloop.evals.cases import Case
from devloop.schemas import findings_of

LINE_SLACK = 3


@dataclass(frozen=True)
class Judgement:
    passed: bool
    missed: str = ""  # what a failed answer did not do, in a sentence


def judge(case: Case, text: str, data: dict[str, Any] | None) -> Judgement:
    rules = case.judge
    if "verdict" in rules:
        return _verdict(rules, data or {})
    if "location" in rules:
        return _finding(rules, data or {})
    return _mentions(rules, text)


def _verdict(rules: dict[str, Any], data: dict[str, Any]) -> Judgement:
    expected = rules["verdict"]
    if data.get("verdict") != expected:
        return Judgement(False, f"verdict {data.get('verdict')!r}, expected {expected!r}")
    if expected != "fail":
        return Judgement(True)
    said = [f"{f.location} {f.problem}" for f in findings_of(data)]
    said += [
        f"{row.get('item', '')} {row.get('where', '')}"
        for row in data.get("coverage") or []
        if row.get("status") in ("partly", "missing")
    ]
    text = "\n".join(said).lower()
    missing = [name for name in rules.get("names", []) if name.lower() not in text]
    if missing:
        return Judgement(False, f"failed the plan without naming {', '.join(missing)}")
    return Judgement(True)


def _finding(rules: dict[str, Any], data: dict[str, Any]) -> Judgement:
    from devloop.schemas import SEVERITIES

    path, _, line = str(rules["location"]).partition(":")
    floor = SEVERITIES.index(rules.get("min_severity", "low"))
    near = []
    for finding in findings_of(data):
        if path not in finding.location:
            continue
        numbers = [int(n) for n in re.findall(rf"{re.escape(path)}:(\d+)", finding.location)]
        if line and not any(abs(n - int(line)) <= LINE_SLACK for n in numbers):
            continue
        near.append(finding)
    if any(SEVERITIES.index(f.severity) <= floor for f in near):
        return Judgement(True)
    if near:
        worst = min(near, key=lambda f: SEVERITIES.index(f.severity)).severity
        return Judgement(False, f"reported {rules['location']} only as {worst}")
    return Judgement(False, f"no finding at {rules['location']}")


def _mentions(rules: dict[str, Any], text: str) -> Judgement:
    missing = [m for m in rules.get("mentions", []) if m.lower() not in text.lower()]
    if missing:
        return Judgement(False, f"did not name {', '.join(missing)}")
    return Judgement(True)

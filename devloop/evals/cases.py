"""The eval case format, and where cases come from.

One TOML file per case:

    id = "requirements-missing-export"       # unique; the file name is used when absent
    step = "validate-requirements"           # a model step of the table (not a tool step)
    title = "Export the report"              # the spec's title
    spec = "..."                             # the spec, in the cached prefix
    map = "..."                              # optional: the project map, in the prefix
    [inputs]                                 # the step template's placeholders; missing: ""
    plan = "..."
    [judge]                                  # what a right answer does (judge.py)
    verdict = "fail"                         # verdict steps: the expected verdict
    names = ["--json"]                       # ... and what a failing verdict must name
    location = "src/pager.py:12"             # findings steps: a finding here (+-3 lines)
    min_severity = "high"                    # ... at least this severe
    mentions = ["src/dates.py", "parse_date"]  # notes steps: the answer names each

Bundled cases are devloop/evals/cases/*.toml; a directory of a user's own adds to them.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from devloop.errors import UsageError
from devloop.schemas import SEVERITIES
from devloop.steps import AGENT_KINDS, STEPS, Step, resolve_step

JUDGE_KEYS = ("verdict", "names", "location", "min_severity", "mentions")


@dataclass(frozen=True)
class Case:
    id: str
    step: Step
    title: str
    spec: str
    inputs: dict[str, str]
    judge: dict[str, Any]
    map: str = ""
    source: str = ""  # the file it came from
    notes: tuple[str, ...] = field(default=())


def load_cases(extra_dir: Path | None = None, steps: list[str] | None = None) -> list[Case]:
    """The bundled cases, plus those in `extra_dir`, for `steps` (default: all), in step
    order then id order."""
    bundled = resources.files("devloop.evals").joinpath("cases")
    found = [
        _parse(tomllib.loads(f.read_text(encoding="utf-8")), f.name)
        for f in bundled.iterdir()
        if f.name.endswith(".toml")
    ]
    if extra_dir is not None:
        if not extra_dir.is_dir():
            raise UsageError(f"--cases {extra_dir}: no such directory of eval cases.")
        for path in sorted(extra_dir.glob("*.toml")):
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise UsageError(f"eval case {path}: cannot be read ({exc}).") from None
            found.append(_parse(data, str(path)))
    ids = [c.id for c in found]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise UsageError(f"eval cases with the same id: {', '.join(dupes)}. Rename one.")
    if steps:
        wanted = {resolve_step(s).key for s in steps}
        found = [c for c in found if c.step.key in wanted]
    return sorted(found, key=lambda c: (c.step.number, c.id))


def _parse(data: dict[str, Any], source: str) -> Case:
    where = f"eval case {source}"
    try:
        step = resolve_step(str(data.get("step", "")))
    except UsageError as exc:
        raise UsageError(f"{where}: {exc.message}") from None
    if not step.calls_model or step.kind in AGENT_KINDS:
        models = ", ".join(s.key for s in STEPS if s.calls_model and s.kind not in AGENT_KINDS)
        raise UsageError(f"{where}: step '{step.key}' is not a one-call model step ({models}).")
    judge = data.get("judge")
    if not isinstance(judge, dict) or not judge:
        raise UsageError(f"{where}: a [judge] table says what a right answer does.")
    unknown = sorted(set(judge) - set(JUDGE_KEYS))
    if unknown:
        raise UsageError(f"{where}: unknown [judge] keys {unknown}; known: {list(JUDGE_KEYS)}.")
    if judge.get("min_severity", "low") not in SEVERITIES:
        raise UsageError(f"{where}: min_severity must be one of {list(SEVERITIES)}.")
    inputs = data.get("inputs") or {}
    names = {name for name, _ in step.inputs}
    extra = sorted(set(inputs) - names)
    if extra:
        raise UsageError(
            f"{where}: step '{step.key}' has no inputs {extra}; it takes {sorted(names)}."
        )
    return Case(
        id=str(data.get("id") or Path(source).stem),
        step=step,
        title=str(data.get("title") or "An eval case"),
        spec=str(data.get("spec") or ""),
        inputs={name: str(inputs.get(name, "")) for name in sorted(names)},
        judge=judge,
        map=str(data.get("map") or ""),
        source=source,
    )

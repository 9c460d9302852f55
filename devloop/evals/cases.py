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

An implement case (implement_case.py) is a small repository and one task instead:

    step = "implement"
    test = "{python} -m unittest -q"         # the task's checks ({python}: devloop's own)
    [files]                                  # the repository, committed before the task
    "pkg/core.py" = "..."
    [task]                                   # one build-plan task (schemas.BUILD_PLAN)
    id = "T1"  title = "..."  description = "..."  files = [{path = "...", action = "modify"}]
    acceptance = ["..."]  tests = ["tests/test_core.py"]
    [inputs]
    contract = "..."
    [judge]
    command = "{python} -m unittest -q tests/test_hidden.py"  # run after the task
    hidden_tests = {"tests/test_hidden.py" = "..."}          # written in only then

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
from devloop.steps import AGENT_KINDS, AGENT_TASKS, STEPS, Step, resolve_step

JUDGE_KEYS = ("verdict", "names", "location", "min_severity", "mentions")
IMPLEMENT_JUDGE_KEYS = ("command", "hidden_tests")
TASK_KEYS = ("id", "title", "description", "files", "acceptance", "tests")


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
    # An implement case: the repository's files, the task, and the task's test command.
    files: dict[str, str] = field(default_factory=dict)
    task: dict[str, Any] = field(default_factory=dict)
    test_command: str = ""

    @property
    def builds(self) -> bool:
        return self.step.kind == AGENT_TASKS


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
    judged = [s for s in STEPS if s.calls_model and s.kind not in AGENT_KINDS]
    judged += [s for s in STEPS if s.kind == AGENT_TASKS]
    if step not in judged:
        names = ", ".join(s.key for s in judged)
        raise UsageError(
            f"{where}: step '{step.key}' has no eval cases; the steps that do: {names}."
        )
    judge = data.get("judge")
    if not isinstance(judge, dict) or not judge:
        raise UsageError(f"{where}: a [judge] table says what a right answer does.")
    known = IMPLEMENT_JUDGE_KEYS if step.kind == AGENT_TASKS else JUDGE_KEYS
    unknown = sorted(set(judge) - set(known))
    if unknown:
        raise UsageError(f"{where}: unknown [judge] keys {unknown}; known: {list(known)}.")
    if step.kind == AGENT_TASKS:
        _check_implement(data, judge, where)
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
        files={str(k): str(v) for k, v in (data.get("files") or {}).items()},
        task=dict(data.get("task") or {}),
        test_command=str(data.get("test") or ""),
    )


def _check_implement(data: dict[str, Any], judge: dict[str, Any], where: str) -> None:
    """An implement case names a repository, a task, its test command and hidden tests."""
    files, task = data.get("files"), data.get("task")
    if not isinstance(files, dict) or not files:
        raise UsageError(f"{where}: an implement case needs [files]: the repository's content.")
    if not isinstance(task, dict) or sorted(task) != sorted(TASK_KEYS):
        raise UsageError(f"{where}: [task] needs exactly the keys {list(TASK_KEYS)}.")
    if not str(data.get("test") or "").strip():
        raise UsageError(f"{where}: `test` is the task's test command ({{python}} allowed).")
    hidden = judge.get("hidden_tests")
    if not isinstance(hidden, dict) or not hidden or not str(judge.get("command", "")).strip():
        raise UsageError(
            f"{where}: [judge] needs `command` and `hidden_tests` (path = content), the tests "
            "the agent never sees."
        )

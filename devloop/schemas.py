"""The structured outputs of the loop's model steps, in one place, with typed views.

Every schema stays inside the structured-output subset: objects with
`additionalProperties: false` and a full `required` list, enums for closed sets, and no
numeric or length constraints. The Door checks each answer against its schema
(`jsonshape`), so the typed views below can trust the shape.

- VERDICT: steps 3, 4 and 6 (validate-requirements, validate-integration, double-check).
- FINDINGS: steps 9 and 10 (review, audit).
- BUILD_PLAN: step 5, the ordered task list the build agent implements.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low")  # most severe first
FILE_ACTIONS: tuple[str, ...] = ("create", "modify", "delete")


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


_STRING = {"type": "string"}
_STRINGS = {"type": "array", "items": _STRING}

FINDING = _object(
    {
        "severity": {"type": "string", "enum": list(SEVERITIES)},
        "location": _STRING,  # file:line, a plan section, or an interface name
        "problem": _STRING,
        "suggestion": _STRING,
    }
)

COVERAGE_STATUSES: tuple[str, ...] = ("covered", "partly", "missing")
COVERAGE_ITEM = _object(
    {
        "item": _STRING,  # a requirement, an interface, a plan item
        "where": _STRING,  # the plan section, the code location, the task ids
        "status": {"type": "string", "enum": list(COVERAGE_STATUSES)},
    }
)

# In the order the model writes it: it walks the items, then reports, then judges.
VERDICT = _object(
    {
        "coverage": {"type": "array", "items": COVERAGE_ITEM},
        "findings": {"type": "array", "items": FINDING},
        "verdict": {"type": "string", "enum": ["pass", "fail"]},
    }
)

FINDINGS = _object({"findings": {"type": "array", "items": FINDING}})

BUILD_PLAN = _object(
    {
        "summary": _STRING,
        "tasks": {
            "type": "array",
            "items": _object(
                {
                    "id": _STRING,  # "T1", "T2", ... in build order
                    "title": _STRING,
                    "description": _STRING,
                    "files": {
                        "type": "array",
                        "items": _object(
                            {
                                "path": _STRING,
                                "action": {"type": "string", "enum": list(FILE_ACTIONS)},
                            }
                        ),
                    },
                    "acceptance": _STRINGS,  # observable criteria
                    "tests": _STRINGS,  # test files or commands that prove the task
                }
            ),
        },
        # A revision's answer to a finding it judges wrong: the double-check sees it.
        "declined": {"type": "array", "items": _object({"finding": _STRING, "reason": _STRING})},
    }
)
BUILD_PLAN["required"] = ["summary", "tasks"]  # "declined" is optional: a first plan has none

# The schemas a step row names (steps.Step.schema).
BY_NAME = {"verdict": VERDICT, "findings": FINDINGS, "build_plan": BUILD_PLAN}


# ------------------------------------------------------------ typed views


@dataclass(frozen=True)
class Finding:
    severity: str
    location: str
    problem: str
    suggestion: str
    source: str = ""  # the step that raised it (not part of the model's schema)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "") -> Finding:
        return cls(
            severity=data["severity"],
            location=data["location"],
            problem=data["problem"],
            suggestion=data["suggestion"],
            source=data.get("source", source),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def at_least(self, severity: str) -> bool:
        """True when this finding is as severe as `severity`, or more."""
        return SEVERITIES.index(self.severity) <= SEVERITIES.index(severity)

    def line(self) -> str:
        where = f" {self.location}:" if self.location else ""
        return f"[{self.severity}]{where} {self.problem} -> {self.suggestion}"


@dataclass(frozen=True)
class FileChange:
    path: str
    action: str  # create | modify | delete


@dataclass(frozen=True)
class Task:
    id: str
    title: str
    description: str
    files: tuple[FileChange, ...] = ()
    acceptance: tuple[str, ...] = ()
    tests: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Task:
        return cls(
            id=data["id"],
            title=data["title"],
            description=data["description"],
            files=tuple(FileChange(f["path"], f["action"]) for f in data.get("files", [])),
            acceptance=tuple(data.get("acceptance", [])),
            tests=tuple(data.get("tests", [])),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Decline:
    finding: str  # the finding, as the revision names it
    reason: str


@dataclass(frozen=True)
class BuildPlan:
    summary: str
    tasks: tuple[Task, ...] = field(default_factory=tuple)
    declined: tuple[Decline, ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BuildPlan:
        return cls(
            data["summary"],
            tuple(Task.from_dict(t) for t in data["tasks"]),
            tuple(Decline(d["finding"], d["reason"]) for d in data.get("declined") or []),
        )

    def files(self, *actions: str) -> list[str]:
        """Paths the plan touches with one of `actions` (all when none given), in order."""
        seen: dict[str, None] = {}
        for task in self.tasks:
            for change in task.files:
                if not actions or change.action in actions:
                    seen.setdefault(change.path, None)
        return list(seen)

    def markdown(self) -> str:
        """The build plan as a person (and the double-check step) reads it."""
        out = [f"Summary: {self.summary}", ""]
        for task in self.tasks:
            out.append(f"### {task.id}: {task.title}")
            out.append(task.description.strip())
            if task.files:
                out.append("Files: " + ", ".join(f"{f.path} ({f.action})" for f in task.files))
            out += [f"- acceptance: {a}" for a in task.acceptance]
            out += [f"- test: {t}" for t in task.tests]
            out.append("")
        return "\n".join(out).rstrip() + "\n"


def findings_of(data: dict[str, Any] | None, source: str = "") -> list[Finding]:
    return [Finding.from_dict(f, source) for f in (data or {}).get("findings", [])]

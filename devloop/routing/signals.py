"""Complexity signals: how hard a feature looks, computed without a model.

The adaptive routers (routing.py) compare a score in [0, 1] with the thresholds in
[routing]. The score is the sum of these signals' contributions, capped at 1:

| signal       | value                                        | contribution                     |
|--------------|----------------------------------------------|----------------------------------|
| files        | files to touch                               | 0.20 x min(n, 10) / 10           |
| packages     | top-level packages crossed (tests left out)  | 0.15 x min(k - 1, 3) / 3         |
| modified     | share of those files that exist already      | 0.10 x share                     |
| integrations | external integrations named: HTTP clients,   | 0.10 each kind, at most 0.30     |
|              | SDKs, databases, queues                      |                                  |
| security     | security-sensitive areas named               | 0.80 IAM / permission policies,  |
|              |                                              | 0.70 any other area, +0.05 each  |
|              |                                              | further area                     |
| repository   | files in the repository                      | 0.10 x min(n, 2000) / 2000       |

Any security-sensitive area alone is above the default high threshold (0.7): the seeds'
finding is that permission and policy reasoning is where the mid tier falls behind, and
a wrong call there costs more than the model. Changing existing code weighs more than
writing new files: it must fit code that is already there.

The inputs depend on when the score is taken:
- spec stage (steps 1-5 of a run, and every step of a dry run): the spec and the
  repository. The files are the paths the spec names (`src/app.py`, or `app.py` when one
  repository file ends so); a named path the repository lacks counts as a new file. Words
  are searched in the spec.
- build-plan stage (steps 6-15 of a run): the build plan written by step 5 gives the files
  and whether each is created or modified; words are searched in the spec and the plan's
  tasks. A step of this stage whose build plan cannot be read has a missing signal.

The repository is read as git has it at the run's base commit (HEAD for a dry run), so
files the build steps create do not change the score of later steps. When an input cannot
be read, the signal is listed in `missing` with the reason, and the routers send the step
to the frontier tier: unsure means frontier.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from devloop.errors import DevloopError
from devloop.git import repository
from devloop.steps import STEPS, TASK_LIST, Step

SPEC_STAGE = "spec and repository"
PLAN_STAGE = "build plan, spec and repository"

FILES_WEIGHT, FILES_CAP = 0.20, 10
PACKAGES_WEIGHT, PACKAGES_CAP = 0.15, 3
MODIFIED_WEIGHT = 0.10
INTEGRATION_WEIGHT, INTEGRATIONS_MAX = 0.10, 0.30
SECURITY_WEIGHTS = {"permissions": 0.80}
SECURITY_DEFAULT, SECURITY_EXTRA = 0.70, 0.05
REPOSITORY_WEIGHT, REPOSITORY_CAP = 0.10, 2000

# Directories that hold packages rather than being one ("src/auth/x.py" -> "src/auth").
CONTAINER_DIRS = ("src", "lib", "libs", "pkg", "packages", "apps", "internal", "cmd")
TEST_DIRS = ("tests", "test", "spec", "specs", "__tests__", "testing")
CODE_EXTENSIONS = (
    "py pyi js jsx mjs cjs ts tsx go rs java kt kts rb php cs c h cc cpp hpp swift scala sql "
    "toml yaml yml json ini cfg md rst sh bash html css scss tf proto graphql vue svelte"
).split()

# Word patterns, matched case-insensitively on word boundaries. A broad net on purpose:
# a false positive costs a frontier call, a false negative a weak answer on hard code.
SECURITY_AREAS: dict[str, tuple[str, ...]] = {
    "permissions": (
        r"iam", r"permissions?", r"authori[sz]ation", r"authori[sz]e[sd]?", r"authz", r"rbac",
        r"abac", r"acls?", r"access[ -]control", r"access polic(?:y|ies)", r"role[ -]bindings?",
        r"trust polic(?:y|ies)", r"assume[ -]?role", r"least[ -]privilege", r"privileges?",
        r"service control polic(?:y|ies)", r"bucket polic(?:y|ies)",
    ),
    "authentication": (
        r"authenticat(?:e|ed|es|ion|ing)", r"authn", r"auth", r"log ?in", r"log ?out",
        r"sign[ -]?in", r"sign[ -]?on", r"sso", r"oauth2?", r"oidc", r"saml", r"jwt", r"mfa",
        r"2fa", r"passwords?", r"session tokens?", r"session cookies?",
    ),
    "cryptography": (
        r"crypto\w*", r"encrypt\w*", r"decrypt\w*", r"ciphers?", r"hmac", r"signed urls?",
        r"signature verification", r"tls", r"ssl", r"certificates?", r"private keys?",
        r"public keys?", r"key rotation",
    ),
    "secrets": (
        r"secrets?", r"credentials?", r"api[ _-]?keys?", r"access[ _-]?keys?", r"vault", r"kms",
        r"access tokens?", r"refresh tokens?",
    ),
    "payment": (
        r"payments?", r"billing", r"invoices?", r"stripe", r"credit[ -]cards?", r"refunds?",
        r"pci",
    ),
}  # fmt: skip
INTEGRATIONS: dict[str, tuple[str, ...]] = {
    "http": (
        r"https?", r"http clients?", r"httpx", r"aiohttp", r"urllib\d?", r"axios",
        r"rest(?:ful)? api", r"webhooks?", r"graphql", r"grpc", r"api clients?",
    ),
    "sdk": (
        r"sdks?", r"boto3?", r"aws", r"gcp", r"google[ -]cloud", r"azure", r"twilio",
        r"sendgrid", r"slack api", r"github api", r"s3",
    ),
    "database": (
        r"databases?", r"sql", r"postgres(?:ql)?", r"mysql", r"sqlite3?", r"mongo(?:db)?",
        r"redis", r"dynamodb", r"orm", r"sqlalchemy", r"database migrations?",
    ),
    "queue": (
        r"queues?", r"kafka", r"rabbitmq", r"sqs", r"sns", r"pub/?sub", r"celery",
        r"message brokers?", r"nats", r"event bus",
    ),
}  # fmt: skip


def _compile(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"(?<![\w-])(?:" + "|".join(words) + r")(?![\w-])", re.IGNORECASE)


_SECURITY = {area: _compile(words) for area, words in SECURITY_AREAS.items()}
_INTEGRATIONS = {kind: _compile(words) for kind, words in INTEGRATIONS.items()}
_PATH = re.compile(
    r"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.(?:" + "|".join(CODE_EXTENSIONS) + r"))(?![\w/-])"
)


@dataclass(frozen=True)
class Signal:
    name: str
    value: float  # the measured quantity (files, packages, a share, areas found)
    contribution: float  # what it adds to the score
    detail: str  # what was found, for a person

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["contribution"] = round(self.contribution, 4)
        return data


@dataclass(frozen=True)
class Signals:
    stage: str  # SPEC_STAGE or PLAN_STAGE: which inputs the score was taken from
    items: tuple[Signal, ...] = ()
    missing: tuple[str, ...] = ()  # "<signal>: why it could not be computed"
    security: tuple[str, ...] = field(default=())  # security-sensitive areas found

    @property
    def score(self) -> float:
        return round(min(1.0, sum(s.contribution for s in self.items)), 3)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "score": None if self.missing else self.score,
            "signals": [s.to_dict() for s in self.items],
            "missing": list(self.missing),
        }


def needs_build_plan(step: Step) -> bool:
    """The steps after the build plan are scored from it."""
    return step.number > STEPS.first_of_kind(TASK_LIST).number


# ------------------------------------------------------------------ collecting


def collect(
    spec_text: str,
    root: Path,
    rev: str = "HEAD",
    *,
    build_plan_file: Path | None = None,
) -> Signals:
    """The signals of a feature: spec stage, or build-plan stage when `build_plan_file` is
    given (its absence or a bad file is then a missing signal, never a guess)."""
    missing: list[str] = []
    repo_files = _repository(root, rev, missing)
    text = spec_text
    if build_plan_file is None:
        stage = SPEC_STAGE
        touched = _spec_files(spec_text, repo_files)
    else:
        stage = PLAN_STAGE
        plan = _build_plan(build_plan_file, missing)
        touched = plan[0] if plan else {}
        text += "\n" + (plan[1] if plan else "")
    if missing:
        return Signals(stage, missing=tuple(missing))
    items = [
        *_file_signals(touched, spec_stage=build_plan_file is None),
        _integrations(text),
    ]
    security, areas = _security(text)
    items += [security, _repository_signal(repo_files)]
    return Signals(stage, tuple(items), security=tuple(areas))


def _repository(root: Path, rev: str, missing: list[str]) -> set[str] | None:
    try:
        return set(repository.files_at(root, rev))
    except (DevloopError, OSError) as exc:
        reason = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        missing.append(f"repository: cannot list the files of {rev} in {root} ({reason})")
        return None


def _build_plan(path: Path, missing: list[str]) -> tuple[dict[str, bool], str] | None:
    """{path: modified?} and the plan's words, or None with the reason in `missing`."""
    from devloop.schemas import BuildPlan

    try:
        plan = BuildPlan.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        missing.append(f"build plan: {path.name} does not exist (the build-plan step writes it)")
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        missing.append(f"build plan: cannot read {path.name} ({type(exc).__name__}: {exc})")
        return None
    touched: dict[str, bool] = {}
    for task in plan.tasks:
        for change in task.files:
            modified = change.action != "create"
            touched[change.path] = touched.get(change.path, False) or modified
    words = [plan.summary]
    for task in plan.tasks:
        words += [task.title, task.description, *task.acceptance]
    return touched, "\n".join(words)


def _spec_files(text: str, repo_files: set[str] | None) -> dict[str, bool]:
    """Paths the spec names -> whether the repository has them already."""
    files = repo_files or set()
    touched: dict[str, bool] = {}
    for match in _PATH.finditer(text):
        name = match.group(1).lstrip("./")
        if name in files:
            touched[name] = True
            continue
        ends = [f for f in files if f.endswith("/" + name)]
        if len(ends) == 1:
            touched[ends[0]] = True
        else:
            touched.setdefault(name, False)
    return touched


def _package(path: str) -> str | None:
    parts = path.split("/")
    if parts[0] in TEST_DIRS or any(p in TEST_DIRS for p in parts[:-1]):
        return None  # tests go with the code they test: not a package crossed
    if len(parts) == 1:
        return "."
    if parts[0] in CONTAINER_DIRS and len(parts) > 2:
        return "/".join(parts[:2])
    return parts[0]


def _file_signals(touched: dict[str, bool], *, spec_stage: bool) -> list[Signal]:
    n = len(touched)
    where = "named in the spec" if spec_stage else "in the build plan"
    shown = ", ".join(sorted(touched)[:6]) + (", ..." if n > 6 else "")
    files = Signal(
        "files",
        n,
        FILES_WEIGHT * min(n, FILES_CAP) / FILES_CAP,
        f"{n} file(s) {where}" + (f": {shown}" if n else ""),
    )
    packages = sorted({p for p in map(_package, touched) if p is not None})
    crossed = Signal(
        "packages",
        len(packages),
        PACKAGES_WEIGHT * min(max(len(packages) - 1, 0), PACKAGES_CAP) / PACKAGES_CAP,
        f"{len(packages)} top-level package(s)" + (f": {', '.join(packages)}" if packages else ""),
    )
    existing = sum(1 for modified in touched.values() if modified)
    share = existing / n if n else 0.0
    modified = Signal(
        "modified",
        round(share, 3),
        MODIFIED_WEIGHT * share,
        f"{existing} existing file(s) changed, {n - existing} new",
    )
    return [files, crossed, modified]


def _found(patterns: dict[str, re.Pattern[str]], text: str) -> list[str]:
    return [name for name, pattern in patterns.items() if pattern.search(text)]


def _integrations(text: str) -> Signal:
    kinds = _found(_INTEGRATIONS, text)
    return Signal(
        "integrations",
        len(kinds),
        min(INTEGRATION_WEIGHT * len(kinds), INTEGRATIONS_MAX),
        ", ".join(kinds) if kinds else "no external integration named",
    )


def _security(text: str) -> tuple[Signal, list[str]]:
    areas = _found(_SECURITY, text)
    if not areas:
        return Signal("security", 0, 0.0, "no security-sensitive area named"), []
    top = max(SECURITY_WEIGHTS.get(a, SECURITY_DEFAULT) for a in areas)
    value = top + SECURITY_EXTRA * (len(areas) - 1)
    return Signal("security", len(areas), value, ", ".join(areas)), areas


def _repository_signal(files: set[str] | None) -> Signal:
    n = len(files or ())
    return Signal(
        "repository",
        n,
        REPOSITORY_WEIGHT * min(n, REPOSITORY_CAP) / REPOSITORY_CAP,
        f"{n} file(s) in the repository",
    )

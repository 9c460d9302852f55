"""A feature run on disk: `.devloop/features/<slug>/state.json`, its artifacts, and the lock.

state.json says which steps finished, with what result, and where the run stands; the
artifacts next to it hold what each step produced. Together with the ledger they make a
resume exact: a step marked done is never run (or billed) again. Every file is written
atomically (temp file, fsync, rename), so a `kill -9` leaves the previous version or the
new one, never half of either.

The lock (`.devloop/lock`) keeps a second devloop process off the same repository. It is
an flock held for the life of the run (the kernel drops it when the process dies, however
it dies) on a file that also names the holder's pid, for the message the second process
prints. A lock file still naming a dead pid is taken over with a note. A feature whose
state says running while no live process holds the lock (`RepoLock.holder`) was
interrupted: `devloop status` says so, and `devloop resume` continues it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devloop.errors import EXIT_FAILED, DevloopError, UsageError, cannot_write
from devloop.steps import STEPS, Step

DEVLOOP_DIR = ".devloop"
FEATURES_DIR = "features"
STATE_FILE = "state.json"
LOCK_FILE = "lock"
HISTORY_DIR = "history"
TRANSCRIPTS_DIR = "transcripts"
SCHEMA = "devloop.state/1"

# Step statuses. Only "done" and "skipped" count as finished: everything else runs again.
PENDING, RUNNING, DONE, SKIPPED, FAILED, INTERRUPTED = (
    "pending", "running", "done", "skipped", "failed", "interrupted",
)  # fmt: skip
FINISHED = (DONE, SKIPPED)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ------------------------------------------------------------ atomic files


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write `path` so that readers (and a crash) see the old content or the new, whole.
    A write that fails (a full disk, no permission) removes its temp file and raises a
    StorageError naming `path`; the old content stays."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise cannot_write(path, exc) from None
    with contextlib.suppress(OSError):  # the rename itself durable; not on every filesystem
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def check_writable(directory: Path, what: str = "") -> None:
    """Raise a StorageError unless files can be made in `directory` (or, when it does not
    exist yet, in the nearest directory above it that does): asked of the file system
    itself by making and removing a probe file, since permission bits say nothing about
    read-only mounts, /proc, or root."""
    import tempfile

    existing = Path(directory)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        import errno

        raise cannot_write(directory, NotADirectoryError(errno.ENOTDIR, "not a directory"), what)
    try:
        fd, probe = tempfile.mkstemp(prefix=".devloop-probe-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise cannot_write(directory, exc, what) from None


# ------------------------------------------------------------ paths


def features_root(root: Path) -> Path:
    return Path(root) / DEVLOOP_DIR / FEATURES_DIR


def evals_dir(root: Path) -> Path:
    """Where `devloop eval` keeps each run's results (one JSON file per run)."""
    return Path(root) / DEVLOOP_DIR / "evals"


def latest_eval(root: Path) -> dict[str, Any] | None:
    """The most recent eval run's results, or None."""
    files = sorted(evals_dir(root).glob("eval-*.json"))
    if not files:
        return None
    try:
        return json.loads(files[-1].read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def feature_dir(root: Path, slug: str) -> Path:
    return features_root(root) / slug


def artifact_name(step: Step, ext: str) -> str:
    return f"{step.number:02d}-{step.key}.{ext}"


# ------------------------------------------------------------ state


@dataclass
class StepState:
    status: str = PENDING
    run_id: int | None = None  # the ledger's step_runs id of the latest run
    started_at: str | None = None
    ended_at: str | None = None
    artifact: str | None = None  # file name in the feature directory
    result: dict[str, Any] = field(default_factory=dict)  # verdict, counts, summary
    runs: int = 0  # how many times it started
    route: dict[str, Any] = field(default_factory=dict)  # routing.Route.to_dict() of the run

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass
class FeatureState:
    slug: str
    title: str
    spec_path: str
    spec_sha256: str
    type: str
    scope: str | None
    branch: str
    base_commit: str  # HEAD when the run started: the diff under review is against it
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    status: str = "running"  # running | stopped | failed | budget | interrupted | blocked | done
    current_step: str | None = None
    message: str = ""  # why the run last stopped, for `devloop status`
    budget_usd: str | None = None  # the feature ceiling given with --budget (Decimal text)
    allow_dirty: bool = False
    # Untracked files present when the run started: never shown to a model, never committed.
    private: list[str] = field(default_factory=list)
    # Where the latest run's commands ran: "bubblewrap 0.8.0", or "off (...)" when the user
    # opted out; `unsandboxed_runs` counts the runs made without a sandbox.
    sandbox: str | None = None
    unsandboxed_runs: int = 0
    # Revision rounds used per gate ("plan": steps 2-4, "build-plan": steps 5-6), and the
    # findings the next revision must address.
    rounds: dict[str, int] = field(default_factory=dict)
    revision: dict[str, dict[str, Any]] = field(default_factory=dict)
    steps: dict[str, StepState] = field(default_factory=dict)
    schema: str = SCHEMA

    def __post_init__(self) -> None:
        for step in STEPS:
            self.steps.setdefault(step.key, StepState())

    def step(self, key: str) -> StepState:
        return self.steps[key]

    def first_unfinished(self) -> Step | None:
        return next((s for s in STEPS if not self.steps[s.key].finished), None)

    def done_count(self) -> int:
        return sum(1 for s in STEPS if self.steps[s.key].finished)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureState:
        steps = {k: StepState(**v) for k, v in data.pop("steps", {}).items()}
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known}, steps=steps)


def state_path(root: Path, slug: str) -> Path:
    return feature_dir(root, slug) / STATE_FILE


def save(root: Path, state: FeatureState) -> None:
    state.updated_at = now()
    atomic_write(state_path(root, state.slug), state.to_json())


def load(root: Path, slug: str) -> FeatureState:
    path = state_path(root, slug)
    if not path.is_file():
        known = list_slugs(root)
        listed = ", ".join(known) if known else "none yet"
        raise UsageError(
            f"no feature '{slug}' in {features_root(root)} (known: {listed}). "
            "Start one with `devloop feature SPEC`."
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("schema") != SCHEMA:
            raise ValueError(f"schema {data.get('schema')!r}, expected {SCHEMA!r}")
        return FeatureState.from_dict(data)
    except (ValueError, TypeError, KeyError) as exc:
        raise UsageError(f"{path}: cannot read the run state ({exc}).") from None


def list_slugs(root: Path) -> list[str]:
    base = features_root(root)
    if not base.is_dir():
        return []
    return sorted(p.parent.name for p in base.glob(f"*/{STATE_FILE}"))


def archive(directory: Path, name: str, label: str) -> Path | None:
    """Move an artifact aside into history/ (`02-plan.md` -> `history/02-plan.r1.md`) so a
    re-run never overwrites what an earlier run produced."""
    src = directory / name
    if not src.exists():
        return None
    stem, dot, ext = name.partition(".")
    history = directory / HISTORY_DIR
    history.mkdir(parents=True, exist_ok=True)
    target = history / f"{stem}.{label}{dot}{ext}"
    n = 1
    while target.exists():
        n += 1
        target = history / f"{stem}.{label}-{n}{dot}{ext}"
    shutil.move(src, target)
    return target


# ------------------------------------------------------------ lock


class LockHeld(DevloopError):
    """Another devloop process is running a feature in this repository."""

    exit_code = EXIT_FAILED


class RepoLock:
    """An exclusive, per-repository run lock (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / DEVLOOP_DIR / LOCK_FILE
        self._fd: int | None = None
        self.note = ""  # set when a stale lock was taken over

    def acquire(self, what: str, slug: str | None = None) -> RepoLock:
        import fcntl

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # before anything of the run exists: nothing to undo
            raise cannot_write(self.path, exc, "the run lock") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            who = f"pid {holder.get('pid', '?')}" if holder else "another process"
            doing = f" ({holder['what']}, since {holder.get('since', '?')})" if holder else ""
            raise LockHeld(
                f"another devloop is running in this repository: {who}{doing}. Wait for it to "
                f"finish (or stop it) and try again. Lock file: {self.path}."
            ) from None
        previous = _read_holder(fd)
        if previous.get("pid") and previous.get("pid") != os.getpid():
            self.note = (
                f"took over a stale lock left by pid {previous['pid']} ({previous.get('what', '?')}"
                f", since {previous.get('since', '?')}), which is no longer running."
            )
        record = json.dumps({"pid": os.getpid(), "what": what, "slug": slug, "since": now()})
        record = record.encode()
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, record, 0)
            os.fsync(fd)
        except OSError as exc:  # a full disk: the lock is not held, nothing else was written
            os.close(fd)
            raise cannot_write(self.path, exc, "the run lock") from None
        self._fd = fd
        return self

    def holder(self) -> dict[str, Any] | None:
        """The record (pid, what, slug, since) of the live process holding the lock, or None:
        no run, a run that ended, or one killed outright (the kernel dropped its flock; the
        file still names its pid). Reads only; a lock a live run holds is never touched."""
        import fcntl

        from devloop.proc import pid_alive

        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return None
        try:
            record = _read_holder(fd)
            pid = record.get("pid")
            if not isinstance(pid, int) or not pid_alive(pid):
                return None
            try:  # the pid is alive, but is it still the run? (pids are reused)
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return record
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def last_record(self) -> dict[str, Any]:
        """What the lock file names, held or not (a killed run's pid stays in it)."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return {}
        try:
            return _read_holder(fd)
        finally:
            os.close(fd)

    def release(self) -> None:
        if self._fd is None:
            return
        import fcntl

        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)  # an empty file: released cleanly, nothing stale
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RepoLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        raw = os.pread(fd, 4096, 0)
        data = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}

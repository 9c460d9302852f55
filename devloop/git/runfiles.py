"""Which files of the working tree belong to a feature run, and which stay the user's.

- **Private**: untracked files that were in the repository when the run started (and
  ignored files that look like secrets: .env, keys). No model sees them (project map, diffs,
  the agent's tools, the sandbox masks them) and the commit never includes them.
- **By-products**: what builds and test runs leave behind (`__pycache__`, `.pytest_cache`,
  `node_modules`, `target/` ...) and any new file that appeared while devloop ran a check
  (a test writing a file): never shown in diffs, never staged.
- **Nested repositories**: a directory holding a `.git`, or laid out as a bare repository
  (HEAD, objects/, refs/), that the run created. devloop never stages it and never runs git
  inside it; the commit step stops and names it.

What the run made is then: tracked files it changed, plus new untracked files that are none
of the above. That is what the review and audit see and what step 14 commits.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath

from devloop.git import repository
from devloop.state import atomic_write

BYPRODUCT_DIRS = frozenset(
    "__pycache__ .pytest_cache .mypy_cache .ruff_cache .tox .nox .hypothesis htmlcov .eggs "
    "node_modules .next .turbo .parcel-cache target .gradle .cache .coverage_html".split()
)
BYPRODUCT_NAMES = frozenset({".coverage", ".DS_Store", "coverage.xml"})
BYPRODUCT_SUFFIXES = (".pyc", ".pyo", ".class", ".o", ".obj", ".egg-info")
# Ignored files that usually hold credentials: masked too, though never sent or committed.
SECRET_PATTERNS = (
    ".env", ".env.*", "*.pem", "*.key", "*.p12", "*.pfx", "id_rsa*", "id_ed25519*", "id_ecdsa*",
    ".netrc", ".npmrc", ".pypirc", "credentials.json", "*.keystore", ".git-credentials",
)  # fmt: skip
NOT_SECRET = (".env.example", ".env.sample", ".env.template", ".env.dist")
BYPRODUCTS_FILE = "byproducts.json"


def is_byproduct(path: str) -> bool:
    parts = PurePosixPath(path.rstrip("/")).parts
    return bool(parts) and (
        bool(BYPRODUCT_DIRS.intersection(parts))
        or parts[-1] in BYPRODUCT_NAMES
        or any(p.endswith(BYPRODUCT_SUFFIXES) for p in parts)
    )


def looks_secret(path: str) -> bool:
    name = PurePosixPath(path.rstrip("/")).name
    return name not in NOT_SECRET and any(fnmatch(name, p) for p in SECRET_PATTERNS)


def _listing(root: Path, *args: str) -> list[str]:
    out = repository.git(["ls-files", "-z", *args], root).stdout
    return sorted(n for n in out.decode("utf-8", "surrogateescape").split("\0") if n)


def untracked(root: Path, exclude: Sequence[str] = ()) -> set[str]:
    """Untracked, non-ignored files under `root` (relative to it); a nested repository
    shows as its directory with a trailing "/"."""
    prefixes = tuple(e.rstrip("/") + "/" for e in exclude)
    names = _listing(root, "--others", "--exclude-standard")
    return {n for n in names if not n.startswith(prefixes)}


def private_at_start(root: Path, exclude: Sequence[str] = ()) -> list[str]:
    """What the run must keep private, listed when it starts: every untracked file that is
    not ignored (directories git collapses end in "/"), and ignored secret-looking files."""
    prefixes = tuple(e.rstrip("/") + "/" for e in exclude)
    found = set(_listing(root, "--others", "--exclude-standard", "--directory"))
    ignored = _listing(root, "--others", "--ignored", "--exclude-standard", "--directory")
    found |= {n for n in ignored if looks_secret(n)}
    return sorted(n for n in found if not n.startswith(prefixes))


def nested_repository(root: Path, path: str) -> str | None:
    """The repository `path` lies in or is, when that is not `root`'s own, else None."""
    if path.endswith("/"):  # git shows a directory holding a .git as one untracked entry
        return path
    parts = PurePosixPath(path).parts
    for depth in range(1, len(parts)):
        directory = root.joinpath(*parts[:depth])
        if (directory / ".git").exists() or _bare_layout(directory):
            return "/".join(parts[:depth]) + "/"
    return None


def _bare_layout(directory: Path) -> bool:
    return (
        (directory / "HEAD").is_file()
        and (directory / "objects").is_dir()
        and (directory / "refs").is_dir()
    )


class NestedRepository(Exception):
    def __init__(self, paths: list[str]) -> None:
        super().__init__(", ".join(paths))
        self.paths = paths


@dataclass
class Selection:
    """The paths to stage, and the paths left out with why."""

    paths: list[str] = field(default_factory=list)
    left_out: dict[str, list[str]] = field(default_factory=dict)

    def leave(self, why: str, path: str) -> None:
        self.left_out.setdefault(why, []).append(path)


class RunFiles:
    """The run's view of the working tree (see the module docstring). Paths are relative to
    `root`; the by-product record lives in the feature directory."""

    def __init__(self, root: Path, feature_dir: Path, private: Sequence[str]) -> None:
        self.root = root
        self.record = feature_dir / BYPRODUCTS_FILE
        self.private = frozenset(p.rstrip("/") for p in private)
        self._lock = threading.Lock()
        try:
            self.byproducts = set(json.loads(self.record.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            self.byproducts = set()

    def is_private(self, path: str) -> bool:
        pure = PurePosixPath(path.rstrip("/"))
        return any(str(p) in self.private for p in (pure, *pure.parents))

    @contextlib.contextmanager
    def watch(self) -> Iterator[None]:
        """Around a check devloop runs: new untracked files it leaves are by-products."""
        before = untracked(self.root)
        try:
            yield
        finally:
            made = untracked(self.root) - before
            if made:
                with self._lock:
                    self.byproducts |= made
                    atomic_write(self.record, json.dumps(sorted(self.byproducts), indent=1))

    def shown(self, path: str, tracked: bool) -> bool:
        """Whether a changed path may be shown to a model or committed."""
        if tracked:
            return True
        return not (
            self.is_private(path)
            or is_byproduct(path)
            or path in self.byproducts
            or nested_repository(self.root, path) is not None
        )

    def select(self, changed: Sequence[str], tracked: set[str]) -> Selection:
        """From `changed` (relative to root), what the commit takes. Raises NestedRepository
        for a repository the run created: devloop never stages one."""
        out = Selection()
        nested = []
        for path in changed:
            if path in tracked:
                out.paths.append(path)
            elif self.is_private(path):
                out.leave("private (untracked before the run)", path)
            elif (repo := nested_repository(self.root, path)) is not None:
                nested.append(repo)
            elif is_byproduct(path):
                out.leave("build or test by-product", path)
            elif path in self.byproducts:
                out.leave("written by a test run", path)
            else:
                out.paths.append(path)
        if nested:
            raise NestedRepository(sorted(set(nested)))
        return out

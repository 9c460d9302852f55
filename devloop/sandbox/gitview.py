"""Git inside the sandbox: .git read-only, its config reduced to what git needs to read
the repository (no remote credentials, hooks or fsmonitor)."""

from __future__ import annotations

import atexit
import functools
import hashlib
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from devloop.sandbox.toolchains import outermost

# The parts of .git/config git needs to read the repository (remote URLs lose credentials).
GIT_KEYS = re.compile(
    r"core\.(repositoryformatversion|bare|filemode|symlinks|ignorecase|precomposeunicode|"
    r"logallrefupdates|autocrlf|eol|safecrlf|quotepath|worktree|sparsecheckout|"
    r"sparsecheckoutcone|splitindex|commentchar|commentstring|checkstat|trustctime)"
    r"|extensions\..*|index\..*|init\.defaultbranch|user\.(name|email)"
    r"|remote\..*\.(url|pushurl|fetch)|branch\..*\.(remote|merge|rebase)"
    r"|submodule\..*\.(url|path|active)"
)


_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@")


@dataclass(frozen=True)
class GitLayout:
    toplevel: Path
    git_dir: Path
    common_dir: Path
    dot_git: Path  # toplevel/.git: a directory, or a file naming the git dir


def git_layout(root: Path) -> GitLayout | None:
    from devloop.git import repository

    proc_ = repository.git(
        ["rev-parse", "--show-toplevel", "--absolute-git-dir", "--git-common-dir"],
        root,
        check=False,
    )
    if proc_.returncode != 0:
        return None
    top, git_dir, common = proc_.stdout.decode("utf-8", "surrogateescape").splitlines()[:3]
    toplevel = Path(top).resolve()
    common_dir = (root / common).resolve()
    return GitLayout(toplevel, Path(git_dir).resolve(), common_dir, toplevel / ".git")


def git_binds(git: GitLayout) -> list[str]:
    """git's own directories read-only, and its config reduced to what reading needs."""
    args: list[str] = []
    for path in outermost([git.common_dir, git.git_dir]):
        args += ["--ro-bind", str(path), str(path)]
    if git.dot_git.is_file():
        args += ["--ro-bind", str(git.dot_git), str(git.dot_git)]
    for config in (git.common_dir / "config", git.git_dir / "config.worktree"):
        if config.is_file():
            args += ["--ro-bind", str(reduced_git_config(config)), str(config)]
    return args


def reduced_git_config(path: Path) -> Path:
    """A copy of the git config at `path` with only the keys in GIT_KEYS, remote URLs
    without user names or tokens (no credential helpers, http headers, hooks, fsmonitor,
    includes). Written once per content into devloop's scratch directory."""
    from devloop.git import repository

    listing = repository.git(
        ["config", "--file", str(path), "--list", "-z"], path.parent, check=False
    )
    sections: dict[tuple[str, str | None], list[tuple[str, str]]] = {}
    for entry in listing.stdout.decode("utf-8", "surrogateescape").split("\0"):
        name, _, value = entry.partition("\n")
        if not name or not GIT_KEYS.fullmatch(name):
            continue
        section, _, rest = name.partition(".")
        subsection, _, key = rest.rpartition(".")
        if key in ("url", "pushurl"):
            value = _USERINFO.sub(r"\1", value)
        sections.setdefault((section, subsection or None), []).append((key, value))
    lines = []
    for (section, subsection), items in sections.items():
        lines.append(f"[{section}" + (f' "{_quote(subsection)}"' if subsection else "") + "]")
        lines += [f'\t{key} = "{_quote(value)}"' for key, value in items]
    text = "\n".join(lines) + "\n"
    digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    out = scratch_dir() / f"gitconfig-{digest}"
    if not out.exists():
        out.write_text(text, encoding="utf-8", errors="surrogateescape")
    return out


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@functools.cache
def scratch_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="devloop-sandbox-"))
    atexit.register(shutil.rmtree, path, True)
    return path


def empty_dir() -> str:
    path = scratch_dir() / "empty"
    path.mkdir(exist_ok=True)
    path.chmod(0o555)
    return str(path)

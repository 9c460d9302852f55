"""Git operations on a repository: the one place devloop runs git (staged.py's swap and
runfiles.py's listing go through `git()` here).

Every git devloop runs is hardened (`HARDENED`: no fsmonitor, and no hooks for commands that
would run them, except the feature commit): files the build agent wrote must not be able to
run a command through git outside the sandbox. Output is read with `-z` where paths are
involved. Plumbing commands (rev-parse, diff-index, diff-files) never rewrite the index,
which the staged check depends on. Modules only some operations need are imported there.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from devloop.errors import DevloopError, UsageError

GITLINK_MODE = "160000"  # a submodule entry: not a file we can check or swap
# Every git devloop runs: no fsmonitor (a configured command would run outside the
# sandbox). Commands that would run hooks run none, except the feature commit (`commit`).
HARDENED = ("-c", "core.fsmonitor=false")
NO_HOOKS = ("-c", "core.hooksPath=/dev/null")
RUNS_HOOKS = frozenset({"checkout", "switch", "worktree", "merge", "rebase", "am"})


class GitError(DevloopError):
    """A git command failed where it should not have."""


@dataclass
class Repo:
    toplevel: Path  # the working tree's root
    git_dir: Path  # this worktree's git dir (absolute)
    hooks_dir: Path  # where git looks for hooks (honours core.hooksPath)


@dataclass
class Entry:
    """One path from a raw diff: its status letter and its mode on the index side."""

    path: str  # repository-relative, forward slashes
    status: str  # A, M, D, T, U ...
    mode: str  # the newer side's mode (the older side's for a deletion)


COMMIT_TIMEOUT_S = 3600.0  # the hooks of a commit, when the caller gives no limit
_REV_PARSE = ["rev-parse", "--show-toplevel", "--absolute-git-dir", "--git-path", "hooks"]
_DIFF_FILES = ["diff-files", "--raw", "-z", "--no-renames"]
_DIFF_INDEX = ["diff-index", "--cached", "--raw", "-z", "--no-renames"]


def _argv(args: Sequence[str]) -> list[str]:
    hooks = NO_HOOKS if args and args[0] in RUNS_HOOKS else ()
    return ["git", *HARDENED, *hooks, *args]


def _spawn(args: Sequence[str], cwd: Path, *, stdin: bool = False) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(
            _argv(args),
            cwd=cwd,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except FileNotFoundError:
        raise UsageError("git is not installed or not on PATH; install git first.") from None


def _collect(
    proc: subprocess.Popen[bytes], cwd: Path, *, input: bytes | None = None, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    """Wait for a git process; GitError names the command when it failed and `check`."""
    try:
        out, err = proc.communicate(input)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    if check and proc.returncode != 0:
        message = err.decode("utf-8", "replace").strip()
        raise GitError(f"`{' '.join(proc.args)}` failed in {cwd}: {message}")
    return done


def git(
    args: Sequence[str], cwd: Path, *, input: bytes | None = None, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    """Run `git args` in `cwd`, capturing bytes; GitError names the command when it fails."""
    return _collect(_spawn(args, cwd, stdin=input is not None), cwd, input=input, check=check)


def _repo_from(proc: subprocess.CompletedProcess[bytes], start: Path) -> Repo:
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace")
        if "work tree" in err:
            raise UsageError(f"{start} is inside a git directory, not a working tree; cd out.")
        raise UsageError(
            f"{start} is not inside a git repository. Run `git init` first, "
            "or point devloop at one with `devloop -C DIR`."
        )
    toplevel, git_dir, hooks = proc.stdout.decode("utf-8").splitlines()[:3]
    # --git-path prints a path relative to the directory git ran in.
    return Repo(Path(toplevel), Path(git_dir), (start / hooks).resolve())


def find_repo(start: Path) -> Repo:
    """The repository containing `start`, or a UsageError saying there is none."""
    return _repo_from(git(_REV_PARSE, start, check=False), start)


def _parse_raw(out: bytes) -> list[Entry]:
    """Parse `git diff-* --raw -z --no-renames` output."""
    fields = out.decode("utf-8", "surrogateescape").split("\0")
    entries = []
    for meta, path in zip(fields[0::2], fields[1::2], strict=False):
        if not meta.startswith(":"):
            continue
        src_mode, dst_mode, _src, _dst, status = meta[1:].split(" ")
        entries.append(Entry(path, status[:1], dst_mode if dst_mode != "000000" else src_mode))
    return entries


def _unstaged(out: bytes) -> list[Entry]:
    return [e for e in _parse_raw(out) if e.mode != GITLINK_MODE and e.status != "U"]


def _staged(proc: subprocess.CompletedProcess[bytes], cwd: Path) -> list[Entry]:
    if proc.returncode != 0:  # no commit yet: everything in the index is new
        empty = git(["hash-object", "-t", "tree", "/dev/null"], cwd).stdout.decode().strip()
        proc = git([*_DIFF_INDEX, empty, "--"], cwd)
    return [e for e in _parse_raw(proc.stdout) if e.mode != GITLINK_MODE]


def unstaged_entries(toplevel: Path) -> list[Entry]:
    """Tracked paths whose working-tree file differs from the index (or may: stat-dirty)."""
    return _unstaged(git(_DIFF_FILES, toplevel).stdout)


def staged_entries(toplevel: Path) -> list[Entry]:
    """Paths that differ between HEAD (or the empty tree) and the index."""
    return _staged(git([*_DIFF_INDEX, "HEAD", "--"], toplevel, check=False), toplevel)


def pin_index_file() -> None:
    """Git gives a commit hook GIT_INDEX_FILE relative to the top level (the hook's cwd).
    Make it absolute, so git run from any directory (by devloop or by a check) reads the
    index this commit is made from."""
    value = os.environ.get("GIT_INDEX_FILE")
    if value and not os.path.isabs(value):
        os.environ["GIT_INDEX_FILE"] = os.path.abspath(value)


@dataclass
class Snapshot:
    repo: Repo
    staged: list[Entry]
    unstaged: list[Entry]
    unmerged: list[str]  # paths with a merge conflict not yet resolved (and `git add`ed)


class PendingSnapshot:
    """The three git processes of a snapshot, started; `collect()` waits for them. The
    hook starts them first and imports the rest of devloop while git works."""

    def __init__(self, start: Path) -> None:
        self.start = start
        self.procs = [
            _spawn(args, start) for args in (_REV_PARSE, _DIFF_FILES, [*_DIFF_INDEX, "HEAD", "--"])
        ]

    def collect(self) -> Snapshot:
        start = self.start
        rev, files, index = [_collect(p, start, check=False) for p in self.procs]
        repo = _repo_from(rev, start)
        if files.returncode != 0:
            raise GitError(f"`git diff-files` failed in {start}: {files.stderr.decode().strip()}")
        unmerged = sorted({e.path for e in _parse_raw(files.stdout) if e.status == "U"})
        return Snapshot(repo, _staged(index, repo.toplevel), _unstaged(files.stdout), unmerged)


def snapshot(start: Path) -> Snapshot:
    """find_repo, staged_entries and unstaged_entries in one round trip: the three git
    processes start together (the commit hook pays for one wait, not three). Paths in
    both diffs are relative to the top level wherever `start` is."""
    return PendingSnapshot(start).collect()


def config_value(cwd: Path, key: str) -> str | None:
    """`git config --get key`, or None when it is unset (or git cannot tell)."""
    proc = git(["config", "--get", key], cwd, check=False)
    if proc.returncode != 0:
        return None
    return proc.stdout.decode("utf-8", "replace").strip()


def comment_char(cwd: Path) -> str:
    """The character git uses to start comment lines in commit messages."""
    value = config_value(cwd, "core.commentChar")
    return value if value and value != "auto" else "#"


def dirty_paths(toplevel: Path) -> list[str]:
    """Tracked files with staged or unstaged changes (untracked files are not counted)."""
    out = git(["status", "--porcelain=v1", "-z", "--untracked-files=no"], toplevel).stdout
    return [item[3:] for item in out.decode("utf-8", "replace").split("\0") if len(item) > 3]


def file_digest(path: Path) -> str | None:
    """A working-tree file's permission bits and sha256 (a symlink's target, "dir" for a
    directory), None when it is absent: what "unchanged" means for a staged check's restore
    and for the build agent's record of what it changed."""
    if path.is_symlink():
        return "link:" + os.readlink(path)
    if not path.exists():
        return None
    if path.is_dir():
        return "dir"
    import hashlib

    mode = path.stat().st_mode & 0o7777
    return f"{mode:o}:{hashlib.sha256(path.read_bytes()).hexdigest()}"


def head_commit(cwd: Path) -> str | None:
    """The full sha of HEAD, or None in a repository without commits."""
    proc = git(["rev-parse", "--verify", "-q", "HEAD^{commit}"], cwd, check=False)
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def current_branch(cwd: Path) -> str | None:
    """The checked-out branch's short name; None on a detached HEAD."""
    proc = git(["symbolic-ref", "--short", "-q", "HEAD"], cwd, check=False)
    return proc.stdout.decode("utf-8", "replace").strip() or None if proc.returncode == 0 else None


def branch_exists(cwd: Path, name: str) -> bool:
    return (
        git(["show-ref", "--verify", "--quiet", f"refs/heads/{name}"], cwd, check=False).returncode
        == 0
    )


def valid_branch_name(cwd: Path, name: str) -> bool:
    return git(["check-ref-format", "--branch", name], cwd, check=False).returncode == 0


def create_branch(cwd: Path, name: str) -> None:
    """Create `name` at HEAD and switch to it; uncommitted changes come along."""
    git(["checkout", "-q", "-b", name], cwd)


def switch_branch(cwd: Path, name: str) -> None:
    git(["checkout", "-q", name], cwd)


def tracked_files(cwd: Path, exclude: Sequence[str] = ()) -> list[str]:
    """Files git tracks, relative to `cwd`, sorted; paths under any of the `exclude`
    directories are left out. Untracked files are the user's own: never listed here."""
    out = git(["ls-files", "-z", "--cached"], cwd).stdout
    prefixes = tuple(e.rstrip("/") + "/" for e in exclude)
    names = {n for n in out.decode("utf-8", "surrogateescape").split("\0") if n}
    return sorted(n for n in names if not n.startswith(prefixes))


def worktree_diff(
    cwd: Path,
    base: str,
    exclude: Sequence[str] = (),
    hidden: Callable[[str], bool] | None = None,
    only: Sequence[str] | None = None,
) -> str:
    """The working tree against `base`, new untracked files included as additions, without
    touching the index (no `git add -N`). Paths under `exclude` are left out, and untracked
    ones `hidden` names (relative to `cwd`: private files, by-products); with `only`, just
    those paths."""
    specs = [f":(exclude){e}" for e in exclude]
    scope = [f":(literal){p}" for p in only] if only is not None else ["."]
    if not scope:
        return ""
    tracked = git(["diff", "--no-color", "--no-ext-diff", base, "--", *scope, *specs], cwd).stdout
    parts = [tracked.decode("utf-8", "replace")]
    others = git(["ls-files", "-z", "--others", "--exclude-standard", "--", ".", *specs], cwd)
    for name in sorted(
        n for n in others.stdout.decode("utf-8", "surrogateescape").split("\0") if n
    ):
        if name.endswith("/") or (hidden is not None and hidden(name)):
            continue
        if only is not None and name not in only:
            continue
        proc = git(
            ["diff", "--no-color", "--no-ext-diff", "--no-index", "--", "/dev/null", name],
            cwd,
            check=False,  # exit 1 means "differs", which it always does here
        )
        parts.append(proc.stdout.decode("utf-8", "replace"))
    return "".join(parts)


def changed_paths(cwd: Path, exclude: Sequence[str] = ()) -> list[str]:
    """Tracked files with changes plus untracked files, relative to the top level."""
    return [path for path, _ in changes(cwd, exclude)]


def changes(cwd: Path, exclude: Sequence[str] = ()) -> list[tuple[str, bool]]:
    """(path, tracked) for every changed tracked file and every untracked file, relative to
    the top level; a nested repository is one untracked entry ending in "/"."""
    specs = [f":(exclude){e}" for e in exclude]
    out = git(
        ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--", ".", *specs], cwd
    ).stdout
    items = out.decode("utf-8", "surrogateescape").split("\0")
    found, skip = [], False
    for item in items:
        if skip:  # the source path of a rename
            skip = False
            continue
        if len(item) > 3:
            found.append((item[3:], item[:2] != "??"))
            skip = item[0] in "RC"
    return found


@dataclass
class CommitResult:
    ok: bool
    sha: str | None
    output: str  # git's and the hooks' output
    nothing_to_commit: bool = False


def commit(
    cwd: Path,
    message: str,
    *,
    paths: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    timeout_s: float | None = None,
    hook_env: Mapping[str, str] | None = None,
) -> CommitResult:
    """Stage every change under `cwd` (or only `paths`) and commit it with `message`.

    The repository's own hooks run: never `--no-verify`; they get devloop's environment
    without credentials, plus `hook_env`. A hook (or git) failing leaves the changes staged and returns
    ok=False with the output, for the caller to show.
    """
    if paths is None:
        # Exactly the changed paths: `git add` refuses an :(exclude) naming an ignored dir.
        top = Path(git(["rev-parse", "--show-toplevel"], cwd).stdout.decode().strip())
        targets = [f":(top,literal){p}" for p in changed_paths(cwd, exclude)]
    else:
        top, targets = cwd, [f":(literal){p}" for p in paths]
    if targets:
        listing = "\0".join(targets).encode("utf-8", "surrogateescape")
        git(["add", "-A", "--pathspec-from-file=-", "--pathspec-file-nul"], top, input=listing)
    if git(["diff", "--cached", "--quiet"], cwd, check=False).returncode == 0:
        return CommitResult(False, None, "nothing to commit", nothing_to_commit=True)
    import tempfile

    from devloop import proc
    from devloop.redaction import scrubbed_environ

    # The hooks are the user's commands: run as one process group, stopped whole on timeout,
    # their output capped (proc.run). The message goes through a file: proc.run has no stdin.
    with tempfile.TemporaryDirectory(prefix="devloop-commit-") as scratch:
        message_file = Path(scratch) / "message"
        message_file.write_text(message, encoding="utf-8")
        argv = _argv(["commit", "-q", f"--file={message_file}", "--cleanup=strip"])  # not a step
        done = proc.run(
            argv,
            cwd,
            timeout_s if timeout_s is not None else COMMIT_TIMEOUT_S,
            env={**scrubbed_environ(), **(hook_env or {})},
            shown="git commit",
        )
    output = done.output.strip()
    if done.timed_out:
        return CommitResult(False, None, f"git commit did not finish within {timeout_s:g} s")
    if done.returncode != 0:
        return CommitResult(False, None, output)
    return CommitResult(True, head_commit(cwd), output)


def commit_message(cwd: Path, rev: str = "HEAD") -> str:
    proc = git(["log", "-1", "--format=%B", rev], cwd, check=False)
    return proc.stdout.decode("utf-8", "replace") if proc.returncode == 0 else ""


def files_at(cwd: Path, rev: str) -> list[str]:
    """Every file git has at commit `rev`, relative to the repository's top level."""
    out = git(["ls-tree", "-r", "-z", "--name-only", "--full-tree", rev, "--"], cwd).stdout
    return [n for n in out.decode("utf-8", "surrogateescape").split("\0") if n]


def worktree_add(cwd: Path, path: Path, rev: str = "HEAD") -> None:
    """A new working tree at `path`, detached at `rev` (the caller branches inside it)."""
    git(["worktree", "add", "-q", "--detach", str(path), rev], cwd)


def worktree_remove(cwd: Path, path: Path) -> str | None:
    """Remove the working tree at `path` unless git refuses (it holds changes): None when
    removed, else git's reason. Never forced: uncommitted work is never thrown away."""
    proc = git(["worktree", "remove", str(path)], cwd, check=False)
    if proc.returncode == 0:
        return None
    return proc.stderr.decode("utf-8", "replace").strip() or "git refused"


@dataclass
class DiffSize:
    files: int = 0
    insertions: int = 0
    deletions: int = 0


def diff_size(cwd: Path, base: str, exclude: Sequence[str] = ()) -> DiffSize:
    """Files, added and deleted lines between `base` and the working tree (committed or
    not); untracked files count as added whole. Binary files count as files only."""
    size = DiffSize()
    specs = [f":(exclude){e}" for e in exclude]
    out = git(["diff", "--numstat", "-z", "--no-renames", base, "--", ".", *specs], cwd).stdout
    for record in out.decode("utf-8", "surrogateescape").split("\0"):
        fields = record.split("\t")
        if len(fields) < 3:
            continue
        size.files += 1
        size.insertions += int(fields[0]) if fields[0].isdigit() else 0
        size.deletions += int(fields[1]) if fields[1].isdigit() else 0
    others = git(["ls-files", "-z", "--others", "--exclude-standard", "--", ".", *specs], cwd)
    for name in (n for n in others.stdout.decode("utf-8", "surrogateescape").split("\0") if n):
        size.files += 1
        try:
            size.insertions += (cwd / name).read_bytes().count(b"\n")
        except OSError:
            pass
    return size


def is_ignored(cwd: Path, path: str) -> bool:
    """Whether git ignores `path` (relative to `cwd`), as .gitignore and excludes say."""
    return git(["check-ignore", "-q", "--no-index", path], cwd, check=False).returncode == 0

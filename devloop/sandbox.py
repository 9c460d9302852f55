"""The OS sandbox: every command the model can influence runs inside it.

That is the build agent's `bash` tool and every configured command run on the code the model
wrote: the task and suite tests, lint, format, e2e and smoke (and the same checks in the git
hooks). On Linux the sandbox is bubblewrap (`bwrap`); the boundary is the kernel's
namespaces and mounts, not a reading of the command:

- a new, empty root with the system directories read-only (/usr, /etc ...), private /tmp and
  /var/tmp, and an empty home at $HOME; nothing else of the file system is visible except the
  toolchains the configured commands and PATH need (a virtualenv and its base interpreter,
  pyenv, rustup, nvm ...) and what `[sandbox] read` lists, all read-only;
- the repository read-write, except .git/ (read-only, its config reduced to what git needs
  to read the repository: no remote credentials, hooks or fsmonitor), .devloop/, devloop.toml
  and pyproject.toml (read-only), and the files devloop keeps private (masked);
- no network unless `[sandbox] network = true`; new PID, IPC and UTS namespaces (no other
  process's /proc is visible, and everything a command started dies with it);
- an environment built from an allow-list (PATH, HOME, TMPDIR, locale, TERM, USER, and the
  names in `[sandbox] env`); credentials never. bwrap itself is started with that
  environment, because its own process is visible inside the PID namespace.

No sandbox available (no bwrap, user namespaces disabled, not Linux): the loop's build steps
refuse to start unless the user opts out (`[sandbox] mode = "off"` or `--unsandboxed`).

Checks a person starts (`devloop check`, the git hooks on their own commits) run their
commands unsandboxed, as they would themselves, minus credentials in the environment; the
hooks devloop's own feature commit runs use the sandbox (IN_RUN_VARIABLE).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from devloop import proc
from devloop.config import Config
from devloop.errors import UsageError
from devloop.redaction import is_secret_name, scrubbed_environ

BWRAP_VARIABLE = "DEVLOOP_BWRAP"  # another bwrap binary than the one on PATH
CONFIGURED = ("lint", "format", "format_fix", "test", "quick_test", "smoke")  # not a step
# Fixed for every command: no pager waiting on a terminal, no credential prompt, and no
# Python bytecode written: an edit and a test run in the same second, with the file's size
# unchanged, would otherwise run the stale bytecode (and litter the tree with __pycache__).
COMMAND_ENV = {
    "GIT_PAGER": "cat",
    "PAGER": "cat",
    "GIT_TERMINAL_PROMPT": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
}
PASSED_ENV = ("PATH", "LANG", "LANGUAGE", "TERM", "TZ", "USER", "LOGNAME", "COLORTERM")
SYSTEM_DIRS = (
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc",
    "/opt",
    "/nix",
)
# Secrets of the machine that a read-only /etc would otherwise show (to root, at least).
ETC_SECRETS = ("/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/sudoers")
# Toolchain roots under the home directory, shown whole (read-only) when PATH or a configured
# command leads into them.
HOME_TOOLCHAINS = (
    ".pyenv", ".rbenv", ".nodenv", ".goenv", ".jenv", ".nvm", ".volta", ".fnm", ".asdf",
    ".sdkman", ".rustup", ".cargo", ".bun", ".deno", ".ghcup", ".elan", ".juliaup", ".pixi",
    "go", ".local/share/fnm", ".local/share/mise", ".local/share/uv", ".local/share/pipx",
    "miniconda3", "miniforge3", "mambaforge", "anaconda3",
)  # fmt: skip
COMPANIONS = {".cargo": (".rustup",)}  # cargo's binaries are rustup proxies
HOME_SECRETS = (".cargo/credentials", ".cargo/credentials.toml")  # inside a shown toolchain
PROTECTED = (".devloop", "devloop.toml", "pyproject.toml")  # read-only inside the repository
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
OPT_OUT = 'opt out with `--unsandboxed` or [sandbox] mode = "off" in devloop.toml'


class SandboxUnavailable(UsageError):
    """No sandbox can run here and the user has not opted out."""


# ------------------------------------------------------------ probing


@dataclass(frozen=True)
class Probe:
    ok: bool
    name: str = ""  # "bubblewrap 0.8.0"
    problem: str = ""  # what is missing and what to do, when not ok


def probe() -> Probe:
    """Whether bubblewrap can make a sandbox on this machine (asked once per process)."""
    return _probe(os.environ.get(BWRAP_VARIABLE) or "bwrap", sys.platform)


@functools.cache
def _probe(bwrap: str, platform: str) -> Probe:
    if not platform.startswith("linux"):
        return Probe(
            False,
            problem=f"devloop's sandbox needs Linux with bubblewrap; on {platform} there is none "
            "yet (a macOS profile is planned). Run devloop on Linux, or "
            + OPT_OUT
            + " (the model's commands then run with your user's access).",
        )
    path = shutil.which(bwrap)
    if path is None:
        return Probe(
            False,
            problem=f"bubblewrap ({bwrap}) is not installed, and it is the sandbox the build "
            "agent's commands and the model-written tests run in. Install it "
            "(Debian/Ubuntu: `sudo apt-get install bubblewrap`; Fedora: `sudo dnf install "
            "bubblewrap`; Arch: `sudo pacman -S bubblewrap`), or " + OPT_OUT + ".",
        )
    try:
        version = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        trial = subprocess.run(
            [
                path,
                "--unshare-all",
                "--die-with-parent",
                "--ro-bind",
                "/",
                "/",
                "--proc",
                "/proc",
                "--dev",
                "/dev",
                "--",
                "true",
            ],  # fmt: skip
            capture_output=True,
            text=True,
            timeout=20,
            env={"PATH": os.defpath},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Probe(False, problem=f"bubblewrap ({path}) could not be run: {exc}. " + OPT_OUT)
    if trial.returncode != 0:
        said = trial.stderr.strip() or f"exit {trial.returncode}"
        return Probe(
            False,
            problem=f"bubblewrap ({path}) cannot make a sandbox here: {said}. Unprivileged "
            "user namespaces are probably disabled: allow them (`sysctl "
            "kernel.unprivileged_userns_clone=1`; on Ubuntu 24.04 and later, an AppArmor "
            "profile for bwrap), or " + OPT_OUT + ".",
        )
    return Probe(True, version or "bubblewrap")


# ------------------------------------------------------------ the sandbox


@dataclass(frozen=True)
class Sandbox:
    """A bubblewrap invocation for one repository; `argv(command)` wraps a shell command."""

    bwrap: str
    name: str  # "bubblewrap 0.8.0"
    root: Path
    home: Path
    network: bool
    args: tuple[str, ...]  # bwrap's options, before the command
    env: Mapping[str, str]
    shown: tuple[Path, ...]  # toolchains and [sandbox] read paths, read-only
    masked: tuple[str, ...]  # files inside the repository the commands cannot see
    # Paths that must not appear during a command (devloop's config where there is none):
    # a bind mount cannot protect what does not exist yet, so they are checked afterwards.
    absent: tuple[str, ...] = ()

    def argv(self, command: str, cwd: Path) -> list[str]:
        return [self.bwrap, *self.args, "--chdir", str(cwd), "--", "/bin/sh", "-c", command]

    def describe(self) -> str:
        """What is isolated, in a sentence or three (pre-flight, dry run, the agent)."""
        net = "the host's network" if self.network else "no network"
        text = (
            f"{self.name}: the repository is writable except .git/, .devloop/, devloop.toml and "
            f"pyproject.toml (read-only); home and /tmp are private and empty; {net}; own PID "
            "namespace; no credentials in the environment"
        )
        if self.shown:
            text += "; also visible read-only: " + ", ".join(str(p) for p in self.shown)
        if self.masked:
            text += f"; {len(self.masked)} private file(s) hidden"
        return text + "."


@dataclass(frozen=True)
class Runner:
    """How devloop runs a project command: in the sandbox, or (opted out, or for the hooks
    where none is available) directly; either way with an environment free of credentials."""

    sandbox: Sandbox | None
    env: Mapping[str, str]
    label: str  # "bubblewrap 0.8.0" | "off (...)": what the run records
    # Wraps every command: the loop's checks record the files a test run leaves behind.
    watch: Callable[[], AbstractContextManager[None]] | None = None

    @property
    def sandboxed(self) -> bool:
        return self.sandbox is not None

    def run(self, command: str, cwd: Path, timeout_s: float) -> proc.CommandRun:
        with self.watch() if self.watch is not None else contextlib.nullcontext():
            return self._run(command, cwd, timeout_s)

    def _run(self, command: str, cwd: Path, timeout_s: float) -> proc.CommandRun:
        if self.sandbox is None:
            argv = ["/bin/sh", "-c", command]
            return proc.run(argv, cwd, timeout_s, env=self.env, shown=command)
        run = proc.run(
            self.sandbox.argv(command, cwd), cwd, timeout_s, env=self.sandbox.env, shown=command
        )
        removed = _remove_appeared(self.sandbox)
        if removed:
            run.output += (
                f"\n[devloop removed {', '.join(removed)}, which this command created: "
                "devloop's configuration cannot be changed from the sandbox]\n"
            )
        return run

    def describe(self) -> str:
        if self.sandbox is not None:
            return self.sandbox.describe()
        return f"no sandbox ({self.label}): commands run with your user's access to files and network, without credentials in their environment."


def opt_out(cfg: Config, by: str = "--unsandboxed") -> None:
    """Turn the sandbox off for this process's runs (the CLI flag)."""
    cfg.sandbox.mode, cfg.sandbox.off_by = "off", by


def unsandboxed_warning(runner: Runner) -> str:
    return (
        f"the sandbox is off ({runner.label.removeprefix('off (').rstrip(')')}): the build "
        "agent's commands and the model-written tests run with your user's access to your "
        "files, network and processes. Remove the opt-out to contain them."
    )


def _remove_appeared(box: Sandbox) -> list[str]:
    removed = []
    for name in box.absent:
        path = box.root / name
        if not (path.exists() or path.is_symlink()):
            continue
        if name == "pyproject.toml" and "[tool.devloop" not in _text(path):
            continue  # a new project file is fine; a new devloop table is not
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(name)
    return removed


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def runner(
    cfg: Config,
    *,
    private: Sequence[str] = (),
    required: bool = False,
    root: Path | None = None,
) -> Runner:
    """The runner for the repository at `root` (default: `cfg.root`). `required` (the
    loop's build and verify steps): no sandbox and no opt-out is a SandboxUnavailable
    naming what to install; otherwise commands run unsandboxed where there is none."""
    if cfg.sandbox.mode == "off":
        return Runner(None, command_env(cfg, Path.home()), f"off ({cfg.sandbox.off_by})")
    found = probe()
    if not found.ok:
        if required:
            raise SandboxUnavailable(found.problem)
        return Runner(None, command_env(cfg, Path.home()), f"unavailable: {found.problem}")
    box = build(cfg, found, tuple(private), root=root)
    return Runner(box, box.env, box.name)


_DEFAULT_RUNNERS: dict[tuple, Runner] = {}
# Set by devloop's own feature commit for the hooks it runs: their checks (devloop's hook
# runs the quick tests on the code the model wrote) run in the sandbox too.
IN_RUN_VARIABLE = "DEVLOOP_SANDBOXED_CHECKS"


def default_runner(cfg: Config) -> Runner:
    """The runner of the checks a person starts (`devloop check`, the hooks on their own
    commits): their commands as they would run them, minus credentials. Inside devloop's
    own commit (IN_RUN_VARIABLE set), the sandbox where there is one. One per repository
    and config, so the hook's checks build it once."""
    in_run = os.environ.get(IN_RUN_VARIABLE) == "1"
    env = tuple(os.environ.get(name, "") for name in ("PATH", "HOME", BWRAP_VARIABLE))
    key = (cfg.root, repr(cfg.commands), repr(cfg.sandbox), env, in_run)
    found = _DEFAULT_RUNNERS.get(key)
    if found is None:
        if in_run:
            found = runner(cfg)
        else:
            found = Runner(None, scrubbed_environ(), "none: checks started by a person")
        _DEFAULT_RUNNERS[key] = found
    return found


def command_env(cfg: Config, home: Path) -> dict[str, str]:
    """The environment of a project command: an allow-list, never a credential."""
    env = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
    env.update({k: v for k, v in os.environ.items() if k.startswith("LC_")})
    for name in cfg.sandbox.env:
        if name in os.environ and not is_secret_name(name):
            env[name] = os.environ[name]
    env.setdefault("PATH", os.defpath)
    env.update(COMMAND_ENV, HOME=str(home), TMPDIR="/tmp")
    return env


def build(
    cfg: Config, found: Probe, private: tuple[str, ...] = (), *, root: Path | None = None
) -> Sandbox:
    """The sandbox for the repository at `root` (default `cfg.root`; see the module
    docstring for what it holds)."""
    root = (root or cfg.root).resolve()
    home = Path(os.environ.get("HOME") or "/nonexistent").resolve()
    path_env = os.environ.get("PATH", os.defpath)
    args: list[str] = ["--unshare-all"]
    if cfg.sandbox.network:
        args.append("--share-net")
    args += ["--die-with-parent", "--new-session"]
    for name in SYSTEM_DIRS:
        if os.path.islink(name):
            args += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            args += ["--ro-bind", name, name]
    for name in ETC_SECRETS:
        if os.path.isfile(name):
            args += ["--ro-bind", "/dev/null", name]
    if cfg.sandbox.network:
        args += _resolver_binds()
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/var/tmp"]
    if home != Path("/") and not _visible(home, root):
        args += ["--tmpfs", str(home)]
    shown = _toolchains(cfg, root, home, path_env)
    for path in shown:
        args += ["--ro-bind", str(path), str(path)]
    for rel in HOME_SECRETS:
        if (home / rel).is_file() and any(_under(home / rel, p) for p in shown):
            args += ["--ro-bind", "/dev/null", str(home / rel)]
    extra = [Path(os.path.expanduser(p)) for p in cfg.sandbox.read]
    for path in extra:
        args += ["--ro-bind-try", str(path), str(path)]
    git = _git_layout(root)
    if git is not None and git.toplevel != root and _under(root, git.toplevel):
        args += ["--ro-bind", str(git.toplevel), str(git.toplevel)]
    args += ["--bind", str(root), str(root)]
    if git is not None:
        args += _git_binds(git)
    if (root / ".git").exists() and (git is None or git.toplevel != root):
        args += ["--ro-bind", str(root / ".git"), str(root / ".git")]  # not git's, still not ours
    absent = []
    for name in PROTECTED:
        path = root / name
        if path.exists():
            args += ["--ro-bind", str(path), str(path)]
        elif name != ".devloop":
            absent.append(name)
    if git is not None and git.toplevel != root:
        absent.append(".git")  # a fake repository here would steer devloop's own git
    masked = []
    for rel in private:
        path = root / rel
        if path.is_symlink() or not path.exists():
            continue
        source = _empty_dir() if path.is_dir() else "/dev/null"
        args += ["--ro-bind", source, str(path)]
        masked.append(rel)
    env = command_env(cfg, home)
    return Sandbox(
        bwrap=shutil.which(os.environ.get(BWRAP_VARIABLE) or "bwrap") or "bwrap",
        name=found.name,
        root=root,
        home=home,
        network=cfg.sandbox.network,
        args=tuple(args),
        env=env,
        shown=tuple([*shown, *extra]),
        masked=tuple(masked),
        absent=tuple(absent),
    )


# ------------------------------------------------------------ what commands need


def programs(command: str) -> list[str]:
    """The programs a shell command starts: the first word of each part, after VAR=value
    assignments and `env` / `exec` / `command` / `time`."""
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = list(lexer)
    except ValueError:
        return []
    found, expecting = [], True
    for word in words:
        if word and all(c in ";&|()" for c in word):
            expecting = True
            continue
        if not expecting:
            continue
        if ("=" in word and not word.startswith(("-", "="))) or word in (
            "env",
            "exec",
            "command",
            "time",
        ):
            continue
        found.append(word)
        expecting = False
    return found


def first_program(command: str) -> str | None:
    found = programs(command)
    return found[0] if found else None


def _toolchains(cfg: Config, root: Path, home: Path, path_env: str) -> list[Path]:
    """The directories outside the visible system the commands need, read-only: what PATH
    leads to (toolchain roots under the home, bin directories elsewhere) and, for each
    configured command, its program's virtualenv, interpreter and toolchain."""
    found: set[Path] = set()
    for entry in path_env.split(os.pathsep):
        if not os.path.isabs(entry) or not os.path.isdir(entry):
            continue
        path = Path(entry)
        if _visible(path, root):
            continue
        if _under(path, home):
            toolchain = _home_toolchain(path, home)
            if toolchain is not None:
                found |= _with_companions(toolchain, home)
            continue  # ~/bin and the like may hold anything: only what a command needs
        found |= _needs(path, root, home)
    for key in CONFIGURED:
        command = getattr(cfg.commands, key)
        for program in programs(command) if command.strip() else []:
            found |= _program_needs(program, root, home, path_env)
    return _outermost(p for p in found if p.exists() and not _visible(p, root))


def _program_needs(
    program: str, root: Path, home: Path, path_env: str, depth: int = 0
) -> set[Path]:
    if depth > 4:
        return set()
    if "/" in program:
        path = Path(program) if os.path.isabs(program) else root / program
    else:
        located = shutil.which(program, path=path_env)
        if located is None:
            return set()
        path = Path(located)
    if not path.exists():
        return set()
    out = _needs(path, root, home)
    interpreter = _shebang(path)
    if interpreter:
        out |= _program_needs(interpreter, root, home, path_env, depth + 1)
    return out


def _needs(path: Path, root: Path, home: Path) -> set[Path]:
    """What must be visible for `path` (an executable or a bin directory) to run."""
    out: set[Path] = set()
    for candidate in {Path(os.path.abspath(path)), Path(os.path.realpath(path))}:
        venv = _venv_root(candidate)
        if venv is not None:
            out.add(venv)
            base = _venv_base(venv)
            if base is not None:
                out |= _needs(base, root, home)
        if _visible(candidate, root):
            continue
        if _under(candidate, home):
            toolchain = _home_toolchain(candidate, home)
            out |= _with_companions(toolchain, home) if toolchain else {candidate}
            continue
        directory = candidate if candidate.is_dir() else candidate.parent
        out.add(directory.parent if directory.name in ("bin", "sbin") else directory)
    return out


def _venv_root(path: Path) -> Path | None:
    for parent in list(path.parents)[:3]:
        if (parent / "pyvenv.cfg").is_file():
            return parent
    return None


def _venv_base(venv: Path) -> Path | None:
    """The base interpreter's prefix a virtualenv runs on (pyvenv.cfg's `home`)."""
    for line in _text(venv / "pyvenv.cfg").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home" and value.strip():
            home = Path(value.strip())
            return home.parent if home.name == "bin" else home
    return None


def _shebang(path: Path) -> str | None:
    """The interpreter a script names (`#!/usr/bin/env python3` -> python3)."""
    try:
        with open(os.path.realpath(path), "rb") as handle:
            head = handle.read(256)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    words = head[2:].split(b"\n", 1)[0].decode("utf-8", "replace").split()
    if not words:
        return None
    if os.path.basename(words[0]) == "env":
        rest = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        return rest[0] if rest else None
    return words[0]


def _home_toolchain(path: Path, home: Path) -> Path | None:
    for name in HOME_TOOLCHAINS:
        candidate = home / name
        if _under(path, candidate):
            return candidate
    return None


def _with_companions(toolchain: Path, home: Path) -> set[Path]:
    rel = toolchain.relative_to(home).as_posix()
    return {toolchain, *(home / c for c in COMPANIONS.get(rel, ()))}


def _visible(path: Path, root: Path) -> bool:
    """Already visible: under a system directory or the repository."""
    real = Path(os.path.realpath(path))
    return _under(real, root) or any(_under(real, Path(os.path.realpath(d))) for d in SYSTEM_DIRS)


def _under(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def _outermost(paths: Iterable[Path]) -> list[Path]:
    kept: list[Path] = []
    for path in sorted(set(paths), key=lambda p: (len(p.parts), str(p))):
        if not any(_under(path, k) for k in kept):
            kept.append(path)
    return sorted(kept)


def _resolver_binds() -> list[str]:
    """With the network shared, name resolution may live under /run (systemd-resolved)."""
    target = os.path.realpath("/etc/resolv.conf")
    if target.startswith("/run/"):
        directory = os.path.dirname(target)
        return ["--ro-bind-try", directory, directory]
    return []


# ------------------------------------------------------------ git inside the sandbox


@dataclass(frozen=True)
class _GitLayout:
    toplevel: Path
    git_dir: Path
    common_dir: Path
    dot_git: Path  # toplevel/.git: a directory, or a file naming the git dir


def _git_layout(root: Path) -> _GitLayout | None:
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
    return _GitLayout(toplevel, Path(git_dir).resolve(), common_dir, toplevel / ".git")


def _git_binds(git: _GitLayout) -> list[str]:
    """git's own directories read-only, and its config reduced to what reading needs."""
    args: list[str] = []
    for path in _outermost([git.common_dir, git.git_dir]):
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
    out = _scratch() / f"gitconfig-{digest}"
    if not out.exists():
        out.write_text(text, encoding="utf-8", errors="surrogateescape")
    return out


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@functools.cache
def _scratch() -> Path:
    path = Path(tempfile.mkdtemp(prefix="devloop-sandbox-"))
    atexit.register(shutil.rmtree, path, True)
    return path


def _empty_dir() -> str:
    path = _scratch() / "empty"
    path.mkdir(exist_ok=True)
    path.chmod(0o555)
    return str(path)

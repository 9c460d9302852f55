"""The bubblewrap invocation for one repository: what is visible, writable, hidden.

See the package docstring for what the sandbox holds; `build` makes it from the config and
the machine, and `Sandbox.argv` wraps one shell command in it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from devloop.config import Config
from devloop.sandbox.gitview import empty_dir, git_binds, git_layout
from devloop.sandbox.probe import Probe
from devloop.sandbox.runner import BWRAP_VARIABLE, command_env
from devloop.sandbox.toolchains import SYSTEM_DIRS, read_text_or_empty, toolchains, under, visible

# Secrets of the machine that a read-only /etc would otherwise show (to root, at least).
ETC_SECRETS = ("/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/sudoers")


HOME_SECRETS = (".cargo/credentials", ".cargo/credentials.toml")  # inside a shown toolchain


PROTECTED = (".devloop", "devloop.toml", "pyproject.toml")  # read-only inside the repository


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

    def remove_appeared(self) -> list[str]:
        """Remove what a command created where devloop's config must not appear."""
        removed = []
        for name in self.absent:
            path = self.root / name
            if not (path.exists() or path.is_symlink()):
                continue
            if name == "pyproject.toml" and "[tool.devloop" not in read_text_or_empty(path):
                continue  # a new project file is fine; a new devloop table is not
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(name)
        return removed


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
    if home != Path("/") and not visible(home, root):
        args += ["--tmpfs", str(home)]
    shown = toolchains(cfg, root, home, path_env)
    for path in shown:
        args += ["--ro-bind", str(path), str(path)]
    for rel in HOME_SECRETS:
        if (home / rel).is_file() and any(under(home / rel, p) for p in shown):
            args += ["--ro-bind", "/dev/null", str(home / rel)]
    extra = [Path(os.path.expanduser(p)) for p in cfg.sandbox.read]
    for path in extra:
        args += ["--ro-bind-try", str(path), str(path)]
    git = git_layout(root)
    if git is not None and git.toplevel != root and under(root, git.toplevel):
        args += ["--ro-bind", str(git.toplevel), str(git.toplevel)]
    args += ["--bind", str(root), str(root)]
    if git is not None:
        args += git_binds(git)
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
        source = empty_dir() if path.is_dir() else "/dev/null"
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


def _resolver_binds() -> list[str]:
    """With the network shared, name resolution may live under /run (systemd-resolved)."""
    target = os.path.realpath("/etc/resolv.conf")
    if target.startswith("/run/"):
        directory = os.path.dirname(target)
        return ["--ro-bind-try", directory, directory]
    return []

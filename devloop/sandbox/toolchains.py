"""What the configured commands need to see: the toolchains PATH and the commands lead
into (a virtualenv and its base interpreter, pyenv, rustup, nvm ...), shown read-only."""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Iterable
from pathlib import Path

from devloop.config import Config
from devloop.sandbox.runner import CONFIGURED

# Toolchain roots under the home directory, shown whole (read-only) when PATH or a configured
# command leads into them.
HOME_TOOLCHAINS = (
    ".pyenv", ".rbenv", ".nodenv", ".goenv", ".jenv", ".nvm", ".volta", ".fnm", ".asdf",
    ".sdkman", ".rustup", ".cargo", ".bun", ".deno", ".ghcup", ".elan", ".juliaup", ".pixi",
    "go", ".local/share/fnm", ".local/share/mise", ".local/share/uv", ".local/share/pipx",
    "miniconda3", "miniforge3", "mambaforge", "anaconda3",
)  # fmt: skip


COMPANIONS = {".cargo": (".rustup",)}  # cargo's binaries are rustup proxies


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


def toolchains(cfg: Config, root: Path, home: Path, path_env: str) -> list[Path]:
    """The directories outside the visible system the commands need, read-only: what PATH
    leads to (toolchain roots under the home, bin directories elsewhere) and, for each
    configured command, its program's virtualenv, interpreter and toolchain."""
    found: set[Path] = set()
    for entry in path_env.split(os.pathsep):
        if not os.path.isabs(entry) or not os.path.isdir(entry):
            continue
        path = Path(entry)
        if visible(path, root):
            continue
        if under(path, home):
            toolchain = _home_toolchain(path, home)
            if toolchain is not None:
                found |= _with_companions(toolchain, home)
            continue  # ~/bin and the like may hold anything: only what a command needs
        found |= _needs(path, root, home)
    for key in CONFIGURED:
        command = getattr(cfg.commands, key)
        for program in programs(command) if command.strip() else []:
            found |= _program_needs(program, root, home, path_env)
    return outermost(p for p in found if p.exists() and not visible(p, root))


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
        if visible(candidate, root):
            continue
        if under(candidate, home):
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
    for line in read_text_or_empty(venv / "pyvenv.cfg").splitlines():
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
        if under(path, candidate):
            return candidate
    return None


def _with_companions(toolchain: Path, home: Path) -> set[Path]:
    rel = toolchain.relative_to(home).as_posix()
    return {toolchain, *(home / c for c in COMPANIONS.get(rel, ()))}


def visible(path: Path, root: Path) -> bool:
    """Already visible: under a system directory or the repository."""
    real = Path(os.path.realpath(path))
    return under(real, root) or any(under(real, Path(os.path.realpath(d))) for d in SYSTEM_DIRS)


def under(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def outermost(paths: Iterable[Path]) -> list[Path]:
    kept: list[Path] = []
    for path in sorted(set(paths), key=lambda p: (len(p.parts), str(p))):
        if not any(under(path, k) for k in kept):
            kept.append(path)
    return sorted(kept)


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


def read_text_or_empty(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""

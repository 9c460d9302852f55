"""How devloop runs a project command: the Runner, the sandbox or none, a clean environment.

Light on purpose: the git hooks run checks through `default_runner` on every commit, and
the sandbox itself (box.py, probe.py, toolchains.py, gitview.py) loads only when a run
builds one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from devloop import proc
from devloop.config import Config
from devloop.errors import UsageError
from devloop.redaction import is_secret_name, scrubbed_environ

if TYPE_CHECKING:  # the sandbox itself loads only where one is built
    from devloop.sandbox.box import Sandbox

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


OPT_OUT = 'opt out with `--unsandboxed` or [sandbox] mode = "off" in devloop.toml'


class SandboxUnavailable(UsageError):
    """No sandbox can run here and the user has not opted out."""


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
        removed = self.sandbox.remove_appeared()
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
    from devloop.sandbox.box import build
    from devloop.sandbox.probe import probe

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

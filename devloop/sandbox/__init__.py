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

Modules: runner (the Runner, its environment, the choice of runner: what the hooks load),
probe (can bubblewrap run here), box (the bwrap invocation), toolchains (what commands need
to see), gitview (git inside the sandbox). May import: proc, config, errors, redaction.
"""

from __future__ import annotations

import importlib
from typing import Any

from devloop.sandbox.runner import (
    BWRAP_VARIABLE,
    IN_RUN_VARIABLE,
    Runner,
    SandboxUnavailable,
    command_env,
    default_runner,
    opt_out,
    runner,
    unsandboxed_warning,
)

# The heavier parts, loaded on first use (the hooks never need them).
_LAZY = {
    "Probe": "probe",
    "probe": "probe",
    "Sandbox": "box",
    "build": "box",
    "programs": "toolchains",
    "first_program": "toolchains",
    "reduced_git_config": "gitview",
}

__all__ = [
    "BWRAP_VARIABLE",
    "IN_RUN_VARIABLE",
    "Runner",
    "SandboxUnavailable",
    "command_env",
    "default_runner",
    "opt_out",
    "runner",
    "unsandboxed_warning",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'devloop.sandbox' has no attribute '{name}'")
    return getattr(importlib.import_module(f"devloop.sandbox.{module}"), name)

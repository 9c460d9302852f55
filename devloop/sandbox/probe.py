"""Whether bubblewrap can make a sandbox on this machine: asked once per process."""

from __future__ import annotations

import functools
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from devloop import proc
from devloop.sandbox.runner import BWRAP_VARIABLE, OPT_OUT


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
    env = {"PATH": os.defpath}
    try:
        version = proc.run([path, "--version"], Path("/"), 10, env=env, shown="bwrap --version")
        argv = [path, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/",
                "--proc", "/proc", "--dev", "/dev", "--", "true"]  # fmt: skip
        trial = proc.run(argv, Path("/"), 20, env=env, shown="bwrap ... true")
    except OSError as exc:
        return Probe(False, problem=f"bubblewrap ({path}) could not be run: {exc}. " + OPT_OUT)
    if trial.returncode != 0:
        said = trial.output.strip() or f"exit {trial.returncode}"
        if trial.timed_out:
            said = "it did not finish within 20 s"
        return Probe(
            False,
            problem=f"bubblewrap ({path}) cannot make a sandbox here: {said}. Unprivileged "
            "user namespaces are probably disabled: allow them (`sysctl "
            "kernel.unprivileged_userns_clone=1`; on Ubuntu 24.04 and later, an AppArmor "
            "profile for bwrap), or " + OPT_OUT + ".",
        )
    return Probe(True, version.output.strip() or "bubblewrap")

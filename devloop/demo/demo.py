"""`devloop demo`: the complete loop, offline, on a bundled sample project.

What it does, in order:
1. checks the target directory (new or empty: the demo never overwrites anything) and that
   the build agent is installed, before writing anything;
2. copies the sample project (sample/: `tally`, a small word-counting CLI with unittest
   tests) into the target, adds the spec (spec.md) and a devloop.toml whose commands use
   only the standard library, and commits it all in a new git repository;
3. starts the offline server (devloop.sim) in-process with the scripted replies
   (scenario.toml) and points this run, and only this run, at it: every tier's endpoint in
   the in-memory config, plus a placeholder key in the process environment, both restored
   when the run ends. A key the user has set is never sent anywhere, nor written;
4. runs `loop.start` on the spec: real edits through the build agent's tools, real tests,
   real git; only the model's replies are scripted. Costs are the scripted replies' token
   usage priced at real prices, as for any run.

The CLI (cli.py `demo`) renders the progress and the cost table; this module does the work.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from devloop import loop, state
from devloop.config import MODEL_TIERS, Config
from devloop.errors import Interrupted, UsageError
from devloop.git import repository
from devloop.money import usd
from devloop.sim.scenario import Scenario, parse_scenario
from devloop.sim.server import SimServer
from devloop.steps import STEPS

SLUG = "stop-words"
SPEC_PATH = "specs/stop-words.md"
REPO_NAME = "tally"
# A placeholder the offline server accepts; it only ever travels to 127.0.0.1.
PLACEHOLDER_KEY = "sk-devloop-demo-placeholder-not-a-real-key"
CREDENTIAL_VARS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL")
PROXY_BYPASS_VARS = ("NO_PROXY", "no_proxy")  # loopback must never go through a proxy
# In the package, the sample's .gitignore is stored without its dot so no tool treats it as
# the ignore file of devloop's own source tree.
RENAMES = {"gitignore": ".gitignore"}
SKIPPED = {"__pycache__", ".DS_Store"}
GIT_CONFIG = (
    # A fresh machine may have no git identity, and a user's global signing or hooks must
    # not decide whether the demo's commits succeed.
    ("user.name", "devloop demo"),
    ("user.email", "demo@devloop.invalid"),
    ("commit.gpgsign", "false"),
    ("core.hooksPath", ".git/hooks"),
)
SCRIPTED_NOTICE = (
    "The model replies were scripted by devloop's offline server (devloop.sim): no model was "
    "called, and no API key or network was used. The costs are computed from the scripted "
    "replies' token usage at real prices (devloop/prices.toml)."
)
INTRO_NOTICE = (
    "Offline: the model replies are scripted by devloop's offline server, so no model is "
    "called and no API key or network is needed. Everything else is real: the edits, the "
    "tests, git, and the costs, computed from the scripted token usage at real prices."
)


@dataclass(frozen=True)
class DemoRepo:
    root: Path
    spec: Path
    base_commit: str  # main, before the feature


@dataclass(frozen=True)
class Summary:
    """What the ledger says about the demo's feature."""

    calls: int
    cost_usd: Decimal
    baseline_usd: Decimal
    saved_usd: Decimal
    saved_pct: Decimal | None
    cache_share: float  # cache reads / all input tokens (uncached + cache writes + reads)


# ------------------------------------------------------------------ bundled files


def bundled() -> Traversable:
    """This package's files: sample/, spec.md, scenario.toml (any install, zip included)."""
    return resources.files(__package__ or "devloop.demo")


def load_scenario() -> Scenario:
    text = bundled().joinpath("scenario.toml").read_text(encoding="utf-8")
    return parse_scenario(tomllib.loads(text), source="devloop/demo/scenario.toml")


def spec_title() -> str:
    text = bundled().joinpath("spec.md").read_text(encoding="utf-8")
    return next(line[2:].strip() for line in text.splitlines() if line.startswith("# "))


def _copy_tree(source: Traversable, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for item in sorted(source.iterdir(), key=lambda t: t.name):
        if item.name in SKIPPED or item.name.endswith(".pyc"):
            continue
        destination = target / RENAMES.get(item.name, item.name)
        if item.is_dir():
            _copy_tree(item, destination)
        else:
            destination.write_bytes(item.read_bytes())


# ------------------------------------------------------------------ preparing


def target_dir(directory: Path | None) -> Path | None:
    """The directory the demo may use: `directory` when it is new or empty and can be
    written (None: a fresh temporary one, made later by `prepare`). A UsageError or
    StorageError (exit 2) otherwise; nothing is written either way."""
    if directory is None:
        return None
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"--dir {directory}: a file is in the way; give a new or empty directory.")
    if directory.is_dir() and any(directory.iterdir()):
        raise UsageError(
            f"--dir {directory}: the directory is not empty, and the demo never overwrites "
            "anything. Give a new or empty directory, or leave out --dir for a temporary one."
        )
    state.check_writable(directory, "--dir")  # /proc/x, a file's child, a read-only parent
    return directory.resolve()


def prepare(directory: Path | None) -> DemoRepo:
    """Copy the sample into `directory` (or a new temporary directory), add the spec and a
    devloop.toml, and commit it all on `main` in a new git repository."""
    root = directory or Path(tempfile.mkdtemp(prefix="devloop-demo-")) / REPO_NAME
    _copy_tree(bundled().joinpath("sample"), root)
    spec = root / SPEC_PATH
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_bytes(bundled().joinpath("spec.md").read_bytes())
    (root / "devloop.toml").write_text(config_text(sys.executable), encoding="utf-8")
    repository.git(["init", "-q"], root)
    repository.git(["symbolic-ref", "HEAD", "refs/heads/main"], root)  # whatever init.defaultBranch
    for key, value in GIT_CONFIG:
        repository.git(["config", key, value], root)
    repository.git(["add", "-A"], root)
    message = "chore: tally 0.3.0, and a spec for stop words"
    repository.git(["commit", "-q", "-m", message], root)  # not a step: git commit
    head = repository.head_commit(root)
    assert head is not None
    return DemoRepo(root, spec, head)


def config_text(python: str) -> str:
    """The demo repository's devloop.toml. Every command uses only the standard library
    (a `pip install .` of devloop brings no pytest or ruff) and the interpreter running
    devloop, so the sample's tests run wherever devloop does."""
    import tomli_w

    py = shlex.quote(python)
    data = {
        "commands": {
            "lint": f"{py} -m compileall -q tally tests",
            "test": f"{py} -m unittest discover -s tests -q",
            "quick_test": f"{py} -m unittest discover -s tests -q",
            "smoke": f"{py} -m tally --top 5 --ignore-common README.md",  # not a step
        },
        "budget": {"feature_usd": 5.0},
    }
    header = (
        "# devloop settings for the demo repository, written by `devloop demo`.\n"
        "# The commands use only the standard library; the smoke test runs the new option.\n\n"
    )
    return header + tomli_w.dumps(data)


# ------------------------------------------------------------------ running


@contextlib.contextmanager
def offline(cfg: Config) -> Iterator[SimServer]:
    """The offline server with the demo's scenario, and this process pointed at it: every
    tier's endpoint in `cfg` (in memory only), a placeholder key, the base URL, and a proxy
    bypass for loopback. The environment is restored and the server stopped on exit."""
    server = SimServer(load_scenario()).start()
    saved = {name: os.environ.get(name) for name in (*CREDENTIAL_VARS, *PROXY_BYPASS_VARS)}
    try:
        os.environ.pop("ANTHROPIC_AUTH_TOKEN", None)
        os.environ["ANTHROPIC_API_KEY"] = PLACEHOLDER_KEY
        os.environ["ANTHROPIC_BASE_URL"] = server.base_url
        for name in PROXY_BYPASS_VARS:
            current = saved[name]
            os.environ[name] = f"{current},127.0.0.1" if current else "127.0.0.1,localhost"
        for tier in MODEL_TIERS:
            setattr(cfg.endpoints, tier, server.base_url)
        yield server
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.close()


@dataclass
class DemoRun:
    """One run of the loop on the demo repository, against the offline server. Called by the
    CLI with the progress renderer; afterwards `unused` lists scripted replies never asked
    for (empty when the scenario and the engine agree)."""

    cfg: Config
    repo: DemoRepo
    unused: dict[str, int] = field(default_factory=dict)
    requests: int = 0

    def __call__(self, emit: loop.Emit) -> loop.RunResult:
        with offline(self.cfg) as server:
            try:
                return loop.start(self.cfg, self.repo.spec, loop.RunOptions(), emit)
            except Interrupted:
                # The engine's hint, `devloop resume`, cannot work here: the scripted
                # replies stopped with this process, and a real key would pay real models.
                message = (
                    f"interrupted; the demo stops here. It cannot be resumed (its scripted "
                    f"replies stopped with it): run `devloop demo` again to start over. "
                    f"What it did so far is in {self.repo.root}."
                )
                self._restate(message)  # so `devloop status` there says the same
                raise Interrupted(message) from None
            finally:
                self.unused = server.unused()
                self.requests = len(server.message_requests())

    def _restate(self, message: str) -> None:
        root = self.repo.root
        for slug in state.list_slugs(root):
            feature = state.load(root, slug)
            feature.message = message
            state.save(root, feature)


# ------------------------------------------------------------------ reporting


def summary(root: Path) -> Summary:
    """Cost, baseline, savings and the prompt-cache share of the demo's feature (ledger)."""
    from devloop.reports import cost_report

    total = cost_report.build_for_repo(root, SLUG).total
    return Summary(
        calls=total.calls,
        cost_usd=total.cost_usd or Decimal(0),
        baseline_usd=total.baseline_usd or Decimal(0),
        saved_usd=total.saved_usd or Decimal(0),
        saved_pct=total.saved_pct,
        cache_share=total.tokens.read_share or 0.0,
    )


def intro_lines(repo: DemoRepo) -> list[str]:
    return [
        f"devloop demo: one feature through the {len(STEPS)}-step loop, on a sample project.",
        f"  Repository: {repo.root}",
        "              tally, a small word-counting CLI with unittest tests, committed on main",
        f"  Spec:       {SPEC_PATH}: {spec_title()}",
        "",
        INTRO_NOTICE,  # one line: the CLI wraps prose at the terminal's width
        "",
    ]


def closing_lines(repo: DemoRepo, done: bool) -> list[str]:
    """Where everything is, the savings (after a finished run) and the plain notice."""
    lines = [""]
    if done:
        figures = summary(repo.root)
        pct = f" ({figures.saved_pct:.1f}%)" if figures.saved_pct is not None else ""
        lines += [
            f"Routed cost {usd(figures.cost_usd)} against an always-frontier baseline of "
            f"{usd(figures.baseline_usd)}: routing saved {usd(figures.saved_usd)}{pct} over "
            f"{figures.calls} model calls.",
            f"Prompt cache: {figures.cache_share:.1%} of all input tokens were read from cache.",
            "",
            "The commit:",
            *(
                f"  {line}".rstrip()
                for line in repository.commit_message(repo.root).strip().split("\n")
            ),
            "",
        ]
    feature = f".devloop/features/{SLUG}/"
    hints = [
        ("git log --stat -1", "the feature's commit and its Devloop-* trailers"),
        (f"ls {feature}", "research, plans, verdicts, build plan, diff, transcripts"),
        ("devloop cost --by tier", "the same costs, by tier"),
    ]
    width = max(len(command) for command, _ in hints) + 2
    lines += [f"The demo repository: {repo.root}", f"  cd {shlex.quote(str(repo.root))}"]
    lines += [f"  {command:<{width}}{why}" for command, why in hints]
    lines += ["", SCRIPTED_NOTICE]
    return lines

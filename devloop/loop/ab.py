"""`devloop ab SPEC`: the same spec run twice, routed and all-frontier, side by side.

How a person profiles the mid tier on their own tasks before trusting the routes. Each
arm runs in its own git worktree from HEAD, `.devloop/ab/<slug>/routed` and
`.devloop/ab/<slug>/frontier`, as an ordinary feature run there:

- routed: the repository's config as it is (its router, overrides and thresholds);
- frontier: the same config with every model step pinned to the frontier tier.

Each arm is its own feature, `<slug>-ab-routed` / `<slug>-ab-frontier` (a number is added
when an earlier A/B run used the name), on its own branch `<prefix><arm slug>`, with a spec
that differs from SPEC only in that slug (the models see the same text). Its ledger in the
worktree is tagged `ab:routed` / `ab:frontier` and, when the arm ends, its rows are copied
into the repository's ledger under the same slug and tag, so `devloop cost --all`,
`devloop suggest` and `devloop routing calibrate` see both arms.

The arms run one after the other; an arm that fails is reported, and the other still runs.
Nothing is ever deleted on the way: `clean` (on request) removes a worktree only when git
finds it clean, keeps the arm's .devloop (ledger, artifacts) beside it, and never deletes a
branch.
"""

from __future__ import annotations

import copy
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from devloop import loop
from devloop import spec as spec_mod
from devloop import state as state_mod
from devloop.config import Config
from devloop.errors import DevloopError, UsageError, did_you_mean
from devloop.git import repository
from devloop.ledger import Ledger, ledger_path
from devloop.ledger.engine import configured_url
from devloop.steps import AGENT_TASKS, STEPS

ARMS = ("routed", "frontier")
AB_DIR = "ab"
SCHEMA = "devloop.ab/1"
EXCLUDE = (state_mod.DEVLOOP_DIR,)

ArmEmit = Callable[[str, Any], None]  # (arm, loop.Event)


@dataclass
class Arm:
    name: str
    slug: str
    path: Path  # the worktree
    spec_path: Path
    cfg: Config

    @property
    def tag(self) -> str:
        return f"ab:{self.name}"


@dataclass
class ArmResult:
    arm: str
    slug: str
    branch: str
    worktree: str
    tag: str
    status: str  # done | stopped | failed | budget | interrupted ...
    message: str
    exit_code: int
    wall_s: float
    cost_usd: Decimal | None = None
    baseline_usd: Decimal | None = None
    same_usage_baseline_usd: Decimal | None = None
    calls: int = 0
    unpriced_calls: int = 0
    tokens: dict[str, int] = field(default_factory=dict)
    tasks: int | None = None
    tasks_first_attempt: int | None = None
    findings: dict[str, dict[str, int]] = field(default_factory=dict)  # review/audit -> sev
    escalations: int = 0
    diff: dict[str, int] = field(default_factory=dict)  # files, insertions, deletions
    suite: str = "not run"  # passed | failed | not configured | not run (why)
    imported: bool = False
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        def usd(value: Decimal | None) -> str | None:
            return None if value is None else f"{value:.12f}"

        return {
            "arm": self.arm,
            "slug": self.slug,
            "branch": self.branch,
            "worktree": self.worktree,
            "tag": self.tag,
            "status": self.status,
            "message": self.message,
            "exit_code": self.exit_code,
            "wall_s": round(self.wall_s, 2),
            "cost_usd": usd(self.cost_usd),
            "baseline_usd": usd(self.baseline_usd),
            "same_usage_baseline_usd": usd(self.same_usage_baseline_usd),
            "calls": self.calls,
            "unpriced_calls": self.unpriced_calls,
            "tokens": self.tokens,
            "tasks": self.tasks,
            "tasks_first_attempt": self.tasks_first_attempt,
            "findings": self.findings,
            "escalations": self.escalations,
            "diff": self.diff,
            "suite": self.suite,
            "imported": self.imported,
            "notes": self.notes,
        }


@dataclass
class AbResult:
    slug: str
    title: str
    base_commit: str
    directory: Path
    arms: list[ArmResult]

    @property
    def ok(self) -> bool:
        return all(a.exit_code == 0 for a in self.arms)

    def arm(self, name: str) -> ArmResult | None:
        return next((a for a in self.arms if a.arm == name), None)

    def saving(self) -> tuple[Decimal, Decimal] | None:
        """What the routed arm saved against the all-frontier arm (negative: it cost more),
        and that as a share of the frontier arm's cost; None when either is unpriced."""
        routed, frontier = self.arm("routed"), self.arm("frontier")
        if routed is None or frontier is None:
            return None
        if routed.cost_usd is None or not frontier.cost_usd:
            return None
        saved = frontier.cost_usd - routed.cost_usd
        return saved, saved / frontier.cost_usd

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "slug": self.slug,
            "title": self.title,
            "base_commit": self.base_commit,
            "directory": str(self.directory),
            "arms": {a.arm: a.to_dict() for a in self.arms},
        }


def ab_dir(root: Path, slug: str) -> Path:
    return root / state_mod.DEVLOOP_DIR / AB_DIR / slug


# ------------------------------------------------------------------ preparing


def frontier_config(cfg: Config) -> Config:
    """The config with every model step pinned to frontier and the rule router."""
    out = copy.deepcopy(cfg)
    out.routing.router = "rule"
    out.routing.steps = {s.key: "frontier" for s in STEPS if s.calls_model}
    return out


def _arm_slug(base: str, arm: str, taken: Callable[[str], bool]) -> str:
    suffix = f"-ab-{arm}"
    for n in range(1, 1000):
        tail = suffix + (f"-{n}" if n > 1 else "")
        slug = base[: spec_mod.SLUG_MAX - len(tail)].rstrip("-") + tail
        if not taken(slug):
            return slug
    raise UsageError(f"no free A/B slug left for '{base}'.")


def _arm_spec(spec: spec_mod.Spec, slug: str) -> str:
    import tomli_w

    meta: dict[str, str] = {"type": spec.type, "slug": slug}
    if spec.scope:
        meta["scope"] = spec.scope
    return f"+++\n{tomli_w.dumps(meta)}+++\n{spec.text}"


def prepare(cfg: Config, spec: spec_mod.Spec, head: str) -> list[Arm]:
    """Create both worktrees and arm specs; refuse when an A/B run of SPEC is still here."""
    root = cfg.root
    if configured_url(cfg.ledger.url):
        # Each arm keeps a ledger of its own, imported into the repository's afterwards; on
        # a shared ledger both would be the same database and every arm call would count twice.
        raise UsageError(
            "devloop ab runs each arm on a ledger of its own, and this repository's ledger is a "
            "shared PostgreSQL one (DEVLOOP_LEDGER_URL or [ledger] url). Run the A/B with it "
            "unset (the arms' costs then stay in .devloop/); nothing was created."
        )
    directory = ab_dir(root, spec.slug)
    present = [directory / arm for arm in ARMS if (directory / arm).exists()]
    if present:
        raise UsageError(
            f"an A/B run of '{spec.slug}' is still here ({', '.join(map(str, present))}). "
            f"Read it with `devloop cost --all`, then `devloop ab {spec.slug} --clean` to remove "
            "its worktrees (their branches and ledger rows are kept)."
        )
    with Ledger.open(root) as main:
        known = {f.slug for f in main.features()}

    def taken(slug: str) -> bool:
        branch = cfg.git.branch_prefix + slug
        return slug in known or repository.branch_exists(root, branch)

    arms = []
    for name in ARMS:
        slug = _arm_slug(spec.slug, name, taken)
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        repository.worktree_add(root, path, head)
        if not repository.is_ignored(path, f"{state_mod.DEVLOOP_DIR}/ledger.db"):
            raise UsageError(
                f"{state_mod.DEVLOOP_DIR}/ is not ignored by the committed .gitignore, so each "
                "arm's own ledger would make its worktree dirty. Commit a .gitignore listing "
                f"'{state_mod.DEVLOOP_DIR}/' (devloop init writes it), then `devloop ab "
                f"{spec.slug} --clean` and run again."
            )
        spec_path = directory / f"{name}.spec.md"
        state_mod.atomic_write(spec_path, _arm_spec(spec, slug))
        arm_cfg = frontier_config(cfg) if name == "frontier" else copy.deepcopy(cfg)
        arm_cfg.root, arm_cfg.source = path, None
        arms.append(Arm(name, slug, path, spec_path, arm_cfg))
    return arms


# ------------------------------------------------------------------ running


def run(
    cfg: Config,
    spec_path: Path,
    options: loop.RunOptions,
    emit: ArmEmit,
) -> AbResult:
    """Run both arms, one after the other, and measure them."""
    spec = loop.load_spec(cfg, spec_path)
    head = loop.repo_head(cfg.root)
    arms = prepare(cfg, spec, head)
    results = []
    for arm in arms:
        results.append(_run_arm(cfg.root, arm, head, options, emit))
    return AbResult(spec.slug, spec.title, head, ab_dir(cfg.root, spec.slug), results)


def _run_arm(root: Path, arm: Arm, head: str, options: loop.RunOptions, emit: ArmEmit) -> ArmResult:
    with Ledger.open(arm.path) as own:
        own.ensure_feature(arm.slug, tag=arm.tag)  # tagged before anything can fail
    started = time.monotonic()
    status, message, code = "failed", "", 1
    try:
        done = loop.start(arm.cfg, arm.spec_path, options, lambda event: emit(arm.name, event))
        status, message, code = done.status, done.message, 0
    except KeyboardInterrupt:
        _import(root, arm)
        raise
    except DevloopError as exc:
        message, code = exc.message, exc.exit_code
        status = _state_status(arm) or "failed"
    wall = time.monotonic() - started
    result = ArmResult(
        arm=arm.name,
        slug=arm.slug,
        branch=arm.cfg.git.branch_prefix + arm.slug,
        worktree=str(arm.path),
        tag=arm.tag,
        status=status,
        message=message,
        exit_code=code,
        wall_s=wall,
    )
    _measure(arm, head, result)
    result.imported = _import(root, arm, result.notes)
    return result


def _state_status(arm: Arm) -> str | None:
    try:
        return state_mod.load(arm.path, arm.slug).status
    except DevloopError:
        return None


def _import(root: Path, arm: Arm, notes: list[str] | None = None) -> bool:
    source = ledger_path(arm.path)
    if not source.is_file():
        return False
    try:
        with Ledger.open(root) as main:
            main.import_feature(source, arm.slug)
        return True
    except DevloopError as exc:
        if notes is not None:
            notes.append(f"not copied into the repository's ledger: {exc.message}")
        return False


def _measure(arm: Arm, head: str, result: ArmResult) -> None:
    """Cost, tokens, outcome signals, diff size and the final suite of one arm."""
    from devloop import checks
    from devloop.reports import cost_report

    implement = STEPS.first_of_kind(AGENT_TASKS)

    with Ledger.open(arm.path) as own:
        try:
            total = cost_report.build(own, arm.slug).total
        except DevloopError as exc:
            result.notes.append(exc.message)
            total = None
        if total is not None:
            result.cost_usd, result.baseline_usd = total.cost_usd, total.baseline_usd
            result.same_usage_baseline_usd = total.same_usage_baseline_usd
            result.calls, result.unpriced_calls = total.calls, total.unpriced_calls
            t = total.tokens
            result.tokens = {
                "input": t.input,
                "cache_write": t.cache_write,
                "cache_read": t.cache_read,
                "output": t.output,
            }
        runs = own.step_run_records(arm.slug)
        result.escalations = sum(s.escalated for s in own.run_call_stats(arm.slug).values())
    for run in runs:
        signals = (run.outcome or {}).get("signals") or {}
        if run.step_key == implement.key and "tasks" in signals:
            result.tasks = signals["tasks"]
            result.tasks_first_attempt = signals["tasks_first_attempt"]
        if "findings" in signals:
            result.findings[run.step_key] = signals["findings"]
    size = repository.diff_size(arm.path, head, EXCLUDE)
    result.diff = {"files": size.files, "insertions": size.insertions, "deletions": size.deletions}
    try:
        state = state_mod.load(arm.path, arm.slug)
    except DevloopError:
        result.suite = "not run (the arm did not start)"
        return
    if not state.step(implement.key).finished:
        result.suite = "not run (no implementation yet)"
        return
    suite = checks.run_tests(arm.cfg)
    result.suite = "not configured" if suite.skipped else "passed" if suite.passed else "failed"


# ------------------------------------------------------------------ cleaning


def clean(root: Path, slug: str) -> list[str]:
    """Remove the A/B worktrees of `slug` that git finds clean, keeping each arm's .devloop
    next to where it was; a worktree holding changes is kept. Branches are never deleted."""
    directory = ab_dir(root, slug)
    if not directory.is_dir():
        parent = directory.parent
        known = sorted(p.name for p in parent.iterdir() if p.is_dir()) if parent.is_dir() else []
        listed = ", ".join(known) if known else "none"
        raise UsageError(
            f"no A/B run '{slug}' in {parent} (known: {listed}).{did_you_mean(slug, known)} "
            "Give the spec path or the slug `devloop ab` printed."
        )
    lines = []
    for name in ARMS:
        path = directory / name
        if not path.exists():
            continue
        dirty = repository.dirty_paths(path)
        if dirty:
            lines.append(
                f"kept {path}: it has uncommitted changes ({', '.join(dirty[:5])}). Look at "
                f"them, then `git worktree remove --force {path}` if they can go."
            )
            continue
        kept = _free(directory / f"{name}.devloop")
        own = path / state_mod.DEVLOOP_DIR
        if own.exists():
            shutil.move(own, kept)
        refused = repository.worktree_remove(root, path)
        if refused is not None:
            if kept.exists():
                shutil.move(kept, own)
            lines.append(f"kept {path}: git would not remove it ({refused}).")
            continue
        lines.append(f"removed worktree {path}; its ledger and artifacts are in {kept}")
    if not lines:
        lines.append(f"no A/B worktrees of '{slug}' in {directory}.")
    lines.append("Branches and the rows in the repository's ledger are kept.")
    return lines


def _free(path: Path) -> Path:
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def slug_of(cfg: Config, spec_or_slug: str, start: Path) -> str:
    """The slug named by a spec path or given as is."""
    path = Path(spec_or_slug)
    path = path if path.is_absolute() else start / path
    if path.is_file():
        return loop.load_spec(cfg, path).slug
    return spec_or_slug


def dumps(result: AbResult) -> str:
    return json.dumps(result.to_json(), indent=2)

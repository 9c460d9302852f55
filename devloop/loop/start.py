"""Starting, resuming and listing features: the checks before a run, then the engine.

`start` checks the spec and the repository, freezes the cached prefix, branches and runs;
`resume` continues a feature from its first unfinished step (or re-runs from --from);
`statuses` lists every feature with what it cost and what it waits for. Each takes the
repository lock first, so two runs never share a working tree.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from devloop import sandbox
from devloop import spec as spec_mod
from devloop import state as state_mod
from devloop.agent.contract import AgentFactory
from devloop.config import Config
from devloop.errors import DevloopError, UsageError
from devloop.git import repository, runfiles
from devloop.ledger import Ledger, pico_to_usd, require_ledger
from devloop.loop import engine
from devloop.loop.events import Emit, Event, RunOptions, RunResult, StepFailed
from devloop.loop.gates import reset_from
from devloop.loop.inputs import EXCLUDE
from devloop.loop.prompts import freeze_prefix
from devloop.model import check_settings
from devloop.state import FeatureState
from devloop.steps import STEPS, Step


def _first_number(state: FeatureState) -> int | None:
    first = state.first_unfinished()
    return first.number if first is not None else None


def repo_head(root: Path) -> str:
    repository.find_repo(root)  # a UsageError naming the problem when it is not a repository
    head = repository.head_commit(root)
    if head is None:
        raise UsageError(
            f"{root}: the repository has no commits yet; devloop branches from HEAD. "
            "Make a first commit."
        )
    return head


def load_spec(cfg: Config, spec_path: Path) -> spec_mod.Spec:
    return spec_mod.load(
        spec_path, max_bytes=cfg.loop.spec_max_bytes, commit_types=cfg.git.commit_types
    )


def start(
    cfg: Config,
    spec_path: Path,
    options: RunOptions,
    emit: Emit,
    *,
    agent_factory: AgentFactory | None = None,
) -> RunResult:
    """Begin a feature: check the spec and the repository, branch, and run the steps."""
    spec = load_spec(cfg, spec_path)
    root = cfg.root
    head = repo_head(root)
    if engine.needs_model(STEPS[0].number, options.stop_after):
        check_settings(cfg)  # no key: refused before the branch and the state exist
    require_ledger(root)
    lock = state_mod.RepoLock(root).acquire(f"devloop feature {spec.slug}", spec.slug)
    try:
        if lock.note:
            emit(Event("note", spec.slug, message=lock.note))
        if state_mod.state_path(root, spec.slug).exists():
            raise UsageError(
                f"feature '{spec.slug}' already exists ({state_mod.feature_dir(root, spec.slug)})."
                f" Continue it with `devloop resume {spec.slug}`, or give the spec another "
                'slug in its front matter (slug = "...").'
            )
        branch = cfg.git.branch_prefix + spec.slug
        if not repository.valid_branch_name(root, branch):
            raise UsageError(
                f"'{branch}' is not a valid branch name; fix [git] branch_prefix or the slug."
            )
        if repository.branch_exists(root, branch):
            raise UsageError(
                f"branch {branch} already exists, but no devloop run owns it here. Delete it "
                f"(`git branch -D {branch}`) or give the spec another slug in its front matter."
            )
        dirty = repository.dirty_paths(root)
        if dirty and not options.allow_dirty:
            shown = "\n".join(f"  {p}" for p in dirty[:50])
            more = f"\n  ... and {len(dirty) - 50} more" if len(dirty) > 50 else ""
            raise StepFailed(
                f"the working tree has uncommitted changes:\n{shown}{more}\n"
                "Commit or stash them first, or pass --allow-dirty to build on top of them."
            )
        if engine.needs_sandbox(STEPS[0].number, options.stop_after):
            sandbox.runner(cfg, required=True)  # no sandbox: refuse before anything is made
        # The ledger first: one that cannot be reached (a shared one, exit 4), or a slug that
        # another repository owns there, stops the run before anything is made.
        with Ledger.open(root, branch=branch) as ledger:
            ledger.ensure_feature(
                spec.slug,
                title=spec.title,
                spec_path=str(spec_path),
                branch=branch,
                status="running",
                budget_usd=options.budget_usd,
            )
        private = runfiles.private_at_start(root, exclude=EXCLUDE)
        directory = state_mod.feature_dir(root, spec.slug)
        freeze_prefix(cfg, spec, directory)  # before branching: a failure leaves no branch
        repository.create_branch(root, branch)
        state = FeatureState(
            slug=spec.slug,
            title=spec.title,
            spec_path=str(spec_path),
            spec_sha256=spec.sha256,
            type=spec.type,
            scope=spec.scope,
            branch=branch,
            base_commit=head,
            budget_usd=None if options.budget_usd is None else str(options.budget_usd),
            allow_dirty=options.allow_dirty,
            private=private,
        )
        state_mod.save(root, state)
        emit(Event("note", spec.slug, message=f"created branch {branch} from {head[:12]}"))
        run = engine.Run(cfg, state, emit, agent_factory)
        return run.execute(options.stop_after)
    finally:
        lock.release()


def resume(
    cfg: Config,
    slug: str,
    options: RunOptions,
    emit: Emit,
    *,
    agent_factory: AgentFactory | None = None,
) -> RunResult:
    """Continue a feature from its first unfinished step (or re-run from --from)."""
    root = cfg.root
    repo_head(root)
    require_ledger(root)
    lock = state_mod.RepoLock(root).acquire(f"devloop resume {slug}", slug)
    try:
        if lock.note:
            emit(Event("note", slug, message=lock.note))
        state = state_mod.load(root, slug)
        directory = state_mod.feature_dir(root, slug)
        if state.status == "done" and options.from_step is None:
            message = f"feature '{slug}' is already done ({state.message})"
            return RunResult(slug, "already-done", message, directory)
        first = options.from_step if options.from_step is not None else _first_number(state)
        if engine.needs_model(first, options.stop_after):
            check_settings(cfg)  # no key: refuse before anything changes
        if engine.needs_sandbox(first, options.stop_after):
            sandbox.runner(cfg, required=True)  # no sandbox: refuse before anything changes
        _warn_spec_changed(state, emit)
        current = repository.current_branch(root)
        if current != state.branch:
            if repository.dirty_paths(root):
                raise StepFailed(
                    f"you are on {current or 'a detached HEAD'} with uncommitted changes; the "
                    f"feature lives on {state.branch}. Commit or stash, then resume."
                )
            repository.switch_branch(root, state.branch)
            emit(Event("note", slug, message=f"switched to branch {state.branch}"))
        if options.allow_dirty:
            state.allow_dirty = True
        if options.budget_usd is not None:
            state.budget_usd = str(options.budget_usd)
            with Ledger.open(root) as ledger:
                ledger.ensure_feature(slug, budget_usd=options.budget_usd)
        if options.from_step is not None:
            reset_from(state, directory, options.from_step)
        state_mod.save(root, state)
        run = engine.Run(cfg, state, emit, agent_factory)
        return run.execute(options.stop_after)
    finally:
        lock.release()


def _warn_spec_changed(state: FeatureState, emit: Emit) -> None:
    import hashlib

    path = Path(state.spec_path)
    try:
        current = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return
    if current != state.spec_sha256:
        emit(
            Event(
                "warning",
                state.slug,
                message=f"{path} changed since this feature started; the run keeps using the "
                "spec as it was (00-spec.md). Start a new feature to build the new spec.",
            )
        )


@dataclass
class FeatureStatus:
    state: FeatureState
    cost_usd: Decimal | None
    next_step: Step | None
    unsettled: int = 0  # calls in flight when a run stopped (ledger reservations)
    unsettled_worst_usd: Decimal = Decimal(0)
    # Its state says running, but no live process holds the repository's lock: the run
    # was killed outright (kill -9, a crash, the machine stopped). `lost_pid`: its pid.
    interrupted: bool = False
    lost_pid: int | None = None

    @property
    def status(self) -> str:
        """Where the feature stands: its state's status, or "interrupted" (see above)."""
        return state_mod.INTERRUPTED if self.interrupted else self.state.status

    def resume_hint(self) -> str:
        """What happened to an interrupted run and how to continue it."""
        who = f" (pid {self.lost_pid})" if self.lost_pid else ""
        return (
            f"{self.state.slug}: interrupted: the run working on it{who} is gone (killed, or "
            f"the machine stopped). Continue with `devloop resume {self.state.slug}`."
        )

    def to_json(self) -> dict[str, Any]:
        """One feature of `devloop status --json`: its state, spend and what it waits for."""
        return {
            **asdict(self.state),
            "status": self.status,
            "interrupted": self.interrupted,
            "cost_usd": None if self.cost_usd is None else str(self.cost_usd),
            "next_step": self.next_step.key if self.next_step else None,
            "unsettled_calls": self.unsettled,
            "unsettled_worst_usd": str(self.unsettled_worst_usd),
        }


def statuses(root: Path) -> list[FeatureStatus]:
    """Every feature with a state.json in this repository, most recently updated first."""
    require_ledger(root)
    out = []
    ledger = None
    with contextlib.suppress(DevloopError):
        ledger = Ledger.open(root, create=False)
    lock = state_mod.RepoLock(root)
    holder, last = lock.holder(), lock.last_record()
    try:
        for slug in state_mod.list_slugs(root):
            st = state_mod.load(root, slug)
            cost = ledger.spent_usd(slug) if ledger else None
            held = ledger.open_reservations(slug) if ledger else []
            worst = pico_to_usd(sum(h.worst_pico or 0 for h in held))
            item = FeatureStatus(st, cost, st.first_unfinished(), len(held), worst)
            if st.status == state_mod.RUNNING and _lock_slug(holder) != slug:
                item.interrupted = True
                pid = last.get("pid") if _lock_slug(last) == slug else None
                item.lost_pid = pid if isinstance(pid, int) else None
            out.append(item)
    finally:
        if ledger is not None:
            ledger.close()
    return sorted(out, key=lambda f: f.state.updated_at, reverse=True)


def _lock_slug(record: dict[str, Any] | None) -> str | None:
    """The feature a lock record is for (older records name it only in `what`)."""
    if not record:
        return None
    return record.get("slug") or str(record.get("what", "")).rsplit(" ", 1)[-1] or None

"""`devloop check staged`: lint, format, routing doc and quick tests on exactly what is
staged. Unstaged changes are set aside meanwhile and put back byte for byte (git/staged.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from devloop import config as config_mod
from devloop.checks.commands import run_format, run_lint, run_tests
from devloop.checks.results import CheckResult, run_side_by_side
from devloop.checks.routing_doc import check_routing
from devloop.config import Config
from devloop.errors import ConfigError, UsageError
from devloop.git import repository, staged

if TYPE_CHECKING:
    pass


@dataclass
class StagedRun:
    """What `check_staged` did: the results, or why there was nothing to check."""

    configured: bool
    root: Path
    files: list[str] = field(default_factory=list)  # staged files, relative to root
    results: list[CheckResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # for the person: restores, recoveries
    # The notes a person must see even when a passing check prints nothing (`--quiet`):
    # their working tree was changed back, or an edit was kept and its old version saved.
    alerts: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)


def check_staged(start: Path, pending: repository.PendingSnapshot | None = None) -> StagedRun:
    """Lint, format, routing doc and quick tests on exactly what is staged.

    Unstaged changes to tracked files are set aside while the checks run and put back
    byte for byte afterwards, whatever happens (see `git.staged.staged_worktree`).
    `pending`: the repository's snapshot, already started (after `pin_index_file`).
    """
    repository.pin_index_file()
    snap = (pending or repository.PendingSnapshot(start)).collect()
    recovered = staged.recover(snap.repo)  # a killed earlier run's set-aside changes
    if recovered is not None:
        snap = repository.snapshot(start)
    repo, root = snap.repo, config_mod.find_root(start)
    notes = [_recovery_note(recovered)] if recovered and recovered.restored + recovered.kept else []
    if not config_mod.is_configured(root):
        return StagedRun(False, root, notes=notes, alerts=list(notes))
    if snap.unmerged:  # git cannot show a staged version of a conflicted file
        shown = ", ".join(snap.unmerged[:5]) + (" ..." if len(snap.unmerged) > 5 else "")
        raise UsageError(
            f"{len(snap.unmerged)} file(s) in {repo.toplevel} still have merge conflicts "
            f"({shown}), so there is no staged version to check. Resolve them and `git add` "
            "each one (or abort: `git merge --abort`, `git rebase --abort`), then run "
            "`devloop check staged` again."
        )
    try:
        cfg: Config | None = config_mod.load(root)
    except ConfigError:
        cfg = None  # maybe only the unstaged edit is broken: judge the staged config below
    files = _staged_under(repo, root, snap)
    run = StagedRun(True, root, files, notes=notes, alerts=list(notes))
    if not files:
        run.notes.append("nothing is staged; nothing to check.")
        return run
    config_files = _config_files(cfg)
    routing_touched = bool({"ROUTING.md", *config_files} & set(files))
    if cfg is not None and not (
        cfg.commands.lint or cfg.commands.format or cfg.commands.quick_test or routing_touched
    ):
        run.notes.append("no lint, format or quick_test command configured; nothing to check.")
        return run
    with staged.staged_worktree(repo, snap.unstaged) as view:
        swapped = set(view.swapped)
        if cfg is None or swapped & {_repo_path(repo, root / n) for n in config_files}:
            cfg = config_mod.load(root)  # the config has unstaged edits: use the staged one
        lintable = [f for f in files if (root / f).is_file() and not (root / f).is_symlink()]
        checked: Config = cfg
        tasks = [lambda: run_lint(checked, lintable), lambda: run_format(checked, lintable)]
        if routing_touched:
            tasks.append(lambda: check_routing(checked))
        tasks.append(lambda: run_tests(checked, quick=True))
        run.results = run_side_by_side(tasks)
    if view.swapped:
        run.notes.append(
            f"checked the staged versions; unstaged changes to {len(view.swapped)} file(s) "
            "were set aside meanwhile and are back in place."
        )
    if view.restore.kept:
        where = view.restore.saved_to
        run.notes.append(
            f"edited while the check ran, so left as they are now: {', '.join(view.restore.kept)}"
            + (f"; the unstaged versions from before the check are in {where}" if where else "")
        )
        run.alerts.append(run.notes[-1])
    return run


def _recovery_note(report: staged.RestoreReport) -> str:
    note = "restored unstaged changes an interrupted earlier check had set aside: " + ", ".join(
        report.restored
    )
    if report.kept:
        note += (
            f"; kept newer edits to {', '.join(report.kept)} (old versions in {report.saved_to})"
        )
    return note


def _repo_path(repo: repository.Repo, path: Path) -> str:
    return path.relative_to(repo.toplevel).as_posix()


def _staged_under(repo: repository.Repo, root: Path, snap: repository.Snapshot) -> list[str]:
    """Staged paths under `root` (added, modified, type-changed or deleted), relative to it.
    Intent-to-add entries (`git add -N`) are not part of the commit, so not staged here."""
    intent_to_add = {e.path for e in snap.unstaged if e.status == "A"}
    prefix = "" if root == repo.toplevel else _repo_path(repo, root) + "/"
    return [
        e.path[len(prefix) :]
        for e in snap.staged
        if e.path.startswith(prefix) and e.path not in intent_to_add
    ]


def _config_files(cfg: Config | None) -> list[str]:
    """The files whose staging means the routing doc must be checked again."""
    if cfg is None:
        return [config_mod.CONFIG_FILE, config_mod.PYPROJECT]
    if cfg.source is not None and cfg.source.name == config_mod.PYPROJECT:
        return [config_mod.CONFIG_FILE, config_mod.PYPROJECT]
    return [config_mod.CONFIG_FILE]

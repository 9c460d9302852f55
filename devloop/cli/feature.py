"""Running features: feature (and its dry run), resume, status, and the offline demo."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from devloop.cli.app import cli, load_config
from devloop.cli.cost import cost
from devloop.cli.options import STEP, PathParam, parse_budget, parse_stop_after, unsandboxed_option
from devloop.errors import CheckFailed, DevloopError, UsageError
from devloop.money import usd, usd_or

if TYPE_CHECKING:
    from pathlib import Path


# ----------------------------------------------------- feature, resume, status


def _run_feature(ctx: click.Context, cfg, as_json: bool, go) -> None:
    """Run `go(emit)` (loop.start or loop.resume) with progress output, then show the
    per-step cost table (or, with --json, a summary object), whatever the outcome."""
    from devloop.cli import progress, render

    if as_json:
        renderer = progress.JsonProgress()
    elif render.live_terminal():
        renderer = progress.LiveProgress(cfg)
    else:
        renderer = progress.PlainProgress(
            width=render.terminal_width() if render.is_terminal() else None
        )
    seen: dict[str, str] = {}

    def emit(event) -> None:
        seen["slug"] = event.slug
        renderer(event)

    outcome: dict = {"status": "error", "exit_code": 1, "message": ""}
    try:
        result = go(emit)
        outcome = {"status": result.status, "exit_code": 0, "message": result.message}
        if result.status == "already-done" and not as_json:
            click.echo(f"devloop: {result.message}")
    except DevloopError as exc:
        outcome = {"status": "error", "exit_code": exc.exit_code, "message": exc.message}
        raise
    finally:
        renderer.close()
        slug = seen.get("slug")
        if slug is not None:
            _closing_report(ctx, cfg, slug, renderer if as_json else None, outcome)
        if renderer.ending:  # how the run ended: the last word, under the cost table
            render.echo_prose(renderer.ending)


def _closing_report(ctx: click.Context, cfg, slug: str, json_out, outcome: dict) -> None:
    from devloop.ledger import LedgerMissing
    from devloop.reports import cost_formats
    from devloop.reports import cost_report as report_mod
    from devloop.state import feature_dir

    try:
        rep = report_mod.build_for_repo(cfg.root, slug)
    except (LedgerMissing, UsageError):
        rep = None
    if json_out is not None:
        json_out.summary(
            {
                "slug": slug,
                **outcome,
                "feature_dir": str(feature_dir(cfg.root, slug)),
                "cost": cost_formats.to_json(rep) if rep is not None else None,
            }
        )
        return
    if rep is not None:
        click.echo("")
        ctx.invoke(cost, slug=slug, all_features=False, by=None, fmt="table")


@cli.command()
@click.argument("spec", type=PathParam())
@click.option(
    "--budget", metavar="USD", help="Ceiling for the whole feature (default: [budget] feature_usd)."
)
@click.option(
    "--stop-after",
    metavar="STEP",
    help="Stop after a step (number or key) or a phase: plan, build or verify (its last step).",
)
@click.option("--dry-run", is_flag=True, help="Price the run without calling any model.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event, then a summary.")
@click.option(
    "--allow-dirty", is_flag=True, help="Start on top of uncommitted changes instead of refusing."
)
@unsandboxed_option()
@click.pass_context
def feature(
    ctx: click.Context,
    spec: Path,
    budget: str | None,
    stop_after: str | None,
    dry_run: bool,
    as_json: bool,
    allow_dirty: bool,
    unsandboxed: bool,
) -> None:
    """Run the step loop for SPEC, a Markdown spec, on a new branch <prefix><slug>.

    Artifacts, state.json and transcripts go to .devloop/features/<slug>/. Exit codes:
    0 done or stopped as asked, 1 a step failed, 2 usage (bad spec, not a repository),
    3 budget reached, 4 API failure, 130 interrupted; `devloop resume SLUG` continues.
    With --dry-run: 0, or 1 when a pre-flight check fails (a run would stop there).
    """
    from devloop import loop

    cfg = load_config(ctx, unsandboxed)
    spec_path = spec if spec.is_absolute() else ctx.obj["start"] / spec
    options = loop.RunOptions(
        budget_usd=parse_budget(budget),
        stop_after=parse_stop_after(stop_after),
        allow_dirty=allow_dirty,
    )
    if dry_run:
        from devloop.loop import dryrun

        dry = dryrun.dry_run(cfg, spec_path, options.budget_usd)
        _show_dry_run(dry, as_json)
        failed = [r.name for r in dry.checks if not r.passed and not r.skipped]
        if failed:  # the whole report first; then the exit code says a run would be refused
            raise CheckFailed(
                f"pre-flight found {len(failed)} problem(s) a run would stop at "
                f"({', '.join(failed)}); fix them (see above), then dry-run again."
            )
        return
    _run_feature(ctx, cfg, as_json, lambda emit: loop.start(cfg, spec_path, options, emit))


@cli.command()
@click.argument("slug", required=False)
@click.option("--from", "from_step", type=STEP, help="Re-run from this step (e.g. after an edit).")
@click.option("--budget", metavar="USD", help="A new ceiling for the whole feature.")
@click.option("--stop-after", metavar="STEP", help="Stop after this step or phase.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event, then a summary.")
@click.option("--allow-dirty", is_flag=True, help="Let pre-flight accept uncommitted changes.")
@unsandboxed_option()
@click.pass_context
def resume(
    ctx: click.Context,
    slug: str | None,
    from_step,
    budget: str | None,
    stop_after: str | None,
    as_json: bool,
    allow_dirty: bool,
    unsandboxed: bool,
) -> None:
    """Continue feature SLUG from its first unfinished step; finished steps never re-run.

    SLUG defaults to the most recently active unfinished feature.
    """
    from devloop import loop

    cfg = load_config(ctx, unsandboxed)
    if slug is None:
        open_ones = [f for f in loop.statuses(cfg.root) if f.state.status != "done"]
        if not open_ones:
            raise UsageError("no unfinished feature to resume here; name one: devloop resume SLUG.")
        slug = open_ones[0].state.slug
    options = loop.RunOptions(
        budget_usd=parse_budget(budget),
        stop_after=parse_stop_after(stop_after),
        allow_dirty=allow_dirty,
        from_step=from_step.number if from_step is not None else None,
    )
    _run_feature(ctx, cfg, as_json, lambda emit: loop.resume(cfg, slug, options, emit))


def _show_dry_run(dry, as_json: bool) -> None:
    from devloop.cli import render

    money = usd_or

    if as_json:
        import json

        click.echo(json.dumps(dry.to_json(), indent=2))
        return
    rows = []
    for p in dry.steps:
        key = p.key + (" *" if p.conditional else "")
        if not p.model:
            rows.append([str(p.number), key, p.worker, "-", "", "", "", "$0.0000", "$0.0000"])
            continue
        rows.append(
            [
                str(p.number),
                key,
                p.worker,
                p.model,
                str(p.calls),
                f"{p.input_tokens:,}",
                f"{p.output_tokens:,}",
                money(p.cost_usd),
                money(p.baseline_usd),
            ]
        )
    footer = ["", "total", "", "", "", "", "", money(dry.cost_usd), money(dry.baseline_usd)]
    headers = ["#", "step", "worker", "model", "calls", "input/call", "output", "cost", "frontier"]
    render.print_table(
        headers,
        rows,
        title=f"Dry run: '{dry.spec.title}' ({dry.spec.slug}); no model was called",
        right={0, 4, 5, 6, 7, 8},
        footer=footer,
        drop=["input/call", "output", "calls", "worker", "#", "model", "frontier"],
        wrap=["model"],
    )
    render.echo_prose(
        f"\nThe cached prefix (system, project map, spec) is ~{dry.prefix_tokens:,} tokens. Input"
        f" sizes are from the rendered prompts ({dry.token_source}); answer lengths, agent turns and"
        " inputs that do not exist yet are assumptions (the step table's projections). * = runs only"
        f" when needed. Rendered prompts: {dry.prompts_dir}"
    )
    for note in dry.notes:
        render.warning(f"WARNING: {note}")
    for line in _adaptive_lines(dry.routes.values()):
        render.echo_prose(line)
    click.echo("Pre-flight (static checks):")
    for r in dry.checks:
        mark = "skip" if r.skipped else "ok" if r.passed else "FAIL"
        render.echo_prose(f"  {mark:<4}  {r.name}: {r.summary}")


def _adaptive_lines(routes) -> list[str]:
    """What an adaptive router did to a dry run's routes, in a few lines (none for rule)."""
    adaptive = [r for r in routes if r.router != "rule" and r.signals is not None]
    if not adaptive:
        return []
    first = adaptive[0]
    sig = first.signals
    if sig.missing:
        head = f"Router: {first.router}; a signal is missing, so model steps go to frontier:"
        return [head, *(f"  {m}" for m in sig.missing)]
    low, high = first.thresholds or (0.0, 1.0)
    lines = [
        f"Router: {first.router}; complexity score {sig.score:.2f} from the {sig.stage}"
        f" (thresholds {low:.2f} / {high:.2f}; `--json` lists each signal)."
    ]
    for r in adaptive:
        if r.tier != r.rule_tier:
            lines.append(f"  {r.step.number:>2} {r.step.key}: {r.rule_tier} -> {r.tier}")
    return lines


@cli.command()
@click.argument("slug", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def status(ctx: click.Context, slug: str | None, as_json: bool) -> None:
    """List features and where each stands; with SLUG, that feature's steps."""
    from devloop import loop
    from devloop.cli.render import echo_prose, print_table
    from devloop.config import find_root
    from devloop.state import INTERRUPTED, RUNNING
    from devloop.steps import STEPS

    root = find_root(ctx.obj["start"])
    found = loop.statuses(root)
    if slug is not None:
        found = [f for f in found if f.state.slug == slug]
        if not found:
            from devloop.state import load

            load(root, slug)  # raises the "no feature" error listing the known ones

    def money(value) -> str:
        return usd_or(value, "-")

    if as_json:
        import json

        click.echo(json.dumps([f.to_json() for f in found], indent=2))
        return
    if not found:
        click.echo("No features yet. Start one with `devloop feature SPEC`.")
        return
    if slug is None:
        rows = [
            [
                f.state.slug,
                f.status,
                f"{f.next_step.number} {f.next_step.key}" if f.next_step else "-",
                f"{f.state.done_count()}/{len(STEPS)}",
                money(f.cost_usd),
                f.state.branch,
                f.state.updated_at[:19].replace("T", " "),
            ]
            for f in found
        ]
        headers = ["feature", "status", "next step", "done", "spent", "branch", "updated (UTC)"]
        print_table(
            headers,
            rows,
            title="Features",
            right={3, 4},
            drop=["updated (UTC)", "branch", "done", "next step"],
        )
        echo_prose([f.resume_hint() for f in found if f.interrupted])
        _unsettled_lines(found)
        return
    (item,) = found
    st = item.state
    rows = []
    for step in STEPS:
        s = st.step(step.key)
        result = s.result
        detail = result.get("verdict") or result.get("summary") or result.get("error") or ""
        shown = INTERRUPTED if item.interrupted and s.status == RUNNING else s.status
        detail = detail.strip().split("\n", 1)[0]
        rows.append([str(step.number), step.key, shown, str(s.runs), s.artifact or "", detail])
    print_table(
        ["#", "step", "status", "runs", "artifact", "result"],
        rows,
        title=f"{st.slug}: {item.status} on {st.branch} (spent {money(item.cost_usd)})",
        right={0, 3},
        drop=["artifact", "runs", "#"],
        wrap=["result"],
    )
    if item.interrupted:
        echo_prose(item.resume_hint())
    elif st.message:
        echo_prose(st.message)
    _unsettled_lines(found)


def _unsettled_lines(found) -> None:
    from devloop.cli.render import echo_prose

    for f in found:
        if f.unsettled:
            echo_prose(
                f"{f.state.slug}: {f.unsettled} unsettled call(s), in flight when a run "
                f"stopped: counted at their worst case ({usd(f.unsettled_worst_usd)}) against "
                "the budget until settled (`devloop cost --unsettled`)."
            )


# ------------------------------------------------------------------- demo


@cli.command()
@click.option(
    "--dir",
    "directory",
    type=PathParam(),
    default=None,
    help="Create the demo repository here (a new or empty directory). "
    "Default: a new temporary directory.",
)
@unsandboxed_option("the demo's commands")
@click.pass_context
def demo(ctx: click.Context, directory: Path | None, unsandboxed: bool) -> None:
    """Run the whole loop offline on a bundled sample project.

    Copies a small Python project into a new git repository and runs a feature on it from
    spec to commit: real edits, tests and git, with the model replies scripted by devloop's
    offline server. No API key, no network, no model is called; costs are the scripted
    token usage at real prices. Prints the progress, the cost table and where it all is.
    """
    from devloop import config as config_mod
    from devloop.demo import demo as demo_mod

    if directory is not None and not directory.is_absolute():
        directory = ctx.obj["start"] / directory
    target = demo_mod.target_dir(directory)  # refuses a non-empty --dir (exit 2)
    if not unsandboxed:
        from devloop import sandbox

        if not sandbox.probe().ok:  # exit 2, naming what to install, before writing anything
            raise sandbox.SandboxUnavailable(sandbox.probe().problem)
    from devloop.cli import render

    repo = demo_mod.prepare(target)
    render.echo_prose(demo_mod.intro_lines(repo))
    cfg = config_mod.load(repo.root)
    if unsandboxed:
        from devloop import sandbox

        sandbox.opt_out(cfg)
    ctx.obj["start"] = repo.root  # the closing cost table reads the demo's ledger
    run = demo_mod.DemoRun(cfg, repo)
    done = False
    try:
        _run_feature(ctx, cfg, False, run)
        done = True
    finally:
        if run.unused:
            left = ", ".join(f"{step} ({n})" for step, n in run.unused.items())
            render.warning(f"devloop demo: scripted replies never used: {left}")
        render.echo_prose(demo_mod.closing_lines(repo, done))

"""The `devloop` command line: parses and renders; the work is done elsewhere.

Heavy libraries (anthropic, git, rich) are imported inside the commands that need them so
`devloop --help`, `devloop routing`, `devloop cost` and the hooks stay fast.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from devloop.errors import EXIT_INTERRUPTED, DevloopError, UsageError

if TYPE_CHECKING:
    from pathlib import Path


class StepType(click.ParamType):
    """A step given by number (1-15) or key (plan, review, ...)."""

    name = "STEP"

    def convert(self, value, param, ctx):
        from devloop.steps import resolve_step

        try:
            return resolve_step(value)
        except DevloopError as exc:
            self.fail(exc.message, param, ctx)


STEP = StepType()


class PathParam(click.ParamType):
    """A path argument, converted to a pathlib.Path when used. Not click.Path: building one
    looks up gettext translations, and pathlib's import costs too; with several of them at
    import time, `devloop --help` paid about 15 ms for paths it never reads."""

    name = "path"

    def __init__(self, *, file_okay: bool = True, dir_okay: bool = True) -> None:
        self.file_okay, self.dir_okay = file_okay, dir_okay

    def convert(self, value, param, ctx):
        from pathlib import Path

        path = Path(value)
        if not self.dir_okay and path.is_dir():
            self.fail(f"'{value}' is a directory; give a file.", param, ctx)
        if not self.file_okay and path.exists() and not path.is_dir():
            self.fail(f"'{value}' is a file; give a directory.", param, ctx)
        return path


def load_config(ctx: click.Context, unsandboxed: bool = False):
    """The repository's config (imported lazily: `--help` must not pay for it);
    `unsandboxed`: the --unsandboxed opt-out, applied to it."""
    from devloop import config as config_mod

    cfg = config_mod.load(ctx.obj["start"])
    if unsandboxed:
        from devloop import sandbox

        sandbox.opt_out(cfg)
    return cfg


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-C",
    "directory",
    type=PathParam(file_okay=False),
    default=None,
    help="Run as if devloop was started in this directory.",
)
@click.version_option(package_name="devloop")
@click.pass_context
def cli(ctx: click.Context, directory: Path | None) -> None:
    """Drive one feature from spec to committed change through a routed 15-step loop.

    Every model call is priced and logged next to its always-frontier baseline.
    """
    if directory is not None and not directory.is_dir():
        raise UsageError(f"-C {directory}: no such directory.")
    from pathlib import Path

    ctx.obj = {"start": (directory or Path.cwd()).resolve()}


# ------------------------------------------------------------------ init


@cli.command()
@click.option("--force", is_flag=True, help="Overwrite an existing devloop.toml and ROUTING.md.")
@click.option("--hooks", "with_hooks", is_flag=True, help="Also install the git hooks.")
@click.pass_context
def init(ctx: click.Context, force: bool, with_hooks: bool) -> None:
    """Write devloop.toml, ROUTING.md and ignore .devloop/ in this repository."""
    from devloop.project import init_repo

    if with_hooks:  # refuse before writing anything, not halfway through
        from devloop.git import hooks as hooks_mod

        hooks_mod.check_installable(ctx.obj["start"])
    for line in init_repo(ctx.obj["start"], force=force):
        click.echo(line)
    if with_hooks:
        for line in hooks_mod.install(ctx.obj["start"]):
            click.echo(line)


# ---------------------------------------------------------------- routing


@cli.group(invoke_without_command=True)
@click.option("--markdown", is_flag=True, help="Print ROUTING.md for this config.")
@click.pass_context
def routing(ctx: click.Context, markdown: bool) -> None:
    """Show which worker runs each step, and why."""
    if ctx.invoked_subcommand is not None:
        return
    from devloop import routing as routing_mod

    cfg = load_config(ctx)
    if markdown:
        click.echo(routing_mod.render_markdown(cfg), nl=False)
        return
    from devloop.cli.render import print_table

    rows = [
        [str(r.step.number), r.step.key, r.step.phase, r.worker, r.model or "-", r.reason]
        for r in routing_mod.routes(cfg)
    ]
    print_table(["#", "step", "phase", "worker", "model", "why"], rows, title="Routing")
    router = cfg.routing.router
    if router != "rule":
        click.echo(
            f"\n[routing] router = {router}: the table is the rule route; each run adapts it "
            f"per feature (thresholds {cfg.routing.low_threshold:g} / "
            f"{cfg.routing.high_threshold:g}). `devloop feature SPEC --dry-run` shows a spec's "
            "routes; `devloop routing explain SLUG` a run's."
        )


@routing.command("check")
@click.pass_context
def routing_check(ctx: click.Context) -> None:
    """Exit 1 when ROUTING.md no longer matches the config."""
    from devloop import routing as routing_mod
    from devloop.errors import CheckFailed

    cfg = load_config(ctx)
    path = cfg.root / routing_mod.ROUTING_DOC
    expected = routing_mod.render_markdown(cfg)
    if not path.is_file():
        raise CheckFailed(f"{path}: missing. Run `devloop routing --markdown > ROUTING.md`.")
    if path.read_text(encoding="utf-8", errors="replace") != expected:
        raise CheckFailed(
            f"{path}: out of date with the routing config. "
            "Run `devloop routing --markdown > ROUTING.md` and commit it."
        )
    click.echo(f"{path.name} matches the routing config.")


# ------------------------------------------------------------------- cost


@cli.command()
@click.argument("slug", required=False)
@click.option("--all", "all_features", is_flag=True, help="Summarise every feature.")
@click.option(
    "--by",
    type=click.Choice(["step", "model", "tier"]),
    default=None,
    help="Group by step (default for one feature), model or tier. With --all: across features.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv", "markdown"]),
    default="table",
    show_default=True,
    help="Output format. JSON is documented and stable (schema devloop.cost/1).",
)
@click.option(
    "--baseline",
    type=click.Choice(["counterfactual", "same-usage"]),
    default="counterfactual",
    show_default=True,
    help="counterfactual: the calls replayed through one all-frontier prompt cache (what an "
    "always-frontier run would cost); same-usage: each call's own usage at frontier rates.",
)
@click.option("--unsettled", is_flag=True, help="List calls left unsettled by a crash.")
@click.option("--settle", "settle_id", type=int, metavar="ID", help="Settle unsettled call ID.")
@click.option(
    "--settle-call",
    "settle_call",
    type=int,
    metavar="ID",
    help="Settle an unpriced call ID (its cost from your console).",
)
@click.option("--usd", metavar="AMOUNT", help="With --settle or --settle-call: what it cost.")
@click.pass_context
def cost(
    ctx: click.Context,
    slug: str | None,
    all_features: bool,
    by: str | None,
    fmt: str,
    baseline: str,
    unsettled: bool,
    settle_id: int | None,
    settle_call: int | None,
    usd: str | None,
) -> None:
    """Show what a feature's model calls cost, next to the always-frontier baseline.

    The baseline is counterfactual by default: the feature's calls replayed, in order,
    through one prompt cache of the frontier model and priced there (output tokens as
    observed); `--baseline same-usage` shows each call's own usage at frontier rates.
    SLUG defaults to the most recently active feature. Exits 1 when nothing has been
    recorded yet (no ledger), 2 for an unknown SLUG.

    A call in flight when devloop was killed is unsettled: it may have been billed, and
    the budget counts it at its worst case until you say what it cost (your console shows
    it): `--unsettled` lists them, `--settle ID --usd AMOUNT` settles one.
    """
    from devloop.cli import render
    from devloop.config import find_root
    from devloop.reports import cost_report as report_mod

    root = find_root(ctx.obj["start"])
    if unsettled or settle_id is not None or settle_call is not None:
        _settle(root, settle_id, settle_call, usd)
        return
    rep = report_mod.build_for_repo(root, slug, all_features=all_features, by=by, baseline=baseline)
    if fmt == "json":
        import json

        click.echo(json.dumps(report_mod.to_json(rep), indent=2))
        return
    if fmt == "csv":
        headers, rows = report_mod.csv_rows(rep)
        click.echo(render.csv_text(headers, rows), nl=False)
        return
    view = report_mod.table_view(rep)
    if fmt == "markdown":
        click.echo(f"**{view.title}**\n")
        click.echo(render.markdown(view.headers, [*view.rows, view.footer], view.right))
        click.echo("\n".join(f"- {note}" for note in view.notes))
        return
    render.print_table(
        view.headers, view.rows, title=view.title, right=view.right, footer=view.footer
    )
    click.echo("\n" + "\n".join(view.notes))


def _settle(root: Path, reservation: int | None, call: int | None, usd: str | None) -> None:
    """`devloop cost --unsettled`, `--settle ID --usd X`, `--settle-call ID --usd X`."""
    from devloop.ledger import Ledger
    from devloop.money import parse_usd

    with Ledger.open(root, create=False) as ledger:
        if reservation is None and call is None:
            held = ledger.open_reservations()
            if not held:
                click.echo("no unsettled calls.")
            for r in held:
                worst = "unknown" if r.worst_pico is None else f"${r.worst_pico / 10**12:.4f}"
                click.echo(
                    f"{r.id}: feature {r.feature}, step {r.step_key}, {r.model}, sent "
                    f"{r.created_at}, worst case {worst} (pid {r.pid} on {r.host})"
                )
            return
        if usd is None:
            raise UsageError("--settle and --settle-call need --usd AMOUNT (0 if not billed).")
        amount = parse_usd(usd, "--usd", allow_zero=True)
        if reservation is not None:
            ledger.settle_by_hand(reservation, amount, "settled with devloop cost --settle")
            click.echo(f"settled call {reservation} at ${amount}.")
        if call is not None:
            ledger.settle_unpriced_by_hand(call, amount, "settled with devloop cost --settle-call")
            click.echo(f"settled unpriced call {call} at ${amount}.")


# -------------------------------------------------------------------- sim


@cli.group()
def sim() -> None:
    """The offline Anthropic-compatible server, for tests and demos without network or key."""


@sim.command("serve")
@click.option(
    "--scenario",
    "scenario_path",
    required=True,
    type=PathParam(dir_okay=False),
    help="Scenario file (TOML or JSON): the replies to give, step by step.",
)
@click.option(
    "--port",
    default=0,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port on 127.0.0.1; 0 picks a free one.",
)
@click.pass_context
def sim_serve(ctx: click.Context, scenario_path: Path, port: int) -> None:
    """Serve the Anthropic API on 127.0.0.1 from a scenario, until Ctrl-C."""
    import signal

    from devloop.sim import SimServer, load_scenario

    path = scenario_path if scenario_path.is_absolute() else ctx.obj["start"] / scenario_path
    server = SimServer(load_scenario(path), port=port, log=lambda line: click.echo(line, err=True))
    try:
        server.start()
    except OSError as exc:
        raise UsageError(f"--port {port}: cannot listen on 127.0.0.1 ({exc.strerror}).") from exc
    click.echo(f"devloop sim: serving {path.name} at {server.base_url}")
    click.echo("Point devloop (or any Anthropic SDK client) at it:")
    click.echo(f"  export ANTHROPIC_BASE_URL={server.base_url}")
    click.echo("  export ANTHROPIC_API_KEY=sim-key   # any value works")
    click.echo("Press Ctrl-C to stop.")
    # SIGTERM (process managers, `kill`) stops it like Ctrl-C: cleanly, with the summary.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a server is meant to stop: exit 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.close()
    left = ", ".join(f"{step} ({n})" for step, n in server.unused().items())
    click.echo(f"devloop sim: stopped after {len(server.requests)} request(s).")
    if left:
        click.echo(f"devloop sim: replies never used: {left}")


# ------------------------------------------------------- check and hooks


@cli.group()
def check() -> None:
    """Run the loop's deterministic checks; the git hooks run the same ones.

    Exit 0 when every check passes, 1 when one fails, 2 for a usage or config error.
    """


def _emit(text: str, failure: str | None) -> None:
    """Print a check report; raise CheckFailed (exit 1) when a check failed."""
    from devloop.errors import CheckFailed

    click.echo(text, nl=False)
    if failure:
        raise CheckFailed(failure)


def _show_results(title: str, results: list) -> None:
    from devloop import checks

    _emit(checks.render(title, results), checks.failure_summary(results))


@check.command("staged")
@click.pass_context
def check_staged(ctx: click.Context) -> None:
    """Lint, format, routing doc and quick tests on exactly what is staged.

    Unstaged changes are set aside while the checks run and put back byte for byte
    afterwards, whatever happens. This is what the pre-commit hook runs.
    """
    from devloop.cli import fast

    _emit(*fast.staged_report(ctx.obj["start"]))


@check.command("commit-msg")
@click.argument("message_file", type=PathParam())
@click.pass_context
def check_commit_msg(ctx: click.Context, message_file: Path) -> None:
    """Check a commit message file against Conventional Commits 1.0.0.

    Types and header length come from [git] in the config. Comment lines and everything
    below git's scissors line are ignored; merge, revert, fixup!, squash! and amend!
    messages pass untouched. This is what the commit-msg hook runs.
    """
    from devloop.cli import fast

    _emit(*fast.commit_msg_report(ctx.obj["start"], message_file))


@check.command("lint")
@click.pass_context
def check_lint(ctx: click.Context) -> None:
    """The lint and format checks on the working tree, as configured."""
    from devloop import checks

    cfg = load_config(ctx)
    _show_results("devloop check lint:", [checks.run_lint(cfg), checks.run_format(cfg)])


@check.command("test")
@click.option("--quick", is_flag=True, help="Run the quick_test command instead.")
@click.pass_context
def check_test(ctx: click.Context, quick: bool) -> None:
    """The configured test command (or quick_test)."""
    from devloop import checks

    _show_results("devloop check test:", [checks.run_tests(load_config(ctx), quick=quick)])


@check.command("smoke")
@click.pass_context
def check_smoke(ctx: click.Context) -> None:
    """The smoke command, then the quick tests: the loop's final gate."""
    from devloop import checks

    _show_results("devloop check smoke:", checks.run_smoke(load_config(ctx)))


@check.command("preflight")
@click.option("--clean", is_flag=True, help="Also require no uncommitted changes.")
@click.pass_context
def check_preflight(ctx: click.Context, clean: bool) -> None:
    """What a feature run needs: a git repository, the tools, an API key or base URL."""
    from devloop import checks

    results = checks.preflight(load_config(ctx), require_clean=clean)
    _show_results("devloop check preflight:", results)


@cli.group("hooks")
def hooks_group() -> None:
    """Install or remove devloop's git hooks (pre-commit and commit-msg)."""


@hooks_group.command("install")
@click.option(
    "--force",
    is_flag=True,
    help="Replace hooks devloop did not write, keeping each as <hook>.devloop-backup "
    "and running it first.",
)
@click.pass_context
def hooks_install(ctx: click.Context, force: bool) -> None:
    """Install the hooks into this repository's hooks directory (honours core.hooksPath).

    An existing hook is never overwritten silently: without --force devloop refuses and
    names it; with --force it is kept as a backup and chained.
    """
    from devloop import config as config_mod
    from devloop.git import hooks as hooks_mod

    for line in hooks_mod.install(ctx.obj["start"], force=force):
        click.echo(line)
    if not config_mod.is_configured(config_mod.find_root(ctx.obj["start"])):
        click.echo("note: devloop is not configured here yet; the hooks pass until `devloop init`.")


@hooks_group.command("uninstall")
@click.pass_context
def hooks_uninstall(ctx: click.Context) -> None:
    """Remove devloop's hooks and restore the hooks they replaced."""
    from devloop.git import hooks as hooks_mod

    for line in hooks_mod.uninstall(ctx.obj["start"]):
        click.echo(line)


# ----------------------------------------------------------------- models


@cli.command()
@click.option("--check", is_flag=True, help="Exit 1 when any tier's model has a warning.")
@click.pass_context
def models(ctx: click.Context, check: bool) -> None:
    """Each tier's model, its prices per million tokens, and its lifecycle."""
    from devloop.cli.render import print_table
    from devloop.model import lifecycle

    rows = lifecycle.inspect_tiers(load_config(ctx))
    money = lifecycle.rate_text
    table = []
    for row in rows:
        r = row.rates
        prices = (
            [money(r.input), money(r.write_5m), money(r.write_1h), money(r.read), money(r.output)]
            if r
            else ["unpriced"] * 5
        )
        table.append([row.tier, row.model, *prices, f"{row.lifecycle} ({row.lifecycle_source})"])
    headers = [
        "tier",
        "model",
        "input",
        "5m write",
        "1h write",
        "cache read",
        "output",
        "lifecycle",
    ]
    print_table(headers, table, title="Models (USD per million tokens)")
    warnings = [f"{row.tier}: {w}" for row in rows for w in row.warnings]
    for warning in warnings:
        click.secho(f"WARNING: {warning}", err=True, fg="yellow", bold=True)
    if check and warnings:
        from devloop.errors import CheckFailed

        raise CheckFailed(f"{len(warnings)} model warning(s); see above.")


# ----------------------------------------------------- feature, resume, status


def _run_feature(ctx: click.Context, cfg, as_json: bool, go) -> None:
    """Run `go(emit)` (loop.start or loop.resume) with progress output, then show the
    per-step cost table (or, with --json, a summary object), whatever the outcome."""
    from devloop.cli import progress, render

    if as_json:
        renderer = progress.JsonProgress()
    elif render.is_terminal():
        renderer = progress.LiveProgress(cfg)
    else:
        renderer = progress.PlainProgress()
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


def _closing_report(ctx: click.Context, cfg, slug: str, json_out, outcome: dict) -> None:
    from devloop.ledger import LedgerMissing
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
                "cost": report_mod.to_json(rep) if rep is not None else None,
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
    help="Stop after a step (number or key) or a phase: plan (step 6), build (11), verify (15).",
)
@click.option("--dry-run", is_flag=True, help="Price the run without calling any model.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event, then a summary.")
@click.option(
    "--allow-dirty", is_flag=True, help="Start on top of uncommitted changes instead of refusing."
)
@click.option(
    "--unsandboxed",
    is_flag=True,
    help="Run the build agent's commands and the tests without the OS sandbox (warned and recorded).",
)
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
    """Run the 15-step loop for SPEC, a Markdown spec, on a new branch <prefix><slug>.

    Artifacts, state.json and transcripts go to .devloop/features/<slug>/. Exit codes:
    0 done or stopped as asked, 1 a step failed, 2 usage (bad spec, not a repository),
    3 budget reached, 4 API failure, 130 interrupted; `devloop resume SLUG` continues.
    """
    from devloop import loop

    cfg = load_config(ctx, unsandboxed)
    spec_path = spec if spec.is_absolute() else ctx.obj["start"] / spec
    options = loop.RunOptions(
        budget_usd=loop.parse_budget(budget),
        stop_after=loop.parse_stop_after(stop_after) if stop_after else None,
        allow_dirty=allow_dirty,
    )
    if dry_run:
        from devloop.loop import dryrun

        _show_dry_run(dryrun.dry_run(cfg, spec_path, options.budget_usd), as_json)
        return
    _run_feature(ctx, cfg, as_json, lambda emit: loop.start(cfg, spec_path, options, emit))


@cli.command()
@click.argument("slug", required=False)
@click.option("--from", "from_step", type=STEP, help="Re-run from this step (e.g. after an edit).")
@click.option("--budget", metavar="USD", help="A new ceiling for the whole feature.")
@click.option("--stop-after", metavar="STEP", help="Stop after this step or phase.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event, then a summary.")
@click.option("--allow-dirty", is_flag=True, help="Let pre-flight accept uncommitted changes.")
@click.option(
    "--unsandboxed",
    is_flag=True,
    help="Run the build agent's commands and the tests without the OS sandbox (warned and recorded).",
)
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
        budget_usd=loop.parse_budget(budget),
        stop_after=loop.parse_stop_after(stop_after) if stop_after else None,
        allow_dirty=allow_dirty,
        from_step=from_step.number if from_step is not None else None,
    )
    _run_feature(ctx, cfg, as_json, lambda emit: loop.resume(cfg, slug, options, emit))


def _show_dry_run(dry, as_json: bool) -> None:
    from devloop.cli.render import print_table

    def money(value) -> str:
        return "unpriced" if value is None else f"${value:.4f}"

    if as_json:
        import json

        click.echo(
            json.dumps(
                {
                    "slug": dry.spec.slug,
                    "title": dry.spec.title,
                    "prompts": str(dry.prompts_dir),
                    "prefix_tokens": dry.prefix_tokens,
                    "token_source": dry.token_source,
                    "notes": dry.notes,
                    "steps": [
                        {
                            "step": p.number,
                            "key": p.key,
                            "worker": p.worker,
                            "model": p.model or None,
                            "calls": p.calls,
                            "input_tokens_per_call": p.input_tokens,
                            "output_tokens": p.output_tokens,
                            "cost_usd": None if p.cost_usd is None else str(p.cost_usd),
                            "baseline_usd": None if p.baseline_usd is None else str(p.baseline_usd),
                            "conditional": p.conditional,
                            "assumed_inputs": list(p.estimated_inputs),
                            "route": dry.routes[p.key].to_dict() if p.key in dry.routes else None,
                        }
                        for p in dry.steps
                    ],
                    "total_usd": None if dry.cost_usd is None else str(dry.cost_usd),
                    "baseline_usd": None if dry.baseline_usd is None else str(dry.baseline_usd),
                    "checks": [
                        {"name": r.name, "passed": r.passed, "summary": r.summary}
                        for r in dry.checks
                    ],
                },
                indent=2,
            )
        )
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
    print_table(
        headers,
        rows,
        title=f"Dry run: '{dry.spec.title}' ({dry.spec.slug}); no model was called",
        right={0, 4, 5, 6, 7, 8},
        footer=footer,
    )
    click.echo(
        f"\nThe cached prefix (system, project map, spec) is ~{dry.prefix_tokens:,} tokens. Input"
        f" sizes are from the rendered prompts ({dry.token_source}); answer lengths, agent turns and"
        " inputs that do not exist yet are assumptions (devloop/projection.py). * = runs only"
        f" when needed. Rendered prompts: {dry.prompts_dir}"
    )
    for note in dry.notes:
        click.secho(f"WARNING: {note}", err=True, fg="yellow")
    for line in _adaptive_lines(dry.routes.values()):
        click.echo(line)
    click.echo("Pre-flight (static checks):")
    for r in dry.checks:
        mark = "skip" if r.skipped else "ok" if r.passed else "FAIL"
        click.echo(f"  {mark:<4}  {r.name}: {r.summary}")


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
    from devloop.cli.render import print_table
    from devloop.config import find_root
    from devloop.steps import STEPS

    root = find_root(ctx.obj["start"])
    found = loop.statuses(root)
    if slug is not None:
        found = [f for f in found if f.state.slug == slug]
        if not found:
            from devloop.state import load

            load(root, slug)  # raises the "no feature" error listing the known ones

    def money(value) -> str:
        return "-" if value is None else f"${value:.4f}"

    if as_json:
        import json
        from dataclasses import asdict

        click.echo(
            json.dumps(
                [
                    {
                        **asdict(f.state),
                        "cost_usd": None if f.cost_usd is None else str(f.cost_usd),
                        "next_step": f.next_step.key if f.next_step else None,
                        "unsettled_calls": f.unsettled,
                        "unsettled_worst_usd": str(f.unsettled_worst_usd),
                    }
                    for f in found
                ],
                indent=2,
            )
        )
        return
    if not found:
        click.echo("No features yet. Start one with `devloop feature SPEC`.")
        return
    if slug is None:
        rows = [
            [
                f.state.slug,
                f.state.status,
                f"{f.next_step.number} {f.next_step.key}" if f.next_step else "-",
                f"{f.state.done_count()}/15",
                money(f.cost_usd),
                f.state.branch,
                f.state.updated_at[:19].replace("T", " "),
            ]
            for f in found
        ]
        headers = ["feature", "status", "next step", "done", "spent", "branch", "updated (UTC)"]
        print_table(headers, rows, title="Features", right={3, 4})
        _unsettled_lines(found)
        return
    (item,) = found
    st = item.state
    rows = []
    for step in STEPS:
        s = st.step(step.key)
        result = s.result
        detail = result.get("verdict") or result.get("summary") or result.get("error") or ""
        rows.append(
            [str(step.number), step.key, s.status, str(s.runs), s.artifact or "", detail[:70]]
        )
    print_table(
        ["#", "step", "status", "runs", "artifact", "result"],
        rows,
        title=f"{st.slug}: {st.status} on {st.branch} (spent {money(item.cost_usd)})",
        right={0, 3},
    )
    if st.message:
        click.echo(st.message)
    _unsettled_lines(found)


def _unsettled_lines(found) -> None:
    for f in found:
        if f.unsettled:
            click.echo(
                f"{f.state.slug}: {f.unsettled} unsettled call(s), in flight when a run "
                f"stopped: counted at their worst case (${f.unsettled_worst_usd:.4f}) against "
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
@click.option(
    "--unsandboxed",
    is_flag=True,
    help="Run the demo's commands without the OS sandbox (where none is available).",
)
@click.pass_context
def demo(ctx: click.Context, directory: Path | None, unsandboxed: bool) -> None:
    """Run the whole 15-step loop offline on a bundled sample project.

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
    repo = demo_mod.prepare(target)
    click.echo("\n".join(demo_mod.intro_lines(repo)))
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
            click.secho(f"devloop demo: scripted replies never used: {left}", err=True, fg="yellow")
        click.echo("\n".join(demo_mod.closing_lines(repo, done)))


# ------------------------------------------------- routing explain, calibrate


@routing.command("explain")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (schema devloop.explain/1).")
@click.pass_context
def routing_explain(ctx: click.Context, slug: str, as_json: bool) -> None:
    """Why each step of feature SLUG went where it went.

    Per step run: the route taken, the router, the complexity score and the threshold it
    was compared with, the signals and their contributions, the reason, and any
    escalation. Read from the ledger; exit 1 when there is none, 2 for an unknown SLUG.
    """
    from devloop.cli.render import print_table
    from devloop.config import find_root
    from devloop.ledger import Ledger
    from devloop.reports import explain as explain_mod

    with Ledger.open(find_root(ctx.obj["start"]), create=False) as ledger:
        runs = explain_mod.explain(ledger, slug)
    if as_json:
        import json

        click.echo(json.dumps(explain_mod.to_json(slug, runs), indent=2))
        return
    if not runs:
        click.echo(f"feature '{slug}' has no step runs yet.")
        return
    print_table(
        explain_mod.HEADERS,
        explain_mod.table_rows(runs),
        title=f"Routing of feature '{slug}'",
        right={0, 6, 7},
    )
    for line in explain_mod.detail_lines(runs):
        click.echo(line)


@routing.command("calibrate")
@click.option(
    "--frontier-share",
    type=click.FloatRange(0, 1),
    required=True,
    help="The share of adaptive decisions to send to frontier, e.g. 0.3.",
)
@click.option("--write", is_flag=True, help="Write the threshold into the config file.")
@click.pass_context
def routing_calibrate(ctx: click.Context, frontier_share: float, write: bool) -> None:
    """Set [routing] high_threshold from the scores the ledger recorded.

    Picks the threshold that sends about --frontier-share of the recorded adaptive routing
    decisions to frontier (the quantile method RouteLLM uses). Prints it; changes the
    config only with --write. Exit 1 when the ledger has no scored decision yet.
    """
    from devloop.errors import CheckFailed
    from devloop.ledger import Ledger
    from devloop.reports import calibrate as calibrate_mod

    cfg = load_config(ctx)
    with Ledger.open(cfg.root, create=False) as ledger:
        scores, _ = calibrate_mod.recorded_scores(ledger)
        if not scores:
            raise CheckFailed(
                "no adaptive routing decisions in the ledger yet: set [routing] router = "
                '"hybrid" (or "complexity") and run some features; calibrate needs their scores.'
            )
        result = calibrate_mod.calibrate(ledger, frontier_share)
    click.echo(
        f"high_threshold = {result.threshold:g}: {result.frontier} of {result.decisions} "
        f"scored decisions ({result.share:.1%}, target {frontier_share:.1%}) over "
        f"{result.features} feature(s) reach it (now {cfg.routing.high_threshold:g})."
    )
    if result.decisions < calibrate_mod.FEW_DECISIONS:
        click.echo(f"note: only {result.decisions} decisions; the threshold is a rough one.")
    if not write:
        click.echo("Not written; add --write to set it in the config.")
        return
    path, changed = calibrate_mod.write_threshold(cfg, result.threshold)
    click.echo(f"wrote {path}: {'; '.join(changed)}")


# ---------------------------------------------------------------- suggest


@cli.command()
@click.option(
    "--human-rate",
    metavar="USD/h",
    help="Fold a person's time into the comparison: what an hour of it costs.",
)
@click.option(
    "--human-minutes",
    type=click.FloatRange(0),
    default=30.0,
    show_default=True,
    help="Minutes of that person's time each failed run costs.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (schema devloop.suggest/1).")
@click.pass_context
def suggest(
    ctx: click.Context, human_rate: str | None, human_minutes: float, as_json: bool
) -> None:
    """Propose routing changes from the outcomes and costs in the ledger.

    Per step and tier: failure, escalation and first-time rates, findings and costs over
    the features seen; then promotions (mid runs that go badly) and demotions (frontier
    steps the mid tier matches elsewhere) with the saving per feature and the evidence.
    Never changes the config: it prints the change. Says so when data is too thin.
    """
    from decimal import Decimal, InvalidOperation

    from devloop.cli.render import print_table
    from devloop.ledger import Ledger
    from devloop.reports import suggest as suggest_mod

    rate = None
    if human_rate is not None:
        try:
            rate = Decimal(human_rate.strip().lstrip("$").removesuffix("/h"))
        except InvalidOperation:
            raise UsageError(f"--human-rate {human_rate}: give USD per hour, e.g. 120.") from None
        if not rate.is_finite() or rate < 0:
            raise UsageError(f"--human-rate {human_rate}: give a non-negative USD per hour.")
    cfg = load_config(ctx)
    with Ledger.open(cfg.root, create=False) as ledger:
        result = suggest_mod.suggest(ledger, cfg, human_rate=rate, human_minutes=human_minutes)
    if as_json:
        import json

        click.echo(json.dumps(result.to_json(), indent=2))
        return

    def pct(value) -> str:
        return "-" if value is None else f"{value:.0%}"

    rows = []
    for g in result.groups:
        d = g.to_dict()
        rows.append(
            [
                str(d["step"]),
                d["key"],
                d["tier"],
                str(d["runs"]),
                str(d["features"]),
                pct(d["failed_rate"]),
                pct(d["escalated_rate"]),
                pct(d["first_time_rate"]),
                f"{d['high_findings_per_run']:.1f}" if g.step.key == "implement" else "-",
                str(d["empty_replies"] + d["truncated_replies"]),
                f"${Decimal(d['cost_usd_per_feature']):.4f}",
                f"${Decimal(d['baseline_usd_per_feature']):.4f}",
            ]
        )
    headers = ["#", "step", "tier", "runs", "features", "failed", "escalated", "first time"]
    headers += ["high+ findings/run", "empty/trunc", "cost/feature", "frontier/feature"]
    print_table(
        headers,
        rows,
        title=f"Outcomes by step and tier over {result.features} feature(s)",
        right={0, 3, 4, 5, 6, 7, 8, 9, 10, 11},
    )
    click.echo("")
    if result.recommendations:
        click.echo("Recommendations:")
        for r in result.recommendations:
            money = r.saving_per_feature
            effect = (
                "saves" if money is not None and money >= 0 else "costs",
                abs(money or 0),
            )
            click.echo(
                f"  {r.action} {r.step.number} {r.step.key}: {r.from_tier} -> {r.to_tier}; "
                f"{r.why}; {effect[0]} ~${effect[1]:.4f} per feature ({r.evidence})."
            )
        click.echo("\nProposed config (not applied):\n")
        click.echo(result.config_snippet())
    else:
        click.echo("No routing change to recommend from this data.")
    if result.not_enough:
        click.echo("Not enough data to judge:")
        for line in result.not_enough:
            click.echo(f"  {line}")
    click.echo("")
    for note in result.notes:
        click.echo(f"note: {note}")


# ---------------------------------------------------------------- metrics


@cli.command()
@click.option(
    "--textfile",
    type=PathParam(dir_okay=False),
    default=None,
    help="Write to this file atomically (node_exporter's textfile collector) instead.",
)
@click.pass_context
def metrics(ctx: click.Context, textfile: Path | None) -> None:
    """The ledger as Prometheus counters (text exposition format).

    Requests, tokens, cost, frontier baseline, failures by kind and escalations, by model
    and step. Needs the optional extra: pip install 'devloop[metrics]'. Exit 1 when there
    is no ledger yet, 2 when prometheus-client is missing.
    """
    from devloop.config import find_root
    from devloop.ledger import Ledger
    from devloop.reports import metrics as metrics_mod

    metrics_mod._client()  # exit 2 naming the extra, before touching anything
    with Ledger.open(find_root(ctx.obj["start"]), create=False) as ledger:
        if textfile is None:
            click.echo(metrics_mod.exposition(ledger), nl=False)
            return
        if not textfile.is_absolute():
            textfile = ctx.obj["start"] / textfile
        metrics_mod.write_textfile(ledger, textfile)
    click.echo(f"wrote {textfile}", err=True)


# --------------------------------------------------------------------- ab


@cli.command()
@click.argument("spec")
@click.option("--budget", metavar="USD", help="Ceiling for each arm.")
@click.option(
    "--stop-after",
    metavar="STEP",
    help="Stop both arms after a step or phase (e.g. plan), as with `devloop feature`.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@click.option(
    "--clean",
    is_flag=True,
    help="Remove the A/B worktrees of SPEC (a spec path or slug) instead; keeps branches.",
)
@click.option(
    "--unsandboxed",
    is_flag=True,
    help="Run both arms' commands without the OS sandbox (warned and recorded).",
)
@click.pass_context
def ab(
    ctx: click.Context,
    spec: str,
    budget: str | None,
    stop_after: str | None,
    as_json: bool,
    clean: bool,
    unsandboxed: bool,
) -> None:
    """Run SPEC twice, routed and all-frontier, in two git worktrees; compare them.

    The worktrees are .devloop/ab/<slug>/{routed,frontier}, each arm on its own branch,
    its ledger tagged ab:routed / ab:frontier and copied into this repository's ledger.
    Prints cost, tokens, wall time, first-attempt tasks, findings, escalations, diff size
    and whether the final suite passes. Exit 1 when an arm failed.
    """
    from pathlib import Path

    from devloop import loop
    from devloop.errors import CheckFailed
    from devloop.loop import ab as ab_mod

    cfg = load_config(ctx, unsandboxed)
    if clean:
        for line in ab_mod.clean(cfg.root, ab_mod.slug_of(cfg, spec, ctx.obj["start"])):
            click.echo(line)
        return
    spec_path = Path(spec)
    spec_path = spec_path if spec_path.is_absolute() else ctx.obj["start"] / spec_path
    options = loop.RunOptions(
        budget_usd=loop.parse_budget(budget),
        stop_after=loop.parse_stop_after(stop_after) if stop_after else None,
    )

    def emit(arm: str, event) -> None:
        from devloop.cli.progress import PlainProgress

        if as_json:
            return
        if event.kind == "step" and event.status == "running":
            return
        click.echo(f"[{arm}] {PlainProgress.line(event).strip()}", err=event.kind == "warning")

    result = ab_mod.run(cfg, spec_path, options, emit)
    if as_json:
        click.echo(ab_mod.dumps(result))
    else:
        _show_ab(result)
    if not result.ok:
        failed = [f"{a.arm} ({a.status}: {a.message.splitlines()[0] if a.message else ''})"
                  for a in result.arms if a.exit_code]  # fmt: skip
        raise CheckFailed(f"A/B arm(s) did not finish: {'; '.join(failed)}")


def _show_ab(result) -> None:
    from devloop.cli.render import print_table

    def money(value) -> str:
        return "unpriced" if value is None else f"${value:.4f}"

    def findings(arm, key) -> str:
        from devloop.schemas import SEVERITIES

        found = arm.findings.get(key)
        if not found:
            return "-"
        return " ".join(f"{sev[0]}{found.get(sev, 0)}" for sev in SEVERITIES)

    def tasks(arm) -> str:
        if arm.tasks is None:
            return "-"
        return f"{arm.tasks_first_attempt}/{arm.tasks}"

    arms = result.arms
    lines = [
        ("status", [a.status for a in arms]),
        ("cost", [money(a.cost_usd) for a in arms]),
        ("frontier baseline", [money(a.baseline_usd) for a in arms]),
        ("model calls", [str(a.calls) for a in arms]),
        ("tokens in / cache write", [f"{a.tokens.get('input', 0):,} / "
                                     f"{a.tokens.get('cache_write', 0):,}" for a in arms]),
        ("tokens cache read / out", [f"{a.tokens.get('cache_read', 0):,} / "
                                     f"{a.tokens.get('output', 0):,}" for a in arms]),
        ("wall time", [f"{a.wall_s:.1f}s" for a in arms]),
        ("tasks passing 1st attempt", [tasks(a) for a in arms]),
        ("review findings c/h/m/l", [findings(a, "review") for a in arms]),
        ("audit findings c/h/m/l", [findings(a, "audit") for a in arms]),
        ("escalations", [str(a.escalations) for a in arms]),
        ("diff", [f"{a.diff.get('files', 0)} files +{a.diff.get('insertions', 0)} "
                  f"-{a.diff.get('deletions', 0)}" for a in arms]),
        ("final suite", [a.suite for a in arms]),
        ("branch", [a.branch for a in arms]),
        ("ledger tag", [a.tag + ("" if a.imported else " (not copied)") for a in arms]),
    ]  # fmt: skip
    print_table(
        ["", *[a.arm for a in arms]],
        [[name, *values] for name, values in lines],
        title=f"A/B: '{result.title}' from {result.base_commit[:12]}",
    )
    routed, frontier = (next((a for a in arms if a.arm == n), None) for n in ("routed", "frontier"))
    if routed and frontier and routed.cost_usd is not None and frontier.cost_usd:
        saved = frontier.cost_usd - routed.cost_usd
        click.echo(
            f"\nRouted cost {money(routed.cost_usd)} vs all-frontier {money(frontier.cost_usd)}: "
            f"{'saved' if saved >= 0 else 'spent'} {money(abs(saved))} "
            f"({abs(saved) / frontier.cost_usd:.0%})."
        )
    for a in arms:
        for note in a.notes:
            click.echo(f"note ({a.arm}): {note}")
    click.echo(f"Worktrees: {result.directory} (remove with `devloop ab {result.slug} --clean`).")


# ------------------------------------------------------------ entry point


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: map errors to the documented exit codes, never a traceback."""
    try:
        cli.main(args=argv, prog_name="devloop", standalone_mode=False)
    except DevloopError as exc:
        click.echo(f"devloop: error: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("devloop: interrupted.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("devloop: interrupted.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    sys.exit(0)

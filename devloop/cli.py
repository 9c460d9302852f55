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


class PathParam(click.Path):
    """click.Path giving a pathlib.Path, with pathlib imported only when a value is
    converted: importing it costs `devloop --help` about 13 ms."""

    def convert(self, value, param, ctx):
        from pathlib import Path

        return Path(super().convert(value, param, ctx))


def load_config(ctx: click.Context):
    """The repository's config (imported lazily: `--help` must not pay for it)."""
    from devloop import config as config_mod

    return config_mod.load(ctx.obj["start"])


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
        from devloop import hooks as hooks_mod

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
    from devloop.tables import print_table

    rows = [
        [str(r.step.number), r.step.key, r.step.phase, r.worker, r.model or "-", r.reason]
        for r in routing_mod.routes(cfg)
    ]
    print_table(["#", "step", "phase", "worker", "model", "why"], rows, title="Routing")


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
@click.pass_context
def cost(
    ctx: click.Context, slug: str | None, all_features: bool, by: str | None, fmt: str
) -> None:
    """Show what a feature's model calls cost, next to the always-frontier baseline.

    SLUG defaults to the most recently active feature. Exits 1 when nothing has been
    recorded yet (no ledger), 2 for an unknown SLUG.
    """
    from devloop import report as report_mod
    from devloop import tables
    from devloop.config import find_root

    root = find_root(ctx.obj["start"])
    rep = report_mod.build_for_repo(root, slug, all_features=all_features, by=by)
    if fmt == "json":
        import json

        click.echo(json.dumps(report_mod.to_json(rep), indent=2))
        return
    if fmt == "csv":
        headers, rows = report_mod.csv_rows(rep)
        click.echo(tables.csv_text(headers, rows), nl=False)
        return
    view = report_mod.table_view(rep)
    if fmt == "markdown":
        click.echo(f"**{view.title}**\n")
        click.echo(tables.markdown(view.headers, [*view.rows, view.footer], view.right))
        click.echo("\n".join(f"- {note}" for note in view.notes))
        return
    tables.print_table(
        view.headers, view.rows, title=view.title, right=view.right, footer=view.footer
    )
    click.echo("\n" + "\n".join(view.notes))


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
    from devloop import hooks as hooks_mod

    _emit(*hooks_mod.staged_report(ctx.obj["start"]))


@check.command("commit-msg")
@click.argument("message_file", type=PathParam())
@click.pass_context
def check_commit_msg(ctx: click.Context, message_file: Path) -> None:
    """Check a commit message file against Conventional Commits 1.0.0.

    Types and header length come from [git] in the config. Comment lines and everything
    below git's scissors line are ignored; merge, revert, fixup!, squash! and amend!
    messages pass untouched. This is what the commit-msg hook runs.
    """
    from devloop import hooks as hooks_mod

    _emit(*hooks_mod.commit_msg_report(ctx.obj["start"], message_file))


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
    from devloop import hooks as hooks_mod

    for line in hooks_mod.install(ctx.obj["start"], force=force):
        click.echo(line)
    if not config_mod.is_configured(config_mod.find_root(ctx.obj["start"])):
        click.echo("note: devloop is not configured here yet; the hooks pass until `devloop init`.")


@hooks_group.command("uninstall")
@click.pass_context
def hooks_uninstall(ctx: click.Context) -> None:
    """Remove devloop's hooks and restore the hooks they replaced."""
    from devloop import hooks as hooks_mod

    for line in hooks_mod.uninstall(ctx.obj["start"]):
        click.echo(line)


# ----------------------------------------------------------------- models


@cli.command()
@click.option("--check", is_flag=True, help="Exit 1 when any tier's model has a warning.")
@click.pass_context
def models(ctx: click.Context, check: bool) -> None:
    """Each tier's model, its prices per million tokens, and its lifecycle."""
    from devloop import modelcheck
    from devloop.tables import print_table

    rows = modelcheck.inspect_tiers(load_config(ctx))
    money = modelcheck.rate_text
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
    from devloop import progress, tables

    if as_json:
        renderer = progress.JsonProgress()
    elif tables.is_terminal():
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
    from devloop import report as report_mod
    from devloop.ledger import LedgerMissing
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
@click.pass_context
def feature(
    ctx: click.Context,
    spec: Path,
    budget: str | None,
    stop_after: str | None,
    dry_run: bool,
    as_json: bool,
    allow_dirty: bool,
) -> None:
    """Run the 15-step loop for SPEC, a Markdown spec, on a new branch <prefix><slug>.

    Artifacts, state.json and transcripts go to .devloop/features/<slug>/. Exit codes:
    0 done or stopped as asked, 1 a step failed, 2 usage (bad spec, not a repository),
    3 budget reached, 4 API failure, 130 interrupted; `devloop resume SLUG` continues.
    """
    from devloop import loop

    cfg = load_config(ctx)
    spec_path = spec if spec.is_absolute() else ctx.obj["start"] / spec
    options = loop.RunOptions(
        budget_usd=loop.parse_budget(budget),
        stop_after=loop.parse_stop_after(stop_after) if stop_after else None,
        allow_dirty=allow_dirty,
    )
    if dry_run:
        from devloop import dryrun

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
@click.pass_context
def resume(
    ctx: click.Context,
    slug: str | None,
    from_step,
    budget: str | None,
    stop_after: str | None,
    as_json: bool,
    allow_dirty: bool,
) -> None:
    """Continue feature SLUG from its first unfinished step; finished steps never re-run.

    SLUG defaults to the most recently active unfinished feature.
    """
    from devloop import loop

    cfg = load_config(ctx)
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
    from devloop.tables import print_table

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
    click.echo("Pre-flight (static checks):")
    for r in dry.checks:
        mark = "skip" if r.skipped else "ok" if r.passed else "FAIL"
        click.echo(f"  {mark:<4}  {r.name}: {r.summary}")


@cli.command()
@click.argument("slug", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def status(ctx: click.Context, slug: str | None, as_json: bool) -> None:
    """List features and where each stands; with SLUG, that feature's steps."""
    from devloop import loop
    from devloop.config import find_root
    from devloop.steps import STEPS
    from devloop.tables import print_table

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

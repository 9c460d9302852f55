"""Routing: which worker runs each step (ROUTING.md), why a run routed as it did, the
adaptive router's calibration, and suggestions from past runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from devloop.cli.app import cli, load_config
from devloop.errors import CheckFailed
from devloop.money import usd

if TYPE_CHECKING:
    pass


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
    print_table(
        ["#", "step", "phase", "worker", "model", "why"],
        rows,
        title="Routing",
        drop=["phase", "model", "#"],
        wrap=["why"],
    )
    router = cfg.routing.router
    if router != "rule":
        from devloop.cli.render import echo_prose

        echo_prose(
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
        right={0, 7, 8},
        drop=["threshold", "router", "effort", "score", "model", "#", "tier"],
        wrap=["reason"],
    )
    from devloop.cli.render import echo_prose

    echo_prose(explain_mod.detail_lines(runs))


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
    from decimal import Decimal

    from devloop.cli.render import print_table
    from devloop.ledger import Ledger
    from devloop.money import parse_usd
    from devloop.reports import suggest as suggest_mod

    rate = None
    if human_rate is not None:  # USD per hour: "120", "$90/h"
        rate = parse_usd(human_rate.strip().removesuffix("/h"), "--human-rate", allow_zero=True)
    from devloop.steps import AGENT_TASKS

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
                f"{d['high_findings_per_run']:.1f}" if g.step.kind == AGENT_TASKS else "-",
                str(d["empty_replies"] + d["truncated_replies"]),
                f"{usd(Decimal(d['cost_usd_per_feature']))}",
                f"{usd(Decimal(d['baseline_usd_per_feature']))}",
            ]
        )
    headers = ["#", "step", "tier", "runs", "features", "failed", "escalated", "first time"]
    headers += ["high+ findings/run", "empty/trunc", "cost/feature", "frontier/feature"]
    print_table(
        headers,
        rows,
        title=f"Outcomes by step and tier over {result.features} feature(s)",
        right={0, 3, 4, 5, 6, 7, 8, 9, 10, 11},
        drop=[
            "empty/trunc",
            "high+ findings/run",
            "features",
            "first time",
            "escalated",
            "runs",
            "#",
            "frontier/feature",
            "failed",
        ],  # fmt: skip
    )
    from devloop.cli.render import echo_prose

    click.echo("")
    if result.recommendations:
        click.echo("Recommendations:")
        for r in result.recommendations:
            money = r.saving_per_feature
            effect = (
                "saves" if money is not None and money >= 0 else "costs",
                abs(money or 0),
            )
            echo_prose(
                f"  {r.action} {r.step.number} {r.step.key}: {r.from_tier} -> {r.to_tier}; "
                f"{r.why}; {effect[0]} ~{usd(effect[1])} per feature ({r.evidence})."
            )
        click.echo("\nProposed config (not applied):\n")
        click.echo(result.config_snippet())
    else:
        click.echo("No routing change to recommend from this data.")
    if result.not_enough:
        click.echo("Not enough data to judge:")
        echo_prose([f"  {line}" for line in result.not_enough])
    click.echo("")
    echo_prose([f"note: {note}" for note in result.notes])

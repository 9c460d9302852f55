"""What features cost: `devloop cost` (and settling calls a crash left open), metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from devloop.cli.app import cli
from devloop.cli.options import PathParam
from devloop.errors import UsageError

if TYPE_CHECKING:
    from pathlib import Path


# ------------------------------------------------------------------- cost


@cli.command()
@click.argument("slug", required=False)
@click.option("--all", "all_features", is_flag=True, help="Summarise every feature.")
@click.option(
    "--by",
    type=click.Choice(["step", "model", "tier", "user", "repo", "host", "day"]),
    default=None,
    help="Group by step (default for one feature), model, tier, or who and where: user, "
    "repo, host, day (UTC). With --all: across features (a shared ledger: the whole team).",
)
@click.option(
    "--since",
    metavar="WHEN",
    help="Only calls answered at or after WHEN: a date (2026-03-01) or a time (UTC unless "
    "it says).",
)
@click.option(
    "--until",
    metavar="WHEN",
    help="Only calls answered before WHEN; a date includes that whole day.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv", "markdown", "md"]),
    default="table",
    show_default=True,
    help="Output format (md: markdown, e.g. for a CI job summary). JSON is documented and "
    "stable (schema devloop.cost/1).",
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
    since: str | None,
    until: str | None,
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
    from devloop.reports import cost_formats
    from devloop.reports import cost_report as report_mod

    root = find_root(ctx.obj["start"])
    if unsettled or settle_id is not None or settle_call is not None:
        _settle(root, settle_id, settle_call, usd)
        return
    rep = report_mod.build_for_repo(
        root,
        slug,
        all_features=all_features,
        by=by,
        baseline=baseline,
        since=since,
        until=until,
    )
    if fmt == "json":
        import json

        click.echo(json.dumps(cost_formats.to_json(rep), indent=2))
        return
    if fmt == "csv":
        headers, rows = cost_formats.csv_rows(rep)
        click.echo(render.csv_text(headers, rows), nl=False)
        return
    from devloop.reports import cache_groups

    view = cost_formats.table_view(rep)
    groups = cache_groups.table_rows(rep.cache_groups)
    if fmt in ("markdown", "md"):
        click.echo(f"**{view.title}**\n")
        click.echo(render.markdown(view.headers, [*view.rows, view.footer], view.right))
        click.echo("\n".join(f"- {note}" for note in view.notes))
        if groups:
            click.echo(f"\n**{cache_groups.TITLE}**\n")
            click.echo(render.markdown(cache_groups.HEADERS, groups, cache_groups.RIGHT))
        return
    render.print_table(
        view.headers,
        view.rows,
        title=view.title,
        right=view.right,
        footer=view.footer,
        drop=view.drop,
        wrap=view.wrap,
    )
    render.echo_prose(["", *view.notes])
    if groups:
        click.echo("")
        render.print_table(
            cache_groups.HEADERS,
            groups,
            title=cache_groups.TITLE,
            right=cache_groups.RIGHT,
            drop=cache_groups.DROP,
            wrap=("steps",),
        )


def _settle(root: Path, reservation: int | None, call: int | None, paid: str | None) -> None:
    """`devloop cost --unsettled`, `--settle ID --usd X`, `--settle-call ID --usd X`."""
    from devloop.ledger import Ledger
    from devloop.money import parse_usd, pico_to_usd, usd

    with Ledger.open(root, create=False) as ledger:
        if reservation is None and call is None:
            held = ledger.open_reservations()
            if not held:
                click.echo("no unsettled calls.")
            for r in held:
                worst = "unknown" if r.worst_pico is None else usd(pico_to_usd(r.worst_pico))
                click.echo(
                    f"{r.id}: feature {r.feature}, step {r.step_key}, {r.model}, sent "
                    f"{r.created_at}, worst case {worst} (pid {r.pid} on {r.host})"
                )
            return
        if paid is None:
            raise UsageError("--settle and --settle-call need --usd AMOUNT (0 if not billed).")
        amount = parse_usd(paid, "--usd", allow_zero=True)
        if reservation is not None:
            ledger.settle_by_hand(reservation, amount, "settled with devloop cost --settle")
            click.echo(f"settled call {reservation} at {usd(amount, None)}.")
        if call is not None:
            ledger.settle_unpriced_by_hand(call, amount, "settled with devloop cost --settle-call")
            click.echo(f"settled unpriced call {call} at {usd(amount, None)}.")


# ---------------------------------------------------------------- metrics


@cli.command()
@click.option(
    "--textfile",
    type=PathParam(dir_okay=False),
    default=None,
    help="Write to this file atomically (node_exporter's textfile collector) instead.",
)
@click.option(
    "--serve",
    "address",
    metavar="HOST:PORT",
    default=None,
    help="Serve the counters at http://HOST:PORT/metrics for Prometheus to scrape, reading "
    "the ledger at each scrape, until stopped (Ctrl-C, SIGTERM).",
)
@click.pass_context
def metrics(ctx: click.Context, textfile: Path | None, address: str | None) -> None:
    """The ledger as Prometheus counters (text exposition format).

    Requests, tokens, cost, frontier baseline, failures by kind and escalations, by model,
    tier, step, repository and team: pointed at a shared ledger (DEVLOOP_LEDGER_URL), one
    scrape target covers the whole team. Needs the optional extra: pip install
    'devloop[metrics]'. Exit 1 when there is no ledger yet, 2 when prometheus-client is
    missing or HOST:PORT cannot be listened on, 4 when a shared ledger cannot be reached.
    """
    from devloop.config import find_root
    from devloop.ledger import Ledger
    from devloop.reports import metrics as metrics_mod

    metrics_mod.require_client()  # exit 2 naming the extra, before touching anything
    if textfile is not None and address is not None:
        raise UsageError("give --textfile or --serve, not both.")
    listen = metrics_mod.parse_address(address) if address is not None else None
    with Ledger.open(find_root(ctx.obj["start"]), create=False) as ledger:
        if listen is not None:
            _serve(ledger, *listen)
            return
        if textfile is None:
            click.echo(metrics_mod.exposition(ledger), nl=False)
            return
        if not textfile.is_absolute():
            textfile = ctx.obj["start"] / textfile
        metrics_mod.write_textfile(ledger, textfile)
    click.echo(f"wrote {textfile}", err=True)


def _serve(ledger, host: str, port: int) -> None:
    import threading

    from devloop import interrupts
    from devloop.reports import metrics as metrics_mod

    server = metrics_mod.serve(ledger, host, port)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"serving metrics at http://{shown}:{port}/metrics (Ctrl-C stops)", err=True)
    try:
        with interrupts.raising(lambda signum: KeyboardInterrupt()):
            threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()
    click.echo("stopped serving metrics.", err=True)

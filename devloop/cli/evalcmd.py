"""`devloop eval`: known-answer canaries per step and tier, priced and compared."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from devloop.cli.app import cli, load_config
from devloop.cli.options import PathParam
from devloop.errors import CheckFailed, UsageError

if TYPE_CHECKING:
    from pathlib import Path


@cli.command("eval")
@click.option(
    "--tier",
    "tiers",
    multiple=True,
    type=click.Choice(["frontier", "mid", "light"]),
    help="A tier to ask (repeatable). Default: frontier and mid.",
)
@click.option("--steps", default=None, metavar="A,B", help="Only the cases of these steps.")
@click.option("--repeat", default=1, show_default=True, type=int, help="Ask each case N times.")
@click.option(
    "--cases", "cases_dir", type=PathParam(file_okay=False), default=None,
    help="A directory of your own cases (TOML), added to the bundled ones.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print JSON (schema devloop.eval/1).")
@click.pass_context
def eval_command(
    ctx: click.Context,
    tiers: tuple[str, ...],
    steps: str | None,
    repeat: int,
    cases_dir: Path | None,
    as_json: bool,
) -> None:
    """Ask each step's known-answer cases on each tier and score the answers exactly.

    Every call is priced into the ledger under a feature tagged "eval" (see `devloop cost
    --all`); results are kept in .devloop/evals/ and compared with the last run. Exit 1 when
    any answer missed what its case planted.
    """
    from devloop.evals import load_cases, run_eval

    if repeat < 1:
        raise UsageError("--repeat must be 1 or more.")
    cfg = load_config(ctx)
    cases = load_cases(cases_dir, [s for s in (steps or "").split(",") if s.strip()])
    if not cases:
        raise UsageError("no eval cases for those steps.")
    run = run_eval(cfg, cases, list(tiers or ("frontier", "mid")), repeat)
    if as_json:
        import json

        click.echo(json.dumps(run.to_json(), indent=2))
    else:
        _show(run)
    failed = [o for o in run.outcomes if not o.passed]
    if failed:
        raise CheckFailed(f"{len(failed)} of {len(run.outcomes)} eval answer(s) missed.")


def _show(run) -> None:
    from devloop.cli.render import print_table
    from devloop.money import usd

    rows = [
        [
            row["step"],
            row["tier"],
            f"{row['passed']}/{row['runs']}",
            usd(row["cost_usd"]),
            f"{row['input_tokens']:,}",
            f"{row['output_tokens']:,}",
            "; ".join(row["missed"]) or "-",
        ]
        for row in run.summary().values()
    ]
    headers = ["step", "tier", "passed", "cost", "input", "output", "missed"]
    print_table(
        headers,
        rows,
        title=f"devloop eval ({run.slug})",
        right={2, 3, 4, 5},
        drop=["input", "output", "tier"],
        wrap=["missed"],
    )
    from devloop.cli.render import echo_prose

    echo_prose([f"drift: {line}" for line in run.drift()])
    click.echo(f"Calls are in the ledger as feature '{run.slug}' (tag eval).")

"""`devloop ab`: one spec run on two routes, compared."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from devloop.cli.app import cli, load_config
from devloop.cli.options import parse_budget, parse_stop_after, unsandboxed_option
from devloop.errors import CheckFailed
from devloop.money import usd_or

if TYPE_CHECKING:
    pass


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
@unsandboxed_option("both arms' commands")
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
    from devloop.loop import ab as ab_mod

    cfg = load_config(ctx, unsandboxed)
    if clean:
        for line in ab_mod.clean(cfg.root, ab_mod.slug_of(cfg, spec, ctx.obj["start"])):
            click.echo(line)
        return
    spec_path = Path(spec)
    spec_path = spec_path if spec_path.is_absolute() else ctx.obj["start"] / spec_path
    options = loop.RunOptions(
        budget_usd=parse_budget(budget),
        stop_after=parse_stop_after(stop_after),
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
    from devloop.cli import render
    from devloop.cli.render import print_table
    from devloop.steps import FINDINGS, STEPS

    money = usd_or

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
    reviews = STEPS.of_kind(FINDINGS)
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
        *((f"{s.key} findings c/h/m/l", [findings(a, s.key) for a in arms]) for s in reviews),
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
        wrap=[a.arm for a in arms],  # long cells (a branch, a tag) wrap, never cut
    )
    saving = result.saving()
    if saving is not None:
        saved, share = saving
        routed, frontier = result.arm("routed"), result.arm("frontier")
        render.echo_prose(
            f"\nRouted cost {money(routed.cost_usd)} vs all-frontier {money(frontier.cost_usd)}: "
            f"{'saved' if saved >= 0 else 'spent'} {money(abs(saved))} ({abs(share):.0%})."
        )
    for a in arms:
        for note in a.notes:
            render.echo_prose(f"note ({a.arm}): {note}")
    render.echo_prose(
        f"Worktrees: {result.directory} (remove with `devloop ab {result.slug} --clean`)."
    )

"""Setting devloop up in a repository: init, the git hooks, the models it calls."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from devloop.cli.app import cli, load_config

if TYPE_CHECKING:
    pass


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
    from devloop.cli import render
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
    print_table(
        headers,
        table,
        title="Models (USD per million tokens)",
        drop=["1h write", "5m write", "cache read", "lifecycle"],
        wrap=["lifecycle"],
    )
    warnings = [f"{row.tier}: {w}" for row in rows for w in row.warnings]
    for warning in warnings:
        render.warning(f"WARNING: {warning}")
    if check and warnings:
        from devloop.errors import CheckFailed

        raise CheckFailed(f"{len(warnings)} model warning(s); see above.")

"""`devloop sim serve`: the offline API server, for demos and tests."""

from __future__ import annotations

import click

from devloop.cli.app import cli
from devloop.errors import UsageError

# -------------------------------------------------------------------- sim


@cli.group()
def sim() -> None:
    """The offline Anthropic-compatible server, for tests and demos without network or key."""


@sim.command("serve")
@click.option(
    "--scenario",
    "scenario",
    required=True,
    metavar="NAME|FILE",
    help="The replies to give, step by step: a bundled scenario's name (such as `example`) "
    "or a scenario file (TOML or JSON).",
)
@click.option(
    "--port",
    default=0,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port on 127.0.0.1; 0 picks a free one.",
)
@click.pass_context
def sim_serve(ctx: click.Context, scenario: str, port: int) -> None:
    """Serve the Anthropic API on 127.0.0.1 from a scenario, until Ctrl-C."""
    import signal

    from devloop.sim import SimServer, find_scenario, load_scenario

    path = find_scenario(scenario, ctx.obj["start"])
    server = SimServer(load_scenario(path), port=port, log=lambda line: click.echo(line, err=True))
    try:
        server.start()
    except OSError as exc:
        raise UsageError(f"--port {port}: cannot listen on 127.0.0.1 ({exc.strerror}).") from exc
    click.echo(f"devloop sim: serving {path} at {server.base_url}")
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

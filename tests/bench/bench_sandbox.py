"""Benchmark: the wall time the OS sandbox adds to each command devloop runs.

Not a timed test (machines differ); run it by hand:

    python tests/bench/bench_sandbox.py [--runs 40]

It prepares the demo's sample repository (`devloop demo`'s `tally`, with its devloop.toml)
in a temporary directory and runs, interleaved so both see the same machine load:

- `true`: the cost of the sandbox itself (bwrap, namespaces, mounts);
- the demo's test command (`python -m unittest discover -s tests -q`);

each through devloop's runner twice: in the sandbox, and opted out (`[sandbox] mode =
"off"`: the same runner and environment, no bwrap). It prints the medians and the
difference, plus the one-off cost of building the sandbox for a run. The issue's target:
at most 30 ms added per command.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from devloop import config as config_mod
from devloop import sandbox
from devloop.demo import demo as demo_mod


def timed(runner: sandbox.Runner, command: str, cwd: Path) -> float:
    began = time.perf_counter()
    run = runner.run(command, cwd, 120)
    elapsed = time.perf_counter() - began
    if run.returncode != 0:
        raise SystemExit(f"`{command}` failed ({runner.label}):\n{run.output}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    found = sandbox.probe()
    if not found.ok:
        raise SystemExit(found.problem)
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        repo = demo_mod.prepare(Path(tmp) / "tally")
        cfg = config_mod.load(repo.root)
        began = time.perf_counter()
        boxed = sandbox.runner(cfg, required=True)
        build_ms = (time.perf_counter() - began) * 1000
        plain_cfg = config_mod.load(repo.root)
        sandbox.opt_out(plain_cfg, "bench")
        plain = sandbox.runner(plain_cfg)
        commands = {"true": "true", "demo tests": cfg.commands.test}
        print(f"{found.name}; {args.runs} runs each, interleaved; medians in ms")
        print(f"building the sandbox for a run (once): {build_ms:.1f} ms")
        print(f"{'command':<12} {'unsandboxed':>12} {'sandboxed':>10} {'added':>8}")
        for name, command in commands.items():
            timed(boxed, command, repo.root)  # warm caches on both sides
            timed(plain, command, repo.root)
            inside, outside = [], []
            for _ in range(args.runs):
                inside.append(timed(boxed, command, repo.root))
                outside.append(timed(plain, command, repo.root))
            a, b = statistics.median(outside) * 1000, statistics.median(inside) * 1000
            print(f"{name:<12} {a:>12.1f} {b:>10.1f} {b - a:>8.1f}")


if __name__ == "__main__":
    main()

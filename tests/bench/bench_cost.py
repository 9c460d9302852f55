"""Benchmark: `devloop cost --all` over a ledger of 100,000 calls (target: under 1 s).

Run by hand: `python tests/bench/bench_cost.py [calls] [runs]`. Builds the ledger in a temp
repository with one bulk insert (the real schema, created by `Ledger.open`), then prints
the median wall time of `devloop cost` run as a subprocess, as a user runs it.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from devloop.ledger import INSERT_CALL, Ledger, ledger_path
from devloop.steps import STEPS

FEATURES = 250
TIERS = {"frontier": "claude-opus-5-5", "mid": "claude-sonnet-5-5"}
STAMP = "2026-03-01T09:00:00.000000Z"


def build_ledger(root: Path, calls: int) -> None:
    Ledger.open(root).close()  # creates the schema through the real migrations
    rng = random.Random(7)
    model_steps = [s for s in STEPS if s.calls_model]
    conn = sqlite3.connect(ledger_path(root), isolation_level=None)
    conn.execute("BEGIN")
    slugs = [f"feature-{i:04d}" for i in range(FEATURES)]
    conn.executemany(
        "INSERT INTO features (slug, title, created_at, updated_at) VALUES (?, ?, ?, ?)",
        [(slug, slug.title(), STAMP, STAMP) for slug in slugs],
    )
    conn.executemany(
        "INSERT INTO step_runs (feature, step_number, step_key, worker, tier, model, status,"
        " started_at, ended_at) VALUES (?, ?, ?, ?, ?, ?, 'ok', ?, ?)",
        [
            (slug, s.number, s.key, s.worker, None if s.worker == "script" else s.default_tier,
             TIERS.get(s.default_tier), STAMP, STAMP)
            for slug in slugs for s in STEPS
        ],
    )  # fmt: skip

    def row(i: int) -> tuple:
        step = rng.choice(model_steps)
        tier = step.default_tier
        model = TIERS[tier] if rng.random() > 0.001 else "unpriced-model"
        inp, out = rng.randint(500, 50_000), rng.randint(100, 8_000)
        write, read = rng.randint(0, 5_000), rng.randint(0, 80_000)
        cost = None if model == "unpriced-model" else (inp + write + read + 5 * out) * 3_000_000
        baseline = (inp + write + read + 5 * out) * 15_000_000
        return (
            slugs[i % FEATURES], step.key, None, 1, tier, model, model,
            inp, write, 0, write, read, out, None, "standard", None, None, 0, 0, "{}",
            cost, baseline, TIERS["frontier"], "bench", 1000, "end_turn", f"req_{i}", "ok", 0,
            None, STAMP, baseline, None, None, None, None, STAMP,
        )  # fmt: skip

    conn.executemany(INSERT_CALL, (row(i) for i in range(calls)))
    conn.execute("COMMIT")
    conn.close()


def median_seconds(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr}")
    return statistics.median(times)


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "devloop.toml").write_text("")
        start = time.perf_counter()
        build_ledger(root, calls)
        size = ledger_path(root).stat().st_size / 1e6
        print(f"built {calls:,} calls over {FEATURES} features in "
              f"{time.perf_counter() - start:.1f} s ({size:.0f} MB)")  # fmt: skip
        devloop = [sys.executable, "-m", "devloop", "-C", str(root)]
        base = median_seconds([sys.executable, "-c", "pass"], runs)
        print(f"python -c pass                    median {base * 1000:7.1f} ms")
        for args in (
            ["cost", "--all"],
            ["cost", "--all", "--format", "json"],
            ["cost", "--all", "--by", "model"],
            ["cost", "feature-0007"],
        ):
            t = median_seconds([*devloop, *args], runs)
            verdict = "ok" if t < 1.0 else "TOO SLOW"
            print(
                f"devloop {' '.join(args):25s} median {t * 1000:7.1f} ms  ({runs} runs) {verdict}"
            )


if __name__ == "__main__":
    main()

"""Benchmark: `devloop cost --all` over a large ledger, on SQLite and on PostgreSQL.

Run by hand:
    python tests/bench/bench_cost.py [calls] [runs]                  # SQLite, 100,000 calls
    python tests/bench/bench_cost.py --postgresql [calls] [runs]     # 1,000,000 calls

SQLite (target: under 1 s at 100,000 calls): the ledger is built in a temp repository with
one bulk insert (the real schema, created by `Ledger.open`). PostgreSQL (target: `devloop
cost --all --by user` under 2 s at 1,000,000 calls): a throwaway server is started as the
test suite starts it (tests/pg_harness.py), the schema is created by `Ledger`, and the calls
are generated inside the server (one INSERT ... SELECT over generate_series), spread over
20 users, 8 hosts, 10 repositories and 90 days. Then it prints the median wall time of
`devloop cost` (and one `devloop metrics` scrape) run as a subprocess, as a user runs it.
"""

from __future__ import annotations

import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from devloop.ledger import Ledger, ledger_path
from devloop.ledger.schema import CALL_FIELDS, INSERT_CALL, TOTALS_FROM_CALLS
from devloop.steps import STEPS

FEATURES = 250
TIERS = {"frontier": "claude-opus-5-5", "mid": "claude-sonnet-5-5"}
STAMP = "2026-03-01T09:00:00.000000Z"
USERS, HOSTS, REPOSITORIES, DAYS = 20, 8, 10, 90


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

    def row(i: int) -> list:
        step = rng.choice(model_steps)
        tier = step.default_tier
        model = TIERS[tier] if rng.random() > 0.001 else "unpriced-model"
        inp, out = rng.randint(500, 50_000), rng.randint(100, 8_000)
        write, read = rng.randint(0, 5_000), rng.randint(0, 80_000)
        cost = None if model == "unpriced-model" else (inp + write + read + 5 * out) * 3_000_000
        baseline = (inp + write + read + 5 * out) * 15_000_000
        values = {
            "feature": slugs[i % FEATURES], "step_key": step.key, "attempt": 1, "tier": tier,
            "requested_model": model, "served_model": model, "input_tokens": inp,
            "cache_write_5m_tokens": write, "cache_write_1h_tokens": 0,
            "cache_creation_input_tokens": write, "cache_read_input_tokens": read,
            "output_tokens": out, "service_tier": "standard", "web_search_requests": 0,
            "web_fetch_requests": 0, "usage_json": "{}", "cost_pico": cost,
            "baseline_pico": baseline, "baseline_model": TIERS["frontier"],
            "price_version": "bench", "latency_ms": 1000, "stop_reason": "end_turn",
            "request_id": f"req_{i}", "outcome": "ok", "retries": 0, "created_at": STAMP,
            "same_usage_baseline_pico": baseline, "started_at": STAMP,
            "user_name": f"user{i % USERS}", "host": f"host{i % HOSTS}",
            "repository": f"repo{i % REPOSITORIES}", "branch": "main", "team": "bench",
        }  # fmt: skip
        return [values.get(name) for name in CALL_FIELDS]

    conn.executemany(INSERT_CALL.removesuffix(" RETURNING id"), (row(i) for i in range(calls)))
    conn.execute("COMMIT")
    conn.close()


def build_postgres_ledger(url: str, calls: int) -> None:
    """The calls generated in the server: one statement, the real schema and indexes."""
    import psycopg

    Ledger(url).close()  # creates the schema through the real migrations
    model_steps = [s.key for s in STEPS if s.calls_model]
    steps_array = "ARRAY[" + ", ".join(f"'{k}'" for k in model_steps) + "]"
    with psycopg.connect(url, autocommit=True) as conn:
        # One statement updating the same few metrics totals rows a million times would
        # leave each row a million versions long (MVCC): load with the trigger off, then
        # compute the totals as the migration does. (Real calls each commit on their own.)
        conn.execute("ALTER TABLE calls DISABLE TRIGGER calls_totals")
        conn.execute(
            "INSERT INTO features (slug, title, created_at, updated_at)"
            f" SELECT 'feature-' || lpad(g::text, 4, '0'), 'Feature', '{STAMP}', '{STAMP}'"
            f" FROM generate_series(0, {FEATURES - 1}) g"
        )
        conn.execute(
            f"""INSERT INTO calls (feature, step_key, attempt, tier, requested_model,
                served_model, input_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
                cache_creation_input_tokens, cache_read_input_tokens, output_tokens,
                service_tier, web_search_requests, web_fetch_requests, usage_json, cost_pico,
                baseline_pico, baseline_model, price_version, latency_ms, stop_reason,
                request_id, outcome, retries, created_at, same_usage_baseline_pico, started_at,
                user_name, host, repository, branch, team)
            SELECT 'feature-' || lpad((g % {FEATURES})::text, 4, '0'),
                ({steps_array})[1 + g % {len(model_steps)}],
                1, t.tier, t.model, t.model, t.inp, t.w, 0, t.w, t.r, t.o, 'standard', 0, 0,
                '{{}}', CASE WHEN g % 1000 = 0 THEN NULL
                        ELSE (t.inp + t.w + t.r + 5 * t.o) * 3000000 END,
                (t.inp + t.w + t.r + 5 * t.o) * 15000000, '{TIERS["frontier"]}', 'bench',
                1000, 'end_turn', 'req_' || g, 'ok', 0, t.at,
                (t.inp + t.w + t.r + 5 * t.o) * 15000000, t.at,
                'user' || (g % {USERS}), 'host' || (g % {HOSTS}),
                'repo' || (g % {REPOSITORIES}), 'main', 'bench'
            FROM generate_series(1::bigint, {calls}) g,
            LATERAL (SELECT
                CASE WHEN g % 3 = 0 THEN 'frontier' ELSE 'mid' END AS tier,
                CASE WHEN g % 1000 = 0 THEN 'unpriced-model'
                     WHEN g % 3 = 0 THEN '{TIERS["frontier"]}'
                     ELSE '{TIERS["mid"]}' END AS model,
                500 + (g * 7919) % 49500 AS inp, (g * 104729) % 5000 AS w,
                (g * 1299709) % 80000 AS r, 100 + (g * 15485863) % 7900 AS o,
                to_char(timestamp '2026-01-01' + ((g % {DAYS}) || ' days')::interval
                        + ((g % 86400) || ' seconds')::interval,
                        'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at) t"""
        )
        conn.execute(TOTALS_FROM_CALLS)
        conn.execute("ALTER TABLE calls ENABLE TRIGGER calls_totals")
        conn.execute("VACUUM ANALYZE calls")  # what autovacuum does after a bulk load


def median_seconds(argv: list[str], runs: int, env: dict[str, str] | None = None) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(
            argv, capture_output=True, text=True, check=False, env={**os.environ, **(env or {})}
        )
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr}")
    return statistics.median(times)


def report(devloop: list[str], commands: list[list[str]], runs: int, goal: float, env=None):
    base = median_seconds([sys.executable, "-c", "pass"], runs)
    print(f"python -c pass                              median {base * 1000:7.1f} ms")
    for args in commands:
        t = median_seconds([*devloop, *args], runs, env)
        verdict = "ok" if t < goal else "TOO SLOW"
        print(f"devloop {' '.join(args):35s} median {t * 1000:7.1f} ms  ({runs} runs) {verdict}")


def sqlite_main(calls: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "devloop.toml").write_text("")
        start = time.perf_counter()
        build_ledger(root, calls)
        size = ledger_path(root).stat().st_size / 1e6
        print(f"SQLite: built {calls:,} calls over {FEATURES} features in "
              f"{time.perf_counter() - start:.1f} s ({size:.0f} MB)")  # fmt: skip
        devloop = [sys.executable, "-m", "devloop", "-C", str(root)]
        commands = [
            ["cost", "--all"],
            ["cost", "--all", "--format", "json"],
            ["cost", "--all", "--by", "model"],
            ["cost", "--all", "--by", "user"],
            ["cost", "feature-0007"],
            ["metrics"],  # one scrape's worth: the running totals, not every call
        ]
        report(devloop, commands, runs, 1.0)


def postgres_main(calls: int, runs: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from pg_harness import Cluster, server_binaries

    bin_dir = server_binaries()
    if bin_dir is None:
        raise SystemExit("no PostgreSQL server binaries: apt-get install postgresql")
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="devloop-pg-bench-")), bin_dir).start()
    try:
        url = cluster.new_schema()
        start = time.perf_counter()
        build_postgres_ledger(url, calls)
        (size,) = cluster.admin("SELECT pg_database_size('devloop')")[0]
        print(f"PostgreSQL: built {calls:,} calls over {FEATURES} features, {USERS} users in "
              f"{time.perf_counter() - start:.1f} s ({size / 1e6:.0f} MB)")  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "devloop.toml").write_text("")
            devloop = [sys.executable, "-m", "devloop", "-C", str(root)]
            commands = [
                ["cost", "--all", "--by", "user"],
                ["cost", "--all", "--by", "repo"],
                ["cost", "--all", "--by", "day"],
                ["cost", "--all", "--by", "user", "--since", "2026-03-01"],
                ["cost", "--all"],
                ["cost", "feature-0007"],
                ["metrics"],  # one scrape's worth: the running totals, not every call
            ]
            report(devloop, commands, runs, 2.0, {"DEVLOOP_LEDGER_URL": url})
    finally:
        cluster.stop()


def main() -> None:
    args = sys.argv[1:]
    postgres = "--postgresql" in args
    args = [a for a in args if a != "--postgresql"]
    calls = int(args[0]) if args else (1_000_000 if postgres else 100_000)
    runs = int(args[1]) if len(args) > 1 else (5 if postgres else 7)
    (postgres_main if postgres else sqlite_main)(calls, runs)


if __name__ == "__main__":
    main()

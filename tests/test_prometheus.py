"""`devloop metrics --serve` scraped by a real Prometheus server (the Debian `prometheus`
package, started once for the session on 127.0.0.1), over a shared PostgreSQL ledger:
PromQL over Prometheus's HTTP API gives back the ledger's totals to the micro-dollar.
Skipped only where the binary is missing on a developer's machine; CI installs it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest

from devloop.ledger import CallRecord, Ledger, Origin

MICRO = Decimal("0.000001")
OPUS, SONNET = "claude-opus-5-5", "claude-sonnet-5-5"
# (repository, team, model, tier, step, cost): pico-dollar digits a float cannot hold all of.
CALLS = [
    ("shop", "platform", OPUS, "frontier", "plan", "0.123456789012"),
    ("shop", "platform", SONNET, "mid", "implement", "1.000000000001"),
    ("blog", "platform", SONNET, "mid", "review", "0.333333333333"),
    ("blog", "web", OPUS, "frontier", "plan", "2.718281828459"),
    ("blog", "web", OPUS, "frontier", "plan", None),  # unpriced: counted, never $0
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Prometheus:
    def __init__(self, web_port: int, target_port: int) -> None:
        self.web_port, self.target_port = web_port, target_port

    def query(self, promql: str) -> list[dict]:
        url = f"http://127.0.0.1:{self.web_port}/api/v1/query?" + urllib.parse.urlencode(
            {"query": promql}
        )
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return body["data"]["result"]

    def wait_for(self, promql: str, want, timeout: float = 60) -> list[dict]:
        """Poll until the query's result satisfies `want` (scrapes are every second)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(promql)
            if want(result):
                return result
            assert time.monotonic() < deadline, f"{promql}: still {result}"
            time.sleep(0.5)


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory):
    binary = shutil.which("prometheus")
    if binary is None:
        message = "the prometheus server is not installed: apt-get install prometheus"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; .ci/run installs it, so CI must have it")
        pytest.skip(message)
    home = tmp_path_factory.mktemp("prometheus")
    web_port, target_port = free_port(), free_port()
    (home / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: devloop\n    scrape_interval: 1s\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n"
    )
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={home / 'prometheus.yml'}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{web_port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(home / "prometheus.log").open("w"),
    )
    ready = f"http://127.0.0.1:{web_port}/-/ready"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(ready, timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        assert proc.poll() is None, (home / "prometheus.log").read_text()
        assert time.monotonic() < deadline, "prometheus did not become ready"
        time.sleep(0.2)
    yield Prometheus(web_port, target_port)
    proc.terminate()
    proc.wait(timeout=30)


def record(url: str, repository: str, team: str, model: str, tier: str, step: str, cost) -> None:
    origin = Origin("ada", "laptop", repository, "main", team)
    with Ledger(url, origin=origin) as ledger:
        ledger.record_call(
            CallRecord(
                feature=f"{repository}-feature",
                step_key=step,
                tier=tier,
                requested_model=model,
                served_model=model,
                outcome="ok",
                usage={"input_tokens": 1000, "output_tokens": 100},
                cost_usd=None if cost is None else Decimal(cost),
                baseline_usd=None if cost is None else Decimal(cost) * 2,
                baseline_model=OPUS,
            )
        )


def value(result: list[dict]) -> Decimal:
    (sample,) = result
    return Decimal(sample["value"][1])


def test_prometheus_scrapes_the_shared_ledger_to_the_micro_dollar(
    prometheus, pg_url, git_repo, run_devloop
):
    for call in CALLS:
        record(pg_url, *call)
    env = {**os.environ, "DEVLOOP_LEDGER_URL": pg_url}
    report = run_devloop(git_repo, "cost", "--all", "--format", "json", env=env)
    assert report.returncode == 0, report.stderr
    ledger_total = Decimal(json.loads(report.stdout)["total"]["cost_usd"])
    assert ledger_total == Decimal("4.175071950805")  # the priced CALLS, summed by hand
    server = subprocess.Popen(
        [sys.executable, "-m", "devloop", "-C", str(git_repo), "metrics", "--serve",
         f"127.0.0.1:{prometheus.target_port}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        up = prometheus.wait_for('up{job="devloop"} == 1', bool)
        assert up[0]["metric"]["instance"] == f"127.0.0.1:{prometheus.target_port}"
        total = value(prometheus.wait_for("sum(devloop_llm_cost_usd_total)", bool))
        assert total.quantize(MICRO) == ledger_total.quantize(MICRO)
        # The labels break the team's ledger down as the ledger does.
        by_repo = {
            r["metric"]["repository"]: Decimal(r["value"][1]).quantize(MICRO)
            for r in prometheus.query("sum by (repository) (devloop_llm_cost_usd_total)")
        }
        assert by_repo == {"shop": Decimal("1.123457"), "blog": Decimal("3.051615")}
        by_team = prometheus.query('sum(devloop_llm_cost_usd_total{team="web"})')
        assert value(by_team).quantize(MICRO) == Decimal("2.718282")
        requests = prometheus.query('sum(devloop_llm_requests_total{tier="frontier"})')
        assert value(requests) == 3  # the unpriced call is counted
        # Each scrape reads the ledger afresh: a call recorded now shows up.
        record(pg_url, "shop", "platform", SONNET, "mid", "docs", "0.000001")
        later = prometheus.wait_for(
            "sum(devloop_llm_cost_usd_total)",
            lambda r: bool(r) and value(r).quantize(MICRO) != total.quantize(MICRO),
        )
        assert value(later).quantize(MICRO) == (ledger_total + MICRO).quantize(MICRO)
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert f"serving metrics at http://127.0.0.1:{prometheus.target_port}/metrics" in err
    assert "stopped serving metrics." in err


@pytest.mark.parametrize(
    ("address", "expected"),
    [("9464", "give HOST:PORT"), ("127.0.0.1:http", "give HOST:PORT"), ("busy", "cannot listen")],
)
def test_a_bad_or_busy_address_is_exit_2(git_repo, run_devloop, address, expected):
    with Ledger.open(git_repo) as ledger:  # something to serve
        ledger.ensure_feature("x")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        if address == "busy":
            address = f"127.0.0.1:{taken.getsockname()[1]}"
        proc = run_devloop(git_repo, "metrics", "--serve", address)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr and "Traceback" not in proc.stderr


def test_a_textfile_and_a_server_at_once_is_exit_2(git_repo, run_devloop, tmp_path: Path):
    proc = run_devloop(
        git_repo, "metrics", "--serve", "127.0.0.1:9", "--textfile", str(tmp_path / "x.prom")
    )
    assert proc.returncode == 2 and "not both" in proc.stderr

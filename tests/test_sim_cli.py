"""`devloop sim serve` as a real process: prints its URL, answers the SDK, stops on Ctrl-C."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import anthropic

from devloop.errors import EXIT_USAGE

PROJECT_ROOT = Path(__file__).resolve().parent.parent

SCENARIO = """
[[steps.plan]]
text = "Plan from the sim."

[[steps.plan]]
text = "never used"
"""


def _lines(stream, out: queue.Queue) -> None:
    for line in stream:
        out.put(line)
    out.put(None)


def test_serve_subprocess_answers_the_sdk_and_stops_on_ctrl_c(tmp_path: Path):
    (tmp_path / "scenario.toml").write_text(SCENARIO)
    proc = subprocess.Popen(
        [sys.executable, "-m", "devloop", "-C", str(tmp_path), "sim", "serve"]
        + ["--scenario", "scenario.toml", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    out: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, out), daemon=True).start()
    try:
        base_url = None
        printed = []
        while base_url is None:
            line = out.get(timeout=30)
            assert line is not None, f"server exited early: {proc.stderr.read()}"
            printed.append(line)
            if "ANTHROPIC_BASE_URL=" in line:
                base_url = line.split("ANTHROPIC_BASE_URL=", 1)[1].strip()
        assert base_url.startswith("http://127.0.0.1:")

        sdk = anthropic.Anthropic(base_url=base_url, api_key="any", max_retries=0)
        message = sdk.messages.create(
            model="claude-sonnet-5",
            max_tokens=100,
            messages=[{"role": "user", "content": "plan it"}],
            extra_headers={"X-Devloop-Step": "plan"},
        )
        assert message.content[0].text == "Plan from the sim."
        sdk.close()

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
        rest = []
        while (line := out.get(timeout=5)) is not None:
            rest.append(line)
        output = "".join(printed + rest)
        assert "export ANTHROPIC_API_KEY=" in output
        assert "stopped after 1 request(s)" in output
        assert "replies never used: plan (1)" in output
        assert "POST /v1/messages step=plan -> 200" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_with_a_broken_scenario_is_a_usage_error(tmp_path: Path, run_devloop):
    (tmp_path / "bad.toml").write_text("[[steps.plan]]\ntxt = 'typo'\n")
    result = run_devloop(tmp_path, "sim", "serve", "--scenario", "bad.toml")
    assert result.returncode == EXIT_USAGE
    assert "unknown key(s) ['txt']" in result.stderr
    missing = run_devloop(tmp_path, "sim", "serve", "--scenario", "nope.toml")
    assert missing.returncode == EXIT_USAGE
    assert missing.stderr.startswith(
        f"devloop: error: --scenario nope.toml: is no file ({tmp_path / 'nope.toml'}) and no "
        "bundled scenario has that name."
    )
    assert "a bundled name: example" in missing.stderr
    typo = run_devloop(tmp_path, "sim", "serve", "--scenario", "exampel")
    assert typo.returncode == EXIT_USAGE and "Did you mean 'example'?" in typo.stderr
    assert "Traceback" not in missing.stderr + typo.stderr


def serve_and_ask(argv: list[str], cwd: Path, env: dict[str, str], step: str) -> tuple[str, str]:
    """Start `devloop sim serve` as a process, ask it one question as `step`, stop it with
    Ctrl-C: (the path it said it serves, the answer's text)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "devloop", "sim", "serve", *argv, "--port", "0"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "PYTHONUNBUFFERED": "1"},
    )
    out: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, out), daemon=True).start()
    try:
        first = out.get(timeout=30)
        assert first is not None, proc.stderr.read()
        served, base_url = first.removeprefix("devloop sim: serving ").rsplit(" at ", 1)
        sdk = anthropic.Anthropic(base_url=base_url.strip(), api_key="any", max_retries=0)
        message = sdk.messages.create(
            model="claude-sonnet-5-5",
            max_tokens=2000,
            messages=[{"role": "user", "content": "look at the code"}],
            extra_headers={"X-Devloop-Step": step},
        )
        sdk.close()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
        return served, message.content[0].text
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_finds_a_bundled_scenario_by_name_outside_the_checkout(tmp_path: Path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    served, text = serve_and_ask(["--scenario", "example"], outside, dict(os.environ), "research")
    assert Path(served) == PROJECT_ROOT / "devloop" / "sim" / "scenarios" / "example.toml"
    assert text == "I'll find where sessions are made."  # the example's first research reply


def test_an_installed_wheel_serves_its_bundled_example(wheel_site, tmp_path: Path):
    env = dict(os.environ, PYTHONPATH=str(wheel_site))
    served, text = serve_and_ask(["--scenario", "example"], tmp_path, env, "default")
    assert Path(served).resolve().is_relative_to(wheel_site.resolve())
    assert Path(served).name == "example.toml"
    assert text.startswith("Hello from the devloop sim.")

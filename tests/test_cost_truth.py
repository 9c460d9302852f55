"""Cost truth, against the offline server: a call is priced at the model that served it,
no interleaving of concurrent steps crosses a ceiling, nothing billed goes unrecorded, a
recorded answer is never bought twice, a paused turn is continued, an unknown stop reason
is never an answer, and a ledger that lost data says so. Amounts are exact pico-dollars.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
from door_harness import ask
from loop_harness import SLUG, build_phase, feature_dir, plan_phase, read_state, spawn

from devloop import model
from devloop.errors import EXIT_API, EXIT_BUDGET, BudgetExceeded, UnpricedModelError
from devloop.ledger import Ledger, pico_to_usd, usd_to_pico
from devloop.model import worstcase

OPUS, SONNET = "claude-opus-5-5", "claude-sonnet-5-5"
PER_MTOK = {  # USD per million tokens (prices.toml): input, 5m write, read, output
    OPUS: (Decimal(4), Decimal(5), Decimal("0.20"), Decimal(20)),
    SONNET: (Decimal(2), Decimal("2.50"), Decimal("0.10"), Decimal(10)),
}


def pico(row: sqlite3.Row, model: str) -> int:
    """A call's cost in pico-USD, by hand from its token columns and the model's rates."""
    inp, write, read, out = PER_MTOK[model]
    usd = (
        row["input_tokens"] * inp
        + row["cache_write_5m_tokens"] * write
        + row["cache_read_input_tokens"] * read
        + row["output_tokens"] * out
    ) / 1_000_000
    return usd_to_pico(usd)


# ------------------------------------------------------------ priced at the served model


def test_a_known_served_model_is_priced_at_its_own_rates_and_flagged(harness):
    h = harness({"review": [{"text": "No findings.", "model": OPUS}]})
    reply = h.door.call("review", "mid", ask("Review this diff."))
    assert reply.model == OPUS and reply.text == "No findings."  # warned, used
    (row,) = h.rows()
    assert row["requested_model"] == SONNET and row["served_model"] == OPUS
    assert row["outcome"] == "model_mismatch"
    assert row["cost_pico"] == pico(row, OPUS)  # what Opus bills, not the Sonnet price
    assert row["cost_pico"] > pico(row, SONNET)
    (warning,) = [w for w in h.warnings if "model_mismatch" in w]
    assert f"asked for {SONNET} but {OPUS} answered" in warning


def test_an_unpriced_served_model_fails_the_call_and_stops_the_next(harness):
    h = harness(
        {"review": [{"text": "ok", "model": "claude-mystery-9"}], "audit": [{"text": "x"}]},
        feature_usd=5,
    )
    with pytest.raises(model.ModelMismatchError) as info:
        h.door.call("review", "mid", ask("Review."))
    assert info.value.exit_code == EXIT_API
    assert f"asked for {SONNET} but claude-mystery-9 answered" in info.value.message
    (row,) = h.rows()
    assert row["outcome"] == "model_mismatch" and row["cost_pico"] is None  # never $0
    with pytest.raises(BudgetExceeded) as stopped:
        h.door.call("audit", "frontier", ask("Audit."))
    assert stopped.value.exit_code == EXIT_BUDGET
    assert "could not be priced" in stopped.value.message
    assert len(h.sim.message_requests()) == 1  # the next call was never sent
    # A person settles it with the amount the console shows; the ceiling holds again.
    h.ledger.settle_unpriced_by_hand(row["id"], Decimal("0.25"))
    assert h.ledger.committed("login").pico == usd_to_pico(Decimal("0.25"))
    assert h.door.call("audit", "frontier", ask("Audit.")).text == "x"


# ------------------------------------------------------------ reservations


def test_the_worst_case_includes_the_cache_write_premium(harness):
    """A cached prompt is billed as a cache write (1.25x): the old worst case priced all
    input at the base rate, and a call could be billed past a ceiling it seemed to fit."""
    h = harness({"research": [{"text": "x" * 40}, {"text": "y" * 40}]})
    request = ask(max_tokens=10)
    params = model.build_params(request, OPUS, None)
    old_worst = (model.estimate_input_tokens(params) * 4 + 10 * 20) / Decimal(1_000_000)
    new_worst = worstcase.worst_case_usd(OPUS, params)
    usage = worstcase.worst_case_usage(params)
    assert usage["input_tokens"] < usage["cache_creation_input_tokens"]  # priced as writes
    h.door.feature_budget_usd = old_worst
    with pytest.raises(BudgetExceeded, match="could cost up to"):
        h.door.call("research", "frontier", request)
    assert h.sim.requests == []  # never sent
    h.door.feature_budget_usd = new_worst
    h.door.call("research", "frontier", request)
    (row,) = h.rows()
    assert row["cache_write_5m_tokens"] > 1000  # the prompt was written to the cache
    assert row["cost_pico"] == pico(row, OPUS)
    assert row["cost_pico"] > usd_to_pico(old_worst)  # the old guard would have been crossed
    assert row["cost_pico"] <= usd_to_pico(new_worst)  # the reservation never is
    (held,) = sqlite3.connect(h.db).execute("SELECT worst_pico, status FROM reservations")
    assert held == (usd_to_pico(new_worst), "settled")


def test_concurrent_calls_share_one_ceiling(harness):
    """Two threads, one ceiling that fits either call but not both: one request is sent."""
    answer = {
        "json": {"coverage": [], "findings": [], "verdict": "pass"},
        "delay": 1.0,
    }  # 1 s generating
    h = harness({"validate-requirements": [answer, answer]})
    request = ask(schema={"type": "object", "properties": {}, "additionalProperties": True})
    params = model.build_params(request, OPUS, None)
    worst = worstcase.worst_case_usd(OPUS, params)
    h.door.feature_budget_usd = worst + worst / 2
    outcomes: list[str] = []

    def step(key: str) -> None:
        try:
            h.door.call(key, "frontier", request)
            outcomes.append("sent")
        except BudgetExceeded:
            outcomes.append("refused")

    threads = [threading.Thread(target=step, args=(k,)) for k in ("validate-requirements",) * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "sent"]
    assert len(h.sim.message_requests()) == 1
    assert h.ledger.committed("login").pico <= usd_to_pico(h.door.feature_budget_usd)


def reservations(repo: Path) -> list[tuple]:
    db = sqlite3.connect(repo / ".devloop" / "ledger.db")
    return db.execute(
        "SELECT step_key, worst_pico, status FROM reservations ORDER BY id"
    ).fetchall()


def committed_pico(repo: Path) -> int:
    with Ledger.open(repo) as ledger:
        return ledger.committed(SLUG).pico


@pytest.mark.parametrize(
    ("pair", "stop", "again"),
    [
        (("validate-requirements", "validate-integration"), "4", "validate-requirements"),
        (("review", "audit"), "10", "review"),
    ],
    ids=["steps 3 and 4", "steps 9 and 10"],
)
def test_concurrent_steps_never_spend_past_the_ceiling(
    repo, sim, devloop, agent, pair, stop, again
):
    first, second = pair
    steps = {**plan_phase(), **build_phase(review=[{"json": {"findings": []}}])}
    for key in pair:  # a second answer each, for the re-run below, taking 1 s to generate
        steps[key] = steps[key] + [{**steps[key][0], "delay": 1.0}]
    server = sim(steps)
    assert (
        devloop(repo, "feature", "specs/goodbye.md", "--stop-after", stop, "--budget", "50").code
        == 0
    )
    # The same requests again (--from): the worst case each reserved the first time.
    worst = {key: w for key, w, _ in reservations(repo) if key in pair}
    spent = committed_pico(repo)
    ceiling = spent + max(worst.values()) + 1  # fits either call, never both
    before = server.count(first) + server.count(second)
    budget = str(pico_to_usd(ceiling))
    result = devloop(
        repo, "resume", SLUG, "--from", again, "--budget", budget, "--stop-after", stop
    )
    assert result.code == EXIT_BUDGET, result
    assert server.count(first) + server.count(second) == before + 1  # the server saw one
    assert committed_pico(repo) <= ceiling
    statuses = {k: read_state(repo)["steps"][k]["status"] for k in pair}
    assert sorted(statuses.values()) == ["budget", "done"]


# ------------------------------------------------------------ nothing billed unrecorded


def test_a_call_in_flight_at_kill_9_is_unsettled_shown_and_counted(repo, sim, devloop):
    server = sim(plan_phase(research=[{"text": "notes", "delay": 60}, {"text": "notes again"}]))
    proc = spawn(repo, server.env, "feature", "specs/goodbye.md", "--budget", "5")
    deadline = time.monotonic() + 30
    while server.count("research") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # the response has begun; its answer is still being generated
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    ((step, worst, status),) = reservations(repo)
    assert (step, status) == ("research", "open") and worst > 0
    db = sqlite3.connect(repo / ".devloop" / "ledger.db")
    assert db.execute("SELECT COUNT(*) FROM calls").fetchone() == (0,)
    # Shown: in the cost report, its JSON, and the status.
    report = json.loads(devloop(repo, "cost", "--format", "json").out)
    assert report["unsettled_calls"] == 1
    assert report["unsettled_worst_usd"] == f"{pico_to_usd(worst):.12f}"
    assert "1 call unsettled" in devloop(repo, "cost").out
    assert "1 unsettled call(s)" in devloop(repo, "status").out
    # Counted: a ceiling that the recorded spend ($0) leaves room for, but not with it.
    budget = str(pico_to_usd(worst + worst // 2))
    result = devloop(repo, "resume", SLUG, "--budget", budget)
    assert result.code == EXIT_BUDGET, result
    assert "in flight when it stopped" in result.err and "held by 1 call(s)" in result.err
    assert server.count("research") == 1
    # Settled by hand (the console showed nothing billed): the run goes on.
    (held_id,) = db.execute("SELECT id FROM reservations").fetchone()
    settled = devloop(repo, "cost", "--settle", str(held_id), "--usd", "0")
    assert settled.code == 0, settled
    assert devloop(repo, "resume", SLUG, "--stop-after", "1").code == 0
    assert server.count("research") == 2


def test_an_answer_in_the_transcripts_but_not_the_ledger_is_recorded_on_resume(harness):
    h = harness({"research": [{"text": "the notes"}]})
    h.door.call("research", "frontier", ask())
    (row,) = h.rows()
    step, params, reply, meta = h.log.items[0]
    # As if the process died between the transcript and the ledger row: a fresh ledger
    # holding only the open reservation, and the transcript.
    conn = sqlite3.connect(h.db)
    conn.execute("DROP TRIGGER calls_no_delete")
    conn.execute("DELETE FROM calls")
    conn.execute("UPDATE reservations SET status = 'open', call_id = NULL, pid = 999999")
    conn.commit()
    conn.close()
    left = h.door.recover()
    assert left == []
    (again,) = h.rows()
    assert again["cost_pico"] == row["cost_pico"] and again["step_key"] == "research"
    assert again["reservation_id"] == meta["reservation"]
    assert any("had not booked" in w for w in h.warnings)


def test_a_recorded_answer_is_used_again_not_bought_again(repo, sim, devloop, monkeypatch):
    """The research call was answered and recorded, then the run stopped before the step
    was marked done: the resume uses the recorded answer."""
    server = sim(plan_phase())
    from devloop.loop import steprun

    complete = steprun.complete
    cut = {"done": False}

    def cut_off(run, step, produced):
        if step.key == "research" and not cut["done"]:
            cut["done"] = True
            raise KeyboardInterrupt  # the kill lands after the ledger row, before "done"
        complete(run, step, produced)

    monkeypatch.setattr(steprun, "complete", cut_off)
    result = devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "1")
    assert result.code == 130, result
    assert read_state(repo)["steps"]["research"]["status"] == "interrupted"
    assert server.count("research") == 1
    result = devloop(repo, "resume", SLUG, "--stop-after", "2")
    assert result.code == 0, result
    assert server.count("research") == 1  # not bought again
    assert "used the answer recorded before the earlier run was cut off" in result.err
    notes = (feature_dir(repo) / "01-research.md").read_text()
    assert notes.startswith("## Relevant code")


# ------------------------------------------------------------ stop reasons


def test_a_paused_turn_is_continued_and_each_part_recorded(harness):
    h = harness(
        {
            "research": [
                {"text": "The first half, ", "stop_reason": "pause_turn"},
                {"text": "and the second half."},
            ]
        }
    )
    reply = h.door.call("research", "frontier", ask())
    assert reply.text == "The first half, and the second half."
    assert [r["outcome"] for r in h.rows()] == ["paused", "ok"]
    first, second = h.sim.message_requests("research")
    assert second.body["messages"][:-1] == first.body["messages"]
    assert second.body["messages"][-1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "The first half, ", "citations": None}],
    }
    assert sum(r["cost_pico"] for r in h.rows()) == sum(pico(r, OPUS) for r in h.rows())


def test_a_turn_paused_too_often_is_an_error(harness):
    h = harness({"research": [{"text": "more", "stop_reason": "pause_turn", "times": 3}]})
    h.cfg.api.max_continuations = 2
    with pytest.raises(model.PausedReplyError, match=r"still paused .* after 2 continuation"):
        h.door.call("research", "frontier", ask())
    assert [r["outcome"] for r in h.rows()] == ["paused"] * 3


def test_an_unknown_stop_reason_is_never_an_answer(harness):
    h = harness({"research": [{"text": "half an answer", "stop_reason": "compaction_needed"}]})
    with pytest.raises(model.UnknownStopError, match="'compaction_needed'"):
        h.door.call("research", "frontier", ask())
    (row,) = h.rows()
    assert row["outcome"] == "unknown_stop" and row["cost_pico"] == pico(row, OPUS)


# ------------------------------------------------------------ a ledger that lost data


def test_an_empty_ledger_with_spending_state_is_an_error(repo, sim, devloop):
    sim(plan_phase())
    assert devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "1").code == 0
    ledger = repo / ".devloop" / "ledger.db"
    for extra in ("-wal", "-shm"):
        Path(f"{ledger}{extra}").unlink(missing_ok=True)
    ledger.write_bytes(b"")
    for args in (("status",), ("cost",), ("resume", SLUG)):
        result = devloop(repo, *args)
        assert result.code == 2, (args, result)
        assert "is empty, but the feature state" in result.err and SLUG in result.err
        assert "Restore the ledger from a backup" in result.err
    ledger.unlink()
    result = devloop(repo, "status")
    assert result.code == 2 and "is missing" in result.err


def test_budgets_are_decimal_from_config_to_ledger(repo):
    from devloop import config as config_mod

    with (repo / "devloop.toml").open("a") as config:
        config.write("\n[budget]\nfeature_usd = 0.1\nstep_usd = 0.03\n")
    cfg = config_mod.load(repo)
    assert cfg.budget.feature_usd == Decimal("0.1") and cfg.budget.step_usd == Decimal("0.03")
    assert isinstance(cfg.budget.feature_usd, Decimal)
    with pytest.raises(UnpricedModelError):  # money never passes through float
        worstcase.worst_case_usd("claude-mystery-9", {"messages": [], "max_tokens": 1})

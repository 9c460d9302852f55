"""`devloop eval`: known-answer canaries, scored exactly, priced into the ledger as eval."""

from __future__ import annotations

import json
import re
import sqlite3

from devloop.evals import load_cases


def _finding(location: str, severity: str = "high", problem: str = "planted") -> dict:
    return {"severity": severity, "location": location, "problem": problem, "suggestion": "fix"}


def _verdict(findings: list[dict], verdict: str = "fail") -> dict:
    return {"coverage": [], "findings": findings, "verdict": verdict}


CORE = "textstats/core.py"
WORD_COUNT = "    return len(text.split())\n"
TOP_WORDS_RIGHT = (
    WORD_COUNT
    + """

def top_words(text: str, n: int) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for raw in text.split():
        word = raw.strip(".,!?;:").lower()
        if word:
            counts[word] = counts.get(word, 0) + 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]
"""
)
# Passes the test the agent is shown, not the hidden ones (case, punctuation, ties).
TOP_WORDS_WRONG = (
    WORD_COUNT
    + """

def top_words(text, n):
    from collections import Counter

    return Counter(text.split()).most_common(n)
"""
)


def _implement(new: str) -> list[dict]:
    edit = {"command": "str_replace", "path": CORE, "old_str": WORD_COUNT, "new_str": new}
    return [
        {"tool_use": {"name": "str_replace_based_edit_tool", "input": edit}},
        {"text": f"{CORE}: added top_words"},
    ]


RIGHT = {
    "validate-requirements": [{"json": _verdict([_finding("Requirement 2", "critical",
                                                          "`report --json` is not planned")])}],
    "validate-integration": [{"json": _verdict([_finding(
        "app/settings.py: load", "critical", "load(path, *, defaults) takes no strict flag")])}],
    "double-check": [{"json": _verdict([_finding("Changes: api/headers.py", "critical",
                                                 "no task adds X-RateLimit-Remaining")])}],
    "review": [{"json": {"findings": [_finding("src/pager.py:12", "high", "off by one page")]}}],
    "audit": [
        {"json": {"findings": [_finding("src/export.py:5-6", "critical", "no path, no count")]}},
        {"json": {"findings": [_finding("src/logs.py:6", "critical", "shell injection")]}},
    ],
    "e2e": [{"text": "## Failures\n- test_filter_by_month\n## Likely causes\n"
                     "src/dates.py parse_date only splits on '/'."}],
    "implement": _implement(TOP_WORDS_RIGHT),
}  # fmt: skip
WRONG = {
    "validate-requirements": [{"json": _verdict([], "pass")}],
    "validate-integration": [{"json": _verdict([_finding("plan", "high", "tests are thin")])}],
    "double-check": [{"json": _verdict([], "pass")}],
    "review": [{"json": {"findings": [_finding("src/pager.py:12", "low", "naming")]}}],
    "audit": [{"json": {"findings": []}}, {"json": {"findings": [_finding("src/logs.py:40")]}}],
    "e2e": [{"text": "## Failures\n- a test fails\n## Likely causes\nunclear"}],
    "implement": _implement(TOP_WORDS_WRONG),
}
MISSED = {
    "requirements-missing-json": "verdict 'pass', expected 'fail'",
    "integration-wrong-signature": "failed the plan without naming load",
    "double-check-dropped-item": "verdict 'pass', expected 'fail'",
    "review-off-by-one": "reported src/pager.py:12 only as low",
    "audit-contract-violation": "no finding at src/export.py:5",
    "audit-shell-injection": "no finding at src/logs.py:6",
    "triage-cause-in-changed-file": "did not name src/dates.py, parse_date",
    "implement-top-words": "the hidden tests failed (FAILED (failures=2))",
}


def test_the_bundled_cases_cover_every_judged_step():
    steps = {c.step.key for c in load_cases()}
    assert steps == {"validate-requirements", "validate-integration", "double-check",
                     "review", "audit", "e2e", "implement"}  # fmt: skip
    assert {c.id for c in load_cases()} == set(MISSED)


def test_right_answers_pass_wrong_ones_fail_and_each_miss_is_named(repo, sim, devloop):
    server = sim(RIGHT)
    good = devloop(repo, "eval", "--tier", "mid", "--json")
    assert good.code == 0, good
    doc = json.loads(good.out)
    assert doc["schema"] == "devloop.eval/1"
    assert [(c["case"], c["tier"], c["passed"]) for c in doc["cases"]] == [
        (case, "mid", True) for case in sorted(MISSED, key=_order)
    ]
    assert all(c["cost_usd"] and c["input_tokens"] > 0 for c in doc["cases"])
    assert server.count() == 9  # one call per case, two for the implement case
    server.server.close()

    sim(WRONG)
    bad = devloop(repo, "eval", "--tier", "mid", "--json")
    assert bad.code == 1, bad
    doc = json.loads(bad.out)
    assert {c["case"]: c["missed"] for c in doc["cases"]} == MISSED
    assert not any(c["passed"] for c in doc["cases"])
    assert "review on mid: 1/1 in eval-" in "\n".join(doc["drift"])  # against the first run
    assert "8 of 8 eval answer(s) missed" in bad.err
    # The failed implement case's repository is kept to read; the passing one's is not.
    kept = sorted((repo / ".devloop" / "evals" / "work").glob("*/implement-top-words-mid-1"))
    assert [k.parent.name for k in kept] == [doc["slug"]]
    assert "most_common" in (kept[0] / "repo" / "textstats" / "core.py").read_text()
    assert "the repository is kept in" in bad.err
    assert "implement on mid: 1/1 in eval-" in "\n".join(doc["drift"])


def test_eval_calls_are_priced_as_their_own_tagged_feature(repo, sim, devloop):
    sim({step: replies * 2 for step, replies in RIGHT.items()})
    result = devloop(repo, "eval", "--tier", "mid", "--tier", "frontier", "--steps", "review")
    assert result.code == 0, result
    assert re.search(r"review\s+frontier\s+1/1", result.out)
    assert re.search(r"review\s+mid\s+1/1", result.out)
    db = sqlite3.connect(repo / ".devloop" / "ledger.db")
    (slug, tag) = db.execute("SELECT slug, tag FROM features").fetchone()
    assert slug.startswith("eval-") and tag == "eval"
    tiers = [row[0] for row in db.execute("SELECT tier FROM calls ORDER BY id")]
    assert tiers == ["mid", "frontier"]  # in the order --tier gave them
    cost = json.loads(devloop(repo, "cost", slug, "--format", "json").out)
    assert cost["total"]["calls"] == 2 and cost["feature"]["tag"] == "eval"
    assert (repo / ".devloop" / "evals" / f"{slug}.json").is_file()


def test_a_users_own_cases_are_added_and_a_bad_one_is_refused(repo, sim, devloop, tmp_path):
    mine = tmp_path / "cases"
    mine.mkdir()
    (mine / "my-review.toml").write_text(
        'step = "review"\n[inputs]\ndiff = "+x = 1"\n[judge]\nlocation = "a.py:1"\n'
    )
    sim({"review": [{"json": {"findings": [_finding("a.py:1")]}}, *RIGHT["review"]]})
    result = devloop(repo, "eval", "--tier", "mid", "--steps", "review", "--cases", str(mine))
    assert result.code == 0, result
    assert re.search(r"review\s+mid\s+2/2", result.out)
    (mine / "bad.toml").write_text('step = "remediate"\n[judge]\nmentions = ["x"]\n')
    refused = devloop(repo, "eval", "--cases", str(mine))
    assert refused.code == 2 and "step 'remediate' has no eval cases" in refused.err
    (mine / "bad.toml").write_text('step = "implement"\n[judge]\nhidden_tests = {}\n')
    refused = devloop(repo, "eval", "--cases", str(mine))
    assert refused.code == 2 and "an implement case needs [files]" in refused.err


def _order(case: str) -> tuple:
    step = {c.id: c.step.number for c in load_cases()}[case]
    return (step, case)


def test_suggest_reports_what_the_latest_eval_missed(repo, sim, devloop):
    sim(WRONG)
    assert devloop(repo, "eval", "--tier", "mid", "--steps", "review").code == 1
    out = json.loads(devloop(repo, "suggest", "--json").out)
    (line,) = [n for n in out["notes"] if n.startswith("eval ")]
    assert "review on mid missed 1 of 1 canaries" in line
    assert "reported src/pager.py:12 only as low" in line

"""The frontier baseline predicts a real all-frontier run: `devloop ab` against the offline
server, three scenarios. The routed arm's baseline (what its calls would have cost on the
frontier model, through one prompt cache) must come within 3% of what the all-frontier arm
actually cost.

- the demo's scenario (the real build agent, real edits and tests);
- a run that switches model at almost every step (every other model step is frontier);
- a run that stays on one model but for one step.
"""

from __future__ import annotations

import json
import tomllib
from decimal import Decimal
from importlib import resources

from loop_harness import build_phase, git, plan_phase

from devloop.demo import demo as demo_mod

TOLERANCE = Decimal("0.03")


def doubled(steps: dict) -> dict:
    """Each step's replies for both arms, which run one after the other."""
    return {key: list(replies) + list(replies) for key, replies in steps.items()}


def arms(result) -> tuple[dict, dict]:
    assert result.code == 0, result
    data = json.loads(result.out)["arms"]
    return data["routed"], data["frontier"]


def close(routed: dict, frontier: dict) -> Decimal:
    """The routed arm's baseline against the frontier arm's cost: the relative error."""
    predicted, actual = Decimal(routed["baseline_usd"]), Decimal(frontier["cost_usd"])
    assert frontier["baseline_usd"] == frontier["cost_usd"]  # all frontier: no difference
    return abs(predicted - actual) / actual


def test_demo_scenario_baseline_predicts_the_all_frontier_arm(tmp_path, sim, devloop):
    repo = demo_mod.prepare(tmp_path / "tally")
    text = resources.files("devloop.demo").joinpath("scenario.toml").read_text()
    steps = tomllib.loads(text)["steps"]
    server = sim(doubled(steps))
    routed, frontier = arms(devloop(repo.root, "ab", demo_mod.SPEC_PATH, "--json"))
    assert routed["status"] == frontier["status"] == "done"
    assert routed["calls"] == frontier["calls"] == 24 and server.count() == 48
    error = close(routed, frontier)
    assert Decimal(routed["cost_usd"]) < Decimal(frontier["cost_usd"])
    print(
        f"demo: routed ${routed['cost_usd']}, baseline ${routed['baseline_usd']} (same usage "
        f"${routed['same_usage_baseline_usd']}), all-frontier arm ${frontier['cost_usd']} "
        f"(error {error:.2%})"
    )
    assert error <= TOLERANCE


def overrides(repo, tiers: dict[str, str]) -> None:
    """Route the steps as given, and give the project enough text that the prompt prefix
    is cached (past the models' minimum cacheable length)."""
    lines = "\n".join(f'{step} = "{tier}"' for step, tier in tiers.items())
    with (repo / "devloop.toml").open("a") as config:
        config.write(f"\n[routing.steps]\n{lines}\n")
    guide = "".join(
        f"## Rule {i}\n\nEvery greeting function returns a word; rule {i}.\n\n" for i in range(120)
    )
    (repo / "GUIDE.md").write_text("# Style guide\n\n" + guide)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "chore: routing for the A/B, and a style guide")


SWITCHING = {
    "research": "frontier",  # its own cache group (tools): nothing to split
    "plan": "frontier",
    "validate-requirements": "mid",
    "validate-integration": "frontier",
    "build-plan": "frontier",
    "double-check": "mid",
    "implement": "frontier",
    "review": "frontier",
    "audit": "mid",
    "commit": "frontier",
}
MOSTLY_MID = dict.fromkeys(SWITCHING, "mid") | {"audit": "frontier"}


def test_a_run_switching_model_at_almost_every_step(repo, sim, devloop, agent):
    overrides(repo, SWITCHING)
    sim(doubled({**plan_phase(), **build_phase()}))
    routed, frontier = arms(devloop(repo, "ab", "specs/goodbye.md", "--json"))
    error = close(routed, frontier)
    # Switching at every step splits the prompt cache so often that routing costs more
    # than staying on frontier: the counterfactual says so; same-usage repricing hid it.
    assert Decimal(routed["cost_usd"]) > Decimal(frontier["cost_usd"])
    assert Decimal(routed["same_usage_baseline_usd"]) > Decimal(routed["cost_usd"])
    print(
        f"switching: routed ${routed['cost_usd']}, baseline ${routed['baseline_usd']} (same "
        f"usage ${routed['same_usage_baseline_usd']}), all-frontier arm "
        f"${frontier['cost_usd']} (error {error:.2%})"
    )
    assert error <= TOLERANCE


def test_a_run_that_stays_on_one_model(repo, sim, devloop, agent):
    overrides(repo, MOSTLY_MID)
    sim(doubled({**plan_phase(), **build_phase()}))
    routed, frontier = arms(devloop(repo, "ab", "specs/goodbye.md", "--json"))
    error = close(routed, frontier)
    assert Decimal(routed["cost_usd"]) < Decimal(frontier["cost_usd"])
    assert Decimal(routed["same_usage_baseline_usd"]) > Decimal(routed["baseline_usd"])
    print(
        f"mostly one model: routed ${routed['cost_usd']}, baseline ${routed['baseline_usd']} (same "
        f"usage ${routed['same_usage_baseline_usd']}), all-frontier arm "
        f"${frontier['cost_usd']} (error {error:.2%})"
    )
    assert error <= TOLERANCE

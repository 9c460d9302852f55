"""Exact pricing: every expected cost is a hand-computed Decimal literal.

Arithmetic comments are in USD per million tokens (MTok): tokens x rate, summed, / 1e6.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from devloop.errors import ConfigError, UnpricedModelError
from devloop.model import pricing

AT = dt.date(2026, 11, 20)  # a fixed day after every row in the table
M = 1_000_000


def cost(model: str, at: dt.date | dt.datetime = AT, **usage) -> Decimal:
    return pricing.cost_usd(model, usage, at=at)


def split(write_5m: int = 0, write_1h: int = 0) -> dict:
    return {
        "cache_creation_input_tokens": write_5m + write_1h,
        "cache_creation": {
            "ephemeral_5m_input_tokens": write_5m,
            "ephemeral_1h_input_tokens": write_1h,
        },
    }


# One usage for every family: 1,000 input, 2,000 5m writes, 3,000 1h writes,
# 10,000 cache reads, 500 output.
FULL = dict(
    input_tokens=1_000, cache_read_input_tokens=10_000, output_tokens=500, **split(2_000, 3_000)
)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        # 1000*10 + 2000*12.5 + 3000*20 + 10000*0.25 + 500*50 = 122,500
        ("claude-fable-5-1", Decimal("0.1225")),
        # 1000*4 + 2000*5 + 3000*8 + 10000*0.20 + 500*20 = 50,000
        ("claude-opus-5-5", Decimal("0.05")),
        # 1000*5 + 2000*6.25 + 3000*10 + 10000*0.50 + 500*25 = 65,000
        ("claude-opus-5", Decimal("0.065")),
        ("claude-opus-4-8", Decimal("0.065")),
        ("claude-opus-4-7", Decimal("0.065")),
        ("claude-opus-4-6", Decimal("0.065")),
        ("claude-opus-4-5-20251101", Decimal("0.065")),
        # 1000*2 + 2000*2.5 + 3000*4 + 10000*0.10 + 500*10 = 25,000
        ("claude-sonnet-5-5", Decimal("0.025")),
        # 1000*2 + 2000*2.5 + 3000*4 + 10000*0.20 + 500*10 = 26,000
        ("claude-sonnet-5", Decimal("0.026")),
        # 1000*3 + 2000*3.75 + 3000*6 + 10000*0.30 + 500*15 = 39,000
        ("claude-sonnet-4-6", Decimal("0.039")),
        ("claude-sonnet-4-5-20250929", Decimal("0.039")),
        # prompt 16,000 <= 100K: 1000*0.10 + 2000*0.125 + 3000*0.20 + 10000*0.01 + 500*0.50 = 1,300
        ("claude-haiku-5-5", Decimal("0.0013")),
        # 1000*1 + 2000*1.25 + 3000*2 + 10000*0.10 + 500*5 = 13,000
        ("claude-haiku-4-5-20251001", Decimal("0.013")),
    ],
)
def test_each_model_family(model, expected):
    assert cost(model, **FULL) == expected


def test_fable_5_2_prices_input_and_output():
    # 1000*8 + 500*40 = 28,000
    assert cost("claude-fable-5-2", input_tokens=1_000, output_tokens=500) == Decimal("0.028")


def test_cache_writes_5m_and_1h():
    # Opus 5: 1M 5m writes * 6.25; 1M 1h writes * 10
    assert cost("claude-opus-5", **split(write_5m=M)) == Decimal("6.25")
    assert cost("claude-opus-5", **split(write_1h=M)) == Decimal("10")
    # 400,000*6.25 + 600,000*10 = 8,500,000
    assert cost("claude-opus-5", **split(400_000, 600_000)) == Decimal("8.5")


def test_cache_reads():
    assert cost("claude-opus-5", cache_read_input_tokens=M) == Decimal("0.50")  # 1M * 0.50
    assert cost("claude-fable-5-1", cache_read_input_tokens=M) == Decimal("0.25")  # 0.025x of 10


def test_cache_creation_without_split_is_billed_as_5m():
    # 1M * 6.25 (5m), not 1M * 10 (1h)
    assert cost("claude-opus-5", cache_creation_input_tokens=M, cache_creation=None) == Decimal(
        "6.25"
    )
    assert cost("claude-opus-5", cache_creation_input_tokens=M) == Decimal("6.25")


def test_split_without_total_uses_the_split():
    usage = {"cache_creation": {"ephemeral_1h_input_tokens": M}}
    assert pricing.cost_usd("claude-opus-5", usage, at=AT) == Decimal("10")


def test_inconsistent_cache_split_raises():
    usage = {**split(write_5m=400), "cache_creation_input_tokens": 500}
    with pytest.raises(UnpricedModelError, match="500.*400"):
        pricing.cost_usd("claude-opus-5", usage, at=AT)


def test_input_tokens_are_not_double_billed_with_cache_tokens():
    # input_tokens excludes cached tokens: 100*5 + 900,000*0.50 + 99,900*6.25
    # = 500 + 450,000 + 624,375 = 1,074,875. Billing the whole prompt as input too would
    # add 999,900*5 more.
    usage = dict(input_tokens=100, cache_read_input_tokens=900_000, **split(write_5m=99_900))
    assert cost("claude-opus-5", **usage) == Decimal("1.074875")
    parts = (
        cost("claude-opus-5", input_tokens=100)
        + cost("claude-opus-5", cache_read_input_tokens=900_000)
        + cost("claude-opus-5", **split(write_5m=99_900))
    )
    assert parts == Decimal("1.074875")


def test_sonnet_5_5_cache_read_cut_on_2026_10_07():
    def reads(at):
        return cost("claude-sonnet-5-5", at=at, cache_read_input_tokens=M)

    assert reads(dt.date(2026, 10, 6)) == Decimal("0.20")
    assert reads(dt.date(2026, 10, 7)) == Decimal("0.10")
    assert reads(dt.datetime(2026, 10, 6, 23, 59, 59, tzinfo=dt.UTC)) == Decimal("0.20")
    assert reads(dt.datetime(2026, 10, 7, 0, 0, tzinfo=dt.UTC)) == Decimal("0.10")
    assert reads(dt.datetime(2026, 10, 7, 0, 30)) == Decimal("0.10")  # naive means UTC
    # 01:00 at UTC+2 is still 2026-10-06 in UTC
    plus_two = dt.timezone(dt.timedelta(hours=2))
    assert reads(dt.datetime(2026, 10, 7, 1, 0, tzinfo=plus_two)) == Decimal("0.20")


def test_haiku_5_5_band_boundary_100000_vs_100001():
    # Prompt = input + cache writes + cache reads. Exactly 100,000 -> low band:
    # 40,000*0.10 + 30,000*0.125 + 30,000*0.01 + 10,000*0.50 = 4,000+3,750+300+5,000 = 13,050
    low = dict(input_tokens=40_000, cache_read_input_tokens=30_000, output_tokens=10_000)
    assert cost("claude-haiku-5-5", **low, **split(write_5m=30_000)) == Decimal("0.01305")
    # 100,001 -> every token at the high band, output included:
    # 40,001*0.50 + 30,000*0.625 + 30,000*0.05 + 10,000*2.50 = 20,000.5+18,750+1,500+25,000
    high = dict(low, input_tokens=40_001)
    assert cost("claude-haiku-5-5", **high, **split(write_5m=30_000)) == Decimal("0.0652505")


def test_haiku_5_5_band_counts_cache_but_not_output():
    # 1,000 input + 100,000 reads = 101,000 > 100K: 1,000*0.50 + 100,000*0.05 = 5,500
    assert cost("claude-haiku-5-5", input_tokens=1_000, cache_read_input_tokens=100_000) == Decimal(
        "0.0055"
    )
    # 100,000 input + 50,000 output: output is not prompt, low band: 10,000 + 25,000
    assert cost("claude-haiku-5-5", input_tokens=100_000, output_tokens=50_000) == Decimal("0.035")
    # 1h writes count too: 100,001 1h writes * 1.00 (high band)
    assert cost("claude-haiku-5-5", **split(write_1h=100_001)) == Decimal("0.100001")


def test_rates_band_tokens_boundary():
    assert pricing.rates("claude-haiku-5-5", at=AT, band_tokens=100_000).input == Decimal("0.10")
    high = pricing.rates("claude-haiku-5-5", at=AT, band_tokens=100_001)
    assert high == pricing.Rates(
        input=Decimal("0.50"),
        write_5m=Decimal("0.625"),
        write_1h=Decimal("1.00"),
        read=Decimal("0.05"),
        output=Decimal("2.50"),
    )
    # Unbanded models ignore band_tokens.
    assert pricing.rates("claude-opus-5", at=AT, band_tokens=900_000).input == Decimal("5")


def test_batch_is_half_price_and_stacks_with_cache():
    # (1M*5 + 1M*25) * 0.5 = 15
    assert cost("claude-opus-5", input_tokens=M, output_tokens=M, service_tier="batch") == Decimal(
        "15"
    )
    # 1M reads * 0.50 * 0.5
    assert cost("claude-opus-5", cache_read_input_tokens=M, service_tier="batch") == Decimal("0.25")


def test_priority_tier_is_priced_at_standard_rates():
    usage = dict(input_tokens=M, output_tokens=M)
    assert cost("claude-opus-5", service_tier="priority", **usage) == Decimal("30")  # 5 + 25
    assert cost("claude-opus-5", service_tier="standard", **usage) == Decimal("30")


def test_us_inference_geo_multiplier():
    usage = dict(input_tokens=M, output_tokens=M)
    # Opus 5.5 (Claude 4.6+): (4 + 20) * 1.1 = 26.4
    assert cost("claude-opus-5-5", inference_geo="us", **usage) == Decimal("26.4")
    assert cost("claude-opus-5-5", inference_geo="global", **usage) == Decimal("24")
    assert cost("claude-opus-5-5", inference_geo=None, **usage) == Decimal("24")
    # Every category: 1M reads on Opus 5.5 = 0.20 * 1.1
    assert cost("claude-opus-5-5", inference_geo="us", cache_read_input_tokens=M) == Decimal("0.22")
    # Stacks with batch: Sonnet 4.6 1M input = 3 * 0.5 * 1.1
    assert cost(
        "claude-sonnet-4-6", inference_geo="us", service_tier="batch", input_tokens=M
    ) == Decimal("1.65")
    # Pre-4.6 models always bill standard rates: Haiku 4.5 (1 + 5)
    assert cost("claude-haiku-4-5", inference_geo="us", **usage) == Decimal("6")


def test_fast_mode_on_opus_5():
    # Fast rates $10/$50: 1M*10 + 1M*50 = 60
    assert cost("claude-opus-5", speed="fast", input_tokens=M, output_tokens=M) == Decimal("60")
    # Cache multipliers stack on fast input: 1M reads * 1.00, 1M 1h writes * 20
    assert cost("claude-opus-5", speed="fast", cache_read_input_tokens=M) == Decimal("1.00")
    assert cost("claude-opus-5", speed="fast", **split(write_1h=M)) == Decimal("20")
    # With US geo: 60 * 1.1
    assert cost(
        "claude-opus-5", speed="fast", inference_geo="us", input_tokens=M, output_tokens=M
    ) == Decimal("66")
    assert pricing.rates("claude-opus-5", at=AT, fast=True).output == Decimal("50")


def test_fast_mode_on_opus_5_5_is_unpriced():
    with pytest.raises(UnpricedModelError) as err:
        cost("claude-opus-5-5", speed="fast", input_tokens=10, output_tokens=10)
    assert "claude-opus-5-5" in err.value.message
    assert "fast" in err.value.message
    with pytest.raises(UnpricedModelError, match="fast"):
        pricing.rates("claude-opus-5-5", at=AT, fast=True)


def test_fast_mode_on_batch_raises():
    with pytest.raises(UnpricedModelError, match="Batch"):
        cost("claude-opus-5", speed="fast", service_tier="batch", input_tokens=1)


def test_web_search_is_one_cent_per_request():
    assert cost("claude-sonnet-5", server_tool_use={"web_search_requests": 3}) == Decimal("0.03")
    assert cost("claude-sonnet-5", server_tool_use=None) == Decimal("0")
    assert cost("claude-sonnet-5", server_tool_use={"web_fetch_requests": 5}) == Decimal("0")
    # The batch discount halves tokens, not searches: 1M*2*0.5 + 2*0.01 = 1.02
    usage = dict(input_tokens=M, service_tier="batch", server_tool_use={"web_search_requests": 2})
    assert cost("claude-sonnet-5", **usage) == Decimal("1.02")


def test_missing_and_none_fields_count_as_zero():
    assert cost("claude-opus-5") == Decimal("0")
    nones = dict.fromkeys(
        [
            "input_tokens",
            "output_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
            "cache_creation",
            "service_tier",
            "inference_geo",
            "speed",
            "server_tool_use",
        ],
    )
    assert cost("claude-opus-5", **nones) == Decimal("0")
    assert cost("claude-opus-5", **dict(nones, output_tokens=M)) == Decimal("25")


def test_unknown_model_error_message():
    with pytest.raises(UnpricedModelError) as err:
        cost("claude-opus-5-6", input_tokens=1)
    message = err.value.message
    assert "Unknown model 'claude-opus-5-6'" in message
    assert "never prices a call at $0" in message
    assert "Did you mean 'claude-opus-5-5'?" in message


def test_dated_ids_are_not_guessed():
    # The brief lists no dated snapshot for Opus 5.5: only the exact id is priced.
    with pytest.raises(UnpricedModelError, match="Unknown model"):
        cost("claude-opus-5-5-20260922", input_tokens=1)
    # Haiku 4.5: the alias and the dated id that Anthropic's model page lists price alike.
    assert cost("claude-haiku-4-5", input_tokens=M) == Decimal("1")
    assert cost("claude-haiku-4-5-20251001", input_tokens=M) == Decimal("1")


@pytest.mark.parametrize(
    ("usage", "category"),
    [
        ({"cache_read_input_tokens": 1}, "cache read"),
        (split(write_5m=1), "5-minute cache write"),
        (split(write_1h=1), "1-hour cache write"),
    ],
)
def test_missing_rate_raises_naming_model_and_category(usage, category):
    with pytest.raises(UnpricedModelError) as err:
        pricing.cost_usd("claude-fable-5-2", {"input_tokens": 1, **usage}, at=AT)
    assert "claude-fable-5-2" in err.value.message
    assert f"{category} rate" in err.value.message
    assert pricing.rates("claude-fable-5-2", at=AT).read is None


def test_date_before_first_row_raises():
    with pytest.raises(UnpricedModelError, match="2026-11-09"):
        cost("claude-fable-5-2", at=dt.date(2026, 11, 8), input_tokens=1)


def test_unknown_usage_values_raise():
    with pytest.raises(UnpricedModelError, match="service_tier 'flex'"):
        cost("claude-opus-5", service_tier="flex", input_tokens=1)
    with pytest.raises(UnpricedModelError, match="speed 'turbo'"):
        cost("claude-opus-5", speed="turbo", input_tokens=1)
    with pytest.raises(UnpricedModelError, match="input_tokens"):
        cost("claude-opus-5", input_tokens=-1)
    with pytest.raises(UnpricedModelError, match="output_tokens"):
        cost("claude-opus-5", output_tokens=1.5)


def test_large_counts_stay_exact():
    # 123,456,789 output * 5 = 617,283,945 -> 617.283945 exactly
    result = cost("claude-haiku-4-5", output_tokens=123_456_789)
    assert isinstance(result, Decimal)
    assert result == Decimal("617.283945")


def test_default_at_is_now():
    assert pricing.cost_usd("claude-opus-5", {"input_tokens": M}) == Decimal("5")


def test_table_version_and_models_come_from_the_shipped_file():
    shipped = tomllib.loads((Path(pricing.__file__).parent / "prices.toml").read_text())
    assert pricing.table_version() == shipped["version"]
    models = pricing.known_models()
    for model in [
        "claude-fable-5-2",
        "claude-fable-5-1",
        "claude-opus-5-5",
        "claude-opus-5",
        "claude-sonnet-5-5",
        "claude-sonnet-5",
        "claude-haiku-5-5",
        "claude-opus-4-6",
        "claude-sonnet-4-6",
    ]:
        assert model in models
    assert models == sorted(models)


# ---------------------------------------------------------------- table validation

GOOD_ROW = """
version = "t1"
batch_multiplier = "0.5"
us_geo_multiplier = "1.1"
web_search_usd = "0.01"

[[price]]
model = "m"
effective = 2026-01-01
us_geo = true
input = "1"
output = "2"
"""


def load(tmp_path: Path, text: str) -> pricing.PriceTable:
    path = tmp_path / "prices.toml"
    path.write_text(text)
    return pricing.load_table(path)


def test_load_table_accepts_a_minimal_row(tmp_path):
    table = load(tmp_path, GOOD_ROW)
    assert table.version == "t1"
    assert table.rows["m"][0].base.read is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('output = "2"', "output = 2.0"), "row 1 (m): 'output' must be a decimal string"),
        (('output = "2"', 'output = "two"'), "is not a decimal number"),
        (('output = "2"', 'output = "-2"'), "must be a finite amount >= 0"),
        (('output = "2"', 'ouptut = "2"'), "unknown key 'ouptut'. Did you mean 'output'?"),
        (('input = "1"\n', ""), "missing the 'input' rate"),
        (("us_geo = true\n", ""), "'us_geo' must be true or false"),
        (("effective = 2026-01-01", 'effective = "2026-01-01"'), "'effective' must be a TOML date"),
        (('version = "t1"', "version = 1"), "'version' must be a non-empty string"),
        (("[[price]]", "[[price]]\nlong_prompt_over = 10"), "'long_prompt_over' and [long_prompt]"),
    ],
)
def test_load_table_rejects_bad_rows(tmp_path, change, message):
    old, new = change
    with pytest.raises(ConfigError) as err:
        load(tmp_path, GOOD_ROW.replace(old, new, 1))
    assert message in err.value.message
    assert "prices.toml" in err.value.message


def test_load_table_rejects_duplicate_dates_and_bad_toml(tmp_path):
    second = GOOD_ROW.split("[[price]]")[1]
    with pytest.raises(ConfigError, match="a second row effective 2026-01-01"):
        load(tmp_path, GOOD_ROW + "[[price]]" + second)
    with pytest.raises(ConfigError, match="invalid TOML"):
        load(tmp_path, GOOD_ROW + "[[price]\n")

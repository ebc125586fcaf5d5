"""Model prices and an answer's cost (chatbot.pricing)."""

from __future__ import annotations

import pytest

from chatbot.config import ConfigError, Settings
from chatbot.pricing import Price, cost_microusd, parse_prices, price_of

SONNET = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"


def test_each_model_family_has_its_price_and_an_override_wins() -> None:
    assert price_of(SONNET) == Price(0.003, 0.015, 0.0003, 0.00375)
    assert price_of("us.anthropic.claude-haiku-4-5-20251001-v1:0") == Price(
        0.001, 0.005, 0.0001, 0.00125
    )
    assert price_of("global.anthropic.claude-opus-4-5-20251101-v1:0").input == 0.005
    assert price_of("anthropic.claude-opus-4-1-20250805-v1:0").input == 0.015
    assert price_of("amazon.nova-pro-v1:0") is None
    negotiated = {"claude-sonnet-4-5": Price(0.002, 0.01, 0.0002, 0.0025)}
    assert price_of(SONNET, negotiated) == negotiated["claude-sonnet-4-5"]


def test_a_cost_is_a_whole_number_of_millionths_of_a_dollar() -> None:
    price = Price(0.003, 0.015, 0.0003, 0.00375)
    # 1,000 full-price input, 500 output, 10,000 read, 2,000 written:
    # 0.003 + 0.0075 + 0.003 + 0.0075 = $0.021
    assert (
        cost_microusd(price, full_input=1000, output=500, cache_read=10_000, cache_write=2000)
        == 21_000
    )
    assert cost_microusd(price, full_input=1, output=0, cache_read=0, cache_write=0) == 3


def test_prices_are_set_as_json_and_a_bad_value_is_a_config_error() -> None:
    text = '{"claude-sonnet-4-5": [0.002, 0.01, 0.0002, 0.0025]}'
    assert parse_prices(text) == {"claude-sonnet-4-5": Price(0.002, 0.01, 0.0002, 0.0025)}
    settings = Settings.load({"CHAT_PRICES": text, "CHAT_KRW_PER_USD": "1400.5"})
    assert settings.price_overrides["claude-sonnet-4-5"].input == 0.002
    assert settings.chat_krw_per_usd == 1400.5
    for bad in ("[1, 2]", '{"x": [1, 2]}', '{"x": ["a", 1, 2, 3]}', "nope"):
        with pytest.raises(ConfigError, match="CHAT_PRICES"):
            Settings.load({"CHAT_PRICES": bad})
    for bad_rate in ("won", "0"):
        with pytest.raises(ConfigError, match="CHAT_KRW_PER_USD"):
            Settings.load({"CHAT_KRW_PER_USD": bad_rate})

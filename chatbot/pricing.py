"""What Bedrock charges for a model's tokens, and what an answer cost.

Prices are USD per 1,000 tokens of on-demand inference: input billed in full, output, input
read from the prompt cache and input written to it (5-minute cache). ``PRICES_SOURCE`` says
where they come from and when; ``CHAT_PRICES`` overrides or adds models (a negotiated
price, another region, a new model), and an answer's cost is stored with it in
millionths of a dollar, a whole number, so sums over any number of dialogs stay exact.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import NamedTuple

PRICES_SOURCE = (
    "Anthropic's published prices for these Claude models, which Amazon Bedrock's on-demand "
    "prices in us-east-1 match (aws.amazon.com/bedrock/pricing), as of 2026-11-27"
)


class Price(NamedTuple):
    """USD per 1,000 tokens."""

    input: float
    output: float
    cache_read: float
    cache_write: float


# By model family, first match wins (a longer name before its prefix); inference profile ids
# (global.anthropic.claude-...) match by their model's name.
PRICES: tuple[tuple[str, Price], ...] = (
    ("claude-opus-4-5", Price(0.005, 0.025, 0.0005, 0.00625)),
    ("claude-opus-4", Price(0.015, 0.075, 0.0015, 0.01875)),
    ("claude-sonnet-4", Price(0.003, 0.015, 0.0003, 0.00375)),
    ("claude-3-7-sonnet", Price(0.003, 0.015, 0.0003, 0.00375)),
    ("claude-haiku-4-5", Price(0.001, 0.005, 0.0001, 0.00125)),
    ("claude-3-5-haiku", Price(0.0008, 0.004, 0.00008, 0.001)),
)


def parse_prices(text: str) -> dict[str, Price]:
    """``CHAT_PRICES``: a JSON object of model family (a part of its id) to the four prices,
    ``{"claude-sonnet-4-5": [0.003, 0.015, 0.0003, 0.00375]}``; ValueError if it is not."""
    try:
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise TypeError
        prices = {str(family): Price(*map(float, values)) for family, values in raw.items()}
    except (TypeError, ValueError) as error:
        raise ValueError(
            'CHAT_PRICES must be a JSON object like {"claude-sonnet-4-5": '
            "[input, output, cache_read, cache_write]}, in USD per 1,000 tokens"
        ) from error
    return prices


def price_of(model_id: str, overrides: Mapping[str, Price] | None = None) -> Price | None:
    """The model's price: an override first, then the table; None if neither knows it."""
    name = model_id.lower()
    for family, price in (*(overrides or {}).items(), *PRICES):
        if family.lower() in name:
            return price
    return None


def cost_microusd(
    price: Price, *, full_input: int, output: int, cache_read: int, cache_write: int
) -> int:
    """An answer's cost in millionths of a dollar."""
    per_thousand = (
        full_input * price.input
        + output * price.output
        + cache_read * price.cache_read
        + cache_write * price.cache_write
    )
    return round(per_thousand * 1000)

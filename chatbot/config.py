"""One Settings object, read from environment variables and overridden by ``st.secrets``.

AWS's own settings are deliberately absent: the region comes from ``AWS_REGION``, else boto3's
chain (``AWS_DEFAULT_REGION``, the profile's ``region``), through ``chatbot.aws.region``;
profile, credentials and endpoints from boto3's chain (``AWS_PROFILE``,
``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``, ...), so nothing here can shadow them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import NoneType, UnionType
from typing import Any, get_args, get_origin, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chatbot.identity import normalize_user_id
from chatbot.pricing import Price, parse_prices

DEFAULT_MODEL_ID = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"

# Offered in the sidebar next to BEDROCK_MODEL_ID; cross-region inference profiles, because
# current Claude models have no on-demand throughput under their bare model ids.
MODEL_CHOICES: tuple[str, ...] = (
    "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "global.anthropic.claude-haiku-4-5-20251001-v1:0",
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "us.anthropic.claude-haiku-4-5-20251001-v1:0",
)


class ConfigError(ValueError):
    """A setting has a value the app cannot use; the message names the setting."""


@dataclass(frozen=True)
class Settings:
    """Every project setting, with defaults that run locally against SQLite."""

    bedrock_model_id: str = DEFAULT_MODEL_ID
    bedrock_region: str | None = None  # None: AWS_REGION, else boto3's chain (chatbot.aws.region)
    chat_history_table: str | None = None  # DynamoDB when set
    chat_history_db: str = "data/chat_history.sqlite3"
    chat_outbox_db: str = "data/outbox.sqlite3"  # the queue every write goes through
    chat_window_k: int = 10
    chat_history_days: int = 2
    analysts: tuple[str, ...] = ()
    # Without [auth] in secrets: True runs in local mode, False refuses to run, and None
    # (unset) is True locally but False on Community Cloud, where the URL is public.
    allow_local_mode: bool | None = None
    chat_max_input_chars: int = 8000
    # Cache points in the prompt (chatbot.caching); off for a gateway or model that refuses them.
    chat_prompt_cache: bool = True
    # The longest answer in tokens, before Bedrock stops it with "max_tokens" and the page
    # offers Continue: about 6,000 Korean characters or 6,000 English words.
    chat_max_output_tokens: int = 8192
    chat_prices: str | None = None  # JSON overriding chatbot.pricing.PRICES
    chat_krw_per_usd: float | None = None  # shows costs in won too
    # The days of the History page's totals and charts (chatbot.rollups): changing it
    # re-counts SQLite's rollups on open; DynamoDB's need `create_table --recount-rollups`.
    chat_report_timezone: str = "Asia/Seoul"

    @classmethod
    def load(
        cls, env: Mapping[str, str] | None = None, secrets: Mapping[str, Any] | None = None
    ) -> Settings:
        """Read each field from its upper-case name: ``secrets`` wins over ``env``."""
        env = os.environ if env is None else env
        secrets = secrets or {}
        values: dict[str, Any] = {}
        types = get_type_hints(cls)
        for field in fields(cls):
            name = field.name.upper()
            raw = secrets.get(name, env.get(name))
            if raw is None or raw == "":
                continue
            values[field.name] = _coerce(name, raw, _value_type(types[field.name]))
        settings = cls(**values)
        settings._validate()
        return settings

    def _validate(self) -> None:
        if self.chat_window_k < 0:
            raise ConfigError("CHAT_WINDOW_K must be 0 or more")
        if self.chat_history_days < 0:
            raise ConfigError("CHAT_HISTORY_DAYS must be 0 or more")
        if self.chat_max_input_chars < 1:
            raise ConfigError("CHAT_MAX_INPUT_CHARS must be 1 or more")
        if self.chat_max_output_tokens < 1:
            raise ConfigError("CHAT_MAX_OUTPUT_TOKENS must be 1 or more")
        if self.chat_krw_per_usd is not None and self.chat_krw_per_usd <= 0:
            raise ConfigError("CHAT_KRW_PER_USD must be more than 0")
        try:
            ZoneInfo(self.chat_report_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"CHAT_REPORT_TIMEZONE must be an IANA time zone such as Asia/Seoul, got "
                f"{self.chat_report_timezone!r}"
            ) from None
        if self.chat_prices:
            try:  # parsed now, so a bad value stops the app with a message, not a turn later
                parse_prices(self.chat_prices)
            except ValueError as error:
                raise ConfigError(str(error)) from None

    @property
    def report_timezone(self) -> ZoneInfo:
        return ZoneInfo(self.chat_report_timezone)

    @property
    def price_overrides(self) -> dict[str, Price]:
        return parse_prices(self.chat_prices) if self.chat_prices else {}

    @property
    def model_choices(self) -> tuple[str, ...]:
        """The configured model first, then the other known choices."""
        return tuple(dict.fromkeys((self.bedrock_model_id, *MODEL_CHOICES)))

    def local_mode_allowed(self, on_community_cloud: bool) -> bool:
        """Whether the app may run without sign-in; unset means only off Community Cloud."""
        if self.allow_local_mode is None:
            return not on_community_cloud
        return self.allow_local_mode

    def is_analyst(self, user_id: str) -> bool:
        """Whether an identity is in ANALYSTS (normalised; e-mail case does not matter)."""
        analysts = {normalize_user_id(analyst).casefold() for analyst in self.analysts}
        return normalize_user_id(user_id).casefold() in analysts


def _value_type(annotation: Any) -> Any:
    """A set field's type: ``bool`` for ``bool | None``, ``tuple`` for ``tuple[str, ...]``."""
    if isinstance(annotation, UnionType):
        [annotation] = [arg for arg in get_args(annotation) if arg is not NoneType]
    return get_origin(annotation) or annotation


def _coerce(name: str, raw: Any, kind: Any) -> Any:
    if kind is bool:
        return str(raw).strip().lower() in {"1", "true", "yes", "on"}
    if kind is int:
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if kind is float:
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if kind is tuple:
        items = raw if isinstance(raw, list | tuple) else str(raw).split(",")
        return tuple(s.strip() for s in items if str(s).strip())
    return str(raw).strip()

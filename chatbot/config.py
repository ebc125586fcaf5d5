"""One Settings object, read from environment variables and overridden by ``st.secrets``.

AWS's own settings (region, profile, credentials, endpoints) are deliberately absent: boto3
reads them from its standard chain (``AWS_REGION``, ``AWS_PROFILE``,
``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``, ...), so nothing here can shadow them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

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
    bedrock_region: str | None = None  # None: boto3's chain (AWS_REGION, profile, ...)
    chat_history_table: str | None = None  # DynamoDB when set
    chat_history_db: str = "data/chat_history.sqlite3"
    chat_outbox_db: str = "data/outbox.sqlite3"  # turns waiting for the store to come back
    chat_window_k: int = 10
    chat_history_days: int = 2
    analysts: tuple[str, ...] = ()
    allow_local_mode: bool = True  # False: without [auth] in secrets, the app refuses to run
    chat_max_input_chars: int = 8000

    @classmethod
    def load(
        cls, env: Mapping[str, str] | None = None, secrets: Mapping[str, Any] | None = None
    ) -> Settings:
        """Read each field from its upper-case name: ``secrets`` wins over ``env``."""
        env = os.environ if env is None else env
        secrets = secrets or {}
        values: dict[str, Any] = {}
        for field in fields(cls):
            name = field.name.upper()
            raw = secrets.get(name, env.get(name))
            if raw is None or raw == "":
                continue
            values[field.name] = _coerce(name, raw, field.default)
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

    @property
    def model_choices(self) -> tuple[str, ...]:
        """The configured model first, then the other known choices."""
        return tuple(dict.fromkeys((self.bedrock_model_id, *MODEL_CHOICES)))

    def is_analyst(self, user_id: str) -> bool:
        """Whether a signed-in identity is in ANALYSTS (e-mail case does not matter)."""
        return user_id.casefold() in {analyst.casefold() for analyst in self.analysts}


def _coerce(name: str, raw: Any, default: Any) -> Any:
    if isinstance(default, bool):
        return str(raw).strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if isinstance(default, tuple):
        items = raw if isinstance(raw, list | tuple) else str(raw).split(",")
        return tuple(s.strip() for s in items if str(s).strip())
    return str(raw).strip()

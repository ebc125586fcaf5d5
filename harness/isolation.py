"""The one environment isolation of the tests, the app they launch and the benchmarks.

None of them may see a developer's AWS profile, real endpoints or project settings: AWS's and
the project's variables go, AWS's config files point at nothing, EC2 metadata is off, and the
SQLite files are fresh ones in a folder of the caller's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path

from chatbot.config import Settings

# Settings the app reads from the environment, by their variable names.
PROJECT_VARS = frozenset(field.name.upper() for field in fields(Settings))


def names_to_remove(environ: Mapping[str, str]) -> list[str]:
    """The variables of ``environ`` an isolated process must not inherit."""
    return [name for name in environ if name.startswith("AWS_") or name in PROJECT_VARS]


def isolated_vars(tmp: Path) -> dict[str, str]:
    """What an isolated process sets instead, its files in ``tmp``."""
    return {
        "AWS_CONFIG_FILE": str(tmp / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "CHAT_HISTORY_DB": str(tmp / "chat.sqlite3"),
        "CHAT_OUTBOX_DB": str(tmp / "outbox.sqlite3"),
    }


def isolated_environ(tmp: Path) -> dict[str, str]:
    """A copy of this process's environment, isolated, its files in ``tmp``."""
    removed = set(names_to_remove(os.environ))
    kept = {name: value for name, value in os.environ.items() if name not in removed}
    return kept | isolated_vars(tmp)

"""Cleaning what the user typed before it reaches a prompt or the store."""

from __future__ import annotations

import re
import unicodedata

# C0/C1 control characters except tab and newline, and lone surrogates (invalid Unicode
# that a browser or a pasted file can carry, and that UTF-8 encoders reject).
_UNWANTED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_question(text: str) -> str:
    """``text`` in NFC with unwanted characters removed and outer whitespace trimmed.

    NFC matters for Korean: macOS input can send decomposed jamo, which would look the same
    on screen but not match in search or in the store.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _UNWANTED.sub("", unicodedata.normalize("NFC", text)).strip()

"""Cleaning text from outside (a typed question, a file's text) before it reaches a prompt or
the store."""

from __future__ import annotations

import re
import unicodedata

# C0 and C1 control characters except tab and newline (so also carriage return, form feed,
# vertical tab, DEL): NULs and other binary junk a browser, a paste or a file can carry.
_CONTROL = "\x00-\x08\x0b-\x1f\x7f-\x9f"
# Lone surrogates are invalid Unicode, which UTF-8 encoders reject: a question or a PDF's text
# carrying one could be neither stored nor sent to the model.
_UNWANTED = re.compile(f"[{_CONTROL}\ud800-\udfff]")


def remove_control_chars(text: str) -> str:
    """``text`` without control characters other than tab and newline, and without lone
    surrogates. Carriage returns go too: turn them into newlines first where they end lines."""
    return _UNWANTED.sub("", text)


def clean_question(text: str) -> str:
    """``text`` in NFC with control characters and lone surrogates removed and outer
    whitespace trimmed.

    NFC matters for Korean: macOS input can send decomposed jamo, which would look the same
    on screen but not match in search or in the store.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return remove_control_chars(unicodedata.normalize("NFC", text)).strip()

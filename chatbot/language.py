"""Korean detection: one Hangul character makes a text Korean, as in the original system."""

from __future__ import annotations

import re

# Hangul compatibility jamo (ㄱ-ㅣ) and precomposed syllables (가-힣).
_HANGUL = re.compile("[\u3131-\u3163\uac00-\ud7a3]")


def is_korean(text: str) -> bool:
    """True when ``text`` holds at least one Hangul character."""
    return _HANGUL.search(text) is not None

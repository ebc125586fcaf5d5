"""Korean detection: a text is Korean when enough of its letters are Hangul.

The original system called a text Korean if it held one Hangul character, so "Please
translate: 김치 is a Korean dish" was taken for Korean. Here the share of Hangul among the
letters decides; digits, punctuation, spaces, emoji and other symbols are not letters and
do not count.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

# Hangul is an alphabet: a precomposed syllable (가-힣) is two or three letters (jamo), so it
# counts as that many, like the letters of a Latin word. Counted per syllable, a Korean
# question about "LangChain ConversationBufferWindowMemory" would be outweighed by the names.
_SYLLABLES = ("\uac00", "\ud7a3")
_JAMO = (
    ("\u1100", "\u11ff"),  # conjoining jamo (decomposed text, e.g. from macOS files)
    ("\u3131", "\u318e"),  # compatibility jamo (ㅋㅋㅋ)
    ("\ua960", "\ua97f"),  # jamo extended A
    ("\ud7b0", "\ud7ff"),  # jamo extended B
    ("\uffa1", "\uffdc"),  # halfwidth jamo
)
# Fillers are letters to Unicode but invisible, and often typed as a blank: not letters here.
_FILLERS = frozenset("\u115f\u1160\u3164\uffa0")

# Korean from a fifth of the letters on. Korean sentences keep their grammar (particles,
# endings) in Hangul around English names: "AWS Bedrock을 이용해 주셔서 감사합니다" is 74%
# Hangul, "Amazon Bedrock과 LangChain으로 Streamlit 챗봇 만들기" 39%, "LangChain
# ConversationBufferWindowMemory 설정 방법" 24%. An English sentence quoting a Korean word
# stays below: "Please translate: 김치 is a Korean dish" is 15%. In between, Korean wins: this
# is a Korean-first app, and a Korean reader is the likelier author of a mixed text.
KOREAN_SHARE = 0.2


def hangul_share(text: str) -> float | None:
    """The share of Hangul among the letters of ``text``; None when it has no letters."""
    hangul = other = 0
    # Each distinct character classified once: a 1,000-character answer has about 150, and
    # the History page's rollups classify every answer written or recounted.
    for char, n in Counter(text).items():
        char_hangul, char_other = _letters(char)
        hangul += char_hangul * n
        other += char_other * n
    letters = hangul + other
    return hangul / letters if letters else None


@lru_cache(maxsize=4096)
def _letters(char: str) -> tuple[int, int]:
    """What one character counts for: (Hangul letters, other letters)."""
    if _SYLLABLES[0] <= char <= _SYLLABLES[1]:
        # 28 finals per initial-vowel pair; final 0 means none (가: 2 letters, 각: 3).
        return (3 if (ord(char) - ord(_SYLLABLES[0])) % 28 else 2), 0
    if char in _FILLERS:
        return 0, 0
    if any(low <= char <= high for low, high in _JAMO):
        return 1, 0
    return 0, int(char.isalpha())


def is_korean(text: str) -> bool:
    """True when at least ``KOREAN_SHARE`` of the letters of ``text`` are Hangul.

    A text without letters ("123", "🙂", "?") is not Korean: callers then use their own
    default (the interface's language for messages, English prompts for a mode).
    """
    share = hangul_share(text)
    return share is not None and share >= KOREAN_SHARE

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatbot.language import KOREAN_SHARE, hangul_share, is_korean


def _is_hangul(char: str) -> bool:
    # Unicode's own names, independent of the ranges the module lists.
    return "HANGUL" in unicodedata.name(char, "")


_LETTER_CATEGORIES = ("Lu", "Ll", "Lt", "Lm", "Lo")
hangul_letters = st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3) | st.sampled_from(
    "ㄱㅏㅋㅎㅣ\u1100\u1161\u11a8"  # compatibility and conjoining jamo
)
other_letters = st.characters(categories=_LETTER_CATEGORIES).filter(lambda c: not _is_hangul(c))
non_letters = st.characters(exclude_categories=_LETTER_CATEGORIES)
texts = st.text(st.one_of(hangul_letters, other_letters, non_letters), max_size=40)


@pytest.mark.parametrize(
    ("text", "korean"),
    [
        ("서울을 여행하고 싶어", True),
        ("ㅋㅋㅋ", True),  # compatibility jamo alone
        ("AWS Bedrock을 이용해 주셔서 감사합니다", True),  # English names in a Korean sentence
        ("Amazon Bedrock과 LangChain으로 Streamlit 챗봇 만들기", True),
        ("LangChain ConversationBufferWindowMemory 설정 방법", True),
        ("지금은 2023년 12월 5일 18시 26분이야", True),  # digits do not count
        ("Hello 세계", True),
        ("Please translate: 김치 is a Korean dish", False),  # a Korean word in English
        ("Thank you using Amazon Bedrock.", False),
        ("日本語のテキスト", False),
        ("emoji 🙂 only", False),
        ("", False),  # no letters: not Korean, callers use their default
        ("2 + 2 = ? 🙂", False),
        ("\u3164\u3164", False),  # Hangul fillers are blanks, not letters
    ],
)
def test_the_share_of_hangul_letters_decides(text: str, korean: bool) -> None:
    assert is_korean(text) is korean


def test_a_syllable_counts_as_its_letters() -> None:
    assert hangul_share("가ab") == 0.5  # 가 = ㄱ + ㅏ
    assert hangul_share("각abc") == 0.5  # 각 = ㄱ + ㅏ + ㄱ
    assert hangul_share("123 🙂") is None


@settings(max_examples=80)
@given(st.text(hangul_letters, min_size=1), st.text(non_letters))
def test_pure_hangul_is_korean(hangul: str, extra: str) -> None:
    assert is_korean(hangul + extra) and is_korean(extra + hangul)


@settings(max_examples=80)
@given(st.text())
def test_text_without_hangul_is_not_korean(text: str) -> None:
    assert not is_korean("".join(c for c in text if not _is_hangul(c)))


@settings(max_examples=80)
@given(texts, st.text(non_letters, min_size=1), st.integers(min_value=0))
def test_adding_non_letters_never_changes_the_decision(text: str, extra: str, at: int) -> None:
    at %= len(text) + 1
    assert is_korean(text[:at] + extra + text[at:]) == is_korean(text)


@settings(max_examples=80)
@given(texts, hangul_letters, other_letters)
def test_the_decision_is_monotone_in_the_share(text: str, hangul: str, other: str) -> None:
    # More Hangul never makes a Korean text un-Korean; more other letters never make a
    # non-Korean text Korean.
    if is_korean(text):
        assert is_korean(text + hangul)
    else:
        assert not is_korean(text + other)


def test_the_threshold_is_the_boundary() -> None:
    # 1 Hangul letter (ㅋ) among 5 letters is exactly a fifth.
    assert KOREAN_SHARE == 0.2
    assert is_korean("ㅋabcd") and not is_korean("ㅋabcde")

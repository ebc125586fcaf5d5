import pytest

from chatbot.language import is_korean


@pytest.mark.parametrize(
    ("text", "korean"),
    [
        ("서울을 여행하고 싶어", True),
        ("Hello 세계", True),
        ("ㅋㅋㅋ", True),  # compatibility jamo alone
        ("Thank you using Amazon Bedrock.", False),
        ("", False),
        ("日本語のテキスト", False),
        ("emoji 🙂 only", False),
    ],
)
def test_one_hangul_character_makes_a_text_korean(text: str, korean: bool) -> None:
    assert is_korean(text) is korean

import unicodedata

from chatbot.inputs import clean_question


def test_control_characters_and_lone_surrogates_are_removed() -> None:
    assert clean_question("안녕\x00하세요\x07\ud800!") == "안녕하세요!"


def test_newlines_and_tabs_stay_and_outer_space_goes() -> None:
    assert clean_question("  first line\r\n\tsecond\rthird \n") == "first line\n\tsecond\nthird"


def test_decomposed_hangul_becomes_composed() -> None:
    decomposed = unicodedata.normalize("NFD", "한국어")
    assert decomposed != "한국어"
    assert clean_question(decomposed) == "한국어"


def test_whitespace_only_input_is_empty() -> None:
    assert clean_question(" \n\t ") == ""

import re
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from chatbot.conversation import prompt_messages
from chatbot.inputs import clean_question
from chatbot.modes import MODES


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


# Odd input, generated: whatever arrives, the question is clean, encodable and cannot
# change the prompt's structure.


_TAGGY = st.lists(
    st.sampled_from(["<", ">", "/", "article", "result", "text", "review", "a", " ", "\x00"]),
    max_size=20,
).map("".join)
_ANY = st.one_of(st.text(), _TAGGY, st.text(alphabet=st.characters(codec="utf-8")))


@given(_ANY)
def test_cleaned_questions_have_no_control_characters_and_encode(text: str) -> None:
    cleaned = clean_question(text)
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]", cleaned)
    cleaned.encode("utf-8")  # no lone surrogate left to break the request or the store
    assert clean_question(cleaned) == cleaned


@given(_ANY, st.sampled_from(sorted(MODES)))
def test_no_input_changes_the_prompts_structure(text: str, mode_id: str) -> None:
    mode = MODES[mode_id]
    messages = prompt_messages(mode, clean_question(text), [], window_k=10)
    system, human = messages[0].content, messages[-1].content
    assert len(messages) == 2 and system == mode.system_prompt(clean_question(text))
    wrapper = re.fullmatch(r"<(\w+)>(.*)</\1>", human, re.S)
    if mode.human != "{input}":
        assert wrapper is not None
        inner = wrapper.group(2)
        assert not re.search(r"</?\s*(article|review|text|result)\b[^<>]*>", inner, re.I)


def test_a_files_text_loses_lone_surrogates_too() -> None:
    # pypdf can hand back a lone surrogate; neither the store nor Bedrock's JSON takes one.
    from chatbot.documents import _clean

    assert _clean("계약\ud800서\udc80") == "계약서"

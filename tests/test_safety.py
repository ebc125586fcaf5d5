import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from chatbot.safety import defuse_images, defuse_stream, plain_label

# A CommonMark parser with GFM tables as the judge of what renders as an image; raw HTML off,
# as in Streamlit, which shows it as text.
MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
URL = "http://h/x.png"

# Pieces that build or break images: the syntax itself, escapes, character references for
# `!`, code, containers, tables and a reference definition; letters and Hangul between them.
PIECES = [
    *"!![]()\\\\`<>:\n*|-_$ abr서울",
    "![",
    "](",
    f"({URL})",
    "[r]",
    "[]",
    "&#33;",
    "&excl;",
    "\\!",
    "> ",
    "- ",
    "1. ",
    "    ",
    "```\n",
    "\n\n",
    "| a | b |\n|---|---|\n| ",
    f"<{URL}>",
    f"\n\n[r]: {URL}\n",
]
pieces = st.lists(st.sampled_from(PIECES), max_size=10).map("".join)
# Images, often enough to matter: after more `!`s or backslashes, alt text from the pieces
# (so images nest), any kind of target.
images = st.builds(
    "{}![{}]{}".format,
    st.text("!\\", max_size=3),
    st.lists(st.sampled_from(PIECES), max_size=4).map("".join),
    st.sampled_from([f"({URL})", f"(<{URL}>)", "[r]", "[]", ""]),
)
markdown_texts = st.lists(st.one_of(images, pieces), max_size=8).map("".join)

FORMS = {
    "inline": (f"![a]({URL})", f"\\![a]({URL})"),
    "two bangs": (f"!![a]({URL})", f"!\\![a]({URL})"),
    "three bangs": (f"!!![a]({URL})", f"!!\\![a]({URL})"),
    "reference": (f"![a][r]\n\n[r]: {URL}", f"\\![a][r]\n\n[r]: {URL}"),
    "collapsed": (f"![r][]\n\n[r]: {URL}", f"\\![r][]\n\n[r]: {URL}"),
    "shortcut": (f"![r]\n\n[r]: {URL}", f"\\![r]\n\n[r]: {URL}"),
    "in a link": (f"[![a]({URL})](http://h/page)", f"[\\![a]({URL})](http://h/page)"),
    "in an image": (f"![![a]({URL})]({URL})", f"\\![\\![a]({URL})]({URL})"),
    "list": (f"- ![a]({URL})\n1. !![b]({URL})", f"- \\![a]({URL})\n1. !\\![b]({URL})"),
    "table": (
        f"| a | b |\n|---|---|\n| ![a]({URL}) | !![b]({URL}) |",
        f"| a | b |\n|---|---|\n| \\![a]({URL}) | !\\![b]({URL}) |",
    ),
    "blockquote": (f"> ![a]({URL})\n> > !![b]({URL})", f"> \\![a]({URL})\n> > !\\![b]({URL})"),
    "heading, emphasis": (f"# ![a]({URL})\n**![b]({URL})**", f"# \\![a]({URL})\n**\\![b]({URL})**"),
    "escaped backslash": (f"\\\\![a]({URL})", f"\\\\\\![a]({URL})"),
    "two escaped backslashes": (f"\\\\\\\\![a]({URL})", f"\\\\\\\\\\![a]({URL})"),
    "already escaped": (f"\\![a]({URL})", f"\\![a]({URL})"),
    "already escaped, after a backslash": (f"\\\\\\![a]({URL})", f"\\\\\\![a]({URL})"),
    "after a character reference": (
        f"&#33;![a]({URL}) &excl;!![b]({URL})",
        f"&#33;\\![a]({URL}) &excl;!\\![b]({URL})",
    ),
    "Hangul": (f"지도 ![서울]({URL}) 입니다", f"지도 \\![서울]({URL}) 입니다"),
}


@pytest.mark.parametrize(("text", "defused"), FORMS.values(), ids=FORMS.keys())
def test_every_image_form_becomes_a_link(text: str, defused: str) -> None:
    assert defuse_images(text) == defused
    html = MARKDOWN.render(defused)
    assert "<img" not in html
    assert f'<a href="{URL}">' in html  # still there, behind a click


def test_text_around_images_is_kept() -> None:
    assert defuse_images("see ![map](https://x/?q=secret) and ![b][ref]") == (
        "see \\![map](https://x/?q=secret) and \\![b][ref]"
    )
    assert defuse_images("wow! [link](https://x)") == "wow! [link](https://x)"


def test_an_image_split_across_chunks_is_still_defused() -> None:
    assert list(defuse_stream(["look !", "[x](http://h/) ok!"])) == [
        "look ",
        "\\![x](http://h/) ok",
        "!",
    ]
    # The backslashes before a `!` decide it too, wherever the chunks end.
    assert "".join(defuse_stream(["\\", "\\", "!", "[x](u)"])) == "\\\\\\![x](u)"


def test_the_texts_tried_hold_images() -> None:
    """The property below is not vacuous: the texts it draws do render images."""
    find(markdown_texts, lambda text: "<img" in MARKDOWN.render(text))


@settings(max_examples=400)
@given(markdown_texts)
def test_no_text_renders_an_image_once_defused(text: str) -> None:
    assert "<img" not in MARKDOWN.render(defuse_images(text))


@given(markdown_texts.map(lambda text: text.replace("![", "! [")))
def test_text_without_an_image_opener_is_unchanged(text: str) -> None:
    assert defuse_images(text) == text


@settings(max_examples=200)
@given(st.lists(markdown_texts, max_size=10))
def test_streaming_defuses_exactly_like_the_whole_text(chunks: list[str]) -> None:
    assert "".join(defuse_stream(chunks)) == defuse_images("".join(chunks))


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from("![]()*_`<>#-+.:~|\\/ abc한1\n"), max_size=40))
def test_a_plain_label_renders_as_exactly_its_text(text: str) -> None:
    """A title is one line (conversation titles are): it renders as itself, nothing else."""
    line = " ".join(text.split())
    tokens = MARKDOWN.parseInline(plain_label(line))[0].children or []
    assert [token.type for token in tokens] in ([], ["text"])
    assert "".join(token.content for token in tokens) == line

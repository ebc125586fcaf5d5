from hypothesis import given
from hypothesis import strategies as st

from chatbot.safety import defuse_images, defuse_stream


def test_images_become_links() -> None:
    assert defuse_images("see ![map](https://x/?q=secret) and ![b][ref]") == (
        "see [🖼 map](https://x/?q=secret) and [🖼 b][ref]"
    )
    assert defuse_images("wow! [link](https://x)") == "wow! [link](https://x)"


def test_an_image_split_across_chunks_is_still_defused() -> None:
    assert list(defuse_stream(["look !", "[x](http://h/) ok!"])) == [
        "look ",
        "[🖼 x](http://h/) ok",
        "!",
    ]


@given(st.lists(st.text(alphabet="![]() ab", max_size=8), max_size=10))
def test_streaming_defuses_exactly_like_the_whole_text(chunks: list[str]) -> None:
    assert "".join(defuse_stream(chunks)) == defuse_images("".join(chunks))

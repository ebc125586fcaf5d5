"""Streamlit glue: a one-click button that puts an answer's Markdown on the clipboard.

Streamlit has no clipboard API, and ``st.code``'s copy icon would show the Markdown twice.
A components-v2 element (no iframe) holds the text as data, never as HTML: the script only
hands it to ``navigator.clipboard.writeText`` and sets the label with ``textContent``. The
text travels gzip-compressed in base64: as plain JSON, Hangul is escaped to six bytes a
syllable, and the copy would have doubled what an answer sends to the browser (bench.wire).
It is unpacked when the button is drawn, so the click writes at once, as browsers require.
"""

from __future__ import annotations

import base64
import gzip
from functools import lru_cache

import streamlit as st

from chatbot.i18n import t

_JS = """
export default function ({ parentElement, data }) {
  const button = parentElement.querySelector("button");
  button.textContent = data.label;
  let text = null;
  const packed = Uint8Array.from(atob(data.packed), (c) => c.charCodeAt(0));
  const unpacked = new Blob([packed]).stream().pipeThrough(new DecompressionStream("gzip"));
  new Response(unpacked).text().then((unpackedText) => { text = unpackedText; });
  button.onclick = async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = data.copied;
    } catch {
      button.textContent = data.failed;
    }
    setTimeout(() => { button.textContent = data.label; }, 1500);
  };
}
"""
_CSS = """
button {
  font: inherit; font-size: 0.8rem; color: var(--st-text-color);
  background: none; border: none; padding: 0.1rem 0.3rem; cursor: pointer; opacity: 0.7;
}
button:hover { opacity: 1; }
"""
_copy = st.components.v2.component(
    "seoyeon.copy_markdown", html='<button type="button"></button>', css=_CSS, js=_JS
)


def copy_button(text: str, lang: str, key: str) -> None:
    """A button copying ``text`` (an answer's Markdown, as stored) in one click."""
    labels = {name: t(f"copy_{name}", lang) for name in ("label", "copied", "failed")}
    _copy(data={"packed": _packed(text), **labels}, key=key)


@lru_cache(maxsize=256)
def _packed(text: str) -> str:
    """``text`` gzip-compressed in base64: once per answer, not on every run of the page,
    which draws every answer of the conversation again."""
    return base64.b64encode(gzip.compress(text.encode(), mtime=0)).decode("ascii")

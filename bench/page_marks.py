"""The timing script the browser benchmarks (browser, load, wire) install in every page, how
they drive it, and what they report about the pages alike.

In the page a ``MutationObserver`` (installed before any page script) stamps each change with
``performance.now()``; ``performance.timeOrigin`` turns that into wall-clock time.
"""

from __future__ import annotations

from typing import Any

from bench import common

# Installed in every page before its own scripts (``add_init_script``). It stamps, with
# performance.now(): Enter pressed in the chat input, the first time that input is visible
# and enabled, and, once armed for the assistant message at ``index``, when its answer
# first contains ``first``, first contains ``last``, each change of the answer's length in
# non-blank characters (``lengths``: the visible text's timeline), and when the stored dialog
# is redrawn (feedback buttons). The result promise resolves a frame after that, or at the
# timeout; ``__bench.marks`` holds the marks so far, for a caller that ends the turn itself,
# and ``__bench.answer(index)`` the text of an answer as it is now.
# The answer is every Markdown block of the message (captions are not), however many
# elements it is drawn in.
PAGE_JS = r"""
(() => {
  if (window.__bench) return;
  const bench = (window.__bench = { enter: null, inputReady: null, result: null });
  const INPUT = '[data-testid="stChatInputTextArea"]';
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.key === "Enter" && !event.shiftKey && target?.matches?.(INPUT)) {
      bench.enter = performance.now();
    }
  }, true);

  const inputReady = () => {
    const input = document.querySelector(INPUT);
    if (!input || input.disabled) return false;
    const box = input.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(input).visibility !== "hidden";
  };
  const readyObserver = new MutationObserver(() => {
    if (bench.inputReady === null && inputReady()) {
      bench.inputReady = performance.now();
      readyObserver.disconnect();
    }
  });
  readyObserver.observe(document, { childList: true, subtree: true, attributes: true });

  const assistantAt = (index) => {
    let seen = 0;
    for (const message of document.querySelectorAll('[data-testid="stChatMessage"]')) {
      if (message.querySelector('[data-testid="stChatMessageAvatarAssistant"]')) {
        if (seen === index) return message;
        seen += 1;
      }
    }
    return null;
  };

  // The answer's Markdown, not the labels of the buttons under it (Regenerate, Edit).
  const answerText = (message) => Array.from(
    message.querySelectorAll('[data-testid="stMarkdownContainer"]')
  ).filter((block) => !block.closest("button")).map((block) => block.textContent).join("");

  bench.answer = (index) => {
    const message = assistantAt(index);
    return message ? answerText(message) : null;
  };

  bench.arm = (index, first, last, timeoutMs) => {
    bench.enter = null;
    const marks = (bench.marks = {
      enter: null, first: null, last: null, done: null,
      firstFrame: null, lastFrame: null, text: null, timedOut: false, lengths: [],
    });
    let shownLength = 0;
    bench.result = new Promise((resolve) => {
      let finished = false;
      let timer = null;
      const finish = () => {
        if (finished) return;
        finished = true;
        observer.disconnect();
        clearTimeout(timer);
        marks.enter = bench.enter;
        resolve(marks);
      };
      const check = () => {
        if (finished) return;
        const now = performance.now();
        const message = assistantAt(index);
        if (!message) return;
        const text = answerText(message);
        const length = text.replace(/\s+/g, "").length;
        if (length !== shownLength) {
          shownLength = length;
          marks.lengths.push([now, length]);
        }
        if (marks.first === null && text.includes(first)) {
          marks.first = now;
          requestAnimationFrame(() => { marks.firstFrame = performance.now(); });
        }
        if (marks.last === null && text.includes(last)) {
          marks.last = now;
          requestAnimationFrame(() => { marks.lastFrame = performance.now(); });
        }
        if (marks.done === null && message.querySelector('[data-testid="stFeedback"]')) {
          marks.done = now;
          marks.text = text;
          requestAnimationFrame(() => requestAnimationFrame(finish));
        }
      };
      const observer = new MutationObserver(check);
      observer.observe(document.body, { childList: true, subtree: true, characterData: true });
      timer = setTimeout(() => { marks.timedOut = true; marks.text = null; finish(); }, timeoutMs);
    });
  };
})();
"""
# Wall-clock (epoch ms) in the page, to compare with this process's time.time().
PAGE_NOW_JS = "() => performance.timeOrigin + performance.now()"
# Waits for the chat input to be usable; ``arm`` readies the marks of one answer, which
# ``result`` resolves to, and ``marks`` reads as they are.
INPUT_READY_JS = "() => window.__bench && window.__bench.inputReady !== null"
ARM_JS = "([i, f, l, t]) => window.__bench.arm(i, f, l, t)"
RESULT_JS = "() => window.__bench.result"
MARKS_JS = "() => window.__bench.marks"
ANSWER_JS = "(i) => window.__bench.answer(i)"


def versions_line() -> str:
    return common.versions_line("streamlit", "playwright", "boto3", "langchain-aws")


def is_loopback(url: str) -> bool:
    return url.startswith(("http://127.0.0.1:", "ws://127.0.0.1:", "data:", "blob:", "about:"))


def watch_offhost(context: Any, offhost: list[str]) -> None:
    """Every request of the browser ``context`` to anywhere but loopback goes to ``offhost``
    (a sync or an async Playwright context)."""
    context.on("request", lambda r: None if is_loopback(r.url) else offhost.append(r.url))


def print_offhost(offhost: list[str]) -> None:
    print(f"requests off 127.0.0.1 from the browser: {len(offhost)}")
    for url in offhost[:5]:
        print(f"  {url}")


def print_warnings(server_log: list[str], problems: list[str]) -> None:
    """The server's lines that look like trouble, then what went wrong in the benchmark."""
    for line in server_log[:10]:
        print(f"server log: {line}")
    for problem in problems:
        print(f"WARNING: {problem}")

"""End to end: Chromium drives `streamlit run app.py`, which talks to the loopback Bedrock.

The property under test is the one the product exists for: the answer appears while it is
still being generated (the original system showed nothing until the whole answer was done),
and a reload replays the stored dialog. And what the model or the user wrote is shown as text:
HTML, event handlers and `javascript:` links in it never run, live or replayed.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Dialog, Locator, Page, expect, sync_playwright

from chatbot.store.sqlite import SqliteStore
from harness.app_server import AppServer
from harness.chromium import CONTEXT_OPTIONS, launch_browser
from loopback.bedrock import FakeBedrock, Reply
from tests.factories import make_dialog

SCREENSHOT = Path("/tmp/e2e-chat.png")

QUESTION = "서울을 여행하고 싶어. 무엇을 타고 여행하는것이 좋을까?"
TOKENS = [f"token{i:02d} " for i in range(1, 31)]  # 30 distinct words, ~3 s at 0.1 s each
FULL_ANSWER = "".join(TOKENS).strip()

# Every payload below records itself in `window.__xss` (or calls `alert`) if it ever runs.
XSS_TRIPWIRE = "window.__xss = []; window.alert = (m) => window.__xss.push('alert:' + m);"
XSS_QUESTION = (
    "서울 여행 코스 <img src=x onerror=\"window.__xss.push('question')\"> 추천해 줘 "
    "<script>window.__xss.push('question-script')</script> 부탁해요"
)
XSS_MARKER = "즐거운 서울 여행 되세요!"
XSS_ANSWER = "\n\n".join(
    [
        "서울은 지하철이 편리합니다. <script>window.__xss.push('script')</script> 버스도 좋아요.",
        "<script>window.__xss.push('script-block')</script>",
        "경복궁 사진: <img src=x onerror=\"window.__xss.push('img')\"> 입니다.",
        "<img src=y onerror=alert('img-alert')>",
        "지도 <svg onload=\"window.__xss.push('svg')\"></svg> 참고하세요.",
        "예약은 [클릭](javascript:window.__xss.push('link')) 하세요.",
        "또는 <a href=\"javascript:window.__xss.push('a')\">a</a> 링크도 있어요.",
        "자동 링크 <javascript:window.__xss.push('autolink')> 와 "
        "![지도](javascript:window.__xss.push('md-img')) 그림.",
        "<iframe src=\"javascript:window.__xss.push('iframe')\"></iframe>",
        "<iframe src=\"javascript:parent.__xss.push('iframe-parent')\"></iframe>",
        "<details open ontoggle=\"window.__xss.push('details')\"><summary>s</summary></details>",
        "수식 $\\href{javascript:window.__xss.push('katex')}{k}$ 끝.",
        f"한강 공원도 추천합니다. {XSS_MARKER}",
    ]
)
RAW_HTML_SHOWN_AS_TEXT = [
    "<script>window.__xss.push('script')</script>",
    "<script>window.__xss.push('script-block')</script>",
    "<img src=x onerror=\"window.__xss.push('img')\">",
    "<img src=y onerror=alert('img-alert')>",
    "<svg onload=\"window.__xss.push('svg')\"></svg>",
    "<a href=\"javascript:window.__xss.push('a')\">a</a>",
    "<iframe src=\"javascript:window.__xss.push('iframe')\"></iframe>",
    "<details open ontoggle=\"window.__xss.push('details')\">",
]
# What inside a chat message may not exist: run-on-load elements, inline event handlers,
# and script URLs in any attribute that navigates or loads.
FIND_ACTIVE_CONTENT = """() => {
    const found = [];
    const urlAttrs = ["href", "src", "xlink:href", "action", "formaction", "data", "srcdoc"];
    for (const message of document.querySelectorAll('[data-testid="stChatMessage"]')) {
        for (const el of message.querySelectorAll("*")) {
            const tag = el.tagName.toLowerCase();
            if (["script", "iframe", "frame", "object", "embed", "base"].includes(tag)) {
                found.push(`<${tag}>`);
            }
            for (const attr of el.attributes) {
                const name = attr.name.toLowerCase();
                const value = attr.value.replace(/[\\u0000-\\u0020]/g, "").toLowerCase();
                if (name.startsWith("on")) {
                    found.push(`<${tag} ${name}="${attr.value}">`);
                } else if (
                    urlAttrs.includes(name) &&
                    /^(javascript|vbscript|data:text\\/html)/.test(value)
                ) {
                    found.push(`<${tag} ${name}="${attr.value}">`);
                }
            }
        }
    }
    return found;
}"""


@dataclass
class App:
    url: str
    bedrock: FakeBedrock
    db: Path  # the SQLite store the app writes


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    """The fake Bedrock in this process and `streamlit run app.py` pointed at it."""
    with FakeBedrock() as bedrock:
        server = AppServer.launch(tmp_path, bedrock)
        try:
            server.wait_healthy()
            yield App(url=server.url, bedrock=bedrock, db=server.db)
        finally:
            server.stop()
            # Shown by pytest only when the test fails.
            print("--- streamlit output ---\n" + server.log_tail())


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        try:
            context = browser.new_context(**CONTEXT_OPTIONS)
            yield context.new_page()
        finally:
            browser.close()


@dataclass
class Chat:
    """Locators for the chat page."""

    messages: Locator
    user_messages: Locator
    assistant_messages: Locator
    input: Locator

    @classmethod
    def of(cls, page: Page) -> Chat:
        messages = page.get_by_test_id("stChatMessage")
        return cls(
            messages=messages,
            user_messages=messages.filter(has=page.get_by_test_id("stChatMessageAvatarUser")),
            assistant_messages=messages.filter(
                has=page.get_by_test_id("stChatMessageAvatarAssistant")
            ),
            input=page.get_by_test_id("stChatInputTextArea"),
        )


def _open_chat_as_new_user(app: App, page: Page) -> Chat:
    """Signed in through the URL; a new user has no dialogs yet."""
    chat = Chat.of(page)
    page.goto(f"{app.url}/?user=alice")
    expect(chat.input).to_be_visible(timeout=30_000)
    expect(page.get_by_role("textbox", name="User id")).to_have_value("alice")
    expect(chat.messages).to_have_count(0)
    return chat


def _open_history(page: Page, app: App, user: str) -> None:
    """The History page of a browser that has loaded the app: loaded first at the page's own
    path, Streamlit's frontend looks for the server under /history/_stcore/ and shows nothing
    (the case before this change too; a person arrives from the chat page)."""
    page.goto(f"{app.url}/history?user={user}")


def _select_row(page: Page, grid: Locator, row: int) -> None:
    """Tick a row of an ``st.dataframe`` (a canvas): its checkbox in the row-marker column."""
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()  # where it is in the viewport, once scrolled to
    assert box is not None
    page.mouse.click(box["x"] + 18, box["y"] + 35 * row + 17)  # 35 px: the header, a row


@pytest.mark.browser
def test_answer_streams_and_is_replayed_after_reload(app: App, page: Page) -> None:
    # 1. Signed in through the URL; a new user has no dialogs yet.
    chat = _open_chat_as_new_user(app, page)
    messages, user_messages, assistant_messages, chat_input = (
        chat.messages,
        chat.user_messages,
        chat.assistant_messages,
        chat.input,
    )

    # 2. Ask; the fake model answers 30 words after 0.3 s, one every 0.1 s.
    app.bedrock.enqueue(Reply(tokens=TOKENS, ttft=0.3, token_delay=0.1))
    chat_input.fill(QUESTION)
    sent = time.monotonic()
    chat_input.press("Enter")

    # 3. The first words show up while the rest is still being generated.
    answer = assistant_messages.last
    expect(answer).to_contain_text(TOKENS[0].strip(), timeout=15_000, use_inner_text=True)
    first_seen = time.monotonic() - sent
    partial = answer.inner_text()
    shown = sum(token.strip() in partial for token in TOKENS)
    assert TOKENS[-1].strip() not in partial, (
        f"the whole answer appeared at once ({first_seen:.2f} s after sending): {partial!r}"
    )
    expect(answer).to_be_visible()

    # 4. The whole answer, under the question; then the rerun renders the stored dialog
    # (usage caption and feedback), so it is saved before the reload below.
    expect(answer).to_contain_text(FULL_ANSWER, timeout=15_000, use_inner_text=True)
    completed = time.monotonic() - sent
    expect(user_messages).to_have_count(1)
    expect(user_messages.last).to_contain_text(QUESTION)
    expect(answer.get_by_test_id("stFeedback")).to_be_visible(timeout=15_000)
    expect(messages).to_have_count(2)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    print(
        f"first words after {first_seen:.2f} s ({shown}/{len(TOKENS)} tokens shown), "
        f"full answer after {completed:.2f} s"
    )

    assert len(app.bedrock.requests) == 1
    assert app.bedrock.last_user_text() == QUESTION

    # 5. A reload is a new Streamlit session: the stored dialog is replayed from SQLite.
    page.reload()
    expect(chat_input).to_be_visible(timeout=30_000)
    expect(user_messages).to_have_count(1, timeout=15_000)
    expect(assistant_messages).to_have_count(1)
    expect(user_messages.first).to_contain_text(QUESTION)
    expect(assistant_messages.first).to_contain_text(FULL_ANSWER, use_inner_text=True)
    assert len(app.bedrock.requests) == 1, "replaying must not call the model again"


def _assert_inert(page: Page, dialogs: list[str], when: str) -> None:
    ran = [
        entry
        for tab in page.context.pages
        for frame in tab.frames
        for entry in frame.evaluate("() => window.__xss || []")
    ]
    assert ran == [], f"{when}: script in a message ran: {ran}"
    assert dialogs == [], f"{when}: a message opened a dialog: {dialogs}"
    active = page.evaluate(FIND_ACTIVE_CONTENT)
    assert active == [], f"{when}: active content inside a chat message: {active}"


def _check_dialog_is_inert(page: Page, chat: Chat, dialogs: list[str], when: str) -> None:
    question, answer = chat.user_messages.last, chat.assistant_messages.last
    _assert_inert(page, dialogs, when)
    # Streamlit (1.67, markdown without unsafe_allow_html) escapes raw HTML: every tag is
    # shown to the user as the literal text the model or the user wrote, nothing is dropped.
    expect(question).to_contain_text(XSS_QUESTION)
    for shown in RAW_HTML_SHOWN_AS_TEXT:
        expect(answer).to_contain_text(shown)
    # Markdown links, autolinks and images keep their text, but their `javascript:` URL is
    # replaced (by "#"); `_assert_inert` has checked no such URL is left in any attribute.
    links = answer.locator("a")
    expect(links.filter(has_text="클릭")).to_have_count(1)
    for index in range(links.count()):
        links.nth(index).click()
    page.wait_for_timeout(300)  # the only fixed wait: give a clicked link the time to run
    _assert_inert(page, dialogs, f"{when}, after clicking {links.count()} links")


@pytest.mark.browser
def test_model_and_user_html_is_never_executed(app: App, page: Page) -> None:
    # The tripwire is installed on the context, so it also covers frames and any new tab.
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.context.add_init_script(XSS_TRIPWIRE)
    page.context.on("dialog", on_dialog)
    # A Markdown image loads on sight: it could carry chat text to any server, unclicked.
    probe = f"{app.url}/leak-probe.png"
    loaded: list[str] = []
    page.context.on("request", lambda r: loaded.append(r.url) if "leak-probe" in r.url else None)
    chat = _open_chat_as_new_user(app, page)

    # 1. The user's question and the streamed answer both carry payloads.
    app.bedrock.enqueue(Reply(text=f"![지도]({probe}?d=secret)\n\n{XSS_ANSWER}", token_delay=0.01))
    chat.input.fill(XSS_QUESTION)
    chat.input.press("Enter")
    expect(chat.assistant_messages.last).to_contain_text(XSS_MARKER, timeout=15_000)
    # The rerun after the answer renders the stored dialog (with feedback): check that one.
    expect(chat.assistant_messages.last.get_by_test_id("stFeedback")).to_be_visible(timeout=15_000)
    expect(chat.messages).to_have_count(2)
    assert app.bedrock.last_user_text() == XSS_QUESTION
    assert loaded == [], "an image in the answer was loaded without a click"
    _check_dialog_is_inert(page, chat, dialogs, "live")

    # 2. Replayed from the store in a new session: just as inert.
    loaded.clear()  # the live check clicked the image's link, which may load it
    page.reload()
    expect(chat.input).to_be_visible(timeout=30_000)
    expect(chat.assistant_messages).to_have_count(1, timeout=15_000)
    expect(chat.assistant_messages.last).to_contain_text(XSS_MARKER)
    expect(chat.messages).to_have_count(2)
    assert loaded == [], "a replayed image was loaded without a click"
    _check_dialog_is_inert(page, chat, dialogs, "replayed")
    assert len(app.bedrock.requests) == 1, "replaying must not call the model again"


@pytest.mark.browser
def test_stopping_keeps_and_stores_what_arrived(app: App, page: Page) -> None:
    chat = _open_chat_as_new_user(app, page)
    app.bedrock.enqueue(Reply(tokens=TOKENS, ttft=0.2, token_delay=0.2))  # ~6 s of answer
    chat.input.fill(QUESTION)
    chat.input.press("Enter")
    answer = chat.assistant_messages.last
    expect(answer).to_contain_text(TOKENS[2].strip(), timeout=15_000, use_inner_text=True)
    # While the script runs, chat_input(submit_mode="stop") shows a stop button.
    page.get_by_test_id("stChatInputStopButton").click()

    # The stopped turn is stored with what arrived, and a reload shows it as stopped.
    store = SqliteStore(app.db)
    since = datetime.now(UTC) - timedelta(hours=1)
    deadline = time.monotonic() + 15
    while not (rows := store.user_dialogs("alice", since)) and time.monotonic() < deadline:
        time.sleep(0.1)
    [row] = rows
    assert row.status == "stopped"
    assert row.msg.startswith("token01 token02 token03") and TOKENS[-1].strip() not in row.msg
    page.reload()
    expect(chat.assistant_messages.last).to_contain_text(row.msg, timeout=30_000)
    expect(chat.assistant_messages.last).to_contain_text("You stopped the answer.")


@dataclass
class ImageServer:
    url: str
    requested: list[str]  # every path asked for, in order


@pytest.fixture
def image_server() -> Iterator[ImageServer]:
    """A loopback HTTP server that records every request: where a shown image would leak."""
    requested: list[str] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requested.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass  # the recorded paths say it all

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ImageServer(url=f"http://127.0.0.1:{server.server_port}", requested=requested)
    finally:
        server.shutdown()
        server.server_close()


def _image_dialog(u: str) -> tuple[str, list[str]]:
    """A question and an answer's stream with every Markdown image form pointing at ``u``; the
    answer's chunks split an image between its `!`s, backslashes and `[`."""
    question = (
        f"지도 보여줘 ![q-inline]({u}/q-inline.png) !![q-bang]({u}/q-bang.png) "
        f"[![q-nested]({u}/q-nested.png)]({u}/q-page) \\\\![q-escaped]({u}/q-escaped.png) "
        f"![q-ref][qr] $\\includegraphics{{{u}/q-katex.png}}$\n\n[qr]: {u}/q-ref.png"
    )
    answer = [
        "서울 지도입니다 !",
        f"[a-inline]({u}/a-inline.png) ",
        "!",
        "!",
        f"[a-bang]({u}/a-bang.png)\n\n",
        "\\",
        "\\",
        f"![a-escaped]({u}/a-escaped.png)\n\n",
        f"[![a-nested]({u}/a-nested.png)]({u}/a-page)\n\n",
        "- ![a-list",
        f"]({u}/a-list.png)\n\n",
        "> !![a-quote](",
        f"{u}/a-quote.png)\n\n",
        "| 표 | 그림 |\n|---|---|\n| 1 | ![a-table]",
        f"({u}/a-table.png) |\n\n",
        "![a-ref][a-ref] ![a-ref][] 그리고 ![a-ref]\n\n",
        f"$\\includegraphics{{{u}/a-katex.png}}$\n\n",
        f"[a-ref]: {u}/a-ref.png\n\n",
        XSS_MARKER,
    ]
    return question, answer


def _assert_nothing_loaded(page: Page, images: ImageServer, when: str) -> None:
    """No request reached the image server, though Chromium can reach it: a probe loaded
    after everything on the page was drawn does arrive (and proves the server listens)."""
    probe = f"/probe-{len(images.requested)}.png"
    page.evaluate(
        "url => new Promise(done => { const i = new Image(); i.onload = i.onerror = done; "
        "i.src = url; })",
        images.url + probe,
    )
    assert images.requested == [probe], f"{when}: an image loaded without a click"
    images.requested.clear()


def _expect_links(where: Locator, images: ImageServer, names: list[str]) -> None:
    """Each image is shown as a link to its URL: its text is there, behind a click."""
    for name in names:
        links = where.get_by_role("link", name=name, exact=True)
        expect(links.first).to_be_visible()
        for link in links.all():
            expect(link).to_have_attribute("href", f"{images.url}/{name}.png")


QUESTION_IMAGES = ["q-inline", "q-bang", "q-nested", "q-escaped", "q-ref"]
ANSWER_IMAGES = [
    "a-inline",
    "a-bang",
    "a-escaped",
    "a-nested",
    "a-list",
    "a-quote",
    "a-table",
    "a-ref",
]


@pytest.mark.browser
def test_images_in_a_dialog_never_load(app: App, page: Page, image_server: ImageServer) -> None:
    question, answer = _image_dialog(image_server.url)
    chat = _open_chat_as_new_user(app, page)

    # 1. Live: the question, and the answer while it streams (each chunk is drawn).
    app.bedrock.enqueue(Reply(tokens=answer, token_delay=0.05))
    chat.input.fill(question)
    chat.input.press("Enter")
    expect(chat.assistant_messages.last).to_contain_text(XSS_MARKER, timeout=15_000)
    expect(chat.assistant_messages.last.get_by_test_id("stFeedback")).to_be_visible(timeout=15_000)
    assert app.bedrock.last_user_text() == question
    _assert_nothing_loaded(page, image_server, "live")
    _expect_links(chat.user_messages.last, image_server, QUESTION_IMAGES)
    _expect_links(chat.assistant_messages.last, image_server, ANSWER_IMAGES)

    # 2. Replayed from the store in a new session.
    page.reload()
    expect(chat.assistant_messages.last).to_contain_text(XSS_MARKER, timeout=30_000)
    _assert_nothing_loaded(page, image_server, "replayed")
    _expect_links(chat.user_messages.last, image_server, QUESTION_IMAGES)
    _expect_links(chat.assistant_messages.last, image_server, ANSWER_IMAGES)

    # 3. The History page (local mode: everyone is their own analyst), the row selected: its
    # conversation is drawn as the user saw it, images as links there too.
    _open_history(page, app, "alice")
    table = page.get_by_test_id("stDataFrame")
    expect(table).to_be_visible(timeout=30_000)
    table.scroll_into_view_if_needed()
    _select_row(page, table, 1)
    main = page.get_by_test_id("stMain")
    expect(main).to_contain_text(XSS_MARKER, timeout=15_000)
    _assert_nothing_loaded(page, image_server, "History page")
    shown = Chat.of(page)
    _expect_links(shown.user_messages.last, image_server, QUESTION_IMAGES)
    _expect_links(shown.assistant_messages.last, image_server, ANSWER_IMAGES)


# Markdown whose rendering depends on the whole text: a list numbered across paragraphs, a
# fenced block with blank lines inside, a table, headings.
RICH_ANSWER = "\n\n".join(
    [
        "## 서울 여행 계획",
        "설명이 있는 문단입니다. **굵게** 그리고 `코드`.",
        "1. 첫째 날: 경복궁",
        "2. 둘째 날: 한강 공원",
        "3. 셋째 날: 남산",
        "```python\ndef fare(km):\n\n    return 1400 + max(0, km - 10) * 100\n```",
        "| 교통 | 요금 |\n|---|---|\n| 지하철 | 1,400원 |\n| 버스 | 1,500원 |",
        "### 마무리",
        "즐거운 여행 되세요!",
    ]
)
# The answer's Markdown elements (not the Markdown of the buttons' labels under it).
MARKDOWN_HTML = """(message) => Array.from(
    message.querySelectorAll('[data-testid="stMarkdownContainer"]'), (el) => el
).filter((el) => !el.closest("button")).map((el) => el.innerHTML)"""


def _stable(html: list[str]) -> list[str]:
    """Rendered Markdown without what React generates per page load (ids, class names)."""
    return [re.sub(r'\s(?:id|aria-labelledby|class|href)="[^"]*"', "", part) for part in html]


@pytest.mark.browser
def test_a_streamed_answer_ends_exactly_as_one_markdown_of_it(app: App, page: Page) -> None:
    chat = _open_chat_as_new_user(app, page)
    tokens = re.findall(r"\S+\s*|\s+", RICH_ANSWER)
    app.bedrock.enqueue(Reply(tokens=tokens, ttft=0.2, token_delay=0.03))
    chat.input.fill("서울 여행 계획을 표와 코드로 알려줘")
    chat.input.press("Enter")
    answer = chat.assistant_messages.last

    # While it streams, finished blocks are elements of their own.
    expect(answer.get_by_test_id("stMarkdownContainer").nth(2)).to_be_attached(timeout=15_000)
    expect(answer.get_by_test_id("stFeedback")).to_be_visible(timeout=30_000)
    # The code block is highlighted a moment after it is drawn: compare finished pages.
    highlighted = "[data-testid='stCode'] code span"
    expect(answer.locator(highlighted).first).to_be_attached(timeout=15_000)
    live = answer.evaluate(MARKDOWN_HTML)

    # Replayed, the stored answer is drawn by one st.markdown: the live page ends the same.
    page.reload()
    expect(chat.assistant_messages).to_have_count(1, timeout=30_000)
    replay = chat.assistant_messages.first
    expect(replay.locator(highlighted).first).to_be_attached(timeout=15_000)
    replayed = replay.evaluate(MARKDOWN_HTML)
    assert _stable(live) == _stable(replayed) and len(live) == 1
    html = live[0]
    assert html.count("<ol") == 1 and len(re.findall(r"<li[\s>]", html)) == 3  # one list
    assert "<table" in html and "<h2" in html and "<h3" in html
    assert html.count("<pre") == 1 and "fare" in html and "1400" in html  # one code block


def _sidebar_button(page: Page, name: str) -> Locator:
    return page.get_by_test_id("stSidebar").get_by_role("button", name=name, exact=True)


def _ask(app: App, chat: Chat, question: str, answers: int) -> None:
    """Send ``question`` and wait until ``answers`` answers stand, the last one stored."""
    chat.input.fill(question)
    chat.input.press("Enter")
    expect(chat.assistant_messages).to_have_count(answers, timeout=30_000)
    last = chat.assistant_messages.last
    expect(last.get_by_test_id("stFeedback")).to_be_visible(timeout=30_000)


@pytest.mark.browser
def test_conversations_reopen_continue_survive_a_reload_are_searched_and_deleted(
    app: App, page: Page
) -> None:
    chat = _open_chat_as_new_user(app, page)
    first_question, second_question = "부산 여행 계획을 세워 줘", "제주도 맛집 알려줘"
    _ask(app, chat, first_question, 1)
    _sidebar_button(page, "New chat").click()
    expect(chat.messages).to_have_count(0, timeout=15_000)
    _ask(app, chat, second_question, 1)
    first_id, second_id = dict.fromkeys(
        d.conversation_id
        for d in SqliteStore(app.db).user_dialogs("alice", datetime.now(UTC) - timedelta(hours=1))
    )
    expect(page).to_have_url(re.compile(f"c={second_id}"))

    # Reopen the first from the list and continue it: its exchange and none of the second's.
    _sidebar_button(page, first_question).click()
    expect(chat.user_messages.first).to_contain_text(first_question, timeout=15_000)
    expect(page).to_have_url(re.compile(f"c={first_id}"))
    _ask(app, chat, "숙소도 추천해 줘", 2)
    sent = [m["content"][0]["text"] for m in app.bedrock.requests[-1].body["messages"]]
    assert sent == [first_question, f"답변: {first_question}", "숙소도 추천해 줘"]

    # A reload returns to the conversation in the URL, whole.
    page.reload()
    expect(chat.user_messages).to_have_count(2, timeout=30_000)
    expect(chat.user_messages.first).to_contain_text(first_question)

    # Search finds a Korean word inside a longer one and opens its conversation.
    search = page.get_by_role("textbox", name="Search my conversations")
    search.fill("맛집")
    search.press("Enter")
    _sidebar_button(page, second_question).last.click()
    expect(chat.user_messages).to_have_count(1, timeout=15_000)
    expect(chat.user_messages.first).to_contain_text(second_question)
    search.fill("")
    search.press("Enter")

    # Delete it, after the question: the other conversation stays.
    page.get_by_test_id("stSidebar").get_by_text("This conversation").click()
    page.get_by_role("button", name="Delete this conversation").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete", exact=True).click()
    expect(page.get_by_text("Deleted 1 stored dialogs.")).to_be_visible(timeout=15_000)
    expect(_sidebar_button(page, second_question)).to_have_count(0)
    expect(_sidebar_button(page, first_question)).to_be_visible()
    kept = SqliteStore(app.db).user_dialogs("alice", datetime.now(UTC) - timedelta(hours=1))
    assert {d.conversation_id for d in kept} == {first_id}


@pytest.mark.browser
def test_continue_regenerate_edit_copy_and_export(app: App, page: Page) -> None:
    chat = _open_chat_as_new_user(app, page)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])

    # An answer cut by the output limit says so; Continue carries it on, as one answer.
    app.bedrock.enqueue(
        Reply(text="1. 경복궁\n2. 창덕궁", stop_reason="max_tokens"), Reply(text="\n3. 덕수궁")
    )
    chat.input.fill("서울 궁궐을 알려 줘")
    chat.input.press("Enter")
    expect(page.get_by_text("출력 한도")).to_be_visible(timeout=30_000)  # the question's language
    page.get_by_role("button", name="Continue").click()
    answer = chat.assistant_messages.last
    expect(answer.get_by_role("listitem")).to_have_count(3, timeout=30_000)
    expect(answer.get_by_test_id("stFeedback")).to_be_visible(timeout=15_000)

    # Copy puts the answer's Markdown on the clipboard in one click.
    answer.get_by_role("button", name="📋 Copy").click()
    expect(answer.get_by_role("button", name="✅ Copied")).to_be_visible(timeout=5_000)
    assert page.evaluate("navigator.clipboard.readText()") == "1. 경복궁\n2. 창덕궁\n3. 덕수궁"

    # Regenerate: the new answer replaces the old one on screen.
    app.bedrock.enqueue(Reply(text="다시 쓴 답변입니다."))
    page.get_by_role("button", name="Regenerate").click()
    expect(answer).to_contain_text("다시 쓴 답변입니다.", timeout=30_000)
    expect(chat.assistant_messages).to_have_count(1)

    # Edit the question: asked instead, and the turn it replaces leaves the conversation.
    page.get_by_role("button", name="Edit").click()
    page.get_by_label("Your question").fill("부산 궁궐도 있어?")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(chat.user_messages.last).to_contain_text("부산 궁궐도 있어?", timeout=30_000)
    expect(chat.user_messages).to_have_count(1)
    expect(chat.assistant_messages.last.get_by_test_id("stFeedback")).to_be_visible(timeout=30_000)
    assert app.bedrock.last_user_text() == "부산 궁궐도 있어?"

    # Export the conversation as Markdown: UTF-8, Korean as itself.
    page.get_by_test_id("stSidebar").get_by_text("This conversation").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Export as Markdown").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert "**Q.** 부산 궁궐도 있어?" in exported and "답변: 부산 궁궐도 있어?" in exported
    # Replaced turns are not part of the conversation (its title keeps its first question).
    assert exported.startswith("# 서울 궁궐을 알려 줘") and "**Q.** 서울" not in exported


@pytest.mark.browser
def test_an_analyst_filters_opens_a_user_and_their_conversation_and_exports_masked(
    app: App, page: Page
) -> None:
    store = SqliteStore(app.db)  # the app's file (WAL: both processes may use it)
    now = datetime.now(UTC) - timedelta(hours=1)
    haiku = "global.anthropic.claude-haiku-4-5-20251001-v1:0"
    for dialog in (
        make_dialog(
            "alice",
            now,
            conversation_id="a1",
            body="제 메일은 alice@example.com 이에요",
            msg="확인했습니다.",
            cost_microusd=50_000,
        ),
        make_dialog(
            "alice",
            now + timedelta(minutes=1),
            conversation_id="a1",
            body="전화는 010-1234-5678 로 주세요",
            msg="네, 알겠습니다.",
            cost_microusd=40_000,
        ),
        make_dialog(
            "alice",
            now + timedelta(minutes=2),
            conversation_id="a2",
            body="다른 대화",
            msg="다른 답",
        ),
        make_dialog(
            "bob",
            now,
            conversation_id="b1",
            model_id=haiku,
            body="하이쿠 질문",
            msg="하이쿠 답",
            cost_microusd=1_000,
        ),
    ):
        store.put(dialog)

    page.goto(f"{app.url}/?user=analyst")
    expect(Chat.of(page).input).to_be_visible(timeout=30_000)
    _open_history(page, app, "analyst")
    rows = page.get_by_test_id("stCaptionContainer").filter(has_text=re.compile(r"^Rows "))
    expect(rows).to_have_text("Rows 1–4 of 4", timeout=30_000)

    # Filter by model: only bob's Haiku dialog is left.
    page.get_by_test_id("stMultiSelect").filter(has_text="Models").click()
    page.get_by_role("option", name="claude-haiku-4-5", exact=True).click()
    page.keyboard.press("Escape")
    expect(rows).to_have_text("Rows 1–1 of 1", timeout=15_000)
    page.get_by_test_id("stMultiSelect").filter(has_text="Models").get_by_role(
        "button", name=re.compile("Clear all|clear", re.IGNORECASE)
    ).first.click()
    expect(rows).to_have_text("Rows 1–4 of 4", timeout=15_000)

    # Open a user: alice costs the most, so she is the Users table's first row.
    page.get_by_role("tab", name="Users").click()
    users = page.get_by_test_id("stDataFrame").first
    expect(users).to_be_visible(timeout=15_000)
    _select_row(page, users, 1)
    expect(page.get_by_role("textbox", name="User id (empty: everyone)")).to_have_value(
        "alice", timeout=15_000
    )
    expect(rows).to_have_text("Rows 1–3 of 3", timeout=15_000)

    # Open one of her conversations: the newest row is "다른 대화"; the second, conversation a1.
    _select_row(page, page.get_by_test_id("stDataFrame").first, 2)
    heading = page.get_by_role("heading", name="Conversation of alice")
    expect(heading).to_be_visible(timeout=15_000)
    messages = page.get_by_test_id("stChatMessage")
    expect(messages).to_have_count(4)  # both exchanges of a1, as she saw them
    expect(messages.nth(0)).to_contain_text("alice@example.com")
    expect(messages.nth(3)).to_contain_text("네, 알겠습니다.")

    # A masked export (the default): her e-mail and phone number are not in the file.
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    exported = Path(download.value.path()).read_bytes().decode("utf-8-sig")
    assert "[이메일]" in exported and "[전화번호]" in exported
    assert "alice@example.com" not in exported and "010-1234-5678" not in exported
    assert exported.count("\r\n") == 4  # the header and alice's three dialogs

"""Debian's Chromium through Playwright, shut off from everything but loopback; its own
browser download is never used."""

from __future__ import annotations

import os
from typing import Any

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps trying the closed network; no
# proxy, and no host name resolves except loopback, so it cannot reach anything but the app.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--no-proxy-server",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
# Every page the tests and benchmarks open: English UI, the same desktop-sized window.
CONTEXT_OPTIONS: dict[str, Any] = {"locale": "en-US", "viewport": {"width": 1280, "height": 900}}


def launch_browser(playwright: Any) -> Any:
    """Headless Chromium; with Playwright's async API, the awaitable that launches it."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)

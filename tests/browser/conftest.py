"""Browser tests: Playwright's sync API drives Debian's Chromium against pytest-django's live_server.

Without /usr/bin/chromium the tests skip with one reason — except on CI (CI=true), where a missing
browser is a failure, so a broken image cannot pass silently. Screenshots go to
test-artifacts/screenshots/ (override with SCREENSHOT_DIR); the path is printed after the run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import on_ci

# Playwright's sync API keeps an event loop running in this thread; Django refuses ORM calls made
# from such a thread unless told that the code around them is synchronous (it is).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
SCREENSHOTS = Path(
    os.environ.get("SCREENSHOT_DIR") or Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
)
DESKTOP = {"width": 1280, "height": 900}
TABLET = {"width": 820, "height": 1180}


@pytest.fixture(scope="module")
def chromium():
    """One Chromium per test module (module scope: other modules may start their own Playwright)."""
    if not os.path.exists(CHROMIUM):
        reason = f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
        if on_ci():
            pytest.fail(reason + " — required when CI=true", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium):
    """A fresh desktop-sized page; ``page.console_errors`` collects script, CSP and HTTP errors."""
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.console_errors = []

    def on_console(msg) -> None:
        # A 422 is a form answering with its inline errors: expected, not a fault.
        if msg.type == "error" and "status of 422" not in msg.text:
            page.console_errors.append(msg.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
    yield page
    context.close()


@pytest.fixture
def screenshot():
    """``screenshot(page, "name")`` saves a full-page PNG and prints where it went."""

    def take(page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path

    return take


def pytest_terminal_summary(terminalreporter):
    if SCREENSHOTS.is_dir() and any(SCREENSHOTS.glob("*.png")):
        terminalreporter.write_line(f"browser screenshots: {SCREENSHOTS}")

"""The browser-security recipe in a real browser: Debian's Chromium, headless,
driven by Selenium through Debian's chromedriver (nothing is downloaded),
against the recipe's two servers on 127.0.0.1.

Origins: the API is http://127.0.0.1:P1; the page is http://127.0.0.1:P2
(allowed by CORS: same site, another origin) and http://localhost:P2
(another origin and another site: a different host name).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from servers import Server, free_port, running

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 30  # seconds: a loaded machine starts a browser slowly
#: What a wait may see while the browser is between two pages.
IGNORED = (NoSuchElementException, StaleElementReferenceException)


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[Server, int]]:
    page_port = free_port()
    with running(
        ["-m", "recipes.browser_security", "--page-port", str(page_port)]
    ) as server:
        _wait_for_port(page_port)
        yield server, page_port


def _wait_for_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=0.5),
        ):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listened on port {port} within {timeout} s")


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    for program in (CHROMIUM, CHROMEDRIVER):
        assert shutil.which(program), (
            f"{program} is missing: make tools installs chromium and chromium-driver"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # the tests run as root here
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # Both paths are given: Selenium Manager has nothing to look up.
    os.environ.setdefault("SE_OFFLINE", "true")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(WAIT)
        yield driver
    finally:
        driver.quit()


def console(driver: webdriver.Chrome) -> list[str]:
    """The console messages since the last call (favicon misses left out)."""
    entries: list[dict[str, Any]] = driver.get_log("browser")  # type: ignore[no-untyped-call]
    return [e["message"] for e in entries if "favicon.ico" not in e["message"]]


def text_of(driver: webdriver.Chrome, element_id: str) -> str:
    """The element's text once the page's script has filled it in."""
    WebDriverWait(driver, WAIT, ignored_exceptions=IGNORED).until(
        lambda d: d.find_element(By.ID, element_id).text != "waiting"
    )
    return str(driver.find_element(By.ID, element_id).text)


def page_text(driver: webdriver.Chrome) -> str:
    return str(driver.find_element(By.TAG_NAME, "body").text)


def wait_for_text(driver: webdriver.Chrome, needle: str) -> str:
    """The body's text once it holds ``needle`` (after a navigation)."""
    WebDriverWait(driver, WAIT, ignored_exceptions=IGNORED).until(
        lambda d: needle in page_text(d)
    )
    return page_text(driver)


def log_in(driver: webdriver.Chrome, api: str) -> None:
    driver.get(f"{api}/login")
    assert "demo-user" in page_text(driver)


def test_the_allowed_origin_calls_the_api_with_credentials(
    site: tuple[Server, int], browser: webdriver.Chrome
) -> None:
    server, page_port = site
    log_in(browser, server.url)
    console(browser)
    browser.get(f"http://127.0.0.1:{page_port}/")
    # A simple GET and a POST with a JSON body (a preflight first), both
    # with the session cookie, both readable by the page.
    assert text_of(browser, "me") == "user=demo-user"
    assert text_of(browser, "notes") == "saved=hello user=demo-user"
    assert not [m for m in console(browser) if "CORS" in m]
    log = server.wait_for_log(lambda text: "OPTIONS /api/notes" in text)
    assert '"OPTIONS /api/notes HTTP/1.1" 204' in log


def test_a_disallowed_origin_is_blocked_by_the_browser(
    site: tuple[Server, int], browser: webdriver.Chrome
) -> None:
    server, page_port = site
    log_in(browser, server.url)
    console(browser)
    browser.get(f"http://localhost:{page_port}/")
    assert text_of(browser, "me") == "blocked: TypeError"
    assert text_of(browser, "notes") == "blocked: TypeError"
    messages = console(browser)
    origin = f"from origin 'http://localhost:{page_port}' has been blocked by CORS"
    assert any(f"{server.url}/api/me" in m and origin in m for m in messages)
    assert any(f"{server.url}/api/notes" in m and "preflight" in m for m in messages), (
        messages
    )
    # The preflight was refused before the app; the POST never went out.
    log = server.wait_for_log(lambda text: '"OPTIONS /api/notes HTTP/1.1" 403' in text)
    assert '"OPTIONS /api/notes HTTP/1.1" 403' in log


def test_what_chromium_sends_on_a_form_post(
    site: tuple[Server, int], browser: webdriver.Chrome
) -> None:
    """localhost -> 127.0.0.1 is cross-site; 127.0.0.1:P2 -> 127.0.0.1:P1 is
    same-site (ports do not make sites). The page's Referrer-Policy
    (same-origin, the SecurityHeaders default) makes Chromium send
    ``Origin: null`` on a form post to another origin."""
    server, page_port = site
    seen = {}
    for page in (
        f"http://localhost:{page_port}/",
        f"http://127.0.0.1:{page_port}/",
        f"{server.url}/form",
    ):
        browser.get(page)
        browser.find_element(By.ID, "probe").click()
        seen[page] = json.loads(wait_for_text(browser, "sec_fetch_site"))
    assert list(seen.values()) == [
        {"sec_fetch_site": "cross-site", "origin": "null"},
        {"sec_fetch_site": "same-site", "origin": "null"},
        {"sec_fetch_site": "same-origin", "origin": server.url},
    ]


def test_a_cross_site_form_post_is_refused(
    site: tuple[Server, int], browser: webdriver.Chrome
) -> None:
    server, page_port = site
    browser.get(f"http://localhost:{page_port}/")
    browser.find_element(By.ID, "send").click()
    assert wait_for_text(browser, "refused") == (
        "cross-origin request refused: this site does not accept form posts "
        "from other sites"
    )
    log = server.wait_for_log(lambda text: '"POST /transfer HTTP/1.1" 403' in text)
    assert '"POST /transfer HTTP/1.1" 403' in log


def test_a_same_origin_form_post_passes(
    site: tuple[Server, int], browser: webdriver.Chrome
) -> None:
    server, _ = site
    browser.get(f"{server.url}/form")
    browser.find_element(By.ID, "send").click()
    assert wait_for_text(browser, "transferred") == "transferred '10'"


def test_the_nonce_runs_the_page_script_and_blocks_an_injected_one(
    site: tuple[Server, int], browser: webdriver.Chrome
) -> None:
    _, page_port = site
    console(browser)
    browser.get(f"http://127.0.0.1:{page_port}/")
    text_of(browser, "me")  # the page's own script ran to the end
    marks = browser.execute_script(
        "return [document.body.dataset.own, document.body.dataset.injected]"
    )
    assert marks == ["ran", None]
    blocked = [
        m
        for m in console(browser)
        if "Content Security Policy" in m and "inline script" in m
    ]
    assert len(blocked) == 1, blocked
    assert "script-src 'nonce-" in blocked[0]
    # Each load has its own nonce.
    nonces = set()
    for _ in range(2):
        browser.get(f"http://127.0.0.1:{page_port}/")
        nonces.add(
            browser.execute_script("return document.scripts[0].nonce")
            or browser.execute_script("return document.scripts[1].nonce")
        )
    assert len(nonces) == 2

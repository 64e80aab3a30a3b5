"""The web page in headless Chromium: type a question, wait for the answer, check the highlight."""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from serving.app import create_app
from serving.settings import ServerSettings
from tests.serving.fakes import fake_pipeline

pytestmark = pytest.mark.browser

CHROME_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _serve(app: object) -> Iterator[str]:
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with _serve(create_app(ServerSettings(), pipeline=fake_pipeline(k=3))) as url:
        yield url


@pytest.fixture(scope="module")
def video_server_url(video_index_dir: Path) -> Iterator[str]:
    settings = ServerSettings(extra=(("video_index", str(video_index_dir)), ("video_recognize", "0")))
    with _serve(create_app(settings, pipeline=fake_pipeline(k=3))) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium not installed (pip install selenium)"
    )
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        pytest.skip("headless browser not installed (need chromium and chromedriver on PATH)")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in CHROME_FLAGS:
        opts.add_argument(flag)
    with tempfile.TemporaryDirectory(prefix="drqa-ng-chrome-") as profile:
        opts.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(service=Service(driver_path), options=opts)
        try:
            yield driver
        finally:
            driver.quit()


def test_page_shows_highlighted_answer(server_url: str, browser: object) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    d = browser
    d.get(server_url + "/")  # type: ignore[attr-defined]
    box = d.find_element(By.ID, "question")  # type: ignore[attr-defined]
    box.send_keys("What is the capital of Germany?")
    d.find_element(By.ID, "ask-button").click()  # type: ignore[attr-defined]
    wait = WebDriverWait(d, 20)
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#answers li mark")))
    first = d.find_elements(By.CSS_SELECTOR, "#answers li")[0]  # type: ignore[attr-defined]
    assert first.find_element(By.CLASS_NAME, "answer-text").text == "Berlin"
    assert first.find_element(By.TAG_NAME, "mark").text == "Berlin"
    passage = first.find_element(By.CLASS_NAME, "passage").text
    assert "Berlin is the capital of Germany." in passage
    assert "Berlin (doc 2)" in first.text
    status = d.find_element(By.ID, "status").text  # type: ignore[attr-defined]
    assert "ms" in status and "answer" in status


def _ask_and_wait(d: Any, url: str, question: str, css: str) -> None:
    """Open the page at ``url``, ask ``question`` and wait until ``css`` is on the page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    d.get(url + "/")
    d.find_element(By.ID, "question").send_keys(question)
    d.find_element(By.ID, "ask-button").click()
    WebDriverWait(d, 20).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))


def test_page_lists_the_passages_read_folded_under_the_answers(server_url: str, browser: object) -> None:
    from selenium.webdriver.common.by import By

    d = browser
    _ask_and_wait(d, server_url, "What is the capital of Germany?", "#passages li")
    box = d.find_element(By.ID, "passages-box")  # type: ignore[attr-defined]
    assert box.is_displayed() and box.get_attribute("open") is None  # folded
    items = d.find_elements(By.CSS_SELECTOR, "#passages li")  # type: ignore[attr-defined]
    assert len(items) == 3  # the fake server reads k = 3
    texts = [li.get_attribute("textContent") for li in items]
    assert all("retriever rank" in t for t in texts)
    assert any("Berlin is the capital of Germany." in t for t in texts)
    box.find_element(By.TAG_NAME, "summary").click()
    assert items[0].is_displayed()


def test_page_shows_confidence_bar(server_url: str, browser: object) -> None:
    from selenium.webdriver.common.by import By

    d = browser
    _ask_and_wait(d, server_url, "What is the capital of Germany?", "#answers li meter")
    first = d.find_elements(By.CSS_SELECTOR, "#answers li")[0]  # type: ignore[attr-defined]
    value = float(first.find_element(By.TAG_NAME, "meter").get_attribute("value"))
    assert 0.0 < value <= 1.0
    assert f"{round(value * 100)}% confident" in first.find_element(By.CLASS_NAME, "confidence").text
    assert not d.find_element(By.ID, "abstained").is_displayed()  # type: ignore[attr-defined]


def test_page_says_no_confident_answer_and_shows_evidence(browser: object) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    strict = create_app(ServerSettings(), pipeline=fake_pipeline(k=3, min_confidence=1.0))
    with _serve(strict) as url:
        d = browser
        d.get(url + "/")  # type: ignore[attr-defined]
        d.find_element(By.ID, "question").send_keys("What is the capital of Germany?")  # type: ignore[attr-defined]
        d.find_element(By.ID, "ask-button").click()  # type: ignore[attr-defined]
        wait = WebDriverWait(d, 20)
        notice = wait.until(ec.visibility_of_element_located((By.ID, "abstained")))
        assert "No confident answer" in notice.text
        items = d.find_elements(By.CSS_SELECTOR, "#answers li.evidence")  # type: ignore[attr-defined]
        assert items and "Berlin is the capital of Germany." in items[0].text
        assert not d.find_elements(By.CSS_SELECTOR, "#answers li meter")  # type: ignore[attr-defined]
        assert "no confident answer" in d.find_element(By.ID, "status").text  # type: ignore[attr-defined]


def test_page_shows_server_error(server_url: str, browser: object) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    d = browser
    d.get(server_url + "/")  # type: ignore[attr-defined]
    d.execute_script("document.getElementById('question').removeAttribute('maxlength')")  # type: ignore[attr-defined]
    d.execute_script("document.getElementById('question').value = 'x'.repeat(1500)")  # type: ignore[attr-defined]
    d.find_element(By.ID, "ask-button").click()  # type: ignore[attr-defined]
    WebDriverWait(d, 20).until(lambda drv: "Error 422" in drv.find_element(By.ID, "status").text)
    assert "at most 1000 characters" in d.find_element(By.ID, "status").text  # type: ignore[attr-defined]


def test_page_has_no_video_mode_without_a_video_index(server_url: str, browser: object) -> None:
    from selenium.webdriver.common.by import By

    d = browser
    d.get(server_url + "/")  # type: ignore[attr-defined]
    time.sleep(0.5)  # the /healthz probe runs after load
    assert not d.find_element(By.ID, "mode").is_displayed()  # type: ignore[attr-defined]


def test_page_answers_over_video_with_timestamp_links(video_server_url: str, browser: object) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    d = browser
    d.get(video_server_url + "/")  # type: ignore[attr-defined]
    wait = WebDriverWait(d, 20)
    mode = wait.until(ec.visibility_of_element_located((By.ID, "mode")))
    Select(mode).select_by_value("video")
    d.find_element(By.ID, "question").send_keys("Who is the keeper?")  # type: ignore[attr-defined]
    d.find_element(By.ID, "ask-button").click()  # type: ignore[attr-defined]
    link = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#answers li a.timestamp")))
    href = link.get_attribute("href")
    assert "/v1/video/media/alpha#t=" in href
    assert link.text.startswith("alpha 0:")
    first = d.find_elements(By.CSS_SELECTOR, "#answers li")[0]  # type: ignore[attr-defined]
    assert "keeper" in first.find_element(By.CLASS_NAME, "passage").text.lower()
    mark = first.find_element(By.CSS_SELECTOR, ".passage mark")  # the reader's span, highlighted
    assert mark.text and mark.text in first.find_element(By.CLASS_NAME, "head").text
    assert "frames decoded" in first.find_element(By.CLASS_NAME, "findings").text
    assert "segment" in d.find_element(By.ID, "status").text  # type: ignore[attr-defined]
    link.click()
    wait.until(lambda drv: drv.find_element(By.ID, "player").get_attribute("src"))
    src = d.find_element(By.ID, "player").get_attribute("src")  # type: ignore[attr-defined]
    assert src.endswith(href.split("/v1/", 1)[1]) or src == href


def test_swagger_docs_render_from_local_assets(server_url: str, browser: object) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    d = browser
    d.get(server_url + "/docs")  # type: ignore[attr-defined]
    wait = WebDriverWait(d, 30)
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".opblock-summary-path")))
    paths = {e.text for e in d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}  # type: ignore[attr-defined]
    assert "/v1/ask" in paths and "/v1/search" in paths
    loaded = d.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")  # type: ignore[attr-defined]
    assert loaded and all(url.startswith(server_url) for url in loaded), loaded  # no CDN


def test_redoc_renders_under_its_policy_and_asks_no_other_host(server_url: str, browser: Any) -> None:
    """Before: /redoc loaded its side-menu logo from cdn.redoc.ly. Now the page's policy blocks it
    (Chrome still lists a blocked load among the page's resources, so those are matched against
    the browser's "blocked" reports)."""
    from selenium.webdriver.support.ui import WebDriverWait

    d = browser
    d.get_log("browser")  # drop what earlier pages logged
    d.get(server_url + "/redoc")
    WebDriverWait(d, 30).until(lambda drv: "API docs by Redocly" in drv.page_source)
    assert "/v1/ask" in d.page_source  # ReDoc ran and read the spec
    blocked = " ".join(e["message"] for e in d.get_log("browser") if "has been blocked" in e["message"])
    asked = d.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    outside = [u for u in asked if not u.startswith(server_url)]
    assert asked and all(f"'{u}'" in blocked for u in outside), (outside, blocked)


def test_swagger_ui_renders_under_the_docs_policy(server_url: str, browser: Any) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server_url + "/docs")
    WebDriverWait(browser, 30).until(lambda drv: "/v1/ask" in drv.page_source)

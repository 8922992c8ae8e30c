"""The web page of `affectgpt serve`, end to end: the real app on a uvicorn server on loopback,
driven by the system's Chromium through Playwright (its own browser download is not needed).

Skipped, with the reason, when Playwright or a Chromium binary is missing
(``pip install playwright``; ``apt-get install chromium``)."""

from __future__ import annotations

import json
import re
import shutil

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from _server import RunningServer  # noqa: E402

from affectgpt.serve import ServeConfig  # noqa: E402

DESCRIBE_TIMEOUT_MS = 180_000  # the first request loads the models
IDS = ["file", "subtitle", "describe", "sample", "status", "description", "labels", "basic", "cues", "timeline",
       "download"]


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = RunningServer(ServeConfig(asr=False, temp_dir=str(tmp_path_factory.mktemp("serve-tmp"))))
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def browser():
    pytest.importorskip("playwright", reason="Playwright is not installed (pip install playwright)")
    exe = _chromium()
    if exe is None:
        pytest.skip("no Chromium binary on PATH (chromium or chromium-browser; apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, headless=True, args=["--disable-dev-shm-usage", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def page(browser, server):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.goto(server.url + "/")
    yield pg
    ctx.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_page_is_served_self_contained(server):
    r = server.client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    for i in IDS:
        assert f'id="{i}"' in html, i
    # offline: no CDN scripts, stylesheets or fonts
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', html, re.I)
    assert "@import" not in html and "fonts.googleapis" not in html
    # every input has a label
    for i in ("file", "subtitle", "language", "token"):
        assert f'<label for="{i}"' in html, i


def test_page_shows_the_api_error(page):
    # nothing chosen: a message, no request
    page.click("#describe")
    assert "Choose a video" in page.inner_text("#status")
    # a text file: the API's 415 detail is shown as an error
    page.set_input_files("#file", files=[{"name": "notes.mp4", "mimeType": "video/mp4",
                                          "buffer": b"this is plain text, not a video\n" * 20}])
    page.click("#describe")
    page.wait_for_selector("#status.error", timeout=30_000)
    status = page.inner_text("#status")
    assert "415" in status and "notes.mp4: not a media file" in status, status
    assert page.inner_text("#description") == ""
    assert page.locator("#download").is_hidden()
    assert page.locator("#describe").is_enabled()


def test_page_describes_an_upload(page, server, media, tmp_path):
    clip = media.video("face.mp4", seconds=4.0)
    subtitle = "I can't believe we won the match!"
    page.set_input_files("#file", str(clip))
    page.fill("#subtitle", subtitle)
    assert page.locator("#video").get_attribute("src").startswith("blob:")
    page.click("#describe")
    # busy while the request runs (describing takes seconds; the first call also loads the models)
    assert page.locator("#describe").is_disabled() or page.inner_text("#description")
    page.wait_for_function("document.querySelector('#description').textContent.trim().length > 0",
                           timeout=DESCRIBE_TIMEOUT_MS)
    assert "error" not in (page.get_attribute("#status", "class") or "")
    assert page.locator("#describe").is_enabled()

    # the JSON behind the download link is the API's answer, and the page renders it
    href = page.get_attribute("#download", "href")
    assert href.startswith("blob:") and page.locator("#download").is_visible()
    assert page.get_attribute("#download", "download").endswith(".json")
    shown = json.loads(page.evaluate("async (u) => await (await fetch(u)).text()", href))
    direct = server.client.post("/v1/describe", files={"file": ("face.mp4", clip.read_bytes(), "video/mp4")},
                                data={"subtitle": subtitle})
    assert direct.status_code == 200, direct.text
    api = direct.json()
    assert shown["file"] == api["file"] == "face.mp4"
    assert shown["transcript"]["text"] == subtitle
    assert page.inner_text("#description") == api["description"] == shown["description"]

    # labels
    chips = page.locator("#labels li").all_inner_texts()
    assert shown["labels"] and all(lab in chips for lab in shown["labels"]), (chips, shown["labels"])
    # one bar per basic class, widths from the probabilities
    bars = page.locator("#basic .bar")
    assert bars.count() == len(shown["basic"]) == 7
    assert {bars.nth(i).get_attribute("data-class") for i in range(7)} == set(shown["basic"])
    top = max(shown["basic"], key=shown["basic"].get)
    fill = page.locator(f'#basic .bar[data-class="{top}"] .fill').bounding_box()["width"]
    track = page.locator(f'#basic .bar[data-class="{top}"] .track').bounding_box()["width"]
    assert abs(fill / track - shown["basic"][top]) < 0.02
    # cues, per modality
    for mod, cues in shown["cues"].items():
        items = page.locator(f'#cues section[data-modality="{mod}"] li')
        assert items.count() == len(cues), mod
        for i, c in enumerate(cues):
            assert c["text"] in items.nth(i).inner_text()
    # the timeline: one segment per window, labelled, widths proportional to the durations
    windows = shown["timeline"]
    segs = page.locator("#timeline .segment")
    assert windows and segs.count() == len(windows)
    widths = [segs.nth(i).bounding_box()["width"] for i in range(len(windows))]
    total_w, total_d = sum(widths), sum(w["end_s"] - w["start_s"] for w in windows)
    for i, w in enumerate(windows):
        assert segs.nth(i).get_attribute("data-label") == (w["label"] or "")
        if w["label"]:
            assert segs.nth(i).inner_text() == w["label"]
        assert abs(widths[i] / total_w - (w["end_s"] - w["start_s"]) / total_d) < 0.03
    assert page.locator("#video").is_visible()

    shot = tmp_path / "page.png"
    page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"screenshot: {shot}")


def test_page_describes_the_sample(page):
    page.click("#sample")
    page.wait_for_function("document.querySelector('#description').textContent.trim().length > 0",
                           timeout=DESCRIBE_TIMEOUT_MS)
    assert "error" not in (page.get_attribute("#status", "class") or "")
    assert page.locator("#video").is_hidden() and "sample" in page.inner_text("#video-note")
    assert page.locator("#basic .bar").count() == 7
    assert page.locator("#timeline .segment").count() >= 1

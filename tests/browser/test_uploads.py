"""Uploads in a real browser: an EDF file (or a JSON file over 6 MB) is announced to POST
/ecgs/uploads and sent to the URL it answers (the local stack's S3, another origin) with a
progress bar, then followed from `processing` to `ready` (and opened) or `failed` (and why).
Screenshots go to build/screenshots/."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Locator, Page, Request, expect

from tests.browser.conftest import (
    TWO_LEADS,
    USER_PASSWORD,
    Stack,
    lead_label,
    long_edf,
    mitbih,
    new_user,
    screenshot,
    sign_in,
    two_lead_edf,
)
from tests.edf_files import edf_bytes

# Follows the upload form: every stage it passes through and every message it shows.
FOLLOW_THE_FORM = """() => {
  const form = document.getElementById("upload-form");
  const message = document.getElementById("upload-message");
  window.seen = { stages: [], messages: [], progress: [] };
  const note = () => {
    const stage = form.dataset.stage;
    if (window.seen.stages.at(-1) !== stage) window.seen.stages.push(stage);
    if (message.textContent && window.seen.messages.at(-1) !== message.textContent) {
      window.seen.messages.push(message.textContent);
    }
    const value = Number(document.getElementById("upload-progress").value);
    if (window.seen.progress.at(-1) !== value) window.seen.progress.push(value);
  };
  new MutationObserver(note).observe(form, { attributes: true, childList: true, subtree: true, characterData: true });
}"""


def throttle_uploads(page: Page, bytes_per_second: int) -> None:
    """Chromium sends request bodies at this rate: on loopback a file would go in one step."""
    session = page.context.new_cdp_session(page)
    session.send("Network.enable")
    conditions = {
        "offline": False,
        "latency": 0,
        "downloadThroughput": -1,
        "uploadThroughput": bytes_per_second,
    }
    session.send("Network.emulateNetworkConditions", conditions)


def signed_in_user(page: Page, stack: Stack, admin_token: str) -> tuple[str, str]:
    username = new_user(stack, admin_token)
    sign_in(page, stack, username, USER_PASSWORD)
    expect(page.get_by_role("heading", name="Your ECGs")).to_be_visible()
    return username, stack.login(username, USER_PASSWORD)


def upload(page: Page, path: Path) -> None:
    page.evaluate(FOLLOW_THE_FORM)
    page.get_by_label("ECG file (JSON or EDF)").set_input_files(str(path))
    page.get_by_role("button", name="Upload", exact=True).click()


def uploaded_id(page: Page) -> str:
    expect(page.locator("#upload-form")).to_have_attribute("data-ecg", re.compile(".+"))
    return page.locator("#upload-form").get_attribute("data-ecg") or ""


def seen(page: Page) -> dict[str, list[Any]]:
    return page.evaluate("window.seen")  # type: ignore[no-any-return]


def chart(page: Page, lead: str) -> Locator:
    return page.locator(f'.lead[data-lead="{lead}"]')


def expect_every_lead_drawn_with_beats(page: Page) -> None:
    expect(page.locator("#charts")).to_have_attribute("data-state", "ready")
    expect(page.locator("#charts .lead")).to_have_count(len(TWO_LEADS))
    for record in TWO_LEADS:
        lead = chart(page, lead_label(record))
        expect(lead).to_have_attribute("data-peaks-drawn", re.compile(r"^[1-9]\d*$"))
        expect(lead.locator(".lead-name")).to_have_text(lead_label(record))
        expect(lead.locator("canvas")).to_be_visible()


def test_an_edf_upload_shows_its_progress_then_ready_then_every_lead_with_its_beats(
    page: Page, stack: Stack, admin_token: str, tmp_path: Path
):
    _, token = signed_in_user(page, stack, admin_token)
    edf = two_lead_edf(tmp_path / "mitdb-100-200.EDF")
    puts: list[Request] = []
    page.on("request", lambda request: puts.append(request) if request.method == "PUT" else None)

    throttle_uploads(page, 1_000_000)  # 2.6 MB: about 2.6 s
    upload(page, edf)
    expect(page.locator("#upload-progress")).to_have_attribute("value", re.compile(r"^[2-6]\d$"))
    expect(page.locator("#upload-message")).to_contain_text("Sending “mitdb-100-200.EDF” (2.6 MB) as ECG")
    expect(page.get_by_role("button", name="Cancel upload")).to_be_visible()
    screenshot(page, "10-edf-uploading")
    expect(page.locator("#upload-progress")).to_have_attribute("value", "100")
    ecg_id = uploaded_id(page)
    expect(page.get_by_role("heading", name=f"ECG {ecg_id}")).to_be_visible()

    # The file went to the stack's S3, with the method, and exactly the headers, handed out.
    (put,) = puts
    assert put.url.startswith(stack.storage_url + "/")
    headers = put.all_headers()
    assert headers["content-type"] == "application/octet-stream"
    assert headers["content-length"] == str(edf.stat().st_size)
    assert parse_qs(urlsplit(put.url).query)["X-Amz-SignedHeaders"] == ["content-length;content-type;host"]
    assert put.response() is not None and put.response().status == 200  # type: ignore[union-attr]

    # The form said where it was: sending, then processing, then ready; then the chart opened.
    progress = seen(page)
    assert progress["stages"][-3:] == ["sending", "processing", "ready"], progress
    assert any(f"ECG “{ecg_id}” is processing" in text for text in progress["messages"]), progress
    assert progress["messages"][-1] == f"ECG “{ecg_id}” is ready.", progress
    assert progress["progress"][-1] == 100
    steps = [value for value in progress["progress"] if 0 < value < 100]
    assert len(steps) >= 5 and steps == sorted(steps), progress["progress"]  # the bytes, as sent

    expect_every_lead_drawn_with_beats(page)
    expect(page.locator("#ecg-meta")).to_contain_text("2 leads · 360 Hz, 30:05.0 · ready")
    expect(page.locator('tr[data-metric="heart_rate_bpm"] td')).to_have_count(2)
    screenshot(page, "11-edf-upload-opened")

    insights = stack.call("GET", f"/ecgs/{ecg_id}/insights", token).json  # ready: not a 409
    assert [lead["name"] for lead in insights["leads"]] == [lead_label(record) for record in TWO_LEADS]
    assert all(lead["number_of_samples"] == 1805 * 360 for lead in insights["leads"])

    page.get_by_role("button", name="All ECGs").click()
    row = page.locator(f'tr[data-ecg="{ecg_id}"]')
    expect(row.locator(".status-cell")).to_have_text("ready")
    expect(row).to_contain_text(re.compile(r"\d+(\.\d)? bpm"))
    screenshot(page, "12-ecg-list-after-edf-upload")


def test_a_multi_lead_chart_draws_every_lead_on_its_own_scale(page: Page, stack: Stack, admin_token: str):
    username = new_user(stack, admin_token)
    token = stack.login(username, USER_PASSWORD)
    leads = []
    for record in TWO_LEADS:
        signal, rate = mitbih(record)
        leads.append({"name": lead_label(record), "signal": signal[: 120 * rate].tolist()})
    body = {"id": "two-leads", "date": "1975-06-12T09:30:00Z", "sampling_rate_hz": rate, "leads": leads}
    assert stack.call("POST", "/ecgs", token, body).status == 201

    sign_in(page, stack, username, USER_PASSWORD)
    page.get_by_role("button", name="Open ECG two-leads").click()
    expect_every_lead_drawn_with_beats(page)
    # Each lead is scaled by its own amplitude: record 200's ventricular beats do not squash 100.
    heights = [chart(page, lead_label(record)).bounding_box() for record in TWO_LEADS]
    assert all(box is not None and box["height"] > 150 for box in heights)
    first, second = (box for box in heights if box is not None)
    assert second["y"] >= first["y"] + first["height"] - 1, "the leads are stacked, not overlaid"
    expect(page.locator("#insights-head th")).to_have_text(["Lead", *[lead_label(r) for r in TWO_LEADS]])
    screenshot(page, "13-two-lead-chart")


def test_a_long_uploaded_recording_is_read_by_windows_only(
    page: Page, stack: Stack, admin_token: str, tmp_path: Path
):
    """Four hours, two leads (10,368,000 samples): uploaded as EDF, then paged and zoomed through
    by windows of /signal and /beats; nothing asks for a whole lead or the whole ECG."""
    signed_in_user(page, stack, admin_token)
    edf, total = long_edf(tmp_path / "four-hours.edf", hours=4)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(f"{request.method} {request.url}"))

    upload(page, edf)
    ecg_id = uploaded_id(page)
    expect(page.get_by_role("heading", name=f"ECG {ecg_id}")).to_be_visible()
    expect(page.locator("#charts")).to_have_attribute("data-state", "ready")
    expect(page.locator("#window-label")).to_contain_text("of 4:00:00.0")
    charts = page.locator("#charts")

    # Zoom all the way out (two minutes shown), page forward, jump to the middle and the end.
    for _ in range(5):
        page.get_by_role("button", name="Zoom out").click()
    expect(charts).to_have_attribute("data-span", str(120 * 360))
    charts.focus()
    for _ in range(3):
        page.keyboard.press("PageDown")
    expect(charts).to_have_attribute("data-start", str(3 * 120 * 360))
    expect(charts).to_have_attribute("data-state", "ready")
    page.locator("#position").fill(str(total // 2))
    expect(charts).to_have_attribute("data-start", str(total // 2))
    expect(charts).to_have_attribute("data-state", "ready")
    page.get_by_role("button", name="Zoom in").click()
    expect(charts).to_have_attribute("data-span", str(60 * 360))
    expect(charts).to_have_attribute("data-state", "ready")
    for record in TWO_LEADS:
        expect(chart(page, lead_label(record))).to_have_attribute(
            "data-peaks-drawn", re.compile(r"^[1-9]\d*$")
        )
    screenshot(page, "14-long-upload-middle")
    charts.focus()
    page.keyboard.press("End")
    expect(charts).to_have_attribute("data-start", str(total - 60 * 360))
    expect(charts).to_have_attribute("data-state", "ready")
    screenshot(page, "15-long-upload-end")

    api_paths = [urlsplit(line.split(" ", 1)[1]) for line in requests]
    whole = [line for line in requests if urlsplit(line.split(" ", 1)[1]).path.endswith(f"/ecgs/{ecg_id}")]
    assert whole == [], "GET /ecgs/{id} of a ready ECG would carry every sample"
    windows = [parse_qs(url.query) for url in api_paths if url.path.endswith("/signal")]
    beats = [parse_qs(url.query) for url in api_paths if url.path.endswith("/beats")]
    assert len(windows) >= 8 and beats, requests
    counts = [int(window["count"][0]) for window in windows]
    assert max(counts) <= 3 * 120 * 360, counts
    assert sum(counts) < len(TWO_LEADS) * total / 4, "it read a large part of the recording"
    assert all(
        "end" in query and int(query["end"][0]) - int(query["start"][0]) <= 3 * 120 * 360 for query in beats
    )


def test_a_corrupt_edf_fails_and_the_viewer_says_why(
    page: Page, stack: Stack, admin_token: str, tmp_path: Path
):
    signed_in_user(page, stack, admin_token)
    signal, rate = mitbih("100")
    whole = edf_bytes([signal[: 60 * rate]], ["MLII"], rate)
    corrupt = tmp_path / "truncated.edf"
    corrupt.write_bytes(whole[: len(whole) // 2 + 101])  # cut in the middle of a data record

    upload(page, corrupt)
    ecg_id = uploaded_id(page)
    message = page.locator("#upload-message")
    expect(message).to_have_text(
        re.compile(rf"^ECG “{re.escape(ecg_id)}” failed: the file ends in the middle")
    )
    assert seen(page)["stages"][-3:] == ["sending", "processing", "failed"]
    expect(page.locator("#upload-form")).to_have_attribute("data-stage", "failed")
    row = page.locator(f'tr[data-ecg="{ecg_id}"]')
    expect(row.locator(".badge")).to_have_text("failed")
    expect(row.locator(".failure")).to_contain_text("the file ends in the middle of data record")
    screenshot(page, "16-corrupt-edf-failed")

    # Opened, it shows its status and why, and no chart.
    page.get_by_role("button", name=f"Open ECG {ecg_id}").click()
    expect(page.locator("#ecg-state")).to_be_visible()
    expect(page.locator("#ecg-state-text")).to_contain_text("This ECG failed")
    expect(page.locator("#ecg-state-error")).to_contain_text(
        "Why: the file ends in the middle of data record"
    )
    expect(page.locator("#ecg-ready")).to_be_hidden()
    expect(page.locator("#charts .lead")).to_have_count(0)
    screenshot(page, "17-failed-ecg-opened")


def test_a_json_file_over_6_mb_goes_through_uploads(
    page: Page, stack: Stack, admin_token: str, tmp_path: Path
):
    _, token = signed_in_user(page, stack, admin_token)
    leads = []
    for record in ("100", "105", "200"):
        signal, rate = mitbih(record)
        leads.append({"name": lead_label(record), "signal": signal.tolist()})
    path = tmp_path / "three-records.json"
    path.write_text(json.dumps({"sampling_rate_hz": rate, "leads": leads}, separators=(",", ":")))
    assert path.stat().st_size > 6_000_000
    posts: list[Request] = []
    page.on("request", lambda request: posts.append(request) if request.method == "POST" else None)

    upload(page, path)
    ecg_id = uploaded_id(page)
    expect(page.get_by_role("heading", name=f"ECG {ecg_id}")).to_be_visible()
    expect(page.locator("#charts .lead")).to_have_count(3)

    (announce,) = [request for request in posts if urlsplit(request.url).path == "/ecgs/uploads"]
    assert json.loads(announce.post_data or "{}")["format"] == "json"
    assert json.loads(announce.post_data or "{}")["size_bytes"] == path.stat().st_size
    assert not [request for request in posts if urlsplit(request.url).path == "/ecgs"]
    assert stack.call("GET", f"/ecgs/{ecg_id}/insights", token).status == 200


def test_a_small_json_file_without_a_date_takes_the_date_of_the_form(
    page: Page, stack: Stack, admin_token: str, tmp_path: Path
):
    _, token = signed_in_user(page, stack, admin_token)
    signal, rate = mitbih("100")
    path = tmp_path / "no-date.json"
    path.write_text(
        json.dumps({"sampling_rate_hz": rate, "leads": [{"name": "MLII", "signal": signal[:3600].tolist()}]})
    )
    page.get_by_label("Recorded at (your time zone)").fill("2024-02-29T13:45:10")
    expected = page.evaluate("new Date('2024-02-29T13:45:10').toISOString().replace('.000Z', 'Z')")

    upload(page, path)
    expect(page.locator("#upload-message")).to_have_text(re.compile("its insights are ready"))
    ecg_id = uploaded_id(page)
    assert stack.call("GET", f"/ecgs/{ecg_id}", token).json["date"] == expected


def test_an_ecg_opened_before_its_file_arrives_shows_its_status_then_its_chart(
    page: Page, stack: Stack, admin_token: str
):
    username = new_user(stack, admin_token)
    token = stack.login(username, USER_PASSWORD)
    signal, rate = mitbih("100")
    data = edf_bytes([signal[: 120 * rate]], ["MLII"], rate)
    body = {"id": "arrives-later", "date": "1975-06-12T09:30:00Z", "format": "edf", "size_bytes": len(data)}
    ticket = stack.call("POST", "/ecgs/uploads", token, body)
    assert ticket.status == 201, ticket.raw

    sign_in(page, stack, username, USER_PASSWORD)
    row = page.locator('tr[data-ecg="arrives-later"]')
    expect(row.locator(".badge")).to_have_text("awaiting upload")
    expect(row).to_contain_text("known once processed")
    page.get_by_role("button", name="Open ECG arrives-later").click()
    expect(page.locator("#ecg-state-text")).to_have_text(re.compile("^This ECG is awaiting upload"))
    expect(page.locator("#ecg-state-text")).to_have_attribute("role", "status")
    expect(page.locator("#ecg-ready")).to_be_hidden()
    screenshot(page, "18-ecg-awaiting-upload")

    # The file arrives (sent by another client): the open page follows it to its chart.
    target = ticket.json["upload"]
    sent = urllib.request.Request(
        target["url"], data=data, method=target["method"], headers=target["headers"]
    )
    with urllib.request.urlopen(sent, timeout=30) as answer:
        assert answer.status == 200
    expect(chart(page, "MLII")).to_have_attribute("data-peaks-drawn", re.compile(r"^[1-9]\d*$"))
    expect(page.locator("#ecg-state")).to_be_hidden()
    expect(page.locator("#ecg-meta")).to_contain_text("1 lead · 360 Hz, 2:00.0 · ready")


def test_cancelling_an_upload_keeps_nothing(page: Page, stack: Stack, admin_token: str, tmp_path: Path):
    _, token = signed_in_user(page, stack, admin_token)
    edf = two_lead_edf(tmp_path / "to-cancel.edf")
    throttle_uploads(page, 500_000)  # 2.6 MB: about 5 s
    upload(page, edf)
    expect(page.locator("#upload-progress")).to_have_attribute("value", re.compile(r"^[1-9]\d?$"))
    ecg_id = uploaded_id(page)
    page.get_by_role("button", name="Cancel upload").click()
    expect(page.locator("#upload-message")).to_have_text("Upload cancelled; nothing was kept.")
    expect(page.get_by_label("ECG file (JSON or EDF)")).to_be_focused()
    expect(page.locator("#ecg-rows")).to_contain_text("No ECGs yet")
    assert stack.call("GET", f"/ecgs/{ecg_id}", token).status == 404

"""The ECG viewer in a real browser: sign in, upload a real MIT-BIH record with a progress bar,
see its beats drawn, zoom, page through a long recording by windows, admin user management,
and the wrong-password message. Screenshots of each screen go to build/screenshots/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, Request, expect

from tests.browser.conftest import (
    USER_PASSWORD,
    Stack,
    new_user,
    record,
    record_bytes,
    screenshot,
    sign_in,
)
from tests.e2e.conftest import ADMIN


def lead_chart(page: Page) -> Locator:
    return page.locator('.lead[data-lead="MLII"]')


def wait_drawn(page: Page) -> None:
    expect(page.locator("#charts")).to_have_attribute("data-state", "ready")
    expect(lead_chart(page)).to_have_attribute("data-peaks-drawn", re.compile(r"^[1-9]\d*$"))


def expect_peaks_between(page: Page, low: int, high: int) -> None:
    """Waits for the drawing of the current window: a zoom redraws after its windows load."""
    allowed = "|".join(str(count) for count in range(low, high + 1))
    expect(lead_chart(page)).to_have_attribute("data-peaks-drawn", re.compile(rf"^({allowed})$"))


def test_a_wrong_password_says_so(page: Page, stack: Stack):
    sign_in(page, stack, ADMIN[0], "not-the-password")
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    expect(page.locator("#login-view")).to_be_visible()
    screenshot(page, "01-wrong-password")


def test_a_user_uploads_a_record_sees_its_beats_zooms_deletes_and_signs_out(
    page: Page, stack: Stack, admin_token: str
):
    username = new_user(stack, admin_token)
    sign_in(page, stack, username, USER_PASSWORD)
    expect(page.get_by_role("heading", name="Your ECGs")).to_be_visible()
    expect(page.locator("#upload-help")).to_contain_text("up to 6 MB in the body format of POST /ecgs")
    expect(page.locator("#ecg-rows")).to_contain_text("No ECGs yet")
    assert page.evaluate("document.cookie") == ""

    # Upload five minutes of MIT-BIH record 100 as a file, with the progress bar.
    page.get_by_label("ECG file (JSON or EDF)").set_input_files(
        files=[
            {
                "name": "mitdb-100.json",
                "mimeType": "application/json",
                "buffer": record_bytes(300, "mitdb-100"),
            }
        ]
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#upload-message")).to_have_text(re.compile("Uploaded “mitdb-100”"))
    expect(page.locator("#upload-progress")).to_have_attribute("value", "100")
    row = page.locator('tr[data-ecg="mitdb-100"]')
    expect(row).to_contain_text("MLII (5:00.0) at 360 Hz")
    expect(row).to_contain_text(re.compile(r"\d+(\.\d)? bpm \(MLII\)"))
    expect(row).to_contain_text("ready")
    screenshot(page, "02-ecg-list-after-upload")

    # Open it: the first 10 s, beats marked, insights beside.
    page.get_by_role("button", name="Open ECG mitdb-100").click()
    expect(page.get_by_role("heading", name="ECG mitdb-100")).to_be_visible()
    # Record 100 beats about 75 times a minute: 11 to 14 R peaks in 10 s.
    expect_peaks_between(page, 10, 15)
    assert int(lead_chart(page).get_attribute("data-crossings-shown") or "0") > 0
    expect(page.locator('tr[data-metric="heart_rate_bpm"]')).to_contain_text("bpm")
    expect(page.locator("#scale-note")).to_contain_text("gain is unknown")
    screenshot(page, "03-ecg-viewer")

    # Zoom in twice (2.5 s): fewer beats; zoom back out with the keyboard.
    page.get_by_role("button", name="Zoom in").click()
    page.get_by_role("button", name="Zoom in").click()
    expect(page.locator("#charts")).to_have_attribute("data-span", "900")
    expect_peaks_between(page, 2, 5)
    screenshot(page, "04-ecg-viewer-zoomed-in")
    page.locator("#charts").focus()
    page.keyboard.press("-")
    page.keyboard.press("-")
    page.keyboard.press("-")
    expect(page.locator("#charts")).to_have_attribute("data-span", "7200")
    expect_peaks_between(page, 20, 30)

    # Phone-sized: the insights go below the chart.
    page.set_viewport_size({"width": 390, "height": 844})
    wait_drawn(page)
    screenshot(page, "05-ecg-viewer-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    # Delete it from the viewer, then sign out.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete this ECG").click()
    expect(page.locator("#status")).to_have_text("Deleted ECG “mitdb-100”.")
    expect(page.locator("#ecg-rows")).to_contain_text("No ECGs yet")
    assert stack.call("GET", "/ecgs", stack.login(username, USER_PASSWORD)).json["items"] == []
    assert page.evaluate("sessionStorage.length") == 1
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#login-view")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_a_long_recording_loads_windows_as_you_pan(page: Page, stack: Stack, admin_token: str):
    """All 30 minutes (650,000 samples): the viewer never asks for the whole lead."""
    username = new_user(stack, admin_token)
    token = stack.login(username, USER_PASSWORD)
    uploaded = stack.call("POST", "/ecgs", token, record(None, "mitdb-100-full"))
    assert uploaded.status == 201, uploaded.raw
    total = 650_000
    windows: list[dict[str, int]] = []

    def on_request(request: Request) -> None:
        match = re.search(r"/signal\?lead=MLII&start=(\d+)&count=(\d+)$", request.url)
        if match:
            windows.append({"start": int(match[1]), "count": int(match[2])})

    page.on("request", on_request)
    sign_in(page, stack, username, USER_PASSWORD)
    page.get_by_role("button", name="Open ECG mitdb-100-full").click()
    wait_drawn(page)
    assert windows == [{"start": 0, "count": 10800}]
    expect(page.locator("#window-label")).to_contain_text("of 30:05.6")

    # Later, later, later: each press moves half a window; new windows load on the way.
    for _ in range(6):
        page.get_by_role("button", name="Later").click()
    expect(page.locator("#charts")).to_have_attribute("data-start", "10800")
    wait_drawn(page)
    assert len(windows) >= 2

    # Drag the chart to the left: later still.
    box = page.locator("#charts").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.8, y)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(box["x"] + box["width"] * (0.8 - 0.05 * step), y)
    page.mouse.up()
    assert int(page.locator("#charts").get_attribute("data-start") or "0") > 10800
    wait_drawn(page)

    # Jump to the middle with the position slider, then to the end with the keyboard.
    page.locator("#position").fill("324000")
    expect(page.locator("#charts")).to_have_attribute("data-start", "324000")
    wait_drawn(page)
    screenshot(page, "06-long-recording-middle")
    page.locator("#charts").focus()
    page.keyboard.press("End")
    expect(page.locator("#charts")).to_have_attribute("data-start", str(total - 3600))
    wait_drawn(page)
    screenshot(page, "07-long-recording-end")

    assert any(window["start"] > 300_000 for window in windows)
    assert all(window["count"] <= 3 * 3600 for window in windows), windows
    assert sum(window["count"] for window in windows) < total, "it loaded the whole recording"


def test_an_admin_creates_lists_and_deletes_users_and_sees_no_ecgs(
    page: Page, stack: Stack, admin_token: str
):
    for _ in range(10):
        new_user(stack, admin_token)
    sign_in(page, stack, *ADMIN)
    expect(page.get_by_role("heading", name="User administration")).to_be_visible()
    expect(page.locator("#ecgs-view")).to_be_hidden()
    expect(page.locator(f'tr[data-user="{ADMIN[0]}"] button')).to_be_disabled()

    form = page.locator("#user-form")
    form.get_by_label("Username").fill("made-in-browser")
    form.get_by_label("Password").fill("made-password-1")
    form.get_by_label("Role").select_option("user")
    page.get_by_role("button", name="Create user").click()
    expect(page.locator("#user-message")).to_have_text("Created user “made-in-browser”.")
    screenshot(page, "08-admin-users")

    # More than one page of accounts: page through until the new one shows.
    expect(page.locator("#user-page")).to_have_text("Page 1")
    expect(page.get_by_role("button", name="Next page")).to_be_enabled()
    made = page.locator('tr[data-user="made-in-browser"]')
    for _ in range(5):
        if made.count():
            break
        page.get_by_role("button", name="Next page").click()
        expect(page.locator("#user-page")).not_to_have_text("Page 1")
    expect(made).to_contain_text("user")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete user made-in-browser").click()
    expect(page.locator("#user-message")).to_have_text("Deleted user “made-in-browser”.")
    expect(made).to_have_count(0)
    assert stack.call("GET", "/users/made-in-browser", admin_token).status == 404
    screenshot(page, "09-admin-after-delete")


@pytest.mark.parametrize("path", ["/", "/viewer/app.js"])
def test_the_viewer_is_served_over_http(stack: Stack, path: str):
    reply = stack.send("GET", path, {}, None)
    assert reply.status == 200

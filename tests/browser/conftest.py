"""The browser tier: the ECG viewer (GET /) in Debian's chromium, driven by Playwright, against
the real local stack over HTTP. Chromium must be installed (.ci/run installs it); without it
these tests fail rather than skip, so a CI without a browser cannot pass unnoticed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from tests.e2e.conftest import ADMIN, Stack, stack  # noqa: F401  (the session's local stack)
from tests.edf_files import edf_bytes, write_edf

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
RECORDS = ROOT / "tests" / "data" / "ecg-records"
RECORD = RECORDS / "mitdb_100.npz"
USER_PASSWORD = "browser-password-1"
_names = count(1)

expect.set_options(timeout=15_000)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (.ci/run does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab (own storage) whose console must stay free of script errors and CSP refusals."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # Chromium logs every 4xx answer as "Failed to load resource": expected ones (a wrong
        # password) are not problems; a refused script or style (CSP) or an exception is.
        if message.type == "error" and "Failed to load resource" not in message.text:
            problems.append(message.text)

    tab.on("console", on_console)
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    yield tab
    assert context.cookies() == [], "the viewer must not keep anything in cookies"
    context.close()
    assert problems == []


@pytest.fixture(scope="session")
def admin_token(stack: Stack) -> str:  # noqa: F811
    return stack.login(*ADMIN)


def record(seconds: float | None = None, id: str | None = None) -> dict[str, Any]:
    """MIT-BIH record 100 (lead MLII, 360 Hz) as a POST /ecgs body: ADC values relative to the
    record's ADC baseline (so the signal crosses zero), the first `seconds` or all 30 minutes."""
    data = np.load(RECORD)
    rate = float(data["fs"])
    signal = data["signal"].astype(np.int64) - int(data["baseline"])
    if seconds is not None:
        signal = signal[: int(seconds * rate)]
    body: dict[str, Any] = {
        "date": "1975-06-12T09:30:00Z",
        "sampling_rate_hz": int(rate),
        "leads": [{"name": str(data["lead"]), "signal": signal.tolist()}],
    }
    if id is not None:
        body["id"] = id
    return body


def record_bytes(seconds: float | None = None, id: str | None = None) -> bytes:
    return json.dumps(record(seconds, id), separators=(",", ":")).encode()


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def new_user(stack: Stack, admin_token: str) -> str:  # noqa: F811
    username = f"viewer-user-{next(_names)}"
    body = {"username": username, "password": USER_PASSWORD, "role": "user"}
    created = stack.call("POST", "/users", admin_token, body)
    assert created.status == 201, created.raw
    return username


def sign_in(page: Page, stack: Stack, username: str, password: str) -> None:  # noqa: F811
    page.goto(stack.base_url + "/")
    form = page.locator("#login-form")
    form.get_by_label("Username").fill(username)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Sign in").click()


def mitbih(record: str) -> tuple[np.ndarray, int]:
    """The first channel of an MIT-BIH record (tests/data/ecg-records holds one per record) in
    ADC units relative to its baseline, whole seconds of it, and its sampling rate."""
    data = np.load(RECORDS / f"mitdb_{record}.npz")
    rate = int(data["fs"])
    signal = data["signal"].astype(np.int64) - int(data["baseline"])
    return signal[: len(signal) // rate * rate], rate


# Two leads from two records: the stored records keep only their first channel (MLII), so a
# two-lead file pairs record 100's with record 200's, each labelled with its record.
TWO_LEADS = ("100", "200")


def lead_label(record: str) -> str:
    return f"{record} MLII"


def two_lead_edf(path: Path, seconds: int | None = None) -> Path:
    """Records 100 and 200 (360 Hz) as one two-lead EDF file, the first `seconds` or all."""
    signals = []
    for record in TWO_LEADS:
        signal, rate = mitbih(record)
        signals.append(signal if seconds is None else signal[: seconds * rate])
    path.write_bytes(edf_bytes(signals, [lead_label(record) for record in TWO_LEADS], rate))
    return path


def long_edf(path: Path, hours: int) -> tuple[Path, int]:
    """`hours` of records 100 and 200, each repeated end to end, streamed to a two-lead EDF;
    returns the path and the number of samples per lead."""
    signals = [mitbih(record)[0] for record in TWO_LEADS]
    rate = 360
    total = hours * 3600 * rate
    half_hour = len(signals[0])

    def blocks() -> Iterator[list[np.ndarray]]:
        done = 0
        while done < total:
            take = min(half_hour, total - done)
            yield [signal[:take] for signal in signals]
            done += take

    write_edf(path, blocks(), [lead_label(record) for record in TWO_LEADS], rate)
    return path, total

"""The password change screen (PUT /users/me/password) in a real browser: a wrong current
password is said and keeps the session; a change signs out, since tokens issued before it stop
working, and the new password signs in. Screenshots go to build/screenshots/."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import USER_PASSWORD, Stack, new_user, screenshot, sign_in

NEW_PASSWORD = "a-new-password-2"


def open_password_screen(page: Page, stack: Stack, admin_token: str) -> str:
    username = new_user(stack, admin_token)
    sign_in(page, stack, username, USER_PASSWORD)
    expect(page.get_by_role("heading", name="Your ECGs")).to_be_visible()
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()
    expect(page.get_by_label("Current password")).to_be_focused()
    return username


def change(page: Page, current: str, new: str, again: str | None = None) -> None:
    form = page.locator("#password-form")
    form.get_by_label("Current password").fill(current)
    form.get_by_label("New password", exact=True).fill(new)
    form.get_by_label("New password, again").fill(new if again is None else again)
    form.get_by_role("button", name="Change password").click()


def test_a_wrong_current_password_is_said_and_the_session_goes_on(page: Page, stack: Stack, admin_token: str):
    username = open_password_screen(page, stack, admin_token)
    token = page.evaluate("sessionStorage.getItem('ecg-insights-token')")

    change(page, "not-my-password", NEW_PASSWORD)
    expect(page.get_by_role("alert")).to_have_text("Your current password is wrong.")
    expect(page.get_by_label("Current password")).to_be_focused()
    screenshot(page, "19-password-wrong-current")

    # Still signed in, with the old password; Cancel goes back to the list.
    expect(page.locator("#password-view")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('ecg-insights-token')") == token
    assert stack.call("GET", "/users/me", token).status == 200
    stack.login(username, USER_PASSWORD)
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("heading", name="Your ECGs")).to_be_visible()


def test_two_different_new_passwords_are_refused_before_asking_the_api(
    page: Page, stack: Stack, admin_token: str
):
    username = open_password_screen(page, stack, admin_token)
    change(page, USER_PASSWORD, NEW_PASSWORD, again=NEW_PASSWORD + "x")
    expect(page.get_by_role("alert")).to_have_text(
        "The two new passwords differ. Type the same new password twice."
    )
    stack.login(username, USER_PASSWORD)


def test_a_password_change_signs_out_and_the_new_password_signs_in(
    page: Page, stack: Stack, admin_token: str
):
    username = open_password_screen(page, stack, admin_token)
    old_token = page.evaluate("sessionStorage.getItem('ecg-insights-token')")

    change(page, USER_PASSWORD, NEW_PASSWORD)
    expect(page.locator("#login-view")).to_be_visible()
    expect(page.locator("#status")).to_have_text(
        "Your password was changed, and every earlier session has ended. Sign in with your new password."
    )
    expect(page.locator("#login-username")).to_have_value(username)
    expect(page.locator("#login-password")).to_be_focused()
    assert page.evaluate("sessionStorage.length") == 0
    screenshot(page, "20-password-changed")
    assert stack.call("GET", "/users/me", old_token).status == 401

    page.locator("#login-password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your ECGs")).to_be_visible()
    expect(page.locator("#who")).to_have_text(f"{username} (user)")

"""The create-user CLI that makes the first admin of a deployed stage."""

from __future__ import annotations

import pytest

from devtools.manage import main
from tests.helpers import Api


def test_create_user_cli_registers_an_account_that_can_log_in(api: Api, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ECG_NEW_USER_PASSWORD", "cli-password-1")
    assert main(["create-user", "operator", "--role", "admin"]) == 0
    token = api.login("operator", "cli-password-1")
    assert api.call("GET", "/users/me", token).json["role"] == "admin"


def test_create_user_cli_reports_a_duplicate_without_a_traceback(
    api: Api, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("ECG_NEW_USER_PASSWORD", "cli-password-1")
    main(["create-user", "operator"])
    assert main(["create-user", "operator"]) == 1
    assert "already exists" in capsys.readouterr().err

"""A thin, readable client for the tests: JSON in, (status, JSON) out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chalice.test import HTTPResponse, TestHTTPClient

from chalicelib.api.responses import SECURITY_HEADERS
from tests.contract import check_response


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw) if self.raw else None


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def lower_keys(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


class Client:
    """JSON requests, contract-checked replies; subclasses say how a request is sent."""

    def send(self, method: str, path: str, headers: dict[str, str], payload: bytes | None) -> Reply:
        raise NotImplementedError

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        all_headers = {"Content-Type": "application/json"} if payload is not None else {}
        all_headers.update({**(bearer(token) if token else {}), **(headers or {})})
        reply = self.send(method, path, all_headers, payload)
        check_response(method, path, reply.status, reply.headers, reply.raw)
        for name, value in SECURITY_HEADERS.items():
            assert reply.headers.get(name.lower()) == value, f"{method} {path} {reply.status} lacks {name}"
        return reply

    def login(self, username: str, password: str) -> str:
        reply = self.call("POST", "/auth/token", body={"username": username, "password": password})
        assert reply.status == 200, reply.raw
        return reply.json["access_token"]


class Api(Client):
    """The Chalice test client behind the API Gateway emulation."""

    def __init__(self, http: TestHTTPClient, admin: tuple[str, str]) -> None:
        self.http = http
        self.admin_credentials = admin
        self._admin_token: str | None = None

    def send(self, method: str, path: str, headers: dict[str, str], payload: bytes | None) -> Reply:
        response: HTTPResponse = self.http.request(method, path, headers=headers, body=payload or b"")
        return Reply(response.status_code, lower_keys(response.headers), response.body or b"")

    @property
    def admin_token(self) -> str:
        if self._admin_token is None:
            self._admin_token = self.login(*self.admin_credentials)
        return self._admin_token

    def create_user(self, username: str, password: str = "user-password-1", role: str = "user") -> Reply:
        return self.call(
            "POST", "/users", self.admin_token, {"username": username, "password": password, "role": role}
        )

    def user_token(self, username: str, password: str = "user-password-1") -> str:
        created = self.create_user(username, password)
        assert created.status == 201, created.json
        return self.login(username, password)


def stored_objects(owner: str, s3: Any = None, bucket: str | None = None) -> dict[str, bool]:
    """Every object of an owner's in the bucket: key → still pending (a lifecycle rule expires it).
    By default the app's own bucket and client (in-process tests); e2e tests pass the stack's."""
    from chalicelib.settings import get_settings
    from chalicelib.store.signals import client

    s3, bucket = s3 or client(), bucket or get_settings().signals_bucket
    found = {}
    for prefix in (f"signals/{owner}/", f"uploads/{owner}/"):
        for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
            tags = s3.get_object_tagging(Bucket=bucket, Key=item["Key"])["TagSet"]
            found[item["Key"]] = {"Key": "state", "Value": "pending"} in tags
    return found


def lasting_objects(owner: str, s3: Any = None, bucket: str | None = None) -> list[str]:
    """The owner's objects no lifecycle rule will remove."""
    return sorted(key for key, pending in stored_objects(owner, s3, bucket).items() if not pending)

"""`make run`: the API on 127.0.0.1:$PORT against an embedded DynamoDB (moto's server).

Starts the database on a free loopback port, creates the tables and the first admin, then
serves the Chalice app behind the faithful API Gateway emulation. Ctrl-C or SIGTERM stops
both; nothing is left running.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler
from types import FrameType
from typing import Any

import msgspec

from chalicelib.accounts import NewUser
from chalicelib.rules import readable

DEFAULT_ADMIN_USERNAME = "admin"
DEFAULT_ADMIN_PASSWORD = "change-me-now"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def embedded_dynamodb() -> Iterator[str]:
    """moto's DynamoDB in this process, on loopback only; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    from devtools.dynamodb_idempotency import install

    install()  # ClientRequestToken as DynamoDB honours it
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def configure_environment(endpoint: str) -> None:
    """The local stage's settings; read at first use, so this runs before the first request."""
    os.environ["ECG_STAGE"] = "local"
    os.environ["ECG_DYNAMODB_HOST"] = endpoint
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    if not os.environ.get("ECG_JWT_SECRET"):
        os.environ["ECG_JWT_SECRET"] = secrets.token_urlsafe(48)


def admin_account(username: str, password: str) -> NewUser:
    """The first admin, checked by the same rules as POST /users before anything starts."""
    try:
        return msgspec.convert({"username": username, "password": password, "role": "admin"}, NewUser)
    except msgspec.ValidationError as error:
        raise SystemExit(f"ECG_ADMIN_USERNAME / ECG_ADMIN_PASSWORD: {readable(str(error))}") from None


def bootstrap(admin: NewUser) -> None:
    from chalicelib.accounts import register
    from chalicelib.errors import Conflict
    from devtools.tables import create_tables

    create_tables()
    with suppress(Conflict):
        register(admin)


def make_server(host: str, port: int) -> Any:
    """Chalice's local server (threaded, thread-local requests) with the faithful gateway."""
    from chalice.config import Config
    from chalice.local import ChaliceRequestHandler, CustomLocalChalice, LocalChalice, LocalDevServer

    from app import app
    from devtools.gateway import FaithfulGateway

    class FaithfulRequestHandler(ChaliceRequestHandler):
        def __init__(
            self, request: Any, client_address: Any, server: Any, app_object: Any, config: Config
        ) -> None:
            self.local_gateway = FaithfulGateway(app_object, config)
            BaseHTTPRequestHandler.__init__(self, request, client_address, server)

        def log_message(self, format: str, *args: Any) -> None:
            """The app already logs one JSON line per request."""

        def __getattr__(self, name: str) -> Any:
            """Every HTTP method reaches the gateway (which answers 405), not http.server's 501."""
            if name.startswith("do_"):
                return self._generic_handle
            raise AttributeError(name)

    CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
    app.__class__ = CustomLocalChalice
    config = Config.create(chalice_stage="local", lambda_timeout=60, lambda_memory_size=1024)
    return LocalDevServer(app, config, host, port, handler_cls=FaithfulRequestHandler)


def main() -> int:
    logging.basicConfig(format="%(message)s", level=logging.WARNING, stream=sys.stdout)
    port = int(os.environ.get("PORT") or 8000)
    admin_username = os.environ.get("ECG_ADMIN_USERNAME") or DEFAULT_ADMIN_USERNAME
    admin_password = os.environ.get("ECG_ADMIN_PASSWORD") or DEFAULT_ADMIN_PASSWORD
    if not os.environ.get("ECG_ADMIN_USERNAME") or not os.environ.get("ECG_ADMIN_PASSWORD"):
        print(
            f"ECG_ADMIN_USERNAME / ECG_ADMIN_PASSWORD not set: using the defaults"
            f" {DEFAULT_ADMIN_USERNAME!r} / {DEFAULT_ADMIN_PASSWORD!r}",
            flush=True,
        )
    admin = admin_account(admin_username, admin_password)
    with embedded_dynamodb() as endpoint:
        configure_environment(endpoint)
        bootstrap(admin)
        server = make_server("127.0.0.1", port)
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        print(f"ECG Insights is ready (admin: {admin_username}); Ctrl-C stops it", flush=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        stop.wait()
        server.shutdown()
        thread.join(timeout=5)
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

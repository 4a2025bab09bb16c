"""`make run`: the API on 127.0.0.1:$PORT against an embedded DynamoDB (moto's server).

Starts the database in a child process on a free loopback port, creates the tables and the
first admin, then serves the Chalice app behind the faithful API Gateway emulation, a thread per
connection. Ctrl-C or SIGTERM stops both; nothing is left running.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import subprocess
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
DYNAMODB_CHILD = "--embedded-dynamodb"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def embedded_dynamodb() -> Iterator[str]:
    """moto's DynamoDB on loopback only, in a child process; yields its endpoint URL.

    DynamoDB is another service, not a library: in its own interpreter the database does not
    compete with the API's request threads for one GIL. The child exits when its stdin closes:
    when this process stops it, or dies in any way.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.local_stack", DYNAMODB_CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        with process.stdout:
            announced = process.stdout.readline().decode().strip()
        if not announced.isdigit():
            raise SystemExit("the embedded DynamoDB did not start")
        yield f"http://127.0.0.1:{announced}"
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serve_dynamodb() -> int:
    """The child of `embedded_dynamodb`: prints its port, serves until its stdin closes."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    from devtools.dynamodb_emulation import install, single_service_application

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the process group: the parent stops us
    install()  # DynamoDB's behaviour where moto differs (devtools/dynamodb_emulation.py)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server(
        "127.0.0.1", 0, single_service_application(), threaded=True, request_handler=MotoRequestHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print(server.port, flush=True)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # the parent reads one line; moto may print more
    sys.stdin.buffer.read()
    server.shutdown()
    thread.join(timeout=5)
    return 0


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


class OneWriteResponse:
    """A connection's `wfile` that sends each response in one piece.

    http.server writes the status line and headers in one send() and Chalice's handler then
    writes the body in another. With Nagle's algorithm on, the second piece waits until the
    first is acknowledged, and a client that is waiting for the rest of the response delays its
    ACK (40 ms on Linux), so every small response on a kept-alive connection stalled ~40 ms (a
    fresh connection escapes: Linux ACKs at once during a connection's first exchanges). Here the
    pieces are kept until http.server flushes after the handler, then leave in one sendall().
    """

    def __init__(self, connection: socket.socket) -> None:
        self._connection = connection
        self._pieces: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> int:
        self._pieces.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        if self._pieces:
            response, self._pieces = b"".join(self._pieces), []
            self._connection.sendall(response)

    def close(self) -> None:
        self._pieces = []
        self.closed = True


def make_server(host: str, port: int) -> Any:
    """Chalice's local server (a thread per connection, thread-local requests, as Lambda runs
    one request per container at a time) with the faithful gateway."""
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

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.wfile = OneWriteResponse(self.connection)

        def handle_expect_100(self) -> bool:
            """`100 Continue` leaves at once: the client waits for it before sending the body."""
            answer = bool(super().handle_expect_100())
            self.wfile.flush()
            return answer

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
    if sys.argv[1:] == [DYNAMODB_CHILD]:
        return serve_dynamodb()
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

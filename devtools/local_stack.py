"""`make run`: the API on 127.0.0.1:$PORT against embedded DynamoDB, S3 and SQS (moto's servers).

Starts two children on free loopback ports: DynamoDB, and S3 with SQS (one process: moto's S3
notifies SQS only within its own process). Creates the tables, the signals bucket, the uploads
queue with its dead-letter queue and the bucket's notification of `uploads/` to the queue, and
the first admin; then serves the Chalice app behind the faithful API Gateway emulation, a thread
per connection, and runs the processing function on the queue as Lambda's SQS event source does
(devtools/local_queue.py). Upload URLs point at the S3 child (ECG_S3_ENDPOINT). Ctrl-C or SIGTERM
stops everything; nothing is left running.
"""

from __future__ import annotations

import hashlib
import hmac
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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from types import FrameType
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit
from xml.sax.saxutils import escape

import msgspec

from chalicelib.accounts import NewUser
from chalicelib.rules import readable
from devtools.local_queue import Queue, QueuePoller, crash_operations, install_crash

DEFAULT_ADMIN_USERNAME = "admin"
DEFAULT_ADMIN_PASSWORD = "change-me-now"
DYNAMODB_CHILD = "--embedded-dynamodb"
STORAGE_CHILD = "--embedded-s3-sqs"
SQS_TARGET = "AmazonSQS."  # the X-Amz-Target of SQS's JSON protocol
SQS_SCOPE = "/sqs/aws4_request"  # in the Authorization header of a request signed for SQS
SIGV4 = "AWS4-HMAC-SHA256"
# The template's CORS rule of the signals bucket (devtools/deployment.py), in S3's API terms: the
# viewer PUTs files to the presigned URLs from the API's origin.
UPLOADS_CORS_RULE = {
    "ID": "presigned-uploads",
    "AllowedMethods": ["PUT"],
    "AllowedOrigins": ["*"],
    "AllowedHeaders": ["*"],
    "ExposeHeaders": ["ETag"],
    "MaxAgeSeconds": 3600,
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def embedded_services(*children: str) -> Iterator[list[str]]:
    """moto's servers on loopback only, each in a child process; yields their endpoint URLs.

    Each is another service, not a library: in its own interpreter it does not compete with the
    API's request threads for one GIL. The children start together (start-up costs the slowest,
    not the sum) and each exits when its stdin closes: when this process stops it, or dies in
    any way."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "devtools.local_stack", child],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        for child in children
    ]
    try:
        endpoints = []
        for child, process in zip(children, processes, strict=True):
            assert process.stdout is not None
            with process.stdout:
                announced = process.stdout.readline().decode().strip()
            if not announced.isdigit():
                raise SystemExit(f"the embedded service ({child}) did not start")
            endpoints.append(f"http://127.0.0.1:{announced}")
        yield endpoints
    finally:
        for process in processes:
            assert process.stdin is not None
            process.stdin.close()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def embedded_dynamodb() -> Iterator[str]:
    """moto's DynamoDB in a child process; yields its endpoint URL."""
    with embedded_services(DYNAMODB_CHILD) as (endpoint,):
        yield endpoint


@contextmanager
def embedded_storage() -> Iterator[str]:
    """moto's S3 and SQS in one child process (S3 notifies SQS only within one moto process);
    yields its endpoint URL."""
    with embedded_services(STORAGE_CHILD) as (endpoint,):
        yield endpoint


def serve(application: Any) -> int:
    """A child of `embedded_services`: prints its port, serves until its stdin closes."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the process group: the parent stops us
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, application, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print(server.port, flush=True)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # the parent reads one line; moto may print more
    sys.stdin.buffer.read()
    server.shutdown()
    thread.join(timeout=5)
    return 0


def serve_dynamodb() -> int:
    from devtools.dynamodb_emulation import install, single_service_application

    install()  # DynamoDB's behaviour where moto differs (devtools/dynamodb_emulation.py)
    return serve(single_service_application())


def storage_application(secret_key: str | None) -> Any:
    """moto's S3 and SQS applications behind one port, sharing one process's backends.

    A request is SQS's when it says so (its X-Amz-Target names the SQS API, or it is signed for
    the sqs service); anything else is S3's, including a presigned URL, which carries no
    Authorization header (moto's own dispatcher would guess from the path and, for a
    form-encoded body, read the body; the upload goes to S3 untouched here). A presigned
    request is refused as S3 refuses it and moto does not: expired, or its signature does not
    match the request (another method, path, query, or a signed header such as Content-Length
    or Content-Type with another value), so a client that strays from the handed-out URL and
    headers fails here as it would on AWS."""
    from moto.moto_server.werkzeug_app import create_backend_app

    s3, sqs = create_backend_app("s3"), create_backend_app("sqs")

    def application(environ: dict[str, Any], start_response: Any) -> Any:
        is_sqs = environ.get("HTTP_X_AMZ_TARGET", "").startswith(SQS_TARGET) or (
            SQS_SCOPE in environ.get("HTTP_AUTHORIZATION", "")
        )
        if is_sqs:
            return sqs(environ, start_response)
        refusal = presigned_refusal(environ, secret_key, datetime.now(UTC))
        if refusal is not None:
            code, message = refusal
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
            ).encode()
            start_response(
                "403 Forbidden", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
            )
            return [body]
        return s3(environ, start_response)

    return application


def presigned_refusal(
    environ: dict[str, Any], secret_key: str | None, now: datetime
) -> tuple[str, str] | None:
    """Why S3 would refuse this presigned (SigV4 query-string) request: (error code, message);
    None when the request is not presigned, or is presigned and valid. Without the signing
    secret (None) only the expiry is checked."""
    if environ.get("REQUEST_METHOD") == "OPTIONS":
        return None  # a browser's CORS preflight carries the query but none of the signed headers
    params = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    fields = dict(params)
    if "X-Amz-Signature" not in fields:
        return None
    try:
        algorithm, signature = fields["X-Amz-Algorithm"], fields["X-Amz-Signature"]
        amz_date, expires = fields["X-Amz-Date"], int(fields["X-Amz-Expires"])
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        _, scope = fields["X-Amz-Credential"].split("/", 1)
        day, region, service, terminator = scope.split("/")
        signed_headers = fields["X-Amz-SignedHeaders"].split(";")
    except (KeyError, ValueError):
        return ("AuthorizationQueryParametersError", "Query-string authentication requires X-Amz-*")
    if algorithm != SIGV4 or terminator != "aws4_request":
        return ("AuthorizationQueryParametersError", "X-Amz-Algorithm only supports AWS4-HMAC-SHA256")
    if now > signed_at + timedelta(seconds=expires):
        return ("AccessDenied", "Request has expired")
    if secret_key is None:
        return None
    headers = []
    for name in signed_headers:
        value = environ.get(_environ_key(name))
        if value is None:
            return ("SignatureDoesNotMatch", f"the signed header {name} is missing")
        headers.append(f"{name}:{' '.join(str(value).split())}\n")
    query = sorted(
        (quote(key, safe="-_.~"), quote(value, safe="-_.~"))
        for key, value in params
        if key != "X-Amz-Signature"
    )
    canonical_request = "\n".join(
        [
            environ.get("REQUEST_METHOD", "GET"),
            urlsplit(environ.get("RAW_URI") or environ.get("PATH_INFO", "/")).path,
            "&".join(f"{key}={value}" for key, value in query),
            "".join(headers),
            ";".join(signed_headers),
            "UNSIGNED-PAYLOAD",
        ]
    )
    string_to_sign = "\n".join(
        [SIGV4, amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = f"AWS4{secret_key}".encode()
    for part in (day, region, service, terminator):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return (
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided."
            " Check your key and signing method.",
        )
    return None


def _environ_key(header: str) -> str:
    name = header.upper().replace("-", "_")
    return name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{name}"


def serve_storage() -> int:
    from devtools.s3_emulation import install

    install()  # S3's cost for ranged reads where moto differs (devtools/s3_emulation.py)
    encode_notified_keys_as_s3_does()
    return serve(storage_application(os.environ.get("AWS_SECRET_ACCESS_KEY")))


def encode_notified_keys_as_s3_does() -> None:
    """An S3 event names its object by the key URL-encoded as a form value, slashes kept
    (`uploads/alice/my+file%3A1`); moto encodes the slashes too (`uploads%2Falice%2F...`)."""
    from urllib.parse import quote_plus

    import moto.s3.notifications as notifications

    notifications.quote_plus = lambda key: quote_plus(key, safe="/")  # type: ignore[attr-defined,assignment]


@dataclass(frozen=True)
class Endpoints:
    dynamodb: str
    storage: str  # S3 and SQS


def configure_credentials() -> None:
    """Before the children start: the S3 child checks presigned URLs with the secret the app
    signs them with."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")


def configure_environment(endpoints: Endpoints) -> None:
    """The local stage's settings; read at first use, so this runs before the first request."""
    configure_credentials()
    os.environ["ECG_STAGE"] = "local"
    os.environ["ECG_DYNAMODB_HOST"] = endpoints.dynamodb
    os.environ["ECG_S3_ENDPOINT"] = endpoints.storage  # presigned upload URLs point here too
    os.environ["ECG_SQS_ENDPOINT"] = endpoints.storage
    if not os.environ.get("ECG_JWT_SECRET"):
        os.environ["ECG_JWT_SECRET"] = secrets.token_urlsafe(48)


def admin_account(username: str, password: str) -> NewUser:
    """The first admin, checked by the same rules as POST /users before anything starts."""
    try:
        return msgspec.convert({"username": username, "password": password, "role": "admin"}, NewUser)
    except msgspec.ValidationError as error:
        raise SystemExit(f"ECG_ADMIN_USERNAME / ECG_ADMIN_PASSWORD: {readable(str(error))}") from None


def aws_client(service: str, endpoint: str) -> Any:
    import boto3

    from chalicelib.settings import get_settings

    return boto3.client(service, endpoint_url=endpoint, region_name=get_settings().region)


def create_storage(endpoint: str) -> Queue:
    """The uploads queue with its dead-letter queue, and the notification of the signals bucket
    (devtools/tables.py creates it with the tables) for every file under `uploads/`."""
    from chalicelib.settings import get_settings
    from devtools.local_queue import create_uploads_queue

    settings = get_settings()
    s3, sqs = aws_client("s3", endpoint), aws_client("sqs", endpoint)
    s3.put_bucket_cors(Bucket=settings.signals_bucket, CORSConfiguration={"CORSRules": [UPLOADS_CORS_RULE]})
    return create_uploads_queue(sqs, s3, settings.signals_bucket, settings.stage)


def bootstrap(admin: NewUser, storage: str) -> Queue:
    from chalicelib.accounts import register
    from chalicelib.errors import Conflict
    from devtools.tables import create_tables

    create_tables()
    queue = create_storage(storage)
    with suppress(Conflict):
        register(admin)
    return queue


def uploads_poller(queue: Queue, storage: str, crash_at: frozenset[str]) -> QueuePoller:
    """Lambda's SQS event source for the processing function (app.py's `process_uploads`)."""
    from app import process_uploads
    from chalicelib.settings import APP_NAME, get_settings

    settings = get_settings()
    return QueuePoller(
        aws_client("sqs", storage),
        queue,
        settings.region,
        process_uploads,
        f"{APP_NAME}-{settings.stage}-process_uploads",
        crash_at,
    )


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
    if sys.argv[1:] == [STORAGE_CHILD]:
        return serve_storage()
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
    configure_credentials()
    with embedded_services(DYNAMODB_CHILD, STORAGE_CHILD) as (dynamodb, storage):
        configure_environment(Endpoints(dynamodb, storage))
        crash_at = crash_operations()
        install_crash(crash_at)  # before the app makes its first AWS client
        queue = bootstrap(admin, storage)
        server = make_server("127.0.0.1", port)
        poller = uploads_poller(queue, storage, crash_at)
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        print(f"S3 and SQS: {storage} (uploads queue {queue.url})", flush=True)
        print(f"ECG Insights is ready (admin: {admin_username}); Ctrl-C stops it", flush=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        poller.start()
        stop.wait()
        poller.stop()
        server.shutdown()
        thread.join(timeout=5)
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

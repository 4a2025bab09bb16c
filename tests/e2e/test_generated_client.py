"""Consumer-side checks of the served /openapi.json, as mobile and web teams use it.

- openapi-python-client generates a Python client with zero warnings; every module imports,
  and the main flow runs through it against the local stack, errors arriving as typed models.
- openapi-typescript generates TypeScript types and `tsc` accepts tests/e2e/clients/usage.ts.
- Redocly lints the document with its `recommended-strict` rules: no problem at all.

The npm tools are pinned by tests/e2e/clients/package-lock.json and installed by `npm ci` into
a temporary copy of that folder. Without npm these tests fail: they never skip.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.e2e.conftest import ADMIN, Stack

CLIENTS = Path(__file__).resolve().parent / "clients"
CLIENT_PACKAGE = "ecg_insights_client"
VENV_BIN = Path(sys.executable).parent
NODE_ENV = {"REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true", "NO_COLOR": "1"}


def run(command: list[str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """The finished command; a non-zero exit fails the test with its output."""
    env = {**os.environ, **NODE_ENV, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)} exited {result.returncode}:\n{output[-6000:]}"
    return result


@pytest.fixture(scope="module")
def served_document(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    reply = stack.call("GET", "/openapi.json")
    assert reply.status == 200
    path = tmp_path_factory.mktemp("served") / "openapi.json"
    path.write_bytes(reply.raw)
    return path


@pytest.fixture(scope="module")
def client_package(served_document: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The generated package, importable for the module's tests."""
    root = tmp_path_factory.mktemp("python-client")
    generator = str(VENV_BIN / "openapi-python-client")
    command = [generator, "generate", "--path", str(served_document), "--meta", "none"]
    result = run([*command, "--output-path", str(root / CLIENT_PACKAGE), "--fail-on-warning"], root)
    output = result.stdout + result.stderr
    assert "warning" not in output.lower() and "skipping" not in output.lower(), output
    sys.path.insert(0, str(root))
    try:
        yield CLIENT_PACKAGE
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name.split(".")[0] == CLIENT_PACKAGE]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def npm_tools(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of tests/e2e/clients with its locked node_modules installed."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(
            "npm is required (Node.js 20.19+ with npm 10+): the TypeScript and Redocly checks need it"
        )
    folder = tmp_path_factory.mktemp("ts-client") / "clients"
    shutil.copytree(CLIENTS, folder, ignore=shutil.ignore_patterns("node_modules", "schema.d.ts"))
    run([npm, "ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], folder)
    return folder


def load(package: str, module: str) -> Any:
    return importlib.import_module(f"{package}.{module}")


def test_every_generated_module_imports(client_package: str):
    root: ModuleType = importlib.import_module(client_package)
    names = [info.name for info in pkgutil.walk_packages(root.__path__, f"{client_package}.")]
    for name in names:
        importlib.import_module(name)
    operations = {name.rsplit(".", 1)[1] for name in names if ".api." in name and name.count(".") == 3}
    assert {"issue_token", "create_user", "create_ecg", "list_ecgs", "get_ecg_beats", "logout"} <= operations


def test_main_flow_through_the_generated_client(stack: Stack, client_package: str):
    api = load(client_package, "api")
    client_module = load(client_package, "client")
    models = load(client_package, "models")
    issue_token = importlib.import_module(f"{api.__name__}.auth.issue_token")
    logout = importlib.import_module(f"{api.__name__}.auth.logout")
    create_user = importlib.import_module(f"{api.__name__}.users.create_user")
    get_me = importlib.import_module(f"{api.__name__}.users.get_me")
    list_users = importlib.import_module(f"{api.__name__}.users.list_users")
    create_ecg = importlib.import_module(f"{api.__name__}.ecgs.create_ecg")
    list_ecgs = importlib.import_module(f"{api.__name__}.ecgs.list_ecgs")
    get_ecg = importlib.import_module(f"{api.__name__}.ecgs.get_ecg")
    get_insights = importlib.import_module(f"{api.__name__}.ecgs.get_ecg_insights")
    get_beats = importlib.import_module(f"{api.__name__}.ecgs.get_ecg_beats")

    anonymous = client_module.Client(base_url=stack.base_url, raise_on_unexpected_status=True)

    def sign_in(username: str, password: str) -> Any:
        token = issue_token.sync(
            client=anonymous, body=models.Credentials(username=username, password=password)
        )
        assert isinstance(token, models.Token), token
        assert token.token_type == models.TokenTokenType.BEARER and token.expires_in > 0
        return client_module.AuthenticatedClient(
            base_url=stack.base_url, token=token.access_token, raise_on_unexpected_status=True
        )

    # The admin registers a user; the answer and its headers are typed.
    admin = sign_in(*ADMIN)
    new_user = models.NewUser(
        username="generated-client", password="generated-password", role=models.Role.USER
    )
    created = create_user.sync_detailed(client=admin, body=new_user, idempotency_key="generated-client-1")
    assert created.status_code == 201 and isinstance(created.parsed, models.User)
    assert (
        created.parsed.role == models.Role.USER and created.headers["location"] == "/users/generated-client"
    )
    assert isinstance(created.parsed.created_at, datetime)

    # The user signs in and uploads three ECGs.
    user = sign_in("generated-client", "generated-password")
    me = get_me.sync(client=user)
    assert isinstance(me, models.User) and me.username == "generated-client"
    signal = [0, 2, 5, 40, 5, -3, 0, 1, -1] * 20
    for index in range(3):
        ecg = models.NewEcg(
            id=f"gen-{index}",
            date=datetime(2026, 11, 27, 10, index, tzinfo=UTC),
            sampling_rate_hz=500.0,
            leads=[models.NewLead(name="I", signal=signal), models.NewLead(name="II", signal=[1, -1, 2])],
        )
        summary = create_ecg.sync(client=user, body=ecg)
        assert isinstance(summary, models.EcgSummary), summary
        assert summary.status == models.Status.READY and summary.leads[0].number_of_samples == len(signal)

    # Pages of two until next_token is null.
    ids: list[str] = []
    next_token: Any = load(client_package, "types").UNSET
    while True:
        page = list_ecgs.sync(client=user, limit=2, next_token=next_token)
        assert isinstance(page, models.EcgPage), page
        ids += [item.id for item in page.items]
        if page.next_token is None:
            break
        next_token = page.next_token
    assert ids == ["gen-0", "gen-1", "gen-2"]

    # An ECG, its insights and its beats.
    read = get_ecg.sync(id="gen-1", client=user)
    assert isinstance(read, models.Ecg) and read.leads[0].signal == signal
    assert read.date == datetime(2026, 11, 27, 10, 1, tzinfo=UTC) and read.sampling_rate_hz == 500
    insights = get_insights.sync(id="gen-1", client=user)
    assert isinstance(insights, models.Insights)
    assert [lead.name for lead in insights.leads] == ["I", "II"]
    assert insights.leads[1].zero_crossings == 2
    beats = get_beats.sync(id="gen-1", client=user, lead="I")
    assert isinstance(beats, models.LeadBeats) and beats.lead == "I"

    # Errors are typed models whose code is an enum: a 404, two 400s, a 403.
    missing = get_ecg.sync_detailed(id="no-such-ecg", client=user)
    assert missing.status_code == 404 and isinstance(missing.parsed, models.EcgNotFoundError)
    assert missing.parsed.code == models.EcgNotFoundErrorCode.ECG_NOT_FOUND
    no_lead = get_beats.sync_detailed(id="gen-1", client=user, lead="V9")
    assert isinstance(no_lead.parsed, models.LeadNotFoundError)
    assert no_lead.parsed.code == models.LeadNotFoundErrorCode.LEAD_NOT_FOUND
    bad_page = list_ecgs.sync_detailed(client=user, next_token="not-a-token")
    assert bad_page.status_code == 400 and isinstance(bad_page.parsed, models.InvalidQueryError)
    assert bad_page.parsed.code == models.InvalidQueryErrorCode.INVALID_QUERY
    invalid = create_ecg.sync_detailed(client=user, body=models.NewEcg(date=datetime.now(UTC), leads=[]))
    assert invalid.status_code == 400 and isinstance(invalid.parsed, models.InvalidCreateRequestError)
    assert invalid.parsed.code == models.InvalidCreateRequestErrorCode.INVALID_BODY
    forbidden = list_users.sync_detailed(client=user)
    assert forbidden.status_code == 403 and isinstance(forbidden.parsed, models.ForbiddenError)

    # Logging out ends the token.
    assert logout.sync_detailed(client=user).status_code == 204
    after = get_me.sync_detailed(client=user)
    assert after.status_code == 401 and isinstance(after.parsed, models.UnauthorizedError)
    assert after.parsed.code == models.UnauthorizedErrorCode.UNAUTHORIZED


def test_typescript_types_generate_and_type_check(npm_tools: Path, served_document: Path):
    bin_dir = npm_tools / "node_modules" / ".bin"
    run([str(bin_dir / "openapi-typescript"), str(served_document), "-o", "schema.d.ts"], npm_tools)
    run([str(bin_dir / "tsc"), "-p", "tsconfig.json"], npm_tools)


def test_redocly_recommended_strict_finds_no_problem(npm_tools: Path, served_document: Path):
    """redocly.yaml there extends `recommended-strict`; every problem counts, warnings too."""
    redocly = str(npm_tools / "node_modules" / ".bin" / "redocly")
    result = run(
        [redocly, "lint", "--config", "redocly.yaml", "--format", "json", str(served_document)], npm_tools
    )
    report = json.loads(result.stdout[result.stdout.index("{") :])
    assert report["totals"] == {"errors": 0, "warnings": 0, "ignored": 0}, result.stdout

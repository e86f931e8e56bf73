"""The Stackdriver backend with google-auth against a local Cloud Monitoring and token server.

No Google traffic: the service-account key made here (a fresh RSA key) names a ``token_uri``
on an aiohttp server on 127.0.0.1, and ``spec.provider.address`` points the backend's API
calls at the same server. The token endpoint checks what Google's does: a form POST with
``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` and an ``assertion`` JWT signed with
the key (verified with the public key), issued by the key's ``client_email``, for Google's
token endpoint as audience (the key's ``token_uri`` is where it is posted) and asking for the
``monitoring.read`` scope; it answers an access token.
``POST /v3/projects/<project>/timeSeries:query`` checks that token and a JSON body with
``query``, and answers in the API's JSON: ``timeSeriesData`` with ``pointData``, Google's
error body (``INVALID_ARGUMENT`` for an empty or unknown query, ``PERMISSION_DENIED`` for a
caller without the scope, ``NOT_FOUND`` for another project).

Checked: a value, several series, no data, API errors, token reuse, a bad key, availability
(``INVALID_ARGUMENT`` is online, ``PERMISSION_DENIED`` is not), Application Default
Credentials from ``GOOGLE_APPLICATION_CREDENTIALS`` without a Secret, and the plugin hook.
"""

from __future__ import annotations

import json
import pathlib
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from flagger import plugins
from flagger.metrics.backends import prometheus, stackdriver

google_jwt = pytest.importorskip("google.auth.jwt", reason="stackdriver extra not installed")
rsa = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.rsa")
serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")

PROJECT = "flagger-test-project"
EMAIL = "flagger@flagger-test-project.iam.gserviceaccount.com"
ACCESS_TOKEN = "ya29.flagger-test-token"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
LATENCY = "fetch k8s_container | metric 'istio.io/service/server/response_latencies'"
PER_POD = LATENCY + " | group_by [pod]"
QUIET = "fetch k8s_container | metric 'istio.io/service/server/request_count' | filter false"
STATE = web.AppKey("state", dict[str, Any])


def _series(values: list[float], label: str) -> dict[str, Any]:
    return {
        "labelValues": [{"stringValue": label}],
        "pointData": [
            {
                "values": [{"doubleValue": v}],
                "timeInterval": {
                    "startTime": "2026-11-26T10:00:00Z",
                    "endTime": "2026-11-26T10:01:00Z",
                },
            }
            for v in values
        ],
    }


ANSWERS = {
    LATENCY: {"timeSeriesDescriptor": {}, "timeSeriesData": [_series([412.5, 380.0], "")]},
    PER_POD: {
        "timeSeriesDescriptor": {},
        "timeSeriesData": [_series([1.0], "podinfo-a"), _series([2.0], "podinfo-b")],
    },
    QUIET: {"timeSeriesDescriptor": {}},
}


def _google_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response(
        {"error": {"code": status, "message": message, "status": code}}, status=status
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _monitoring(public_pem: bytes) -> web.Application:
    app = web.Application()
    app[STATE] = {"tokens": 0, "scope": stackdriver.SCOPE, "queries": []}

    async def token(request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        try:
            claims = google_jwt.decode(
                str(form.get("assertion")), certs=public_pem, audience=GOOGLE_TOKEN_AUDIENCE
            )
        except ValueError as err:
            return web.json_response(
                {"error": "invalid_grant", "error_description": f"Invalid JWT Signature. {err}"},
                status=400,
            )
        if claims.get("iss") != EMAIL or stackdriver.SCOPE not in claims.get("scope", ""):
            return web.json_response({"error": "invalid_scope"}, status=400)
        app[STATE]["tokens"] += 1
        return web.json_response(
            {"access_token": ACCESS_TOKEN, "expires_in": 3599, "token_type": "Bearer"}
        )

    async def query(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
            return _google_error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
            )
        if app[STATE]["scope"] != stackdriver.SCOPE:
            return _google_error(
                403,
                "PERMISSION_DENIED",
                "Permission monitoring.timeSeries.list denied (or the resource may not exist).",
            )
        if request.match_info["project"] != PROJECT:
            return _google_error(
                404, "NOT_FOUND", f"Project {request.match_info['project']} not found"
            )
        body = await request.json()
        app[STATE]["queries"].append(body)
        mql = body.get("query", "")
        if mql not in ANSWERS:
            return _google_error(
                400,
                "INVALID_ARGUMENT",
                f"Line 1: Expected table operation. Query: {mql!r}" if mql else "Query is empty.",
            )
        return web.json_response(ANSWERS[mql])

    app.router.add_post("/token", token)
    app.router.add_post("/v3/projects/{project}/timeSeries:query", query)
    return app


@pytest.fixture
async def google() -> AsyncIterator[dict[str, Any]]:
    """The local server and a service-account key whose ``token_uri`` is on it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    app = _monitoring(public_pem)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    service_account = {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "k1",
        "private_key": private_pem,
        "client_email": EMAIL,
        "client_id": "1",
        "token_uri": f"{base}/token",
    }
    yield {"address": base, "app": app, "key": service_account}
    await runner.cleanup()


def _spec(google: dict[str, Any], **data: str) -> dict[str, Any]:
    credentials = {"project": PROJECT, "serviceAccountKey": json.dumps(google["key"]), **data}
    return {
        "type": "stackdriver",
        "address": google["address"],
        "secretRef": {"name": "gcloud"},
        prometheus.CREDENTIALS_KEY: credentials,
    }


def _plugins() -> plugins.Plugins:
    loaded = plugins.load()
    if not loaded.manager.is_registered(stackdriver):
        loaded.manager.register(stackdriver)
    return loaded


async def test_value_is_the_newest_point_and_the_token_is_reused(google: dict[str, Any]) -> None:
    backend = _plugins().metric_backend("stackdriver", _spec(google), plugins.PluginContext())
    assert await backend.run_query(LATENCY) == 412.5
    assert await backend.run_query(LATENCY) == 412.5
    state = google["app"][STATE]
    assert state["tokens"] == 1
    assert state["queries"] == [{"query": LATENCY}, {"query": LATENCY}]


async def test_several_series_are_an_error(google: dict[str, Any]) -> None:
    with pytest.raises(stackdriver.QueryError, match=r"2 time series.*podinfo-a; podinfo-b"):
        await stackdriver.from_provider_spec(_spec(google)).run_query(PER_POD)


async def test_no_series_has_no_values(google: dict[str, Any]) -> None:
    with pytest.raises(plugins.NoValuesFound):
        await stackdriver.from_provider_spec(_spec(google)).run_query(QUIET)


async def test_api_error_carries_google_status_and_message(google: dict[str, Any]) -> None:
    with pytest.raises(
        stackdriver.QueryError,
        match=("error requesting stackdriver: INVALID_ARGUMENT: Line 1: Expected table"),
    ):
        await stackdriver.from_provider_spec(_spec(google)).run_query("fetch nothing |")


async def test_other_project_is_not_found(google: dict[str, Any]) -> None:
    backend = stackdriver.from_provider_spec(_spec(google, project="someone-else"))
    with pytest.raises(stackdriver.QueryError, match="NOT_FOUND: Project someone-else"):
        await backend.run_query(LATENCY)


async def test_key_the_token_server_rejects_is_a_credentials_error(google: dict[str, Any]) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = {
        **google["key"],
        "private_key": other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
    }
    spec = _spec(google, serviceAccountKey=json.dumps(key))
    backend = stackdriver.from_provider_spec(spec)
    with pytest.raises(stackdriver.QueryError, match=r"credentials: .*invalid_grant"):
        await backend.run_query(LATENCY)
    assert await backend.is_online() is False


async def test_is_online_when_an_empty_query_is_invalid(google: dict[str, Any]) -> None:
    assert await stackdriver.from_provider_spec(_spec(google)).is_online() is True


async def test_is_not_online_without_permission(google: dict[str, Any]) -> None:
    google["app"][STATE]["scope"] = "https://www.googleapis.com/auth/logging.read"
    backend = stackdriver.from_provider_spec(_spec(google))
    with pytest.raises(stackdriver.QueryError, match="unexpected status code: PERMISSION_DENIED"):
        await backend.check_online()
    assert await backend.is_online() is False


async def test_application_default_credentials_without_a_secret(
    google: dict[str, Any], tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps(google["key"]))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")  # never ask a metadata server
    backend = stackdriver.from_provider_spec({"type": "stackdriver", "address": google["address"]})
    started = time.monotonic()
    assert await backend.run_query(LATENCY) == 412.5
    assert backend.project == PROJECT
    assert time.monotonic() - started < 10

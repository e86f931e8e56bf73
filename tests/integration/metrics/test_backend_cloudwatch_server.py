"""The CloudWatch backend through botocore against a local server speaking CloudWatch's API.

No AWS traffic: botocore is pointed at an aiohttp server on 127.0.0.1 (``spec.provider.address``
becomes ``endpoint_url``). The server checks what CloudWatch checks for the protocol botocore
speaks to it (AWS JSON 1.0): ``POST /``, ``X-Amz-Target: GraniteServiceVersion20100801.
GetMetricData``, ``Content-Type: application/x-amz-json-1.0``, and a SigV4 ``Authorization``
whose credential scope is ``<date>/<region>/monitoring/aws4_request`` and whose signature is
recomputed from the request with the shared secret (botocore's own signer on the server side:
the client may not be trusted to grade itself, but the arithmetic is the SDK's). It answers
``GetMetricData`` results in JSON (errors with ``x-amzn-query-error``), rejects an empty query
list with 400 (as CloudWatch does), and plays a caller without ``cloudwatch:GetMetricData``
permission (403 ``AccessDenied``).

Checked: a value, the request (queries with Flagger's case-insensitive field names, window of
ten intervals, MaxDatapoints 20), several results, no values, AWS errors, availability (400 is
online, 403 is not), credentials from the default chain, and the plugin hook.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from flagger import plugins
from flagger.metrics.backends import cloudwatch

botocore_auth = pytest.importorskip("botocore.auth", reason="cloudwatch extra not installed")
botocore_awsrequest = pytest.importorskip("botocore.awsrequest")
botocore_credentials = pytest.importorskip("botocore.credentials")
botocore_session = pytest.importorskip("botocore.session")

ACCESS_KEY, SECRET_KEY = "AKIDFLAGGERTEST", "flagger/test/secret"
REGION = "eu-west-1"
TARGET = "GraniteServiceVersion20100801.GetMetricData"
JSON_1_0 = "application/x-amz-json-1.0"
#: Datapoints per metric id, newest first (as CloudWatch returns them).
SERIES = {"e1": [0.5, 1.5, 2.5], "m1": [5.0, 6.0], "quiet": []}

STATE = web.AppKey("state", dict[str, Any])


def _json(status: int, body: dict[str, Any], **headers: str) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(body), headers={"Content-Type": JSON_1_0, **headers}
    )


def _aws_error(status: int, code: str, message: str) -> web.Response:
    return _json(
        status,
        {"__type": f"com.amazonaws.cloudwatch#{code}", "message": message},
        **{"x-amzn-query-error": f"{code};Sender"},
    )


def _signature_problem(request: web.Request, body: bytes) -> str | None:
    """Why the SigV4 signature is wrong, or None when it is right."""
    authorization = request.headers.get("Authorization", "")
    algorithm, _, rest = authorization.partition(" ")
    if algorithm != "AWS4-HMAC-SHA256":
        return f"not a SigV4 Authorization header: {authorization!r}"
    fields = dict(part.strip().split("=", 1) for part in rest.split(","))
    amz_date = request.headers.get("X-Amz-Date", "")
    scope = f"{ACCESS_KEY}/{amz_date[:8]}/{REGION}/monitoring/aws4_request"
    if fields.get("Credential") != scope:
        return f"credential scope {fields.get('Credential')!r}, expected {scope!r}"
    signed = fields["SignedHeaders"].split(";")
    if "host" not in signed or "x-amz-date" not in signed:
        return f"host and x-amz-date must be signed: {signed}"
    copy = botocore_awsrequest.AWSRequest(
        method=request.method,
        url=str(request.url),
        data=body,
        headers={name: request.headers[name] for name in signed if name != "host"},
    )
    copy.context["timestamp"] = amz_date
    signer = botocore_auth.SigV4Auth(
        botocore_credentials.Credentials(ACCESS_KEY, SECRET_KEY), "monitoring", REGION
    )
    string_to_sign = signer.string_to_sign(copy, signer.canonical_request(copy))
    if signer.signature(string_to_sign, copy) != fields.get("Signature"):
        return "signature does not match"
    return None


def _cloudwatch() -> web.Application:
    app = web.Application()
    app[STATE] = {"requests": [], "deny": False}

    async def get_metric_data(request: web.Request) -> web.Response:
        body = await request.read()
        if (
            request.headers.get("X-Amz-Target") != TARGET
            or request.headers.get("Content-Type") != JSON_1_0
        ):
            return _aws_error(400, "UnknownOperationException", "unsupported protocol")
        problem = _signature_problem(request, body)
        if problem is not None:
            return _aws_error(403, "SignatureDoesNotMatch", problem)
        if app[STATE]["deny"]:
            return _aws_error(
                403,
                "AccessDenied",
                "User: arn:aws:iam::123456789012:user/flagger"
                " is not authorized to perform: cloudwatch:GetMetricData",
            )
        params = json.loads(body)
        app[STATE]["requests"].append(params)
        queries = params.get("MetricDataQueries") or []
        if not queries:
            return _aws_error(
                400, "InvalidParameterValue", "The parameter MetricDataQueries must not be empty."
            )
        results = [
            {
                "Id": q["Id"],
                "Label": q.get("Label", q["Id"]),
                "StatusCode": "Complete",
                "Timestamps": [params["EndTime"]] * len(SERIES.get(q["Id"], [])),
                "Values": SERIES.get(q["Id"], []),
            }
            for q in queries
            if q.get("ReturnData", True)
        ]
        return _json(200, {"MetricDataResults": results, "Messages": []})

    app.router.add_post("/", get_metric_data)
    return app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, web.Application]]:
    app = _cloudwatch()
    runner = web.AppRunner(app)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}", app
    await runner.cleanup()


@pytest.fixture
def aws_session() -> Any:
    session = botocore_session.Session()
    session.set_credentials(ACCESS_KEY, SECRET_KEY)
    return session


Make = Callable[..., cloudwatch.CloudWatchBackend]


@pytest.fixture
def make(server: tuple[str, web.Application], aws_session: Any) -> Make:
    def make(interval: str = "1m") -> cloudwatch.CloudWatchBackend:
        spec = {
            "type": "cloudwatch",
            "region": REGION,
            "address": server[0],
            cloudwatch.INTERVAL_KEY: interval,
        }
        return cloudwatch.from_provider_spec(spec, session=aws_session)

    return make


ERROR_RATE = """[
  {"Id": "e1", "Expression": "m1 / m2", "Label": "ErrorRate"},
  {"id": "m1", "returnData": false, "metricStat": {"metric": {"namespace": "MyKamon",
    "metricName": "http.server.requests",
    "dimensions": [{"name": "http_status_code", "value": "5xx"}]},
    "period": 60, "stat": "Sum", "unit": "Count"}}
]"""


async def test_value_is_the_newest_of_the_returned_result(
    make: Make, server: tuple[str, web.Application]
) -> None:
    assert await make("2m").run_query(ERROR_RATE) == 0.5
    sent = server[1][STATE]["requests"][-1]
    assert sent["MaxDatapoints"] == 20
    assert sent["EndTime"] - sent["StartTime"] == pytest.approx(20 * 60)
    assert sent["MetricDataQueries"][1] == {
        "Id": "m1",
        "ReturnData": False,
        "MetricStat": {
            "Metric": {
                "Namespace": "MyKamon",
                "MetricName": "http.server.requests",
                "Dimensions": [{"Name": "http_status_code", "Value": "5xx"}],
            },
            "Period": 60,
            "Stat": "Sum",
            "Unit": "Count",
        },
    }


async def test_several_results_are_an_error(make: Make) -> None:
    with pytest.raises(cloudwatch.QueryError, match=r"2 results \(e1, m1\)"):
        await make().run_query(
            '[{"Id": "e1", "Expression": "m1"}, {"Id": "m1", "Expression": "1"}]'
        )


async def test_result_without_values_has_no_values(make: Make) -> None:
    with pytest.raises(plugins.NoValuesFound):
        await make().run_query('[{"Id": "quiet", "Expression": "SEARCH(x)"}]')


async def test_aws_error_is_reported(make: Make, server: tuple[str, web.Application]) -> None:
    server[1][STATE]["deny"] = True
    with pytest.raises(
        cloudwatch.QueryError,
        match=(r"error requesting cloudwatch: An error occurred \(AccessDenied\).*GetMetricData"),
    ):
        await make().run_query(ERROR_RATE)


async def test_is_online_when_an_empty_query_is_rejected_as_invalid(make: Make) -> None:
    assert await make().is_online() is True


async def test_is_not_online_without_permission(
    make: Make, server: tuple[str, web.Application]
) -> None:
    server[1][STATE]["deny"] = True
    backend = make()
    with pytest.raises(cloudwatch.QueryError, match="unexpected status code: 403"):
        await backend.check_online()
    assert await backend.is_online() is False


async def test_wrong_secret_fails_the_signature_check(server: tuple[str, web.Application]) -> None:
    session = botocore_session.Session()
    session.set_credentials(ACCESS_KEY, "not-the-secret")
    backend = cloudwatch.CloudWatchBackend(REGION, endpoint_url=server[0], session=session)
    with pytest.raises(cloudwatch.QueryError, match="SignatureDoesNotMatch"):
        await backend.run_query(ERROR_RATE)


async def test_is_not_online_when_nothing_listens(aws_session: Any) -> None:
    backend = cloudwatch.CloudWatchBackend(
        REGION, endpoint_url=f"http://127.0.0.1:{_free_port()}", session=aws_session
    )
    assert await backend.is_online() is False


async def test_default_credential_chain_through_the_plugin_hook(
    server: tuple[str, web.Application], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    loaded = plugins.load()
    if not loaded.manager.is_registered(cloudwatch):
        loaded.manager.register(cloudwatch)
    spec = {"type": "cloudwatch", "region": REGION, "address": server[0]}
    backend = loaded.metric_backend("cloudwatch", spec, plugins.PluginContext())
    assert await backend.run_query(ERROR_RATE) == 0.5

"""The Splunk (SignalFx) backend without a server: configuration, the URLs Flagger derives, the
execute request, decoding SignalFlow's binary data batches, picking the value, hooks.

Matrix: API and stream addresses for a realm; the address and token are required; the window;
binary frames (v1 and v2 headers, long/double/int32/unknown value types, gzip, JSON-in-binary,
truncated); values (last point, none, several series, NaN).
"""

from __future__ import annotations

import gzip
import json
import math
import struct
from typing import Any

import pytest

from flagger import plugins
from flagger.metrics.backends import backend_common as common
from flagger.metrics.backends import splunk
from tests.support.registered import registered


def _spec(**extra: Any) -> dict[str, Any]:
    return {
        "type": "splunk",
        "address": "https://api.us1.signalfx.com",
        "secretRef": {"name": "splunk"},
        "credentials": {"sf_token_key": "t"},
        **extra,
    }


def _frame(
    elements: list[tuple[int, int, bytes]],
    *,
    version: int = 1,
    flags: int = 0,
    channel: str = "ch-1",
) -> bytes:
    head = struct.pack(">BBBB16s", version, 5, flags, 0, channel.encode())
    body = struct.pack(">Q", 1_700_000_000_000)
    if version == 2:
        body += struct.pack(">Q", 1000)
    body += struct.pack(">I", len(elements))
    body += b"".join(struct.pack(">BQ8s", kind, tsid, raw) for kind, tsid, raw in elements)
    return head + (gzip.compress(body) if flags & 1 else body)


def test_urls_match_flagger() -> None:
    backend = splunk.from_provider_spec(_spec(metricInterval="100s"))
    assert backend.stream_endpoint == "wss://stream.us1.signalfx.com/v2/signalflow"
    assert backend.validation_endpoint == "https://api.us1.signalfx.com/v2/metric?limit=1"
    assert backend.from_delta_ms == 1_000_000
    stream = splunk.from_provider_spec(_spec(address="wss://stream.eu0.signalfx.com"))
    assert stream.stream_endpoint == "wss://stream.eu0.signalfx.com/v2/signalflow"
    assert stream.validation_endpoint == "https://api.eu0.signalfx.com/v2/metric?limit=1"


def test_address_and_token_are_required() -> None:
    with pytest.raises(common.ConfigError, match="splunk endpoint is not set"):
        splunk.from_provider_spec({"type": "splunk", "credentials": {"sf_token_key": "t"}})
    with pytest.raises(
        common.ConfigError, match=r"splunk credentials does not contain sf_token_key: .*secretRef"
    ):
        splunk.from_provider_spec(_spec(credentials={}))


def test_execute_request() -> None:
    backend = splunk.SplunkBackend(
        "https://api.us1.signalfx.com", "t", interval_seconds=60, clock=lambda: 1_700_000_000.0
    )
    assert backend.execute_request("data('x').publish()") == {
        "type": "execute",
        "channel": "ch-1",
        "program": "data('x').publish()",
        "start": 1_700_000_000_000 - 600_000,
        "stop": 1_700_000_000_000,
        "immediate": True,
    }


def test_binary_frames() -> None:
    double = struct.pack(">d", 2.5)
    long = struct.pack(">q", -7)
    int32 = struct.pack(">i", 42) + b"\0\0\0\0"
    elements = [(2, 11, double), (1, 12, long), (3, 13, int32), (9, 14, b"\0" * 8)]
    expected = ("ch-1", [(11, 2.5), (12, -7.0), (13, 42.0), (14, None)])
    assert splunk.decode_binary_message(_frame(elements)) == expected
    assert splunk.decode_binary_message(_frame(elements, flags=1)) == expected
    assert splunk.decode_binary_message(_frame(elements, version=2)) == expected
    wrapped = (
        struct.pack(">BBBB16s", 1, 5, 2, 0, b"ch-1")
        + json.dumps({"type": "control-message", "event": "END_OF_CHANNEL"}).encode()
    )
    assert splunk.decode_binary_message(wrapped) == {
        "type": "control-message",
        "event": "END_OF_CHANNEL",
        "channel": "ch-1",
    }
    with pytest.raises(common.QueryError, match="at least 21 bytes"):
        splunk.decode_binary_message(b"\1" * 20)
    with pytest.raises(common.QueryError, match="truncated"):
        splunk.decode_binary_message(_frame(elements)[:-3])


def test_single_value() -> None:
    assert splunk.single_value([(1, 1.0), (1, None), (1, 3.0)]) == 3.0
    for points in ([], [(1, None)], [(1, math.nan)]):
        with pytest.raises(plugins.NoValuesFound):
            splunk.single_value(points)
    with pytest.raises(common.QueryError, match="multiple values returned"):
        splunk.single_value([(1, 1.0), (2, 2.0)])


def test_hooks() -> None:
    assert registered(splunk) == {(plugins.Kind.METRIC_BACKEND, "splunk")}
    context = plugins.PluginContext()
    assert splunk.flagger_metric_backend("datadog", _spec(), context) is None
    assert isinstance(
        splunk.flagger_metric_backend("splunk", _spec(), context), plugins.MetricBackend
    )

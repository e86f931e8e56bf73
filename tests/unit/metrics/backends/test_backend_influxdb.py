"""The InfluxDB backend without a server: the request, reading annotated CSV, configuration.

Matrix: the request body and URL (the Go client's dialect, ``org``); answers in InfluxDB 2's
annotated CSV (one double, a long, defaults from ``#default``, empty answers, a null or NaN
``_value``, several records and tables, a string ``_value``, a table without ``_value``, an
error table); HTTP error answers (JSON ``code``/``message``); provider specs and Secret keys;
the plugin hooks. Requests against a server are in ``tests/integration/metrics``.
"""

from __future__ import annotations

import re

import pytest

from flagger import plugins
from flagger.metrics.backends import influxdb, prometheus
from tests.support.registered import registered

HEAD = (
    "#datatype,string,long,dateTimeRFC3339,dateTimeRFC3339,{kind},string,string\r\n"
    "#group,false,false,true,true,false,true,true\r\n"
    "#default,_result,,,,,,\r\n"
    ",result,table,_start,_stop,_value,_field,_measurement\r\n"
)
ROW = ",,{table},2026-11-26T10:00:00Z,2026-11-26T12:00:00Z,{value},usage_idle,cpu\r\n"


def _csv(*rows: tuple[int, str], kind: str = "double") -> bytes:
    body = HEAD.format(kind=kind) + "".join(ROW.format(table=t, value=v) for t, v in rows)
    return (body + "\r\n").encode()


def test_request_is_the_go_clients() -> None:
    backend = influxdb.InfluxdbBackend("http://influx:8086/", org="my org")
    assert backend.query_url() == "http://influx:8086/api/v2/query?org=my+org"
    assert influxdb.request_body('from(bucket: "b")') == {
        "query": 'from(bucket: "b")',
        "type": "flux",
        "dialect": {
            "annotations": ["datatype", "group", "default"],
            "delimiter": ",",
            "header": True,
        },
    }


def test_one_record_gives_its_value() -> None:
    assert influxdb.parse_response(200, _csv((0, "97.25"))) == 97.25


def test_integer_values_are_numbers() -> None:
    assert influxdb.parse_response(200, _csv((0, "42"), kind="long")) == 42.0


def test_result_name_comes_from_the_default_annotation() -> None:
    [record] = influxdb.parse_annotated_csv(_csv((0, "1")).decode())
    assert (record.result, record.table, record.datatype) == ("_result", "0", "double")


@pytest.mark.parametrize("body", [b"", b"\r\n", _csv((0, "")), _csv((0, "NaN"))])
def test_nothing_empty_or_nan_is_no_values_found(body: bytes) -> None:
    with pytest.raises(plugins.NoValuesFound):
        influxdb.parse_response(200, body)


def test_several_records_are_an_error() -> None:
    with pytest.raises(influxdb.QueryError, match=r"2 records in 1 table.*mean\(\)"):
        influxdb.parse_response(200, _csv((0, "1"), (0, "2")))
    with pytest.raises(influxdb.QueryError, match=r"2 records in 2 table.*group\(\)"):
        influxdb.parse_response(200, _csv((0, "1"), (1, "2")))


def test_string_value_is_an_error() -> None:
    with pytest.raises(influxdb.QueryError, match="of type string, expected a number"):
        influxdb.parse_response(200, _csv((0, "fast"), kind="string"))


def test_table_without_value_column_is_an_error() -> None:
    body = (
        b"#datatype,string,long,string\r\n#group,false,false,true\r\n#default,_result,,\r\n"
        b",result,table,host\r\n,,0,a\r\n"
    )
    with pytest.raises(influxdb.QueryError, match="no _value column"):
        influxdb.parse_response(200, body)


def test_error_table_in_the_answer_is_an_error() -> None:
    body = (
        b"#datatype,string,string\r\n#group,true,true\r\n#default,,\r\n,error,reference\r\n"
        b',"runtime error: bucket ""x"" not found",\r\n'
    )
    with pytest.raises(influxdb.QueryError, match='query error: runtime error: bucket "x"'):
        influxdb.parse_response(200, body)


def test_http_error_carries_influxdb_code_and_message() -> None:
    body = b'{"code":"invalid","message":"compilation failed: error at @1:1-1:4"}'
    with pytest.raises(
        influxdb.QueryError,
        match=("error accessing influxdb query api: invalid: compilation failed"),
    ):
        influxdb.parse_response(400, body)


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ({"org": "o"}, "an authentication token (secret key 'token')"),
        ({"token": "t"}, "an organisation (secret key 'org')"),
    ],
)
def test_secret_needs_token_and_org(data: dict[str, str], text: str) -> None:
    spec = {
        "address": "http://i",
        "secretRef": {"name": "influx"},
        prometheus.CREDENTIALS_KEY: data,
    }
    message = re.escape(f"influxdb credentials does not contain {text}")
    with pytest.raises(prometheus.ConfigError, match=message):
        influxdb.from_provider_spec(spec)


def test_address_must_be_a_url() -> None:
    with pytest.raises(prometheus.ConfigError, match="influxdb address  is not a valid URL"):
        influxdb.from_provider_spec({"type": "influxdb"})


def test_hooks_answer_only_for_influxdb() -> None:
    spec = {
        "address": "http://i",
        "secretRef": {"name": "s"},
        prometheus.CREDENTIALS_KEY: {"token": "t", "org": "o"},
    }
    context = plugins.PluginContext()
    assert influxdb.flagger_metric_backend("graphite", spec, context) is None
    backend = influxdb.flagger_metric_backend("influxdb", spec, context)
    assert isinstance(backend, influxdb.InfluxdbBackend) and backend.org == "o"
    assert registered(influxdb) == {(plugins.Kind.METRIC_BACKEND, "influxdb")}

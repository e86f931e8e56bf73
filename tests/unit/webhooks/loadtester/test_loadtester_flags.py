"""``flagger-loadtester`` flags: Flagger's (one dash or two, ``=`` or a space, Go durations and
booleans) and ours (token from flag or environment, repeatable allow-list, one gate store)."""

from __future__ import annotations

import pytest

from flagger.webhooks.loadtester import app


def test_defaults_are_flaggers() -> None:
    settings = app.parse_args([], environ={})
    assert settings.port == 9090
    assert settings.timeout == 3600.0
    assert settings.log_level == "debug"
    assert settings.namespace_regexp == ""
    assert settings.token == ""
    assert settings.allow == ()
    assert not settings.log_cmd_output


@pytest.mark.parametrize(
    "argv", [["-port=8080"], ["-port", "8080"], ["--port=8080"], ["--port", "8080"]]
)
def test_flags_take_one_or_two_dashes(argv: list[str]) -> None:
    assert app.parse_args(argv, environ={}).port == 8080


def test_the_charts_flags_parse() -> None:
    settings = app.parse_args(
        [
            "-port=8080",
            "-log-level=info",
            "-timeout=1h",
            "-namespace-regexp=^test$",
            "-log-cmd-output=true",
            "-zap-encoding=json",
        ],
        environ={},
    )
    assert (settings.port, settings.log_level, settings.timeout) == (8080, "info", 3600.0)
    assert settings.namespace_regexp == "^test$"
    assert settings.log_cmd_output


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30.0), ("5m", 300.0), ("1m30s", 90.0), ("500ms", 0.5)]
)
def test_timeout_is_a_go_duration(text: str, seconds: float) -> None:
    assert app.parse_args(["-timeout", text], environ={}).timeout == seconds


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["-log-cmd-output"], True),
        (["-log-cmd-output=false"], False),
        (["--log-cmd-output=1"], True),
    ],
)
def test_boolean_flags_like_go(argv: list[str], expected: bool) -> None:
    assert app.parse_args(argv, environ={}).log_cmd_output is expected


def test_token_from_environment_unless_given() -> None:
    assert app.parse_args([], environ={"LOADTESTER_TOKEN": "env"}).token == "env"
    assert app.parse_args(["-token=flag"], environ={"LOADTESTER_TOKEN": "env"}).token == ("flag")


def test_allow_is_repeatable() -> None:
    settings = app.parse_args(["-allow", "hey .*", "--allow=curl .*"], environ={})
    assert settings.allow == ("hey .*", "curl .*")
    assert len(settings.access().allow) == 2


@pytest.mark.parametrize(
    "argv",
    [
        ["-gates-file=/tmp/g.json", "-gates-configmap=ns/name"],
        ["-gates-configmap=just-a-name"],
        ["-allow", "hey ("],
        ["-namespace-regexp", "[unclosed"],
        ["-timeout", "an hour"],
        ["-port", "http"],
        ["-log-level", "loud"],
        ["-log-cmd-output=maybe"],
    ],
)
def test_bad_flags_exit_with_a_message(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        app.parse_args(argv, environ={})
    assert exited.value.code == 2
    assert "flagger-loadtester: error:" in capsys.readouterr().err


def test_without_a_token_only_loopback(capsys: pytest.CaptureFixture[str]) -> None:
    """No token: 127.0.0.1 by default; another -host refuses to start unless
    -insecure-allow-anyone; with a token, every interface as in Flagger."""
    assert app.parse_args([], environ={}).listen_host == "127.0.0.1"
    assert app.parse_args(["-host", "127.0.0.9"], environ={}).listen_host == "127.0.0.9"
    assert app.parse_args(["-host", "localhost"], environ={}).listen_host == "localhost"
    for host in ("0.0.0.0", "10.1.2.3", "::", "podinfo.test"):
        with pytest.raises(SystemExit) as exited:
            app.parse_args(["-host", host], environ={})
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert f"refusing to listen on {host} without -token" in err
        assert "-insecure-allow-anyone" in err
    assert app.parse_args(["-insecure-allow-anyone"], environ={}).listen_host == ""
    assert app.parse_args(["-host=0.0.0.0", "-insecure-allow-anyone"], environ={}).host == "0.0.0.0"
    assert app.parse_args([], environ={"LOADTESTER_TOKEN": "t"}).listen_host == ""
    assert app.parse_args(["-token", "t", "-host", "0.0.0.0"], environ={}).listen_host == "0.0.0.0"


async def test_serving_without_a_token_binds_loopback_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """serve() listens where listen_host says (captured at the socket, then refused)."""
    hosts: list[str | None] = []

    class _Site:
        def __init__(self, runner: object, host: str | None, port: int) -> None:
            hosts.append(host)

        async def start(self) -> None:
            raise OSError("captured")

    monkeypatch.setattr(app.web, "TCPSite", _Site)
    assert await app.serve(app.parse_args(["-port", "0"], environ={})) == 1
    assert await app.serve(app.parse_args(["-token", "t"], environ={})) == 1
    assert hosts == ["127.0.0.1", None]

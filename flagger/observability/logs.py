"""JSON-lines logging shaped like Flagger's (zap's production encoder).

One JSON object per line, for example::

    {"level":"info","ts":"2024-05-02T10:11:12.345Z","caller":"analysis/steps.py:88",
     "msg":"Advance podinfo.test canary weight 10","canary":"podinfo.test"}

- ``level``: ``debug``, ``info``, ``warn``, ``error`` or ``fatal`` (zap's names).
- ``ts``: the time as RFC 3339 in UTC with milliseconds, as Flagger prints it (zap's ISO 8601
  encoder). Chosen over a Unix float so that people reading logs and tools parsing them see the
  same thing they saw with Flagger.
- ``caller``: ``<package dir>/<file>:<line>`` of the logging call.
- ``msg``: the message, with Flagger's wording for user-visible lines (``reference/flagger.md``
  §11).
- ``canary``: ``name.namespace`` when the line is about a canary (zap's
  ``logger.With("canary", ...)``), then any extra fields given to the call.
- ``stacktrace``: the formatted exception, when there is one.

Credentials in URLs (``?token=``, ``user:password@``...) are replaced by ``xxxxx`` in the
message, the fields and the stack trace (:mod:`flagger.observability.redaction`).

:func:`setup` installs the formatter on the root logger at a ``-log-level`` value. Code logs
through :func:`get_logger`, whose :class:`CanaryLogger` takes the canary and extra fields as
keywords: ``log.info("Advance podinfo.test canary weight 10", canary=canary)``.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import sys
from collections.abc import Mapping
from typing import IO, Any, Protocol

from . import redaction

__all__ = ["CanaryLogger", "JsonFormatter", "canary_key", "get_logger", "parse_level", "setup"]

#: ``-log-level`` values and the stdlib level each one stands for.
LEVELS: dict[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "dpanic": logging.CRITICAL,
    "panic": logging.CRITICAL,
    "fatal": logging.CRITICAL,
}
_ZAP_NAMES = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warn",
    logging.ERROR: "error",
    logging.CRITICAL: "fatal",
}
#: The attribute of a :class:`logging.LogRecord` that carries the structured fields.
FIELDS_ATTRIBUTE = "flagger_fields"
_HANDLER_MARK = "_flagger_json_handler"


class _Named(Protocol):
    """Anything with a name and a namespace, such as :class:`flagger.api.canary.Canary`."""

    @property
    def name(self) -> str: ...

    @property
    def namespace(self) -> str: ...


def canary_key(canary: _Named | str) -> str:
    """``name.namespace`` of a canary (a string is taken as already formatted)."""
    if isinstance(canary, str):
        return canary
    return f"{canary.name}.{canary.namespace}"


def parse_level(level: str) -> int:
    """The stdlib level for a ``-log-level`` value; :class:`ValueError` names the valid ones."""
    try:
        return LEVELS[level.strip().lower()]
    except KeyError:
        valid = ", ".join(("debug", "info", "warn", "error"))
        raise ValueError(f"unknown log level {level!r}; use one of {valid}") from None


def _timestamp(created: float) -> str:
    moment = datetime.datetime.fromtimestamp(created, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    """Formats records as one JSON object per line (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "level": _ZAP_NAMES.get(record.levelno, record.levelname.lower()),
            "ts": _timestamp(record.created),
            "caller": _caller(record),
            "msg": redaction.redact(record.getMessage()),
        }
        fields = getattr(record, FIELDS_ATTRIBUTE, None)
        if isinstance(fields, Mapping):
            for key, value in fields.items():
                if key not in entry:
                    entry[key] = redaction.redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["stacktrace"] = redaction.redact(self.formatException(record.exc_info))
        elif record.stack_info:
            entry["stacktrace"] = redaction.redact(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _caller(record: logging.LogRecord) -> str:
    directory = os.path.basename(os.path.dirname(record.pathname))
    return f"{directory}/{record.filename}:{record.lineno}"


def setup(level: str = "info", stream: IO[str] | None = None) -> logging.Handler:
    """Log JSON lines to ``stream`` (stderr by default) at the ``-log-level`` ``level``.

    Replaces a handler installed by an earlier call, so calling it twice is harmless.
    Returns the installed handler.
    """
    numeric = parse_level(level)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(numeric)
    return handler


class CanaryLogger:
    """A logger that takes the canary and structured fields as keywords.

    ``bind(**fields)`` returns a logger that adds ``fields`` to every line (zap's ``With``).
    Messages are used verbatim unless positional arguments are given (``%`` formatting).
    """

    def __init__(self, logger: logging.Logger, fields: Mapping[str, Any] | None = None) -> None:
        self.logger = logger
        self.fields: dict[str, Any] = dict(fields or {})

    def bind(self, *, canary: _Named | str | None = None, **fields: Any) -> CanaryLogger:
        """A logger adding ``canary`` and ``fields`` to each line."""
        merged = {**self.fields, **fields}
        if canary is not None:
            merged["canary"] = canary_key(canary)
        return CanaryLogger(self.logger, merged)

    def isEnabledFor(self, level: int) -> bool:
        """Whether a line at ``level`` would be written."""
        return self.logger.isEnabledFor(level)

    def log(
        self,
        level: int,
        msg: str,
        *args: object,
        canary: _Named | str | None = None,
        exc_info: bool = False,
        **fields: Any,
    ) -> None:
        """Log ``msg`` at ``level`` about ``canary`` with extra ``fields``."""
        self._emit(level, msg, args, canary, exc_info, fields)

    def _emit(
        self,
        level: int,
        msg: str,
        args: tuple[object, ...],
        canary: _Named | str | None,
        exc_info: bool,
        fields: Mapping[str, Any],
    ) -> None:
        # stacklevel 3: skip this method and the public one, so ``caller`` is the call site.
        if not self.logger.isEnabledFor(level):
            return
        merged = dict(self.fields)
        if canary is not None:
            merged["canary"] = canary_key(canary)
        merged.update(fields)
        self.logger.log(
            level, msg, *args, exc_info=exc_info, extra={FIELDS_ATTRIBUTE: merged}, stacklevel=3
        )

    def debug(
        self, msg: str, *args: object, canary: _Named | str | None = None, **fields: Any
    ) -> None:
        """Log at debug level."""
        self._emit(logging.DEBUG, msg, args, canary, False, fields)

    def info(
        self, msg: str, *args: object, canary: _Named | str | None = None, **fields: Any
    ) -> None:
        """Log at info level."""
        self._emit(logging.INFO, msg, args, canary, False, fields)

    def warning(
        self, msg: str, *args: object, canary: _Named | str | None = None, **fields: Any
    ) -> None:
        """Log at warn level."""
        self._emit(logging.WARNING, msg, args, canary, False, fields)

    warn = warning

    def error(
        self, msg: str, *args: object, canary: _Named | str | None = None, **fields: Any
    ) -> None:
        """Log at error level."""
        self._emit(logging.ERROR, msg, args, canary, False, fields)

    def exception(
        self, msg: str, *args: object, canary: _Named | str | None = None, **fields: Any
    ) -> None:
        """Log at error level with the current exception as ``stacktrace``."""
        self._emit(logging.ERROR, msg, args, canary, True, fields)

    def failure(
        self,
        msg: str,
        exc: BaseException,
        *,
        canary: _Named | str | None = None,
        expected: bool = True,
        **fields: Any,
    ) -> None:
        """One error line for a failure: ``msg: <class>: <cause>``, with an ``error`` field
        naming the class. An expected failure (an outage, a refused request) carries its stack
        trace only when debug logging is on; an unexpected one (a bug) always does.

        Call it from an ``except`` block (the trace is the current exception's).
        """
        cause = str(exc).strip()
        name = type(exc).__name__
        line = f"{msg}: {name}: {cause}" if cause else f"{msg}: {name}"
        trace = not expected or self.logger.isEnabledFor(logging.DEBUG)
        self._emit(logging.ERROR, "%s", (line,), canary, trace, {**fields, "error": name})


def get_logger(name: str) -> CanaryLogger:
    """A :class:`CanaryLogger` over the stdlib logger ``name`` (usually ``__name__``)."""
    return CanaryLogger(logging.getLogger(name))

"""Structured JSON logs on stdout, in the shape Cloud Logging parses, with secrets masked."""

from __future__ import annotations

import contextvars
import datetime
import json
import logging
import re
import sys
import traceback
from typing import Any

from shared.config import settings

_SECRET_KEY = re.compile(r"pass(word|phrase)|secret|token|authorization|credential|private", re.I)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.I)
MASK = "***"

trace_context: contextvars.ContextVar[str] = contextvars.ContextVar("trace", default="")

logger = logging.getLogger("amapi_cosu")


def redact(value: Any) -> Any:
    """Mask every value stored under a secret-looking key, recursively."""
    if isinstance(value, dict):
        return {k: MASK if _SECRET_KEY.search(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return _BEARER.sub(r"\1" + MASK, value)
    return value


class CloudLoggingFormatter(logging.Formatter):
    """One JSON object a line: `severity`, `message`, `time`, trace and structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": redact(record.getMessage()),
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(),
            "logger": record.name,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(redact(fields))
        trace = trace_context.get()
        if trace:
            entry["logging.googleapis.com/trace"] = trace
        if record.exc_info:
            entry["stack_trace"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(entry, default=str)


def configure() -> None:
    """Install the JSON handler once per process."""
    if getattr(logger, "_configured", False):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(CloudLoggingFormatter())
    logger.addHandler(handler)
    logger.setLevel(settings().log_level)
    logger.propagate = False
    logger._configured = True  # type: ignore[attr-defined]


def set_trace(header: str | None) -> None:
    """Bind the request's `X-Cloud-Trace-Context` to every log line it writes."""
    project = settings().project
    if header and project:
        trace_id = header.split("/", 1)[0]
        trace_context.set(f"projects/{project}/traces/{trace_id}")
    else:
        trace_context.set("")


def log(severity: int, message: str, **fields: Any) -> None:
    """Write one structured entry; `fields` land as top-level JSON keys."""
    configure()
    logger.log(severity, message, extra={"fields": fields})

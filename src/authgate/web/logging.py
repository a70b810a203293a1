"""Log lines on stderr, one per decision; secrets (cookies, Authorization) never logged.

Two formats (``log_format``): ``text``, one readable line each, and ``json``, one JSON
object per line with the decision's fields (``decision_id``, ``app``, ``user``, ``outcome``,
``duration_ms``, ...) as keys. Both pass through the same redaction.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

_SECRET = re.compile(
    r"(?i)(cookie|authorization|set-cookie|password|token|secret)([=:]\s*)"
    r"((?:basic|bearer)\s+)?([^\s,;&'\"]+)"
)


def redact(text: str) -> str:
    """``text`` with the value after every cookie=, authorization:, password=, ... masked."""
    return _SECRET.sub(r"\1\2\3[redacted]", text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _SECRET.search(message):
            record.msg = redact(message)
            record.args = ()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, and the record's
    ``fields`` (what ``extra={"fields": {...}}`` gave it), every string redacted."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                line.setdefault(str(key), redact(value) if isinstance(value, str) else value)
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, default=str)


def configure_logging(level: str, log_format: str = "text") -> None:
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets())
    root = logging.getLogger("authgate")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False

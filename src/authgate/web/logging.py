"""Log lines on stderr, one per decision; secrets (cookies, Authorization) never logged."""

from __future__ import annotations

import logging
import re

_SECRET = re.compile(r"(?i)(cookie|authorization|set-cookie|password)([=:]\s*)([^\s,;]+)")


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _SECRET.search(message):
            record.msg = _SECRET.sub(r"\1\2[redacted]", message)
            record.args = ()
        return True


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets())
    root = logging.getLogger("authgate")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False

"""One module per proxy dialect, each two pure functions and a name:

* ``parse(headers, path, method) -> Target``: the method, host and URI the proxy asks
  about, and whether it can relay a redirect. ``headers.trusted`` says whether forwarded
  headers count; ``path`` is the check's own path and query as received (Envoy appends the
  original path to it), ``method`` the check's own method.
* ``render(decision, browser) -> Answer``.

They know nothing of sessions, policy or the client address (the endpoint's).
"""

from __future__ import annotations

from typing import Protocol

from authgate.forward.answers import Answer
from authgate.forward.decision import Decision
from authgate.forward.request import Headers, Target


class Dialect(Protocol):
    name: str

    def parse(self, headers: Headers, path: str, method: str) -> Target: ...

    def render(self, decision: Decision, browser: bool) -> Answer: ...

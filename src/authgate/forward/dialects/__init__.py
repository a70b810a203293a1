"""One module per proxy dialect; each has ``parse`` (proxy request -> ForwardRequest) and
``render`` (Decision -> Answer). They know nothing of sessions or policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from authgate.forward.answers import Answer, Pages
from authgate.forward.context import ForwardRequest, Headers
from authgate.forward.decision import Decision


class Dialect(Protocol):
    name: str

    def parse(
        self,
        headers: Headers,
        scope_path: str,
        scope_method: str,
        peer: str,
        trusted: bool,
        is_trusted: Callable[[str], bool],
    ) -> ForwardRequest: ...

    def render(self, decision: Decision, browser: bool, pages: Pages) -> Answer: ...

"""What browser and system a session's User-Agent names, in words a person recognises:
"Firefox 121 on Windows 10", "Mobile Safari 17 on iOS 17.1".

ua-parser reads the string with the uap-core rules (shipped as ``ua-parser-builtins`` and
kept current by that project); nothing here guesses. The rules are compiled on first use,
which takes a fraction of a second, so code on the event loop calls ``describe_all``, which
parses in a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio.to_thread
import ua_parser

UNKNOWN = "Unknown browser"
MAX_LENGTH = 300  # what the store keeps of a User-Agent


def describe(user_agent: str) -> str:
    """``"<browser> <major> on <system> <version>"``, as much of it as the string tells;
    ``UNKNOWN`` when it names no browser and no system."""
    text = user_agent[:MAX_LENGTH].strip()
    if not text:
        return UNKNOWN
    result = ua_parser.parse(text)
    browser = _named(result.user_agent.family, result.user_agent.major) if result.user_agent else ""
    system = _named(result.os.family, result.os.major, result.os.minor) if result.os else ""
    if browser and system:
        return f"{browser} on {system}"
    if browser:
        return browser
    return f"{UNKNOWN} on {system}" if system else UNKNOWN


def _named(family: str, *version: str | None) -> str:
    """A family with its version parts ("iOS 17.1"); "" for ua-parser's "Other"."""
    if not family or family == "Other":
        return ""
    numbers: list[str] = []
    for part in version:
        if not part:
            break
        numbers.append(part)
    return " ".join([family, ".".join(numbers)]) if numbers else family


async def describe_all(user_agents: Sequence[str]) -> list[str]:
    """``describe`` of each, in a worker thread (the first parse compiles the rules)."""
    return await anyio.to_thread.run_sync(lambda: [describe(ua) for ua in user_agents])

"""Reading ``rd`` from the raw query of ``start`` (PROXIES.md, ingress-nginx section)."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote


def rd_from_query(raw_query: str) -> str | None:
    """ingress-nginx's ``auth-signin`` writes ``rd=$scheme://$http_host$request_uri``
    unescaped, so an original query arrives split over several parameters. When the query
    begins with ``rd=``, everything after it is the target: verbatim when it holds a literal
    ``://`` or begins with ``/``, otherwise percent-decoded once."""
    if raw_query.startswith("rd="):
        value = raw_query[3:]
        if "://" in value or value.startswith("/"):
            return value
        return unquote(value)
    values = parse_qs(raw_query, keep_blank_values=True).get("rd")
    return values[0] if values else None

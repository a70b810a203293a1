"""The ``rd`` query parameter of ``start``, read whole (its own ``&`` and ``?`` kept)."""

import pytest

from authgate.flow.rd import rd_from_query


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("rd=http://h.test/x?a=1&b=2", "http://h.test/x?a=1&b=2"),
        ("rd=http://h.test/x?a=%26", "http://h.test/x?a=%26"),
        ("rd=http%3A%2F%2Fh.test%2Fx%3Fa%3D1%26b%3D2", "http://h.test/x?a=1&b=2"),
        ("rd=/x?a=1&b=2", "/x?a=1&b=2"),
        ("x=1&rd=http%3A%2F%2Fh.test%2F", "http://h.test/"),
        ("x=1", None),
    ],
)
def test_rd_from_query(query: str, expected: str | None) -> None:
    assert rd_from_query(query) == expected

"""forward/paths.py: a path that means two things is refused, one that means one thing is kept."""

from __future__ import annotations

import pytest

from authgate.forward.paths import UnjudgeablePath, canonical_path, judge_path, split_uri

CONTROL_BYTES = [f"%{b:02X}" for b in range(0x20)] + ["%7F"]


@pytest.mark.parametrize("escape", CONTROL_BYTES + [e.lower() for e in CONTROL_BYTES])
@pytest.mark.parametrize(
    "template", ["/admin{}", "/adm{}in", "/admin{}.html", "/{}/admin", "/public/{}", "/a/b{}/c"]
)
def test_a_control_byte_after_decoding_is_refused_in_any_segment(
    template: str, escape: str
) -> None:
    with pytest.raises(UnjudgeablePath, match="control byte"):
        judge_path(template.format(escape))


@pytest.mark.parametrize(
    "raw",
    [
        "/admin%0d%0aX-Injected:%201",
        "/public/%0d%0aX-Injected:%201",
        "/admin%2500",  # %00 once decoded: apps that decode twice exist
        "/admin%250D%250A",
        "/admin%25%30%30",  # %00 spelt with encoded digits
        "/admin%252500",  # three decodings
        "/public/x%257F",
    ],
)
def test_control_bytes_behind_more_than_one_decoding_are_refused(raw: str) -> None:
    with pytest.raises(UnjudgeablePath, match="control byte"):
        judge_path(raw)


@pytest.mark.parametrize("raw", ["/admin\x00", "/adm\rin", "/admin\n", "/admin\x7f", "/a b"])
def test_raw_control_bytes_and_spaces_are_refused(raw: str) -> None:
    with pytest.raises(UnjudgeablePath, match="control byte"):
        judge_path(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "/admin%2F..",
        "/admin%2f..",
        "/admin%5C..",
        "/admin\\..",
        "/public%2F..%2Fadmin",
        "/public%2f..%2fadmin",
        "/public%5C..%5Cadmin",
        "/public%5c..%5cadmin",
        "/public\\..\\admin",
        "/public/..%2Fadmin",
        "/public/..%5Cadmin",
        "/public/..\\admin",
        "/public%2F%2E%2E%2Fadmin",
        "/public%2F%2e%2e%2Fadmin",
        "/public%2F.%2E%2Fadmin",
        "/admin%2F.",  # %2F. : a "." segment to one app, part of a name to another
        "/a%2F./b",
        "/a%2Fb/../c",  # ".." removes "a%2Fb" whole, or only "b"
        "/%2e%2e%2f",
        "/admin/x%2F..%2F..%2Fpublic",
    ],
)
def test_an_encoded_separator_that_changes_the_dot_segments_is_refused(raw: str) -> None:
    with pytest.raises(UnjudgeablePath, match="encoded '/' or"):
        judge_path(raw)


@pytest.mark.parametrize(
    "raw", ["/public/%252e%252e/admin", "/admin%252F..", "/a%252Fb", "/a%255Cb", "/x%25%32%46y"]
)
def test_a_doubly_encoded_separator_or_dot_is_refused(raw: str) -> None:
    with pytest.raises(UnjudgeablePath, match="doubly encoded"):
        judge_path(raw)


@pytest.mark.parametrize(
    "raw", ["/%2561dmin", "/adm%2569n/x", "/files/%2541", "/%2530", "/a%252Db", "/%257Eroot"]
)
def test_a_doubly_encoded_name_character_is_refused(raw: str) -> None:
    """``/%2561dmin`` is ``/admin`` to an app that decodes twice: a deny rule on /admin must
    not be walked around that way."""
    with pytest.raises(UnjudgeablePath, match="doubly encoded letter"):
        judge_path(raw)


@pytest.mark.parametrize(
    "raw",
    ["/public/..;/admin", "/admin/..;x/public", "/.;/admin", "/public/..%3B/admin", "/a/.%3bx"],
)
def test_a_dot_segment_with_params_is_refused(raw: str) -> None:
    with pytest.raises(UnjudgeablePath, match="params"):
        judge_path(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/api/files/a%2Fb", "/api/files/a/b"),  # an encoded slash inside a name still works
        ("/api/files/a%2fb/c", "/api/files/a/b/c"),
        ("/admin%2Fx", "/admin/x"),  # so rules see /admin/x, as an app that decodes it does
        ("/a%2F%2Fb", "/a/b"),
        ("/x/a%2Fb%2F", "/x/a/b/"),
        ("/a\\b", "/a/b"),
        ("/x/../a%2Fb", "/a/b"),  # dot segments apart from the encoded slash are fine
        ("/a%2Fb/c/..", "/a/b/"),
        ("/a%20b", "/a%20b"),
        ("/a%2520b", "/a%2520b"),  # a doubly encoded space: no separator, no control byte
        ("/100%25", "/100%25"),
        ("/x%2E%2E%2Fadmin", "/x../admin"),  # "x.." is a name, not a dot segment
        ("/admin;jsessionid=1", "/admin"),
        ("/a/..%20/b", "/a/..%20/b"),
        ("/%C3%BC", "/%C3%BC"),
    ],
)
def test_paths_that_mean_one_thing_keep_working(raw: str, expected: str) -> None:
    assert judge_path(raw) == expected
    assert canonical_path(raw) == expected


def test_canonical_path_is_none_where_judge_path_refuses() -> None:
    assert canonical_path("/admin%00") is None
    assert canonical_path("/admin%2F..") is None
    assert canonical_path("admin") is None


def test_a_path_of_escaped_percent_signs_is_a_name() -> None:
    raw = "/" + "%25" * 2700
    assert judge_path(raw) == raw
    assert judge_path("/%252525") == "/%252525"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/", "/"),
        ("/admin", "/admin"),
        ("/%61dmin", "/admin"),
        ("//admin", "/admin"),
        ("/x/../admin", "/admin"),
        ("/./admin", "/admin"),
        ("/admin;x", "/admin"),
        ("/public/../admin", "/admin"),
        ("/public/%2e%2e/admin", "/admin"),
        ("/a/b/", "/a/b/"),
        ("/../../etc", "/etc"),
        ("/admin%2Fx", "/admin/x"),
        ("/a%20b", "/a%20b"),
    ],
)
def test_canonical_path(raw: str, expected: str) -> None:
    assert canonical_path(raw) == expected


@pytest.mark.parametrize("raw", ["admin", "/a%zz", "/a%", "/a\x00b", "/a b", "/" + "a" * 9000])
def test_paths_that_cannot_be_judged(raw: str) -> None:
    assert canonical_path(raw) is None


def test_query_and_fragment_are_not_path() -> None:
    assert split_uri("/public?x=/admin") == ("/public", "x=/admin")
    assert split_uri("/admin#/public") == ("/admin", "")

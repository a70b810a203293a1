"""``strip_own_cookies``: the Cookie an app with ``--strip-cookie`` gets in authgate's answer,
which the generated configs put in place of the browser's."""

from __future__ import annotations

import pytest

from authgate.forward.cookies import strip_own_cookies


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("theme=dark; authgate_wiki=s.sig", "theme=dark"),
        ("authgate_wiki=s.sig; theme=dark; sid=app-session", "theme=dark; sid=app-session"),
        ("theme=dark;authgate_wiki=s.sig;lang=fi", "theme=dark; lang=fi"),
        ("__Host-authgate_wiki=s.sig; theme=dark", "theme=dark"),
        # every authgate cookie, also the portal's, state and CSRF ones and look-alikes a
        # client made up: none of them is the app's business
        ("authgate_portal=p; authgate_state=s; authgate_csrf=c; a=1", "a=1"),
        ("authgate_other=x; __Host-authgate_wiki=y; lang=fi", "lang=fi"),
        (" authgate_wiki =s.sig ;  theme=dark ", "theme=dark"),
        # names that only resemble authgate's belong to the app
        (
            "xauthgate_wiki=1; authgatewiki=2; AUTHGATE_wiki=3",
            "xauthgate_wiki=1; authgatewiki=2; AUTHGATE_wiki=3",
        ),
        ("a=1;; ;b=2", "a=1; b=2"),
        ("flag; a=1", "flag; a=1"),
    ],
)
def test_only_authgates_cookies_are_removed(sent: str, kept: str) -> None:
    assert strip_own_cookies(sent) == kept


@pytest.mark.parametrize(
    "sent", ["", "authgate_wiki=s.sig", "__Host-authgate_wiki=s.sig; authgate_portal=p", " ; "]
)
def test_nothing_left_is_an_empty_cookie_never_the_original(sent: str) -> None:
    assert strip_own_cookies(sent) == ""

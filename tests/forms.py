"""The one HTML form reader of the tests and the bench: what a browser would submit.

Written on ``html.parser`` for the tests alone; the doctor's own reader
(``authgate.doctor.browser``) is code under test and is not used here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Form:
    """A form as a browser submits it untouched: the controls it would send, by name."""

    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)  # every named control, sent or not
    asks_password: bool = False  # it holds an ``<input type="password">``


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._current: Form | None = None
        self._submitted = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._current = Form(a.get("action", ""), a.get("method", "get").upper())
            self._submitted = False
            self.forms.append(self._current)
            return
        form = self._current
        if form is None or tag not in ("input", "button"):
            return
        kind = a.get("type", "submit" if tag == "button" else "text").lower()
        form.asks_password |= tag == "input" and kind == "password"
        if a.get("name"):
            self._control(form, a["name"], kind, a)

    def _control(self, form: Form, name: str, kind: str, a: dict[str, str]) -> None:
        form.names.add(name)
        if kind in ("submit", "image"):
            if not self._submitted:  # the first submit button is the one "clicked"
                form.fields[name] = a.get("value", "")
                self._submitted = True
        elif kind in ("checkbox", "radio"):
            if "checked" in a:
                form.fields[name] = a.get("value", "on")
        elif kind != "file":
            form.fields.setdefault(name, a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def read_forms(html: str) -> list[Form]:
    """Every form on the page, in order."""
    parser = _Forms()
    parser.feed(html)
    parser.close()
    return parser.forms


def find_login_form(html: str) -> Form | None:
    """The first form on the page that asks for a password, if there is one."""
    return next((f for f in read_forms(html) if f.asks_password), None)


def find_form_with(html: str, name: str) -> Form | None:
    """The first form on the page with a control named ``name`` (``csrf_token``, say)."""
    return next((f for f in read_forms(html) if name in f.names), None)

"""Shared by the doctor and import tests: the seeds as fixture files, and one call to check."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

from authgate.doctor import registry, sources
from authgate.doctor.findings import Finding, Severity
from authgate.doctor.survey import Survey
from authgate.forward.model import AppView

FIXTURES = Path(__file__).parent / "fixtures"
SEED000 = FIXTURES / "seed000" / "wiki.yaml"
SEED003 = FIXTURES / "seed003"
SEED003_ROUTE = SEED003 / "comfyui" / "comfyui-ingress.yaml"
SEED003_MIDDLEWARE = SEED003 / "public-ingress" / "middleware-authentik.yaml"
SEED003_OFFNET = SEED003 / "comfyui-offnet" / "service.yaml"


def copy_seed003(tmp_path: Path) -> Path:
    target = tmp_path / "seed003"
    shutil.copytree(SEED003, target)
    return target


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def edit(path: Path, old: str, new: str) -> None:
    """Replace text that must be there (a test that edits nothing proves nothing)."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def check(
    paths: Sequence[str | Path], apps: list[AppView] | None = None, stdin: str = ""
) -> list[Finding]:
    inputs = sources.read([str(p) for p in paths], io.StringIO(stdin))
    return registry.run(Survey(inputs, apps, "no store in this test"))


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity is Severity.ERROR]


def ids(findings: Iterable[Finding], severity: Severity | None = None) -> list[str]:
    return [f.id for f in findings if severity is None or f.severity is severity]


def only(findings: Iterable[Finding], id: str) -> Finding:
    found = [f for f in findings if f.id == id]
    assert len(found) == 1, f"expected one {id}, got {found}"
    return found[0]


def app(slug: str, url: str, mode: str = "single", cookie_domain: str = "") -> AppView:
    scheme, _, host = url.partition("://")
    return AppView(1, slug, slug, url, scheme, host, mode=mode, cookie_domain=cookie_domain)

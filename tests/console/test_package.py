"""The wheel ships the console: every template and static file matches the package data in pyproject.toml, and the
vendored files name their source."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).parents[2]
CONSOLE = ROOT / "service" / "console"


def test_templates_and_static_files_are_package_data() -> None:
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["service"]
    files = [p.relative_to(ROOT / "service").as_posix() for d in ("templates", "static")
             for p in (CONSOLE / d).rglob("*") if p.is_file()]  # fmt: skip
    assert files
    assert [f for f in files if not any(fnmatch(f, pat) for pat in patterns)] == []


def test_vendored_files_have_their_source_and_license() -> None:
    vendor = CONSOLE / "static" / "vendor"
    source = (vendor / "SOURCE.md").read_text()
    for name, package, version in (("htmx.min.js", "htmx.org", "2.0.11"), ("axe.min.js", "axe-core", "4.14.1")):
        assert (vendor / name).stat().st_size > 10_000
        assert f"`{package}` | {version}" in source
    assert (vendor / "htmx.LICENSE").exists() and (vendor / "axe-core.LICENSE").exists()
    assert "4.14.1" in (vendor / "axe.min.js").read_text()[:2000]

"""The project's promises about packaging and CI, checked so they cannot rot."""

from __future__ import annotations

import re

import pytest
import tomllib

from tests.helpers.support import ROOT


def _pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_python_package_is_listed_for_the_wheel() -> None:
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])  # type: ignore[index]
    on_disk = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "qmonexec").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert on_disk - listed == set()


def test_templates_are_shipped_as_package_data() -> None:
    tool = _pyproject()["tool"]["setuptools"]  # type: ignore[index]
    assert tool["package-dir"]["qmonexec.templates"] == "templates"
    assert "*.j2" in tool["package-data"]["qmonexec.templates"]
    assert list((ROOT / "templates").glob("*.j2"))


def test_runtime_dependencies_are_jinja2_only() -> None:
    deps = _pyproject()["project"]["dependencies"]  # type: ignore[index]
    assert [re.split(r"[<>=!~ ]", d)[0].lower() for d in deps] == ["jinja2"]


def test_shlex_is_not_used_in_the_package() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "qmonexec").rglob("*.py")
        if re.search(r"\bimport shlex\b|\bfrom shlex\b|\bshlex\.", p.read_text())
    ]
    assert offenders == []


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)\n```", text, flags=re.S)
    return blocks[:2]


def test_readme_starts_with_the_install_and_test_commands() -> None:
    install, test = _readme_commands()
    assert "pip install ." in install and "qmonexec uri save" in install
    assert "pytest" in test


def test_ci_runs_exactly_the_readme_commands() -> None:
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    for command in _readme_commands():
        assert command in ci_lines


def _documented_imports() -> list[str]:
    pattern = re.compile(r"^\s*(from qmonexec[\w.]* import [\w, ]+|import qmonexec[\w.]*)", re.M)
    found: set[str] = set()
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        found.update(m.group(1).strip().rstrip(",") for m in pattern.finditer(doc.read_text()))
    return sorted(found)


def test_the_docs_show_imports() -> None:
    assert any("qmonexec.save" in line for line in _documented_imports())


@pytest.mark.parametrize("statement", _documented_imports())
def test_every_import_the_docs_show_works(statement: str) -> None:
    exec(statement, {})

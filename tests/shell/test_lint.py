"""Template lint: every slot of every template renders as one whole literal word."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qmonexec.render import template_dir
from qmonexec.shell.lint import lint_templates


def test_project_templates_keep_every_slot_in_one_literal_word() -> None:
    problems = lint_templates()
    assert problems == [], "\n".join(map(str, problems))


def test_lint_covers_every_template() -> None:
    assert {p.name for p in template_dir().glob("*.j2")} >= {"save.j2", "restore.j2", "command.j2"}


@pytest.mark.parametrize(
    ("body", "slot"),
    [
        ('exec:cat "{{ target }}"', "target"),  # double quotes around a quoted word
        ("exec:cat '{{ target }}'", "target"),  # single quotes around a quoted word
        ("exec:cat {{ target }}{{ other }}", "target"),  # two slots glued into one word
        ("exec:cat $(echo {{ target }})", "target"),  # a slot inside a substitution
        ("exec:cat <<EOF\n{{ target }}\nEOF", "target"),  # a slot inside a here-document
    ],
)
def test_lint_catches_a_template_that_lets_a_slot_escape(
    tmp_path: Path, body: str, slot: str
) -> None:
    for template in template_dir().glob("*.j2"):
        shutil.copy(template, tmp_path)
    (tmp_path / "bad.j2").write_text(body, encoding="utf-8")
    problems = lint_templates(tmp_path)
    assert problems
    assert {p.template for p in problems} == {"bad.j2"}

"""Suppression comments change what review reports, never a verdict."""

from __future__ import annotations

from qmonexec.review.runner import review_text
from qmonexec.shell import Policy, check

_BAD = "exec:gzip -c > /tmp/vm.gz"


def _codes(text: str, kind: str, no_ignore: bool = False) -> list[str]:
    return [f.code for f in review_text("f", text, kind, Policy.default(), no_ignore)]


def test_python_suppression_on_the_line_hides_the_finding() -> None:
    text = f'u = "{_BAD}"  # qmonexec: ignore[truncating-redirect] scratch file, no header\n'
    assert _codes(text, "python") == []


def test_python_suppression_on_the_line_before_hides_the_finding() -> None:
    text = f'# qmonexec: ignore[truncating-redirect] scratch file\nu = "{_BAD}"\n'
    assert _codes(text, "python") == []


def test_a_suppression_two_lines_above_does_not_apply() -> None:
    text = f'# qmonexec: ignore[truncating-redirect] scratch\n\nu = "{_BAD}"\n'
    assert _codes(text, "python") == ["unused-suppression", "truncating-redirect"]


def test_shell_suppression_works_like_python() -> None:
    text = (
        "# qmonexec: ignore[truncating-redirect] test fixture\n"
        "virsh qemu-monitor-command d '{\"execute\":\"migrate\",\"arguments\":"
        "{\"uri\":\"exec:cat >/vm/x\"}}'\n"
    )
    assert _codes(text, "shell") == []


def test_in_a_list_a_hash_inside_a_line_is_part_of_the_string_not_a_suppression() -> None:
    text = f"{_BAD} # qmonexec: ignore[truncating-redirect] no\n"
    assert "truncating-redirect" in _codes(text, "list")


def test_in_a_list_a_comment_line_suppresses_the_next_line() -> None:
    text = f"# qmonexec: ignore[truncating-redirect] scratch file\n{_BAD}\n"
    assert _codes(text, "list") == []


def test_a_suppression_without_a_reason_suppresses_nothing_and_is_reported() -> None:
    text = f"# qmonexec: ignore[truncating-redirect]\n{_BAD}\n"
    assert _codes(text, "list") == ["suppression-without-reason", "truncating-redirect"]


def test_a_suppression_that_suppresses_nothing_is_reported() -> None:
    text = "# qmonexec: ignore[comment] old\nexec:cat /vm/x\n"
    assert "unused-suppression" in _codes(text, "list")


def test_unproven_findings_cannot_be_suppressed() -> None:
    text = "# qmonexec: ignore[syntax-error] trust me\nexec:cat | | gzip\n"
    assert _codes(text, "list") == ["unused-suppression", "syntax-error"]


def test_no_ignore_shows_everything() -> None:
    text = f"# qmonexec: ignore[truncating-redirect] scratch file\n{_BAD}\n"
    assert _codes(text, "list", no_ignore=True) == ["truncating-redirect"]


def test_suppression_never_changes_the_verdict() -> None:
    assert not check(_BAD + " # qmonexec: ignore[truncating-redirect] x").ok


def test_suppression_text_inside_a_python_string_is_not_a_suppression() -> None:
    text = f'u = "{_BAD}"\nhelp = "# qmonexec: ignore[truncating-redirect] in a string"\n'
    assert _codes(text, "python") == ["truncating-redirect"]


def test_json_has_no_suppressions() -> None:
    text = '{"note": "# qmonexec: ignore[comment] x"}\n'
    assert _codes(text, "json") == []

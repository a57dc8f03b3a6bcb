"""Verdicts: ok, findings with exact positions, decoded commands, dict/JSON forms, errors."""

from __future__ import annotations

import json

import pytest

from qmonexec.errors import UnsafeCommandError
from qmonexec.shell import Finding, Verdict, check
from qmonexec.shell.findings import CODE_INFO, Code

from .corpus import STATUS


def test_finding_points_at_exact_line_and_column() -> None:
    verdict = check("exec:gzip -c |\n  { dd bs=4096 seek=2 if=/dev/null && "
                    "dd ibs=65536 obs=1048576; } 1<>guest.img")  # fmt: skip
    (finding,) = verdict.findings
    assert finding.code is Code.RELATIVE_PATH
    assert (finding.position.line, finding.position.column) == (2, 70)
    assert verdict.text[finding.position.offset :].startswith("guest.img")
    assert finding.length == len("guest.img")


def test_decoded_commands_with_group_redirections() -> None:
    verdict = check(STATUS.replace("/var/lib/vm/guest.img", "'/vm/a b.img'"))
    assert verdict.ok
    argvs = [c.argv for c in verdict.commands]
    assert argvs[0] == ("gzip", "-c")
    assert argvs[3] == ("dd", "bs=4096", "seek=2", "if=/dev/null")
    dd = verdict.commands[3]
    assert dd.stage == 1
    assert [(r.fd, r.op, r.target, r.group) for r in dd.redirects] == [
        (2, ">", "/run/qmonexec/1/write.err", True), (1, "<>", "/vm/a b.img", True),
    ]  # fmt: skip
    marker = verdict.commands[5]
    assert marker.argv == (":",)
    assert [(r.fd, r.op, r.target) for r in marker.redirects] == [
        (2, ">", "/run/qmonexec/1/write.err"), (1, ">", "/run/qmonexec/1/write.ok"),
    ]  # fmt: skip
    assert marker.redirects[-1].explicit_fd is False


def test_commands_are_reported_even_when_unsafe() -> None:
    verdict = check("exec:cat /x; reboot")
    assert not verdict.ok and verdict.shape is None
    assert [c.argv for c in verdict.commands] == [("cat", "/x"), ("reboot",)]


def test_to_dict_and_json() -> None:
    verdict = check("exec:cat /x; reboot")
    data = json.loads(verdict.to_json())
    assert data == verdict.to_dict()
    assert data["ok"] is False
    assert {f["code"] for f in data["findings"]} >= {"command-separator", "command-not-allowed"}
    first = data["findings"][0]
    assert set(first) == {"code", "severity", "message", "position", "length", "shells", "count"}
    assert set(first["position"]) == {"offset", "line", "column"}
    assert data["commands"][0]["argv"] == ["cat", "/x"]


def test_raise_if_unsafe() -> None:
    ok = check("exec:gzip -c")
    assert ok.raise_if_unsafe() is ok
    with pytest.raises(UnsafeCommandError) as info:
        check("exec:gzip -c; reboot").raise_if_unsafe()
    assert isinstance(info.value.verdict, Verdict)
    assert "command-separator" in str(info.value)


def test_bad_input_never_raises_but_wrong_types_do() -> None:
    for text in ["", "\x00", "{", '{"', "migrate", "exec:'", "(" * 10000, "\\" * 3]:
        assert isinstance(check(text), Verdict)
    with pytest.raises(TypeError):
        check(b"exec:cat")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        check("exec:cat", policy="default")  # type: ignore[arg-type]


def test_every_code_is_documented() -> None:
    assert set(CODE_INFO) == set(Code)
    for code in Code:
        assert code.value == code.value.lower() and " " not in code.value


def test_findings_are_sorted_and_identical_ones_counted() -> None:
    verdict = check("exec:/usr/bin/tee " + " ".join(["*"] * 500) + " ?")
    offsets = [f.position.offset for f in verdict.findings]
    assert offsets == sorted(offsets)
    assert [f.count for f in verdict.findings if f.code is Code.UNQUOTED_GLOB] == [500, 1]
    assert isinstance(verdict.findings[0], Finding)

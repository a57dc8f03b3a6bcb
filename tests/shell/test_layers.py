"""Layers: QMP JSON, HMP lines and the exec: prefix are peeled, positions map back."""

from __future__ import annotations

import json

import pytest

from qmonexec.shell import check

from .corpus import RAW, REST, SAVE


def marked(text: str, code: str) -> str:
    """The text under the first finding with ``code`` (what a reviewer sees underlined)."""
    verdict = check(text)
    finding = next(f for f in verdict.findings if f.code.value == code)
    start = finding.position.offset
    return text[start : start + finding.length]


def test_bare_shell_and_exec_uri() -> None:
    assert [layer.name for layer in check(SAVE).layers] == ["exec"]
    assert check(SAVE[5:]).layers == ()
    assert check(SAVE).shell == SAVE[5:]


def test_qmp_layer_and_direction() -> None:
    verdict = check(json.dumps({"execute": "migrate", "arguments": {"uri": SAVE}}))
    assert verdict.ok
    assert [(layer.name, layer.detail) for layer in verdict.layers] == [
        ("qmp", "migrate"), ("exec", ""),
    ]  # fmt: skip
    assert verdict.direction == "outgoing"
    incoming = check(json.dumps({"execute": "migrate-incoming", "arguments": {"uri": REST}}))
    assert incoming.ok and incoming.direction == "incoming"


def test_hmp_layer() -> None:
    verdict = check(f'migrate -d "{RAW}"')
    assert verdict.ok
    assert [(layer.name, layer.detail) for layer in verdict.layers] == [
        ("hmp", "migrate"), ("exec", ""),
    ]  # fmt: skip


def test_hmp_inside_qmp() -> None:
    line = f'migrate -d "{RAW}"'
    verdict = check(json.dumps({"execute": "human-monitor-command",
                                "arguments": {"command-line": line}}))  # fmt: skip
    assert verdict.ok
    assert [layer.name for layer in verdict.layers] == ["qmp", "hmp", "exec"]


def test_positions_map_through_json_escapes() -> None:
    text = '{"execute":"migrate","arguments":{"uri":"exec:cat \\u0024(reboot)\\n x"}}'
    assert marked(text, "command-substitution") == "\\u0024(reboot)"
    assert marked(text, "command-separator") == "\\n"


def test_positions_map_through_surrogate_pairs() -> None:
    text = '{"execute":"migrate","arguments":{"uri":"exec:cat \\ud83d\\ude00 $x"}}'
    assert marked(text, "non-ascii") == "\\ud83d\\ude00"
    assert marked(text, "parameter-expansion") == "$x"


def test_positions_map_through_hmp_escapes() -> None:
    text = 'migrate -d "exec:cat \\"$(x)\\" ; y"'
    assert marked(text, "command-substitution") == "$(x)"
    assert marked(text, "command-separator") == ";"


def test_positions_map_through_hmp_inside_qmp() -> None:
    line = 'migrate -d "exec:cat \\"$(x)\\" ; y"'
    text = json.dumps({"execute": "human-monitor-command", "arguments": {"command-line": line}})
    assert marked(text, "command-substitution") == "$(x)"
    assert marked(text, "command-separator") == ";"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('{"execute":"migrate","arguments":{"uri":"exec:a","uri":"exec:b"}}', "json-duplicate-key"),
        ('{"execute":"migrate","arguments":{"uri":1}}', "qmp-type"),
        ('{"execute":"migrate","arguments":{"uri":"fd:x"}}', "not-exec-uri"),
        ('{"execute":"quit"}', "qmp-command-not-allowed"),
        ('{"execute":"migrate","arguments":{"uri":"exec:cat\\u0000"}}', "qmp-text"),
        ('migrate -d "exec:cat \\q"', "hmp-syntax"),
        ("migrate -d exec:cat /x", "hmp-trailing-text"),
    ],
)
def test_layer_findings(text: str, code: str) -> None:
    verdict = check(text)
    assert not verdict.ok and code in verdict.codes


def test_hmp_truncation_points_at_the_cut() -> None:
    uri = "exec:/usr/bin/tee /" + "x" * 1100
    text = f'migrate -d "{uri}"'
    verdict = check(text)
    finding = next(f for f in verdict.findings if f.code.value == "hmp-truncation")
    assert finding.position.offset == len('migrate -d "') + 1023


def test_forced_form() -> None:
    assert check("migrate -d x", form="shell").layers == ()
    assert check(SAVE[5:], form="uri").ok
    assert not check(SAVE, form="qmp").ok
    with pytest.raises(TypeError):
        check(SAVE, form="xml")

"""Golden review views: ``explain`` output for a representative set of strings.

The snapshots live in ``snapshots/shell/test_explain.ambr``; update them with
``pytest tests/shell/test_explain.py --snapshot-update`` only after reading every
changed view.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from qmonexec.shell import Policy, check
from qmonexec.shell.explain import explain, visible

from .corpus import LIBVIRT, RAW, REST, SAVE, STATUS, T, qmp

COMMAND = Policy.command()
DEFAULT = Policy.default()

#: id -> (text, policy)
CASES: dict[str, tuple[str, Policy]] = {
    "save-gzip": (SAVE, DEFAULT),
    "save-raw-bare-shell": (RAW[5:], DEFAULT),
    "save-status": (STATUS, DEFAULT),
    "save-libvirt-warning": (LIBVIRT, DEFAULT),
    "restore": (REST, DEFAULT),
    "command-quoted-args": ("exec:/usr/bin/tee 'it'\\''s $(x).img' \"a b\" c\\ d", COMMAND),
    "injection-separator": (SAVE + "; reboot", DEFAULT),
    "injection-command-substitution": (SAVE.replace("1<>" + T, '1<>"/vm/$(reboot).img"'),
                                       DEFAULT),
    "injection-and": (REST + " && reboot", DEFAULT),
    "truncating-redirect": (SAVE.replace("1<>", ">"), DEFAULT),
    "relative-target": (SAVE.replace("1<>" + T, "1<>guest.img"), DEFAULT),
    "old-status-form": (
        "exec:{ dd bs=4096 seek=2 if=/dev/null && dd ibs=65536 obs=1048576 && : >/d/write.ok "
        "|| : >/d/write.failed; } 1<>/vm/g.img 2>/d/write.err", DEFAULT),
    "qmp-layer-safe": (qmp(SAVE), DEFAULT),
    "qmp-layer-direction-mismatch": (qmp(REST), DEFAULT),
    "qmp-layer-escaped-injection": (
        '{"execute":"migrate","arguments":{"uri":"exec:cat\\u003b reboot"}}', COMMAND),
    "hmp-layer-safe": (f'migrate -d "{SAVE}"', DEFAULT),
    "hmp-layer-escaped-newline": (f'migrate -d "{RAW}\\nreboot"', DEFAULT),
    "multi-line-input": ("exec:gzip -c |\n  { dd bs=4096 seek=2 if=/dev/null && "
                         "dd ibs=65536 obs=1048576; } 1<>/vm/g.img\nreboot", DEFAULT),
    "non-ascii-and-tab-in-quotes-warning": (
        SAVE.replace("1<>" + T, "1<>'/vm/na\u00efve\t\u65e5\u672c.img'"), DEFAULT),
    "non-ascii-unquoted-error": (SAVE.replace("1<>" + T, "1<>/vm/g\u00e4st.img"), DEFAULT),
    "strict-text-refusal": ("exec:/usr/bin/tee '/vm/\u202egnp.exe'", COMMAND.strict_text()),
    "non-utf8-bytes": ("exec:/usr/bin/tee '/vm/caf\udce9.img'", COMMAND),
    "long-line-window": ("exec:/usr/bin/tee " + "a" * 150 + " ; reboot", COMMAND),
    "not-an-exec-uri": (json.dumps({"execute": "migrate",
                                    "arguments": {"uri": "tcp:10.0.0.1:4444"}}), DEFAULT),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_explain_view(case: str, snapshot: Any) -> None:
    text, policy = CASES[case]
    assert explain(check(text, policy)) == snapshot


def test_the_golden_set_is_representative() -> None:
    assert len(CASES) >= 15
    oks = {case: check(text, policy).ok for case, (text, policy) in CASES.items()}
    assert 5 <= sum(oks.values()) < len(oks)


def test_visible_escapes_everything_outside_printable_ascii() -> None:
    assert visible("a\tb\nc\rd\x1b\x7f") == "a\\tb\\nc\\rd\\x1b\\x7f"
    assert visible("\u00e9\u202e\U0001f389") == "\\u00e9\\u202e\\U0001f389"
    assert visible("caf\udce9") == "caf\\xe9"


def test_visible_quotes_and_escapes_the_value_limits() -> None:
    assert visible('say "hi" \\o/', quote=True) == '"say \\"hi\\" \\\\o/"'


def test_the_caret_points_at_the_escaped_column() -> None:
    view = explain(check("exec:/usr/bin/tee '\u00e9\tx' /x;", COMMAND))
    lines = view.splitlines()
    k = next(i for i, line in enumerate(lines) if line.endswith("control-character"))
    source, carets = lines[k + 1], lines[k + 2]
    assert source.startswith("    | ") and carets.startswith("    | ")
    assert source[carets.index("^"):].startswith("\\tx'")
    assert carets[6:].strip() == "^^"

"""The golden block format: what one block records, and how values stay exact on one line."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qmonexec.errors import InputError
from qmonexec.golden import golden_block
from qmonexec.golden.text import escape, field_line
from qmonexec.render import render_save
from qmonexec.shell import Policy
from qmonexec.spec import CommandSpec, RestoreSpec, SaveSpec, compression

SAVE = SaveSpec("/var/lib/vm/web1.img", offset=65536, compression=compression("zstd"))


def lines(text: str) -> list[str]:
    return text.splitlines()


def test_the_header_line_carries_the_block_format_version_and_the_name() -> None:
    assert lines(golden_block(SAVE, name="nightly").text)[0] == "qmonexec-golden 1: nightly"
    assert lines(golden_block(SAVE).text)[0] == "qmonexec-golden 1"


def test_a_save_records_its_pinned_profile_version() -> None:
    assert "profile: default@2" in lines(golden_block(SAVE).text)
    pinned = SaveSpec("/vm/x", profile="libvirt@1")  # type: ignore[arg-type]
    assert "profile: libvirt@1" in lines(golden_block(pinned).text)


def test_the_string_is_the_chosen_form_and_the_other_forms_follow() -> None:
    block = lines(golden_block(SAVE, form="hmp", domain="web1").text)
    uri = render_save(SAVE)
    assert "form: hmp" in block
    assert f'string: migrate -d "{uri}"' in block
    assert f"uri: {uri}" in block
    assert any(line.startswith("qmp: {\"execute\":\"migrate\"") for line in block)
    assert any(line.startswith("virsh: virsh qemu-monitor-command web1 ") for line in block)
    assert not any(line.startswith("hmp:") for line in block)


def test_findings_are_recorded_as_severity_code_and_offset_never_the_message() -> None:
    libvirt = SaveSpec("/vm/x", profile="libvirt")  # type: ignore[arg-type]
    block = golden_block(libvirt)
    finding = [line for line in lines(block.text) if line.startswith("finding:")]
    at = render_save(libvirt).index("dd ibs=1048576")  # the data step, where ibs == obs
    assert finding == [f"finding: warning dd-block-sizes at {at}"]
    assert block.ok and "busybox" not in block.text


def test_the_decoded_commands_show_every_argv_word_and_redirection() -> None:
    block = lines(golden_block(SAVE).text)
    assert block[block.index("command 0 stage: 0"):block.index("command 0 stage: 0") + 3] == \
        ["command 0 stage: 0", "command 0 argv 0: zstd", "command 0 argv 1: -c"]
    assert "command 2 redirect 0: 1<> /var/lib/vm/web1.img" in block


def test_an_unsafe_string_is_not_ok_and_says_why() -> None:
    block = golden_block("exec:cat >/vm/x; reboot")
    assert not block.ok
    assert "verdict: unsafe" in lines(block.text)
    assert any("command-separator" in problem for problem in block.problems)


def test_a_restore_is_incoming_in_every_form() -> None:
    block = lines(golden_block(RestoreSpec("/vm/x", offset=65536)).text)
    assert "direction: incoming" in block
    assert 'hmp: migrate_incoming "exec:dd if=/vm/x bs=65536 skip=1"' in block


def test_a_command_spec_is_checked_with_the_command_policy_and_can_be_incoming() -> None:
    block = golden_block(CommandSpec(("/bin/cat", "/vm/stream")), incoming=True)
    assert block.ok
    assert any(line.startswith('qmp: {"execute":"migrate-incoming"') for line in
               lines(block.text))


def test_a_qmp_dict_and_an_hmp_line_give_the_uri_inside() -> None:
    uri = "exec:dd if=/vm/x bs=65536 skip=0"
    from_qmp = lines(golden_block({"execute": "migrate-incoming", "arguments": {"uri": uri}}).text)
    from_hmp = lines(golden_block(f'migrate_incoming "{uri}"').text)
    for block, kind in ((from_qmp, "qmp"), (from_hmp, "hmp")):
        assert f"kind: {kind}" in block and f"uri: {uri}" in block
        assert "direction: incoming" in block and "verdict: ok" in block


def test_a_policy_can_be_given_for_a_hand_written_string() -> None:
    uri = "exec:pigz -c | { dd bs=4096 seek=0 if=/dev/null && dd ibs=32768 obs=65536; } 1<>/vm/x"
    assert not golden_block(uri).ok
    assert golden_block(uri, policy=Policy.default().allowing_commands("pigz")).ok


def test_a_form_qemu_would_refuse_is_marked_refused_with_a_stable_reason() -> None:
    long_target = "/vm/" + "x" * 1100
    block = golden_block(SaveSpec(long_target))
    assert "hmp (refused): longer than HMP's 1023 bytes" in lines(block.text)
    assert block.ok  # the string itself (the URI form) is fine


def test_choosing_a_refused_form_as_the_string_makes_the_block_unsafe() -> None:
    block = golden_block(SaveSpec("/vm/" + "x" * 1100), form="hmp")
    assert not block.ok and "string (refused): longer than HMP's 1023 bytes" in block.text


def test_a_name_that_is_not_utf8_is_kept_byte_exact_and_unsafe() -> None:
    block = golden_block(RestoreSpec(b"/vm/caf\xe9.img"))
    assert "string (escaped): exec:dd if='/vm/caf\\xe9.img' bs=65536 skip=0" in lines(block.text)
    assert "qmp (refused): not UTF-8 text" in lines(block.text)
    assert not block.ok


def test_a_newline_in_a_name_is_escaped_so_the_block_keeps_one_value_per_line() -> None:
    block = golden_block(SaveSpec("/vm/line\nbreak"))
    assert "command 0 redirect 0 (escaped): 1<> /vm/line\\nbreak" in lines(block.text)


@pytest.mark.parametrize(("value", "line"), [
    ("plain text", "k: plain text"),
    ("back\\slash", "k: back\\slash"),
    ("tab\there", "k (escaped): tab\\there"),
    ("back\\slash\r", "k (escaped): back\\\\slash\\r"),
    (" edge ", "k (escaped): \\u0020edge\\u0020"),
    ("", "k (escaped):"),
    ("\u202e", "k (escaped): \\u202e"),
])
def test_field_lines(value: str, line: str) -> None:
    assert field_line("k", value) == line


@given(st.text(), st.text())
def test_different_values_never_share_a_line(a: str, b: str) -> None:
    if a != b:
        assert field_line("k", a) != field_line("k", b)


@given(st.text())
def test_an_escaped_value_is_one_printable_line(value: str) -> None:
    assert escape(value).isprintable()


def test_an_unknown_form_or_subject_is_refused() -> None:
    with pytest.raises(InputError, match="unknown form 'json'"):
        golden_block(SAVE, form="json")
    with pytest.raises(InputError, match="not a int"):
        golden_block(42)  # type: ignore[arg-type]

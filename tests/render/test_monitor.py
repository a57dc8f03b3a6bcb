"""Monitor command forms: QMP objects, compact JSON, HMP lines, virsh lines."""

from __future__ import annotations

import json
import os

import pytest

from qmonexec import monitor
from qmonexec.errors import InputError
from qmonexec.limits import QMP_MAX_DEPTH
from tests.helpers.unquote import split_words

URI = "exec:gzip -c | { dd bs=4096 seek=2 if=/dev/null && dd ibs=1048576 obs=1048576; } " \
      "1<>'/var/lib/vm/it'\\''s here.img'"


# --- QMP objects -------------------------------------------------------------------------------


def test_migrate_object() -> None:
    assert monitor.migrate(URI) == {"execute": "migrate", "arguments": {"uri": URI}}


def test_migrate_incoming_object() -> None:
    assert monitor.migrate_incoming("exec:dd if=/x bs=4096 skip=0") == {
        "execute": "migrate-incoming", "arguments": {"uri": "exec:dd if=/x bs=4096 skip=0"}}


def test_query_migrate_object_has_no_arguments() -> None:
    assert monitor.query_migrate() == {"execute": "query-migrate"}


def test_migrate_cancel_object_keeps_its_underscore() -> None:
    assert monitor.migrate_cancel() == {"execute": "migrate_cancel"}


def test_migrate_set_capabilities_uses_qemus_list_form() -> None:
    assert monitor.migrate_set_capabilities({"events": True, "xbzrle": False}) == {
        "execute": "migrate-set-capabilities",
        "arguments": {"capabilities": [{"capability": "events", "state": True},
                                       {"capability": "xbzrle", "state": False}]},
    }


def test_migrate_set_capabilities_refuses_a_non_bool_state() -> None:
    with pytest.raises(InputError, match="true or false"):
        monitor.migrate_set_capabilities({"events": 1})  # type: ignore[dict-item]


def test_migrate_set_capabilities_refuses_an_empty_set() -> None:
    with pytest.raises(InputError, match="events=true"):
        monitor.migrate_set_capabilities({})


def test_migrate_set_parameters_max_bandwidth() -> None:
    assert monitor.migrate_set_parameters({"max-bandwidth": 1 << 30}) == {
        "execute": "migrate-set-parameters", "arguments": {"max-bandwidth": 1073741824}}


def test_migrate_set_parameters_accepts_the_python_spelling() -> None:
    assert monitor.migrate_set_parameters({"max_bandwidth": 10}) == \
        monitor.migrate_set_parameters({"max-bandwidth": 10})


@pytest.mark.parametrize("value", [-1, True, 1.5, "1G"])
def test_max_bandwidth_must_be_a_non_negative_int(value: object) -> None:
    with pytest.raises(InputError, match="non-negative integer"):
        monitor.migrate_set_parameters({"max-bandwidth": value})


def test_migrate_set_parameters_refuses_an_empty_set() -> None:
    with pytest.raises(InputError, match="max-bandwidth="):
        monitor.migrate_set_parameters({})


def test_a_uri_that_qmp_cannot_carry_is_refused() -> None:
    with pytest.raises(InputError, match="0xFF"):
        monitor.migrate("exec:cat >" + os.fsdecode(b"/vm/\xff"))


def test_a_uri_with_nul_is_refused() -> None:
    with pytest.raises(InputError, match="NUL"):
        monitor.migrate_incoming("exec:cat /a\0")


def test_qmp_command_refuses_values_json_cannot_carry() -> None:
    with pytest.raises(InputError, match="QMP arguments hold only"):
        monitor.qmp_command("x", {"a": object()})


def test_qmp_command_checks_nested_strings_and_keys() -> None:
    with pytest.raises(InputError, match=r"arguments\[.a.\]\[1\]"):
        monitor.qmp_command("x", {"a": ["ok", "\ufffe"]})
    with pytest.raises(InputError, match="key"):
        monitor.qmp_command("x", {"\0": 1})


# --- compact JSON ------------------------------------------------------------------------------


def test_json_is_compact() -> None:
    assert monitor.to_json(monitor.migrate("exec:cat >/x")) == \
        '{"execute":"migrate","arguments":{"uri":"exec:cat >/x"}}'


def test_json_keeps_utf8_readable_and_round_trips() -> None:
    uri = "exec:cat >'/vm/naïve \"日本\"\n.img'"
    text = monitor.to_json(monitor.migrate(uri))
    assert "naïve" in text and "日本" in text and "\n" not in text
    assert json.loads(text)["arguments"]["uri"] == uri


def test_json_of_a_command_without_arguments() -> None:
    assert monitor.to_json(monitor.query_migrate()) == '{"execute":"query-migrate"}'


# --- HMP lines ---------------------------------------------------------------------------------


def test_hmp_migrate_detaches_and_double_quotes() -> None:
    assert monitor.hmp_migrate("exec:cat >/x") == 'migrate -d "exec:cat >/x"'


def test_hmp_migrate_without_detach() -> None:
    assert monitor.hmp_migrate("exec:cat >/x", detach=False) == 'migrate "exec:cat >/x"'


def test_hmp_migrate_incoming() -> None:
    assert monitor.hmp_migrate_incoming("exec:dd if=/x bs=4096 skip=0") == \
        'migrate_incoming "exec:dd if=/x bs=4096 skip=0"'


def test_hmp_line_escapes_backslash_and_keeps_single_quotes() -> None:
    assert monitor.hmp_migrate(URI) == 'migrate -d "' + URI.replace("\\", "\\\\") + '"'


def test_hmp_line_escapes_double_quote_newline_and_cr() -> None:
    assert monitor.hmp_migrate("exec:cat >'/a\"b\nc\rd'") == \
        'migrate -d "exec:cat >\'/a\\"b\\nc\\rd\'"'


def test_hmp_refuses_a_uri_over_1023_bytes_naming_the_fix() -> None:
    uri = "exec:cat >/" + "x" * 1013  # 1024 bytes
    assert len(uri) == 1024
    with pytest.raises(InputError, match="migration URI is 1024 bytes long") as info:
        monitor.hmp_migrate(uri)
    assert "--format qmp" in str(info.value)
    with pytest.raises(InputError):
        monitor.hmp_migrate_incoming(uri)


def test_hmp_accepts_a_uri_of_1023_bytes() -> None:
    uri = "exec:cat >/" + "x" * 1012
    assert monitor.hmp_migrate(uri) == f'migrate -d "{uri}"'


# --- virsh lines -------------------------------------------------------------------------------


def test_virsh_line_shape() -> None:
    line = monitor.virsh_line("guest1", monitor.migrate("exec:cat >/x"))
    assert line == ("virsh qemu-monitor-command guest1 "
                    "'{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"exec:cat >/x\"}}'")


def test_virsh_line_unquotes_to_the_compact_json() -> None:
    command = monitor.migrate(URI)
    words = split_words(monitor.virsh_line("guest 1", command))
    assert words[:3] == [b"virsh", b"qemu-monitor-command", b"guest 1"]
    assert len(words) == 4
    assert json.loads(words[3]) == command


def test_virsh_line_with_hostile_domain_and_path() -> None:
    command = monitor.migrate_incoming("exec:dd if='/vm/$(reboot)'\\''`x`' bs=4096 skip=0")
    line = monitor.virsh_line("it's; reboot", command)
    words = split_words(line)
    assert words[2] == b"it's; reboot"
    assert json.loads(words[3]) == command


def test_virsh_needs_a_domain() -> None:
    with pytest.raises(InputError, match="--domain NAME"):
        monitor.virsh_line("", monitor.query_migrate())


def test_virsh_domain_must_be_qmp_text() -> None:
    with pytest.raises(InputError, match="domain name"):
        monitor.virsh_line("g\ud800", monitor.query_migrate())


def _nested(levels: int) -> object:
    value: object = "leaf"
    for _ in range(levels):
        value = [value]
    return value


def test_qmp_command_allows_exactly_the_nesting_qemu_accepts() -> None:
    # The command object is level 1 and its arguments level 2 (docs/reference.md, section 2).
    inside = QMP_MAX_DEPTH - 2
    assert monitor.qmp_command("x", {"v": _nested(inside)})["arguments"]["v"]
    with pytest.raises(InputError, match="deeper"):
        monitor.qmp_command("x", {"v": _nested(inside + 1)})

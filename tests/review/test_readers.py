"""The input readers: each finds its strings and places findings at the file's positions."""

from __future__ import annotations

from qmonexec.review.runner import review_text
from qmonexec.shell import Policy


def _col(line: str, needle: str) -> int:
    """The 1-based column of ``needle`` in a source line (what an editor shows)."""
    return line.index(needle) + 1


def _review(text: str, kind: str, name: str = "f") -> list[tuple[int, int, str]]:
    found = review_text(name, text, kind, Policy.default(), False)
    return [(f.line, f.column, f.code) for f in found]


def test_python_literal_positions_are_the_source_line_and_column() -> None:
    text = 'x = 1\nURI = "exec:gzip -c > /tmp/vm.gz"\n'
    assert _review(text, "python") == [(2, _col(text.split("\n")[1], ">"), "truncating-redirect")]


def test_python_positions_follow_escapes_and_implicit_concatenation() -> None:
    text = 'URI = ("exec:caf\\u00e9 "\n       "\\x1b")\n'
    assert _review(text, "python") == [(1, 17, "non-ascii"), (2, 9, "control-character")]


def test_python_interpolation_is_reported_and_the_rest_still_checked() -> None:
    text = 'uri = f"exec:cat >/vm/x; {cmd}"\n'
    codes = [c for _l, _c, c in _review(text, "python")]
    assert "unquoted-interpolation" in codes and "command-separator" in codes


def test_python_quoting_and_builders_are_not_interpolation_but_their_context_is_checked() -> None:
    text = (
        'a = "exec:cat 1<>" + quote_word(p)\n'
        'b = \'{"execute":"migrate","arguments":{"uri":"%s; reboot"}}\' % save_uri(spec)\n'
        'c = "{}".format(quote_word(p)) + "exec:x"\n'
    )
    found = _review(text, "python")
    assert "unquoted-interpolation" not in [c for _l, _c, c in found]
    assert (2, _col(text.split("\n")[1], ";"), "command-separator") in found


def test_python_migrate_uri_argument_and_qmp_dicts_are_checked() -> None:
    text = (
        "qmp.migrate(uri='exec:cat | sh')\n"
        "send({'execute': 'migrate-incoming', 'arguments': {'uri': 'tcp:1:2'}})\n"
        "send({'execute': 'human-monitor-command',\n"
        "      'arguments': {'command-line': 'migrate -d \"exec:cat;x\"'}})\n"
        "qmp.migrate(uri)\n"
    )
    found = _review(text, "python")
    lines = text.split("\n")
    assert (1, _col(lines[0], "sh'"), "program-runs-code") in found
    assert (2, _col(lines[1], "tcp"), "command-not-allowed") in found
    assert (4, _col(lines[3], ";"), "command-separator") in found
    assert (5, _col(lines[4], "uri"), "unquoted-interpolation") in found


def test_python_percent_numeric_conversions_are_not_interpolation() -> None:
    text = 'u = "exec:dd if=/vm/x bs=4096 skip=%d" % n\n'
    assert _review(text, "python") == []


def test_python_syntax_error_is_unreadable_source() -> None:
    assert _review("uri = 'exec:cat\n", "python")[0][2] == "unreadable-source"


def test_json_document_messages_are_checked_at_file_positions() -> None:
    text = '[\n  {"execute": "migrate",\n   "arguments": {"uri": "exec:cat >/vm/x"}}\n]\n'
    assert _review(text, "json") == [(3, _col(text.split("\n")[2], ">"), "truncating-redirect")]


def test_json_lines_and_hmp_command_lines_are_checked() -> None:
    text = (
        '{"execute":"qmp_capabilities"}\n'
        '{"execute":"human-monitor-command",'
        '"arguments":{"command-line":"migrate -d \\"exec:a;b\\""}}\n'
    )
    found = _review(text, "json")
    assert (2, _col(text.split("\n")[1], ";"), "command-separator") in found


def test_json_that_is_not_json_is_unreadable_source() -> None:
    assert [c for _l, _c, c in _review("{nope", "json")] == ["unreadable-source"]


def test_shell_virsh_lines_are_read_with_quotes_and_positions() -> None:
    text = (
        "#!/bin/sh\n"
        "virsh qemu-monitor-command web1 "
        "'{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"exec:cat >/vm/x\"}}'\n"
        'virsh qemu-monitor-command --hmp web1 "migrate -d \\"exec:gzip -c > /v\\""\n'
        'virsh qemu-monitor-command web1 "$CMD"\n'
    )
    found = _review(text, "shell")
    lines = text.split("\n")
    assert found == [
        (2, _col(lines[1], ">"), "truncating-redirect"),
        (3, _col(lines[2], ">"), "truncating-redirect"),
        (4, _col(lines[3], '"$'), "unquoted-interpolation"),
    ]


def test_list_lines_are_strings_and_a_hash_inside_is_part_of_them() -> None:
    text = "# a comment\n\nexec:cat /vm/x #1<>/y\n"
    assert (3, _col("exec:cat /vm/x #1<>/y", "#"), "comment") in _review(text, "list")


def test_python_f_string_positions_are_exact_after_a_replacement_field() -> None:
    line = 'uri = f"exec:gzip -c {quote_word(level)} > /tmp/vm.gz"'
    found = _review(line + "\n", "python")
    assert (1, _col(line, ">"), "truncating-redirect") in found


def test_python_f_string_with_escaped_braces_and_a_format_spec_keeps_positions() -> None:
    line = 'uri = f"exec:cat {{x}} {n:>{w}} ; reboot"'
    found = _review(line + "\n", "python")
    assert (1, _col(line, ";"), "command-separator") in found


def test_python_implicit_concatenation_of_plain_and_f_strings_keeps_positions() -> None:
    text = 'uri = ("exec:cat "\n       f"{quote_word(p)}; reboot")\n'
    found = _review(text, "python")
    assert (2, _col(text.split("\n")[1], ";"), "command-separator") in found


def test_python_prose_and_docstrings_that_mention_exec_are_not_commands() -> None:
    text = (
        '"""Module: builds an exec: URI; see exec:cat for an example."""\n'
        'def f(uri: str) -> bool:\n'
        '    """exec:cat >/vm/x; reboot is what a bad one looks like."""\n'
        '    message = f"{uri!r} is not an exec: URI"\n'
        '    return uri.startswith("exec:")\n'
    )
    assert _review(text, "python") == []


def test_python_regex_patterns_are_not_commands() -> None:
    text = 'PATTERN = re.compile(r"exec:(?P<prog>[a-z]+) -c \\| (.*)")\n'
    assert _review(text, "python") == []


def test_python_raw_strings_with_regex_groups_are_not_commands() -> None:
    text = '_SOURCE = r"exec:(?P<dd>dd) if=(?P<src>" + _W + r") bs=[0-9]+"\n'
    assert _review(text, "python") == []


def test_shell_virsh_options_before_the_command_and_sudo_are_understood() -> None:
    line = (
        "sudo virsh -c qemu:///system qemu-monitor-command --hmp web1 "
        "'migrate -d \"exec:cat;reboot\"'"
    )
    assert (1, _col(line, ";"), "command-separator") in _review(line + "\n", "shell")

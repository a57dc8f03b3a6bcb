"""``qmonexec uri``: exact output on stdout, exit 2 and a message naming the fix on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.helpers.cli import cli
from tests.helpers.unquote import split_words

DONE_WHEN_ARGS = ["uri", "save", "/var/lib/vm/it's here.img", "--offset", "8192",
                  "--compress", "gzip", "--profile", "libvirt"]
DONE_WHEN_LINE = ("exec:gzip -c | { dd bs=4096 seek=2 if=/dev/null && dd ibs=1048576 "
                  "obs=1048576; } 1<>'/var/lib/vm/it'\\''s here.img'\n")


def assert_refused(result: tuple[int, str, str], *fix: str) -> None:
    status, out, err = result
    assert status == 2, err
    assert out == ""
    assert err.startswith("qmonexec: error: ") or "usage:" in err
    for words in fix:
        assert words in err
    assert "Traceback" not in err


# --- success -----------------------------------------------------------------------------------


def test_the_issue_command_prints_exactly_the_libvirt_line(capsys: pytest.CaptureFixture[str]) -> None:  # noqa: E501
    assert cli(capsys, *DONE_WHEN_ARGS) == (0, DONE_WHEN_LINE, "")


def test_save_defaults_to_our_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "uri", "save", "/vm/g.img") == (
        0, "exec:{ dd bs=4096 seek=0 if=/dev/null && dd ibs=32768 obs=65536; } 1<>/vm/g.img\n",
        "")


def test_offset_takes_a_k_suffix(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, "uri", "save", "/vm/g.img", "--offset", "8K")
    assert status == 0 and "seek=2 " in out


def test_block_and_transfer_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, "uri", "save", "/vm/g.img", "--offset", "1024",
                         "--block-size", "512", "--transfer-size", "4M")
    assert status == 0
    assert out == ("exec:{ dd bs=512 seek=2 if=/dev/null && dd ibs=65536 obs=4194304; } "
                   "1<>/vm/g.img\n")


def test_save_with_a_custom_compressor(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = cli(capsys, "uri", "save", "/vm/g.img", "--compress-cmd", "pigz -c -p 2")
    assert (status, err) == (0, "")
    assert out.startswith("exec:pigz -c -p 2 | { dd ")


def test_save_with_stage_status(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = cli(capsys, "uri", "save", "/vm/g.img", "--status-dir", "/run/q")
    assert (status, err) == (0, "")
    assert out.endswith("} 1<>/vm/g.img && : >/run/q/write.ok || : >/run/q/write.failed; } "
                        "2>/run/q/write.err\n")


def test_save_as_qmp_json(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, *DONE_WHEN_ARGS, "--format", "qmp")
    assert status == 0
    assert json.loads(out) == {"execute": "migrate",
                               "arguments": {"uri": DONE_WHEN_LINE.rstrip("\n")}}


def test_save_as_hmp_line(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, *DONE_WHEN_ARGS, "--format", "hmp")
    assert status == 0
    assert out == 'migrate -d "' + DONE_WHEN_LINE.rstrip("\n").replace("\\", "\\\\") + '"\n'


def test_save_as_virsh_line(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, *DONE_WHEN_ARGS, "--format", "virsh", "--domain", "guest 1")
    assert status == 0
    words = split_words(out.rstrip("\n"))
    assert words[:3] == [b"virsh", b"qemu-monitor-command", b"guest 1"]
    assert json.loads(words[3])["arguments"]["uri"] == DONE_WHEN_LINE.rstrip("\n")


def test_restore(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "uri", "restore", "/vm/g.img", "--offset", "64K", "--compress", "zstd") \
        == (0, "exec:dd if=/vm/g.img bs=65536 skip=1 | zstd -dc\n", "")


def test_restore_pinned_to_default_1_keeps_4k_blocks(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "uri", "restore", "/vm/g.img", "--offset", "8192", "--profile",
               "default@1") == (0, "exec:dd if=/vm/g.img bs=4096 skip=2\n", "")


def test_restore_as_hmp_is_migrate_incoming(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, "uri", "restore", "/vm/g.img", "--format", "hmp")
    assert (status, out) == (0, 'migrate_incoming "exec:dd if=/vm/g.img bs=65536 skip=0"\n')


def test_restore_as_qmp_is_migrate_incoming(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, "uri", "restore", "/vm/g.img", "--format", "qmp")
    assert status == 0 and json.loads(out)["execute"] == "migrate-incoming"


def test_command_after_double_dash_quotes_every_word(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "uri", "command", "--", "/usr/bin/tee", "/tmp/a b", "-a") == (
        0, "exec:/usr/bin/tee '/tmp/a b' -a\n", "")


def test_command_incoming_as_hmp(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, "uri", "command", "--incoming", "--format", "hmp", "--",
                         "cat", "/x")
    assert (status, out) == (0, 'migrate_incoming "exec:cat /x"\n')


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, "--version")
    assert status == 0 and out.startswith("qmonexec ")


def test_help_shows_examples(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, "--help")
    assert status == 0
    assert "examples:" in out and "qmonexec uri save " in out


def test_uri_save_help_shows_examples(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, "uri", "save", "--help")
    assert status == 0
    assert "examples:" in out and "--compress" in out and "--profile" in out


# --- refusals: exit 2, nothing on stdout, a message naming the fix -----------------------------


def test_a_relative_target_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert_refused(cli(capsys, "uri", "save", "guest.img"), "not an absolute path",
                   "give the full path")


def test_an_offset_not_a_multiple_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert_refused(cli(capsys, "uri", "save", "/vm/g.img", "--offset", "5000"),
                   "nearest valid offsets are 4096 and 8192")


def test_an_unknown_compressor_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert_refused(cli(capsys, "uri", "save", "/vm/g.img", "--compress", "brotli"),
                   "known formats: raw, gzip, bzip2, xz, lzop, zstd")


def test_an_hmp_line_over_1023_bytes_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    target = "/vm/" + "x" * 1100
    assert_refused(cli(capsys, "uri", "save", target, "--format", "hmp"),
                   "silently truncates", "--format qmp")


def test_virsh_without_a_domain_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert_refused(cli(capsys, "uri", "save", "/vm/g.img", "--format", "virsh"), "--domain NAME")


def test_a_domain_without_virsh_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert_refused(cli(capsys, "uri", "save", "/vm/g.img", "--domain", "g"), "--format virsh")


def test_a_bad_size_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert_refused(cli(capsys, "uri", "save", "/vm/g.img", "--offset", "8Q"), "e.g. 8192 or 8K")


def test_a_block_size_not_a_power_of_two_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert_refused(cli(capsys, "uri", "save", "/vm/g.img", "--block-size", "3000"),
                   "--block-size")


def test_a_quoted_compress_cmd_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert_refused(cli(capsys, "uri", "save", "/vm/g.img", "--compress-cmd", "gzip '-c'"),
                   "split on spaces")


def test_an_empty_command_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert_refused(cli(capsys, "uri", "command", "--"), "after --")


def test_an_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert_refused(cli(capsys, "uri", "save", "/vm/g.img", "--frobnicate"), "usage:")


def test_a_missing_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert_refused(cli(capsys, "uri"), "usage:")


# --- as a program ------------------------------------------------------------------------------


def program(*argv: str | bytes) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    env.pop("QMONEXEC_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "qmonexec", *argv], capture_output=True,
                          env=env, timeout=60, check=False)


def test_the_program_never_prints_a_traceback() -> None:
    done = program("uri", "save", "relative.img", "--offset", "5000", "--format", "hmp")
    assert done.returncode == 2
    assert done.stdout == b""
    assert b"Traceback" not in done.stderr
    assert done.stderr.startswith(b"qmonexec: error: ")


def test_the_program_prints_the_issue_line() -> None:
    done = program(*DONE_WHEN_ARGS)
    assert (done.returncode, done.stdout, done.stderr) == (0, DONE_WHEN_LINE.encode(), b"")


def test_the_program_refuses_a_non_ascii_target_naming_the_fix() -> None:
    # The renderer quotes it correctly (see the golden and real-shell tests), but the default
    # validator policy refuses bytes >= 0x80: yash in the C locale silently runs nothing.
    done = program("uri", "save", b"/vm/caf\xe9 \xff.img")
    assert done.returncode == 1 and done.stdout == b""
    assert b"use an ASCII path" in done.stderr and b"Traceback" not in done.stderr


def test_the_program_accepts_a_control_character_in_the_quoted_target() -> None:
    # Inside single quotes a tab means exactly itself in every common shell: the default
    # policy warns (control-character) instead of refusing; Policy.strict_text() refuses.
    done = program("uri", "save", "/vm/a\tb.img")
    assert done.returncode == 0 and b"Traceback" not in done.stderr
    assert done.stdout.endswith(b"1<>'/vm/a\tb.img'\n")


def test_a_validation_refusal_names_the_finding_code_as_users_see_it() -> None:
    # `Code` is a (str, Enum): f"{code}" is "non-ascii" on Python 3.10 but "Code.NON_ASCII"
    # on 3.11+, so the message must use code.value to be the same everywhere.
    done = program("uri", "save", b"/vm/caf\xe9.img")  # not UTF-8: refused in any quoting
    assert done.returncode == 1
    assert b"non-ascii: " in done.stderr
    assert b"Code." not in done.stderr

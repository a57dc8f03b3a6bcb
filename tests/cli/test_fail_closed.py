"""The CLI side of failing closed: refusals exit non-zero, every input is read, bounded output."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..helpers.cli import cli

SAVE = "exec:gzip -c | { dd bs=4096 seek=2 if=/dev/null && dd ibs=32768 obs=65536; } 1<>"




def test_check_refuses_the_finding_cap_overflow(capsys: pytest.CaptureFixture[str]) -> None:
    text = SAVE + "'/tmp/x" + "\x01" * 200 + "'; touch /tmp/pwned"
    status, out, _err = cli(capsys, "check", text)
    assert status == 1
    assert "command-separator" in out


def test_check_prints_at_most_three_lines_for_250_control_characters(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _err = cli(capsys, "check", SAVE + "'/tmp/x" + "\x01" * 250 + "'")
    assert status == 0
    assert len(out.splitlines()) <= 3
    assert "250 findings like this" in out


def test_check_refuses_a_network_target(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _err = cli(capsys, "check", SAVE + "/dev/tcp/127.0.0.1/47123")
    assert status == 1
    assert "special-path" in out


def test_uri_save_refuses_a_network_target(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = cli(capsys, "uri", "save", "/dev/tcp/10.0.0.1/9000", "--compress", "gzip")
    assert status == 2
    assert out == ""
    assert "network" in err


def test_uri_restore_refuses_a_descriptor_source(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _err = cli(capsys, "uri", "restore", "/dev/stdin")
    assert status == 2
    assert out == ""


def test_uri_save_refuses_a_virsh_domain_that_looks_like_an_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = cli(capsys, "uri", "save", "/tmp/x", "--format", "virsh", "--domain=--hmp")
    assert status == 2
    assert out == ""
    assert "starts with '-'" in err


def test_uri_save_refuses_an_offset_dd_cannot_take_as_bad_input(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = cli(capsys, "uri", "save", "/tmp/x", "--offset", "4096000000000000000000G")
    assert status == 2
    assert out == ""
    assert "2^63 - 1" in err


def test_check_reads_every_file_in_order_and_names_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "a.txt"
    good = tmp_path / "b.txt"
    bad.write_text("exec:cat >/vm/x; reboot\n")
    good.write_text("exec:dd if=/vm/x bs=4096 skip=1\n")
    status, out, _err = cli(capsys, "check", "--file", str(bad), "--file", str(good))
    assert status == 1
    lines = [line for line in out.splitlines() if not line.startswith(" ")]
    assert lines == [f"{bad}:1: unsafe: 3 errors", f"{good}:1: safe: restore"]


def test_explain_names_the_file_of_each_string(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    one = tmp_path / "one.txt"
    two = tmp_path / "two.txt"
    one.write_text("exec:dd if=/vm/x bs=4096 skip=1\n")
    two.write_text("\n\nexec:dd if=/vm/y bs=4096 skip=1\n")
    status, out, _err = cli(capsys, "explain", "--file", str(one), "--file", str(two))
    assert status == 0
    assert f"=== {one}:1 ===" in out
    assert f"=== {two}:3 ===" in out


def test_check_with_an_unreadable_file_checks_nothing_and_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good = tmp_path / "b.txt"
    good.write_text("exec:dd if=/vm/x bs=4096 skip=1\n")
    status, out, err = cli(capsys, "check", "--file", str(good), "--file", str(tmp_path / "no"))
    assert status == 2
    assert out == ""
    assert "nothing was checked" in err

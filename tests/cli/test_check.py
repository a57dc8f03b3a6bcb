"""``qmonexec check`` and ``qmonexec explain``: exit codes, input sources, options, JSON."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..helpers.cli import cli
from ..shell.corpus import REST, SAVE, T

SAFE = SAVE
UNSAFE = SAVE + "; reboot"




def test_check_exits_0_for_a_safe_string(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = cli(capsys, "check", SAFE)
    assert (status, out, err) == (0, "safe: save\n", "")


def test_check_exits_1_for_an_unsafe_string_and_names_the_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _err = cli(capsys, "check", UNSAFE)
    assert status == 1
    assert out.startswith("unsafe: ") and "command-separator" in out


def test_check_exits_2_without_a_string(capsys: pytest.CaptureFixture[str]) -> None:
    status, _out, err = cli(capsys, "check")
    assert status == 2 and "STRING" in err


def test_check_exits_2_with_both_a_string_and_a_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, _out, err = cli(capsys, "check", SAFE, "--file", str(tmp_path / "x"))
    assert status == 2 and "not both" in err


def test_check_exits_2_for_an_unknown_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "check", "--bogus", SAFE)[0] == 2


def test_check_exits_2_for_a_missing_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, _out, err = cli(capsys, "check", "--file", str(tmp_path / "missing.txt"))
    assert status == 2 and "cannot read" in err


def test_check_json_prints_the_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _err = cli(capsys, "check", "--json", UNSAFE)
    data = json.loads(out)
    assert status == 1 and data["ok"] is False
    assert "command-separator" in {f["code"] for f in data["findings"]}
    assert data["commands"][0]["argv"] == ["gzip", "-c"]


def test_check_file_reports_per_line_and_fails_if_any_is_unsafe(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "uris.txt"
    path.write_text(f"{SAFE}\n\n{UNSAFE}\n{REST}\n")
    status, out, _err = cli(capsys, "check", "--file", str(path))
    assert status == 1
    heads = [line for line in out.splitlines() if not line.startswith(" ")]
    assert heads == [f"{path}:1: safe: save", f"{path}:3: unsafe: 2 errors",
                     f"{path}:4: safe: restore"]


def test_check_file_of_safe_strings_exits_0(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "uris.txt"
    path.write_text(f"{SAFE}\n{REST}\n")
    assert cli(capsys, "check", "--file", str(path))[0] == 0


def test_check_file_json_is_a_list_with_line_numbers(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "uris.txt"
    path.write_text(f"{SAFE}\n{UNSAFE}\n")
    status, out, _err = cli(capsys, "check", "--json", "--file", str(path))
    data = json.loads(out)
    assert status == 1
    assert [(d["line"], d["verdict"]["ok"]) for d in data] == [(1, True), (2, False)]


def test_check_reads_standard_input_with_dash(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(f"{SAFE}\n{REST}\n".encode()))
    monkeypatch.setattr(sys, "stdin", stdin)
    status, out, _err = cli(capsys, "check", "-")
    assert status == 0 and out.count("safe: ") == 2


def test_check_allow_program_widens_the_policy(capsys: pytest.CaptureFixture[str]) -> None:
    text = SAVE.replace("gzip -c", "pigz -c")
    assert cli(capsys, "check", text)[0] == 1
    assert cli(capsys, "check", "--allow-program", "pigz", text)[0] == 0


def test_check_offset_requires_the_header_size(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "check", "--offset", "8192", SAFE)[0] == 0
    status, out, _err = cli(capsys, "check", "--offset", "4K", SAFE)
    assert status == 1 and "offset-mismatch" in out


def test_check_strict_text_refuses_non_ascii_in_quotes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = SAVE.replace("1<>" + T, "1<>'/vm/g\u00e4st.img'")
    status, out, _err = cli(capsys, "check", text)
    assert status == 0 and "warning: non-ascii" in out
    status, out, _err = cli(capsys, "check", "--strict-text", text)
    assert status == 1 and "error: non-ascii" in out


def test_check_policy_command_accepts_any_literal_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli(capsys, "check", "exec:/usr/bin/tee /x")[0] == 1
    assert cli(capsys, "check", "--policy", "command", "exec:/usr/bin/tee /x")[0] == 0


def test_explain_exits_like_check(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _err = cli(capsys, "explain", SAFE)
    assert status == 0 and out.startswith("verdict: SAFE, save shape")
    status, out, _err = cli(capsys, "explain", UNSAFE)
    assert status == 1 and out.startswith("verdict: UNSAFE")


def test_explain_file_heads_each_view_with_its_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "uris.txt"
    path.write_text(f"{SAFE}\n\n{UNSAFE}\n")
    status, out, _err = cli(capsys, "explain", "--file", str(path))
    assert status == 1
    assert [line for line in out.splitlines() if line.startswith("===")] == [
        f"=== {path}:1 ===", f"=== {path}:3 ==="]


def test_the_program_check_exit_codes_and_stdin() -> None:
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    env.pop("QMONEXEC_DEBUG", None)

    def run(*argv: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable, "-m", "qmonexec", *argv], input=stdin,
                              capture_output=True, env=env, timeout=60, check=False)

    assert run("check", SAFE).returncode == 0
    assert run("check", UNSAFE).returncode == 1
    assert run("check").returncode == 2
    done = run("check", "-", stdin=f"{SAFE}\n{UNSAFE}\n".encode())
    assert done.returncode == 1 and b"<stdin>:2: unsafe" in done.stdout
    assert b"Traceback" not in done.stderr

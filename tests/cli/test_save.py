"""``qmonexec save``, ``restore`` and ``inspect`` on the command line (real QEMU)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from qmonexec.cli.save import progress_line
from qmonexec.save import Progress
from tests.helpers.cli import cli as run
from tests.helpers.qemu import QemuVM

pytestmark = pytest.mark.system


def test_save_inspect_restore(loaded_vm: Callable[..., QemuVM], tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    source = loaded_vm()
    target = tmp_path / "web1.img"
    status, out, err = run(capsys, "save", "--qmp", str(source.qmp_path), str(target),
                           "--compress", "gzip", "--metadata", '{"vm": "web1"}')
    assert status == 0, err
    assert err == ""  # not a terminal: no progress display
    size = target.stat().st_size
    # The stream starts at a 64 KiB boundary (qmonexec.save.image.STREAM_ALIGNMENT).
    assert out.startswith(f"saved {size} bytes to {target} (65536 header + {size - 65536} "
                          "stream)")
    assert "VM now postmigrate" in out

    status, out, err = run(capsys, "inspect", str(target))
    assert status == 0
    assert "state          complete" in out and "compression    gzip" in out
    assert f"stream_length  {size - 65536}" in out and '{"vm": "web1"}' in out
    status, out, err = run(capsys, "inspect", "--json", str(target))
    info = json.loads(out)
    assert info["state"] == "complete" and info["metadata"] == {"vm": "web1"}
    assert info["file_size"] == size and info["problem"] is None and info["verified"] is True

    destination = loaded_vm("-incoming", "defer")
    status, out, err = run(capsys, "restore", "--qmp", str(destination.qmp_path), str(target),
                           "--then", "pause")
    assert status == 0, err
    assert out.startswith(f"restored {target} (gzip, stream at byte 65536)")


def test_inspect_of_a_damaged_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from qmonexec.save.image import encode_header, new_header

    partial = tmp_path / "partial.img"
    partial.write_bytes(encode_header(new_header(compression="zstd")) + b"stream")
    status, out, _ = run(capsys, "inspect", str(partial))
    assert status == 1 and "state          partial  (save unfinished" in out
    other = tmp_path / "other.img"
    other.write_bytes(b"QEVM\0\0\0\3" + bytes(100))
    status, _, err = run(capsys, "inspect", str(other))
    assert status == 2 and "bare QEMU migration stream" in err


def test_header_file_and_raw_restore(loaded_vm: Callable[..., QemuVM], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    header = tmp_path / "header.bin"
    header.write_bytes(b"OUR OWN FORMAT\n")
    source = loaded_vm()
    target = tmp_path / "own.img"
    status, out, err = run(capsys, "save", "--qmp", str(source.qmp_path), str(target),
                           "--header-file", str(header), "--compress", "zstd")
    assert status == 0, err
    assert target.read_bytes().startswith(b"OUR OWN FORMAT\n\0\0")
    destination = loaded_vm("-incoming", "defer")
    status, out, err = run(capsys, "restore", "--qmp", str(destination.qmp_path), str(target),
                           "--offset", "4K", "--decompress", "zstd")
    assert status == 0, err
    assert "zstd, stream at byte 4096" in out and "VM now" in out


def test_libvirt_profile_warns(loaded_vm: Callable[..., QemuVM], tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    source = loaded_vm()
    status, _, err = run(capsys, "save", "--qmp", str(source.qmp_path),
                         str(tmp_path / "lv.img"), "--profile", "libvirt")
    assert status == 0
    assert "cannot prove" in err


def test_exit_codes(loaded_vm: Callable[..., QemuVM], tmp_path: Path,
                    capsys: pytest.CaptureFixture[str]) -> None:
    source = loaded_vm()
    qmp = str(source.qmp_path)
    status, _, err = run(capsys, "save", "--qmp", qmp, "relative.img")
    assert status == 2 and "absolute path" in err
    status, _, err = run(capsys, "save", "--qmp", qmp, str(tmp_path / "x.img"),
                         "--metadata", "[1]")
    assert status == 2 and "JSON object" in err
    status, _, err = run(capsys, "save", "--qmp", qmp, str(tmp_path / "x.img"),
                         "--bandwidth", "1M", "--timeout", "0.5")
    assert status == 1 and "stage 'qemu'" in err and "timed out" in err
    status, _, err = run(capsys, "restore", "--qmp", qmp, str(tmp_path / "x.img"))
    assert status == 2 and "incomplete save" in err
    status, _, err = run(capsys, "save", "--qmp", str(tmp_path / "nosock"),
                         str(tmp_path / "y.img"))
    assert status == 3 and "cannot connect" in err


def test_progress_line() -> None:
    line = progress_line(Progress("migrate", "active", 12.0, done=32 << 20, total=64 << 20,
                                  sent=10 << 20, rate=8 << 20, eta=4.0))
    assert line == ("saving [active]  32.0 MiB / 64.0 MiB ( 50%)  sent 10.0 MiB  8.0 MiB/s  "
                    "ETA 0:04  elapsed 0:12")
    line = progress_line(Progress("flush", "completed", 3661.0, total=64 << 20,
                                  on_disk=1 << 30))
    assert "waiting for the pipeline" in line and "1.0 GiB on disk" in line and "1:01:01" in line
    line = progress_line(Progress("restore", "active", 1.0, done=None, total=5 << 20))
    assert line == "restoring [active]  image 5.0 MiB  elapsed 0:01"

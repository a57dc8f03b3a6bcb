"""Real QEMU: every fault during a save is a failure naming the stage, never a success.

In each case the target keeps the partial header that was written before the
migration started, byte for byte, so the image can never be restored.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from qmonexec.build import policy_for
from qmonexec.save import SaveError, save
from qmonexec.save.image import STREAM_ALIGNMENT, IncompleteImageError, encode_header, read_header
from qmonexec.spec import Compression
from tests.helpers.qemu import QemuVM, start_qemu
from tests.helpers.support import ROOT, missing, require_program

pytestmark = pytest.mark.system

IS_ROOT = os.geteuid() == 0


def assert_failed_cleanly(error: SaveError, target: Path, stage: str) -> None:
    """The stage is named, the header is the partial one we wrote, nothing else is left."""
    assert error.stage == stage, str(error)
    assert f"stage {stage!r}" in str(error)
    assert error.header is not None and not error.header.complete
    data = target.read_bytes()
    assert data[: error.header.offset] == encode_header(error.header)
    with pytest.raises(IncompleteImageError):
        read_header(target)
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".qmonexec")]


def migration_status(vm: QemuVM) -> tuple[str, str]:
    with vm.client() as qmp:
        return qmp.execute("query-status")["status"], qmp.query_migrate().status


@contextlib.contextmanager
def tmpfs(path: Path, size: str, *, read_only: bool = False,
          prepare: Callable[[Path], None] | None = None) -> Iterator[Path]:
    """Mount a small tmpfs at ``path`` (root only); unmount it afterwards."""
    if not IS_ROOT:
        missing("mounting a tmpfs needs root")
    require_program("mount", "mount")
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
                   check=True)
    try:
        if prepare is not None:
            prepare(path)
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_full_filesystem_tmpfs(loaded_vm: Callable[..., QemuVM], tmp_path: Path) -> None:
    # 1 MiB of space for a 2.5 MB stream: dd hits ENOSPC half-way.
    with tmpfs(tmp_path / "small", "1m") as small:
        target = small / "vm.img"
        source = loaded_vm()
        with pytest.raises(SaveError) as caught:
            save(str(source.qmp_path), str(target))
        assert_failed_cleanly(caught.value, target, "write")
        assert "No space left on device" in str(caught.value)
        assert "is full" in str(caught.value)
        assert migration_status(source) == ("prelaunch", "failed")


def test_full_filesystem_tmpfs_compressed(loaded_vm: Callable[..., QemuVM],
                                          tmp_path: Path) -> None:
    # The compressor dies of the broken pipe too; the write stage is the cause.
    require_program("gzip")
    with tmpfs(tmp_path / "small", "1m") as small:
        target = small / "vm.img"
        source = loaded_vm()
        with pytest.raises(SaveError) as caught:
            save(str(source.qmp_path), str(target), compress="gzip")
        assert_failed_cleanly(caught.value, target, "write")


def test_file_size_limit_on_qemu(known_data: Path, tmp_path: Path) -> None:
    # Without root: RLIMIT_FSIZE on QEMU (inherited by dd) stands in for a full disk.
    qemu = require_program("qemu-system-x86_64", "qemu-system-x86")
    wrapper = tmp_path / "limited-qemu"
    wrapper.write_text(f"#!/bin/sh\nulimit -f 2048\nexec {qemu} \"$@\"\n")  # 1 MiB
    wrapper.chmod(0o755)
    source = start_qemu("-device", f"loader,file={known_data},addr=0x1000000,force-raw=on",
                        program=str(wrapper))
    try:
        target = tmp_path / "vm.img"
        with pytest.raises(SaveError) as caught:
            save(str(source.qmp_path), str(target))
        assert_failed_cleanly(caught.value, target, "write")
    finally:
        source.stop()


def _script(tmp_path: Path, name: str, body: str) -> Compression:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return Compression.custom([str(path)])


def test_compressor_exits_non_zero_half_way(loaded_vm: Callable[..., QemuVM],
                                            tmp_path: Path) -> None:
    comp = _script(tmp_path, "halfway", 'head -c 1048576\necho "halfway: gave up" >&2\nexit 3\n')
    policy = policy_for(comp)  # the default policy plus this one program
    target = tmp_path / "vm.img"
    source = loaded_vm()
    with pytest.raises(SaveError) as caught:
        save(str(source.qmp_path), str(target), compress=comp, policy=policy)
    assert_failed_cleanly(caught.value, target, "compress")
    assert "halfway: gave up" in str(caught.value)
    assert migration_status(source)[0] == "prelaunch"


def test_compressor_exits_non_zero_after_reading_everything(
        loaded_vm: Callable[..., QemuVM], tmp_path: Path) -> None:
    # The nasty case: QEMU reports 'completed', only the stage status says otherwise.
    comp = _script(tmp_path, "lastword", 'cat\necho "lastword: exit 4" >&2\nexit 4\n')
    target = tmp_path / "vm.img"
    source = loaded_vm()
    with pytest.raises(SaveError) as caught:
        save(str(source.qmp_path), str(target), compress=comp, policy=policy_for(comp))
    assert_failed_cleanly(caught.value, target, "compress")
    assert "lastword: exit 4" in str(caught.value)
    assert "postmigrate" in str(caught.value)  # QEMU finished; the user is told the VM state
    assert migration_status(source) == ("postmigrate", "completed")


def test_failure_after_completed_resumes_a_running_vm(loaded_vm: Callable[..., QemuVM],
                                                      tmp_path: Path) -> None:
    comp = _script(tmp_path, "lastword", "cat\nexit 1\n")
    target = tmp_path / "vm.img"
    source = loaded_vm()
    with source.client() as qmp:
        qmp.execute("cont")
    with pytest.raises(SaveError) as caught:
        save(str(source.qmp_path), str(target), compress=comp, policy=policy_for(comp))
    assert_failed_cleanly(caught.value, target, "compress")
    assert "left no error text" in str(caught.value) and "resumed" in str(caught.value)
    assert migration_status(source)[0] == "running"


def test_qemu_killed_during_the_save(loaded_vm: Callable[..., QemuVM], tmp_path: Path) -> None:
    target = tmp_path / "vm.img"
    source = loaded_vm()
    # 1 MiB/s for a 2.5 MB stream: about 2.5 s; kill QEMU (only QEMU) after 0.8 s.
    killer = threading.Timer(0.8, os.kill, (source.pid, signal.SIGKILL))
    killer.start()
    try:
        with pytest.raises(SaveError) as caught:
            save(str(source.qmp_path), str(target), bandwidth=1 << 20, timeout=30)
    finally:
        killer.cancel()
    assert_failed_cleanly(caught.value, target, "qemu")
    assert "connection to QEMU was lost" in str(caught.value)


def test_timeout_cancels(loaded_vm: Callable[..., QemuVM], tmp_path: Path) -> None:
    target = tmp_path / "vm.img"
    source = loaded_vm()
    started = time.monotonic()
    with pytest.raises(SaveError) as caught:
        save(str(source.qmp_path), str(target), bandwidth=1 << 20, timeout=0.7)
    assert time.monotonic() - started < 10
    assert_failed_cleanly(caught.value, target, "qemu")
    assert "timed out" in str(caught.value)
    assert migration_status(source) == ("prelaunch", "cancelled")


def _old_image(directory: Path) -> None:
    (directory / "vm.img").write_bytes(b"an older image")


def test_read_only_directory(loaded_vm: Callable[..., QemuVM], tmp_path: Path) -> None:
    # As root, directory permissions do not stop writes; a read-only tmpfs does.
    if IS_ROOT:
        context: contextlib.AbstractContextManager[Path] = tmpfs(
            tmp_path / "ro", "1m", read_only=True, prepare=_old_image)
    else:
        directory = tmp_path / "ro"
        directory.mkdir()
        _old_image(directory)
        directory.chmod(stat.S_IRUSR | stat.S_IXUSR)
        context = contextlib.nullcontext(directory)
    with context as directory:
        target = directory / "vm.img"
        source = loaded_vm()
        with pytest.raises(SaveError) as caught:
            save(str(source.qmp_path), str(target))
        assert caught.value.stage == "target"
        assert "not writable" in str(caught.value)
        if IS_ROOT:
            assert "read-only file system" in str(caught.value)
        assert caught.value.header is None
        assert target.read_bytes() == b"an older image"
        assert migration_status(source) == ("prelaunch", "none")  # QEMU was never asked
        if not IS_ROOT:
            directory.chmod(0o755)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=["ctrl-c", "sigterm", "sighup"])
def test_interrupt_cancels(signum: int, loaded_vm: Callable[..., QemuVM],
                           tmp_path: Path) -> None:
    target = tmp_path / "vm.img"
    source = loaded_vm()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [sys.executable, "-m", "qmonexec", "save", "--qmp", str(source.qmp_path), str(target),
         "--bandwidth", "1M"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        # QMP serves one client at a time, so watch the file: the stream has begun
        # once it grows past the header (64 KiB: qmonexec.save.image.STREAM_ALIGNMENT).
        deadline = time.monotonic() + 20
        while not (target.exists() and target.stat().st_size > STREAM_ALIGNMENT + 4096):
            assert time.monotonic() < deadline and process.poll() is None, process.communicate()
            time.sleep(0.05)
        process.send_signal(signum)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, (out, err)
    assert "interrupted" in err and "cancelled" in err and "incomplete" in err
    assert out == ""
    assert migration_status(source) == ("prelaunch", "cancelled")
    with pytest.raises(IncompleteImageError):
        read_header(target)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".qmonexec")]

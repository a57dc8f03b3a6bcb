"""Errors named for the user: bad targets, missing programs, bad images, QEMU in the wrong state."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from qmonexec.errors import InputError
from qmonexec.save import RestoreError, SaveError, VMStateError, restore, save
from qmonexec.save.image import (
    ForeignFormatError,
    ImageError,
    IncompleteImageError,
    TruncatedImageError,
    UnsupportedVersionError,
    read_header,
)
from qmonexec.spec import Compression
from tests.helpers.qemu import QemuVM, start_qemu
from tests.helpers.support import missing, require_program

pytestmark = pytest.mark.system


def untouched(vm: QemuVM) -> bool:
    with vm.client() as qmp:
        return bool(qmp.query_migrate().status == "none")


@pytest.fixture
def saved(loaded_vm: Callable[..., QemuVM], tmp_path: Path) -> tuple[Path, QemuVM]:
    """An image saved from a fresh VM (raw), and that VM (now in postmigrate)."""
    source = loaded_vm()
    target = tmp_path / "good.img"
    save(str(source.qmp_path), str(target))
    return target, source


# ------------------------------------------------------------------ save: bad input

def test_target_must_be_absolute(qemu: QemuVM) -> None:
    with pytest.raises(InputError, match="not an absolute path"):
        save(str(qemu.qmp_path), "relative.img")
    assert untouched(qemu)


def test_target_directory_must_exist(qemu: QemuVM, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        save(str(qemu.qmp_path), str(tmp_path / "no" / "such.img"))


def test_target_is_a_directory(qemu: QemuVM, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory"):
        save(str(qemu.qmp_path), str(tmp_path))


def test_target_is_the_qmp_socket(qemu: QemuVM) -> None:
    with pytest.raises(InputError, match="is the QMP socket"):
        save(str(qemu.qmp_path), str(qemu.qmp_path))
    assert qemu.qmp_path.exists() and untouched(qemu)


def test_missing_compressor(qemu: QemuVM, tmp_path: Path) -> None:
    target = tmp_path / "vm.img"
    with pytest.raises(InputError, match="does not exist or is not executable"):
        save(str(qemu.qmp_path), str(target),
             compress=Compression.custom(["/nonexistent/squeeze"]))
    assert not target.exists() and untouched(qemu)


def test_missing_compressor_on_path(qemu: QemuVM, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing in it
    with pytest.raises(InputError, match=r"'zstd' is not installed.*zstd"):
        save(str(qemu.qmp_path), str(tmp_path / "vm.img"), compress="zstd")


def test_unknown_compression(qemu: QemuVM, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown compression format"):
        save(str(qemu.qmp_path), str(tmp_path / "vm.img"), compress="brotli")


def test_save_of_an_already_migrated_vm(saved: tuple[Path, QemuVM], tmp_path: Path) -> None:
    _, source = saved
    with pytest.raises(VMStateError, match=r"already migrated.*postmigrate"):
        save(str(source.qmp_path), str(tmp_path / "again.img"))
    assert not (tmp_path / "again.img").exists()


def test_save_of_a_qemu_waiting_for_incoming(loaded_vm: Callable[..., QemuVM],
                                             tmp_path: Path) -> None:
    vm = loaded_vm("-incoming", "defer")
    with pytest.raises(VMStateError, match="waiting for an incoming migration"):
        save(str(vm.qmp_path), str(tmp_path / "vm.img"))


def test_qemu_as_another_user_cannot_open_the_target(tmp_path: Path) -> None:
    # QEMU (as nobody) cannot open the root-owned target or status directory:
    # the pipeline's redirections fail, no stage runs, none records a status.
    if os.geteuid() != 0:
        missing("running QEMU as another user needs root")
    qemu = require_program("qemu-system-x86_64", "qemu-system-x86")
    setpriv = require_program("setpriv", "util-linux")
    workdir = Path(tempfile.mkdtemp(prefix="qmx-nobody-", dir="/tmp"))
    try:
        workdir.chmod(0o777)  # nobody creates its QMP socket here
        wrapper = workdir / "qemu-as-nobody"
        wrapper.write_text(f"#!/bin/sh\nexec {setpriv} --reuid=65534 --regid=65534 "
                           f"--clear-groups {qemu} \"$@\"\n")
        wrapper.chmod(0o755)
        vm = start_qemu(program=str(wrapper), workdir=workdir)
        try:
            target = tmp_path / "vm.img"
            with pytest.raises(SaveError) as caught:
                save(str(vm.qmp_path), str(target), transport="exec")
            assert caught.value.stage == "write"
            assert "never recorded an exit status" in str(caught.value)
            assert caught.value.header is not None
            # Handed the open file, QEMU needs no permission of its own on the target.
            result = save(str(vm.qmp_path), str(target), transport="fd")
            assert result.header is not None and read_header(target).complete
        finally:
            vm.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# ------------------------------------------------------------------ restore: bad images

def test_restore_refuses_an_incomplete_image(saved: tuple[Path, QemuVM],
                                             loaded_vm: Callable[..., QemuVM]) -> None:
    target, _ = saved
    data = bytearray(target.read_bytes())
    data[8:16] = b"PARTIAL\0"
    target.write_bytes(bytes(data))
    destination = loaded_vm("-incoming", "defer")
    with pytest.raises(IncompleteImageError, match="incomplete save"):
        restore(str(destination.qmp_path), str(target))
    # Even with an explicit offset, a partial qmonexec header is refused.
    with pytest.raises(IncompleteImageError):
        restore(str(destination.qmp_path), str(target), offset=4096)
    assert untouched(destination)


def test_restore_detects_truncation_before_asking_qemu(
        saved: tuple[Path, QemuVM], loaded_vm: Callable[..., QemuVM]) -> None:
    target, _ = saved
    os.truncate(target, target.stat().st_size - 1)
    destination = loaded_vm("-incoming", "defer")
    with pytest.raises(TruncatedImageError, match="truncated"):
        restore(str(destination.qmp_path), str(target))
    os.truncate(target, 100)
    with pytest.raises(TruncatedImageError):
        restore(str(destination.qmp_path), str(target))
    assert untouched(destination)


def test_restore_of_a_truncated_raw_image_fails_in_qemu(
        qemu_version: str, saved: tuple[Path, QemuVM], loaded_vm: Callable[..., QemuVM],
        tmp_path: Path) -> None:
    # Without our header nothing records the length: QEMU finds out, and exits (7.2) or
    # reports the failure and keeps running (9.1+, asked with exit-on-error off).
    target, _ = saved
    raw = tmp_path / "raw.img"
    raw.write_bytes(target.read_bytes()[4096:-100000])
    destination = loaded_vm("-incoming", "defer")
    with pytest.raises(RestoreError) as caught:
        restore(str(destination.qmp_path), str(raw), offset=0)
    assert caught.value.stage == "qemu"
    if qemu_version == "7.2":
        assert destination.wait_exit(10) != 0
        return
    with destination.client() as qmp:
        migration = qmp.query_migrate()
    assert migration.status == "failed" and caught.value.error_desc == migration.error_desc
    assert destination.process.poll() is None


def test_restore_of_another_format(loaded_vm: Callable[..., QemuVM], tmp_path: Path) -> None:
    other = tmp_path / "libvirt.img"
    other.write_bytes(b"LibvirtQemudSave" + bytes(8000))
    destination = loaded_vm("-incoming", "defer")
    with pytest.raises(ForeignFormatError, match="libvirt save image"):
        restore(str(destination.qmp_path), str(other))


def test_restore_of_another_version(saved: tuple[Path, QemuVM],
                                    loaded_vm: Callable[..., QemuVM]) -> None:
    target, _ = saved
    data = bytearray(target.read_bytes())
    data[16:20] = (9).to_bytes(4, "big")
    target.write_bytes(bytes(data))
    destination = loaded_vm("-incoming", "defer")
    with pytest.raises(UnsupportedVersionError, match="version 9"):
        restore(str(destination.qmp_path), str(target))


def test_restore_of_an_unreadable_source(loaded_vm: Callable[..., QemuVM],
                                         tmp_path: Path) -> None:
    destination = loaded_vm("-incoming", "defer")
    with pytest.raises(ImageError, match=r"cannot read the image.*No such file"):
        restore(str(destination.qmp_path), str(tmp_path / "missing.img"))
    assert untouched(destination)


def test_restore_needs_incoming_defer(saved: tuple[Path, QemuVM],
                                      loaded_vm: Callable[..., QemuVM]) -> None:
    target, _ = saved
    plain = loaded_vm()
    with pytest.raises(VMStateError, match=r"not started with -incoming defer.*prelaunch"):
        restore(str(plain.qmp_path), str(target))


def test_restore_into_an_already_migrated_vm(saved: tuple[Path, QemuVM]) -> None:
    target, source = saved  # the source is in postmigrate now
    with pytest.raises(VMStateError, match="already migrated"):
        restore(str(source.qmp_path), str(target))


def test_restore_twice_into_one_qemu(saved: tuple[Path, QemuVM],
                                     loaded_vm: Callable[..., QemuVM]) -> None:
    target, _ = saved
    destination = loaded_vm("-incoming", "defer")
    restore(str(destination.qmp_path), str(target), then="pause")
    with pytest.raises(VMStateError, match="not started with -incoming defer"):
        restore(str(destination.qmp_path), str(target))


def test_restore_with_a_custom_compressor_needs_it_named(
        loaded_vm: Callable[..., QemuVM], tmp_path: Path) -> None:
    require_program("gzip")
    wrapper = tmp_path / "mygzip"
    wrapper.write_text('#!/bin/sh\nexec gzip "$@"\n')
    wrapper.chmod(0o755)
    comp = Compression.custom([str(wrapper), "-c"], [str(wrapper), "-dc"])
    source = loaded_vm()
    target = tmp_path / "custom.img"
    save(str(source.qmp_path), str(target), compress=comp)
    destination = loaded_vm("-incoming", "defer")
    with pytest.raises(InputError, match="never runs a program named by a file"):
        restore(str(destination.qmp_path), str(target))
    restore(str(destination.qmp_path), str(target), decompress=comp, then="pause")


@pytest.fixture
def damaged_gzip(loaded_vm: Callable[..., QemuVM], tmp_path: Path) -> Path:
    """A gzip image whose stream starts with bytes gzip refuses: it fails before writing a
    byte, and QEMU, given an empty stream, would wait for it forever."""
    source = loaded_vm()
    target = tmp_path / "vm.img"
    save(str(source.qmp_path), str(target), compress="gzip")
    with open(target, "r+b") as handle:
        handle.seek(read_header(target).offset)
        handle.write(b"not gzip")
    return target


def test_a_failed_decompressor_on_the_fd_transport_ends_the_restore_with_its_words(
        damaged_gzip: Path, loaded_vm: Callable[..., QemuVM]) -> None:
    destination = loaded_vm("-incoming", "defer")
    with pytest.raises(RestoreError, match="not in gzip format") as caught:
        restore(str(destination.qmp_path), str(damaged_gzip), transport="fd")
    assert caught.value.stage == "decompress"
    assert "start a new one with -incoming defer" in str(caught.value)


def test_an_exec_pipeline_that_ends_before_the_first_byte_ends_the_restore(
        damaged_gzip: Path, loaded_vm: Callable[..., QemuVM]) -> None:
    destination = loaded_vm("-incoming", "defer")
    with pytest.raises(RestoreError, match="exited before QEMU received a byte") as caught:
        restore(str(destination.qmp_path), str(damaged_gzip), transport="exec", timeout=60)
    assert caught.value.stage == "pipeline"
    assert "start a new one with -incoming defer" in str(caught.value)

"""Real QEMU: a save replaces its target only once proven, and two saves never overlap.

A failed save (full disk) over a good image leaves that image byte for byte
as it was, and it still restores; a second save of the same VM, or into the
same target, fails at once naming the save that holds it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from qmonexec.save import SaveError, restore, save
from qmonexec.save.image import read_header
from tests.helpers.qemu import QemuVM
from tests.helpers.support import ROOT
from tests.save.test_faults import tmpfs
from tests.save.test_roundtrip import dump

pytestmark = pytest.mark.system


def test_a_failed_save_leaves_the_older_image_intact_and_restorable(
        loaded_vm: Callable[..., QemuVM], tmp_path: Path) -> None:
    first = tmp_path / "first.img"
    source = loaded_vm()
    before = dump(source, tmp_path / "source.ram")  # what the good image holds
    save(str(source.qmp_path), str(first), then="resume")
    with source.client() as qmp:
        qmp.execute("stop")
    # Room for the good image and half of a second one.
    with tmpfs(tmp_path / "small", f"{first.stat().st_size * 3 // 2 // 4096 * 4}k") as small:
        target = small / "vm.img"
        shutil.copyfile(first, target)
        older = target.read_bytes()
        with pytest.raises(SaveError) as caught:
            save(str(source.qmp_path), str(target))
        assert caught.value.stage == "write" and "No space left" in str(caught.value)
        assert target.read_bytes() == older
        assert os.listdir(small) == ["vm.img"]
        destination = loaded_vm("-incoming", "defer")
        restore(str(destination.qmp_path), str(target))
        assert dump(destination, tmp_path / "destination.ram") == before


def test_a_successful_save_keeps_the_mode_of_the_file_it_replaces(
        loaded_vm: Callable[..., QemuVM], tmp_path: Path) -> None:
    target = tmp_path / "vm.img"
    target.write_bytes(b"an older image")
    target.chmod(0o640)
    source = loaded_vm()
    save(str(source.qmp_path), str(target))
    assert read_header(target).complete and target.stat().st_mode & 0o777 == 0o640


@pytest.fixture
def first_save(loaded_vm: Callable[..., QemuVM],
               tmp_path: Path) -> Iterator[tuple[QemuVM, Path, subprocess.Popen[str]]]:
    """A slow ``qmonexec save`` in another process, once its stream has begun."""
    source = loaded_vm()
    target = tmp_path / "first.img"
    process = subprocess.Popen(
        [sys.executable, "-m", "qmonexec", "save", "--qmp", str(source.qmp_path), str(target),
         "--bandwidth", "256K"], env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not any(p.name.startswith(".qmonexec-partial-") for p in tmp_path.iterdir()):
            assert time.monotonic() < deadline and process.poll() is None, process.communicate()
            time.sleep(0.05)
        yield source, target, process
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


def test_a_second_save_of_the_same_vm_fails_at_once_naming_the_first(
        first_save: tuple[QemuVM, Path, subprocess.Popen[str]], tmp_path: Path) -> None:
    source, first_target, process = first_save
    with pytest.raises(SaveError) as caught:
        save(str(source.qmp_path), str(tmp_path / "second.img"))
    message = str(caught.value)
    assert caught.value.stage == "lock" and "this VM" in message
    assert f"PID {process.pid}" in message and str(first_target) in message
    assert not (tmp_path / "second.img").exists()


def test_a_second_save_into_the_same_target_fails_at_once(
        first_save: tuple[QemuVM, Path, subprocess.Popen[str]],
        loaded_vm: Callable[..., QemuVM]) -> None:
    _, first_target, process = first_save
    other = loaded_vm()
    with pytest.raises(SaveError) as caught:
        save(str(other.qmp_path), str(first_target))
    assert caught.value.stage == "lock" and "this target" in str(caught.value)
    assert f"PID {process.pid}" in str(caught.value)
    with other.client() as qmp:
        assert qmp.query_migrate().status == "none"

"""Real QEMU: save and restore round trips, byte-identical guest RAM, hostile target names."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from qmonexec.quoting import quote_word
from qmonexec.save import Progress, restore, save
from qmonexec.save.image import encode_header, read_header
from qmonexec.spec import compression
from tests.helpers.qemu import QemuVM
from tests.helpers.qemu_fixtures import KNOWN_ADDR, KNOWN_SIZE
from tests.helpers.support import require_program

pytestmark = pytest.mark.system

RAM = 64 << 20
PACKAGES = {"gzip": "gzip", "zstd": "zstd", "xz": "xz-utils", "bzip2": "bzip2", "lzop": "lzop"}


def dump(vm: QemuVM, path: Path) -> bytes:
    """All guest RAM, via QMP pmemsave."""
    with vm.client() as qmp:
        qmp.execute("pmemsave", {"val": 0, "size": RAM, "filename": str(path)})
    data = path.read_bytes()
    assert len(data) == RAM
    return data


def needs(compress: str | None) -> None:
    require_program("dd", "coreutils")
    if compress not in (None, "raw"):
        require_program(compress, PACKAGES[compress])


def start_running(vm: QemuVM) -> None:
    with vm.client() as qmp:
        qmp.execute("cont")
        assert qmp.execute("query-status")["status"] == "running"
    time.sleep(0.3)  # let the firmware run and dirty some memory


@pytest.mark.parametrize("running", [False, True], ids=["paused", "running"])
@pytest.mark.parametrize("compress", ["raw", "gzip", "zstd", "xz"])
def test_round_trip(compress: str, running: bool, loaded_vm: Callable[..., QemuVM],
                    known_data: Path, tmp_path: Path) -> None:
    needs(compress)
    source = loaded_vm()
    if running:
        start_running(source)
    target = tmp_path / f"vm-{compress}.img"
    reports: list[Progress] = []
    result = save(str(source.qmp_path), str(target), compress=compress,
                  metadata={"test": "round trip", "n": 1}, progress=reports.append)
    assert result.verified and result.vm_status == "postmigrate"
    assert result.header is not None and result.header.complete
    assert target.stat().st_size == result.file_size == result.offset + result.stream_length
    assert reports and {p.phase for p in reports} <= {"migrate", "flush"}
    last = [p for p in reports if p.phase == "migrate"][-1]
    assert last.status == "completed" and last.total and last.done == last.total >= RAM
    header = read_header(target)
    assert header == result.header
    assert header.compression == compress and header.qemu_version
    assert header.metadata == {"test": "round trip", "n": 1}
    assert header.stream_length == result.stream_length and header.verified is True
    assert target.read_bytes()[: header.offset] == encode_header(header)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".qmonexec")]
    before = dump(source, tmp_path / "source.ram")

    destination = loaded_vm("-incoming", "defer")
    restored = restore(str(destination.qmp_path), str(target), then="pause")
    assert restored.compression == compress and restored.offset == header.offset
    assert restored.vm_status in ("paused", "prelaunch")
    after = dump(destination, tmp_path / "destination.ram")
    assert after == before
    assert after[KNOWN_ADDR: KNOWN_ADDR + KNOWN_SIZE] == known_data.read_bytes()


HOSTILE: dict[str, str | bytes] = {
    "space": "guest image.img",
    "single-quote": "it's.img",
    "double-quote": 'say "hi".img',
    "dollar-paren": "$(touch PWNED).img",
    "backquote": "`touch PWNED`.img",
    "operators": "a;b|c&d>e<f.img",
    "backslash": "back\\slash\\'.img",
    "glob-braces": "what?[ab]{c,d}*.img",
    "leading-dash": "-rf.img",
    "equals": "=ls.img",
    # The validator refuses these inside a command: QEMU gets a plain symlink.
    "newline": "line\nbreak.img",
    "tab": "tab\there.img",
    "utf8": "naïve-日本-🎉.img",
    "non-utf8": b"latin1-caf\xe9-\xff.img",
}


@pytest.mark.parametrize("name", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_target_names(name: str | bytes, loaded_vm: Callable[..., QemuVM],
                              tmp_path: Path) -> None:
    needs("gzip")
    base = tmp_path / "dir with 'quotes' and $(x)"
    base.mkdir()
    target = os.path.join(os.fsencode(base), os.fsencode(name))
    path: str | bytes = target if isinstance(name, bytes) else os.fsdecode(target)
    source = loaded_vm()
    result = save(str(source.qmp_path), path, compress="gzip")
    assert result.verified
    plain = all(0x20 <= b < 0x7F for b in os.fsencode(name))
    assert result.via_symlink is not plain
    if plain:
        assert quote_word(path) in result.uri  # the name itself went through the shell
    # No PWNED, no stray status directory, the exact bytes of the name.
    assert os.listdir(os.fsencode(base)) == [os.fsencode(name)]
    before = dump(source, tmp_path / "source.ram")
    destination = loaded_vm("-incoming", "defer")
    restored = restore(str(destination.qmp_path), path, then="pause")
    assert restored.via_symlink is not plain
    assert dump(destination, tmp_path / "destination.ram") == before
    assert os.listdir(os.fsencode(base)) == [os.fsencode(name)]
    for vm in (source, destination):
        assert not (vm.workdir / "PWNED").exists()


def test_save_over_a_longer_image_leaves_no_stale_bytes(loaded_vm: Callable[..., QemuVM],
                                                        tmp_path: Path) -> None:
    needs("raw")
    target = tmp_path / "reused.img"
    target.write_bytes(b"\xab" * (16 << 20))  # an older, longer image
    source = loaded_vm()
    result = save(str(source.qmp_path), str(target), compress="zstd")
    size = target.stat().st_size
    assert size == result.file_size < 16 << 20
    assert b"\xab" * 64 not in target.read_bytes()[-(1 << 20):]
    destination = loaded_vm("-incoming", "defer")
    restore(str(destination.qmp_path), str(target), then="pause")


def test_raw_header_mode(loaded_vm: Callable[..., QemuVM], tmp_path: Path) -> None:
    needs("gzip")
    target = tmp_path / "own-header.img"
    own = b"MY OWN HEADER v7\n" * 300  # 5100 bytes -> padded to 8192
    source = loaded_vm()
    result = save(str(source.qmp_path), str(target), compress="gzip", header_bytes=own)
    assert result.header is None and result.offset == 8192 and result.verified
    data = target.read_bytes()
    assert data[:8192] == own + bytes(8192 - len(own))
    before = dump(source, tmp_path / "source.ram")
    destination = loaded_vm("-incoming", "defer")
    restored = restore(str(destination.qmp_path), str(target), offset=8192,
                       decompress=compression("gzip"), then="pause")
    assert restored.header is None
    assert dump(destination, tmp_path / "destination.ram") == before


def test_libvirt_profile_is_marked_unverified(loaded_vm: Callable[..., QemuVM],
                                              tmp_path: Path) -> None:
    needs("gzip")
    target = tmp_path / "libvirt.img"
    source = loaded_vm()
    result = save(str(source.qmp_path), str(target), compress="gzip", profile_name="libvirt")
    assert not result.verified
    header = read_header(target)
    assert header.complete and header.verified is False and header.profile == "libvirt"
    destination = loaded_vm("-incoming", "defer")
    restore(str(destination.qmp_path), str(target), then="pause")


def test_then_resume_and_quit(loaded_vm: Callable[..., QemuVM], tmp_path: Path) -> None:
    needs("raw")
    source = loaded_vm()
    result = save(str(source.qmp_path), str(tmp_path / "a.img"), then="resume")
    assert result.vm_status == "running"
    # Running again, so it can be saved again; then QEMU quits.
    result = save(str(source.qmp_path), str(tmp_path / "b.img"), then="quit")
    assert result.vm_status == "quit"
    assert source.wait_exit(10) == 0
    assert read_header(tmp_path / "b.img").complete


def test_bandwidth_is_put_back(loaded_vm: Callable[..., QemuVM], tmp_path: Path) -> None:
    needs("raw")
    source = loaded_vm()
    with source.client() as qmp:
        qmp.set_parameters({"max-bandwidth": 12345678})
        save(qmp, str(tmp_path / "bw.img"), bandwidth=1 << 40)
        assert qmp.get_parameters()["max-bandwidth"] == 12345678

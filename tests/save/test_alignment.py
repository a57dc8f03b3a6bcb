"""The stream offset is aligned to 64 KiB so restore reads big blocks; older images still work.

Also: the ``events`` migration capability that save/restore switch on to wake up at the end
of a migration is put back as it was.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from qmonexec.errors import InputError
from qmonexec.save import restore, save
from qmonexec.save.image import STREAM_ALIGNMENT, encode_header, new_header, read_header
from qmonexec.spec import PROFILES
from tests.helpers.qemu import QemuVM
from tests.helpers.qemu_fixtures import KNOWN_ADDR
from tests.helpers.support import require_program

pytestmark = pytest.mark.system


def test_new_header_rounds_the_offset_up_to_the_alignment() -> None:
    header = new_header(alignment=STREAM_ALIGNMENT)
    assert header.offset == STREAM_ALIGNMENT == 65536 and header.block_size == 4096
    assert len(encode_header(header)) == header.offset
    assert new_header().offset == 4096  # without alignment: the block size, as before
    assert new_header(block_size=1 << 20, alignment=STREAM_ALIGNMENT).offset == 1 << 20
    for bad in (0, 3, 65535, 1 << 31):
        with pytest.raises(InputError):
            new_header(alignment=bad)


@pytest.mark.parametrize(("offset", "block"), [
    (0, 65536), (512, 512), (4096, 4096), (8192, 8192), (65536, 65536), (3 * 65536, 65536),
    (1 << 20, 65536), (4096 + 65536, 4096)])
def test_restore_block_size_is_the_largest_divisor_up_to_64k(offset: int, block: int) -> None:
    assert PROFILES["default"].restore_block_size(offset) == block


def _capability(vm: QemuVM, name: str) -> bool:
    with vm.client() as qmp:
        return bool(qmp.get_capabilities()[name])


def _known_bytes_restored(vm: QemuVM, known_data: Path, tmp_path: Path) -> bool:
    dump = tmp_path / "known.dump"
    size = known_data.stat().st_size
    with vm.client() as qmp:
        qmp.execute("pmemsave", {"val": KNOWN_ADDR, "size": size, "filename": str(dump)})
    return dump.read_bytes() == known_data.read_bytes()


def test_aligned_save_restores_in_64k_blocks(loaded_vm: Callable[..., QemuVM],
                                             qemu_factory: Callable[..., QemuVM],
                                             known_data: Path, tmp_path: Path) -> None:
    require_program("dd", "coreutils")
    source = loaded_vm()
    target = tmp_path / "vm.img"
    result = save(str(source.qmp_path), str(target))
    assert result.offset == 65536 and result.header is not None
    assert result.header.block_size == 4096
    assert "dd bs=4096 seek=16 if=/dev/null" in result.uri
    assert not _capability(source, "events")  # switched on for the save, then off again

    # No loader on the destination: the known bytes can only come from the stream.
    destination = qemu_factory("-incoming", "defer")
    restored = restore(str(destination.qmp_path), str(target), then="pause")
    assert restored.uri == f"exec:dd if={target} bs=65536 skip=1"
    assert not _capability(destination, "events")
    assert _known_bytes_restored(destination, known_data, tmp_path)


def test_image_with_a_4096_byte_offset_still_restores(loaded_vm: Callable[..., QemuVM],
                                                      qemu_factory: Callable[..., QemuVM],
                                                      known_data: Path, tmp_path: Path) -> None:
    """An image as qmonexec wrote it before the alignment: header and stream at byte 4096."""
    require_program("dd", "coreutils")
    source = loaded_vm()
    with source.client() as qmp:
        qmp.set_capabilities({"events": True})
    aligned = tmp_path / "aligned.img"
    result = save(str(source.qmp_path), str(aligned))
    assert _capability(source, "events")  # the user's setting is kept
    header = read_header(aligned)
    old = dataclasses.replace(header, offset=4096)
    target = tmp_path / "old.img"
    target.write_bytes(encode_header(old) + aligned.read_bytes()[result.offset:])
    assert read_header(target).offset == 4096

    destination = qemu_factory("-incoming", "defer")
    restored = restore(str(destination.qmp_path), str(target), then="pause")
    assert restored.offset == 4096 and restored.uri == f"exec:dd if={target} bs=4096 skip=1"
    assert _known_bytes_restored(destination, known_data, tmp_path)

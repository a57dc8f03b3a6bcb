"""libvirt save images, built byte for byte from libvirt's layout with a real QEMU stream behind.

``inspect`` reads the header and the domain XML; ``restore`` loads raw and
gzip images with RAM identical; unfinished (``LibvirtQemudPart``) and
``sparse`` images are refused with the reason.
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from qmonexec.save import RestoreError, restore, save
from qmonexec.save.destination import MismatchError
from qmonexec.save.image import ImageError, IncompleteImageError, read_header
from qmonexec.save.libvirt_image import FORMATS, read_libvirt
from tests.helpers.cli import cli
from tests.helpers.qemu import QemuVM
from tests.save.test_roundtrip import dump
from tests.save.test_source import versioned_pc

XML = ("<domain type='qemu'><name>web1</name><memory unit='KiB'>65536</memory>"
       "<os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type></os></domain>")


def xml_of(source: QemuVM) -> str:
    """The domain XML of a 64 MiB guest with ``source``'s machine type (its ``pc``)."""
    return XML.replace("pc-i440fx-7.2", versioned_pc(source))


def libvirt_image(stream: bytes, *, fmt: str = "raw", was_running: bool = False,
                  magic: bytes = b"LibvirtQemudSave", xml: str = XML) -> bytes:
    """magic[16], version, data_len, was_running, format, cookieOffset, unused[14] (host
    order, 92 bytes), the XML with its NUL, then the stream: an offset no block size divides."""
    data = xml.encode() + b"\0"
    number = {name: n for n, name in FORMATS.items()}[fmt]
    head = struct.pack("=16sIIIII14I", magic, 2, len(data), int(was_running), number, 0,
                       *[0] * 14)
    assert len(head) == 92
    return head + data + stream


def test_inspect_reads_the_header_and_the_domain_xml(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "web1.save"
    path.write_bytes(libvirt_image(b"QEVM" + bytes(100), fmt="zstd", was_running=True))
    image = read_libvirt(str(path))
    assert (image.name, image.memory, image.machine) == ("web1", 64 << 20, "pc-i440fx-7.2")
    assert image.format == "zstd" and image.was_running and image.complete
    assert image.stream_offset == 92 + len(XML) + 1
    status, out, _ = cli(capsys, "inspect", str(path))
    assert status == 0
    assert "name           web1" in out and "machine        pc-i440fx-7.2" in out
    assert "compression    zstd" in out and f"stream_offset  {image.stream_offset}" in out


def test_an_unfinished_libvirt_image_is_refused(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "web1.save"
    path.write_bytes(libvirt_image(b"QEVM" + bytes(100), magic=b"LibvirtQemudPart"))
    status, out, _ = cli(capsys, "inspect", str(path))
    assert status == 1 and "partial" in out
    with pytest.raises(IncompleteImageError, match="LibvirtQemudPart"):
        restore(str(tmp_path / "no.sock"), str(path))


def test_a_sparse_libvirt_image_is_refused_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "web1.save"
    path.write_bytes(libvirt_image(b"QEVM" + bytes(100), fmt="sparse"))
    with pytest.raises(ImageError, match="mapped-ram"):
        restore(str(tmp_path / "no.sock"), str(path))


@pytest.mark.system
@pytest.mark.parametrize("fmt", ["raw", "gzip"])
def test_a_libvirt_image_restores_with_ram_identical(fmt: str, loaded_vm: Callable[..., QemuVM],
                                                     tmp_path: Path) -> None:
    source = loaded_vm()
    saved = tmp_path / "vm.img"
    save(str(source.qmp_path), str(saved))
    before = dump(source, tmp_path / "source.ram")
    stream = saved.read_bytes()[read_header(saved).offset:]
    if fmt == "gzip":
        stream = gzip.compress(stream)
    path = tmp_path / "web1.save"
    path.write_bytes(libvirt_image(stream, fmt=fmt, xml=xml_of(source)))
    destination = loaded_vm("-incoming", "defer")
    result = restore(str(destination.qmp_path), str(path))
    assert result.compression == fmt and result.offset % 512 != 0
    assert result.vm_status != "running"  # was_running 0: stays paused
    assert dump(destination, tmp_path / "destination.ram") == before


@pytest.mark.system
def test_a_libvirt_image_for_another_ram_size_is_refused(loaded_vm: Callable[..., QemuVM],
                                                         tmp_path: Path) -> None:
    path = tmp_path / "web1.save"
    path.write_bytes(libvirt_image(b"QEVM" + bytes(100)))
    destination = loaded_vm("-m", "128", "-incoming", "defer")
    with pytest.raises(MismatchError, match="RAM size"):
        restore(str(destination.qmp_path), str(path))


@pytest.mark.system
def test_a_libvirt_image_of_a_running_domain_comes_back_running(
        loaded_vm: Callable[..., QemuVM], tmp_path: Path) -> None:
    source = loaded_vm()
    saved = tmp_path / "vm.img"
    save(str(source.qmp_path), str(saved))
    path = tmp_path / "web1.save"
    path.write_bytes(libvirt_image(saved.read_bytes()[read_header(saved).offset:],
                                   was_running=True, xml=xml_of(source)))
    destination = loaded_vm("-incoming", "defer")
    assert restore(str(destination.qmp_path), str(path)).vm_status == "running"


@pytest.mark.system
def test_a_libvirt_image_whose_decompressor_fails_says_so(loaded_vm: Callable[..., QemuVM],
                                                          tmp_path: Path) -> None:
    source = loaded_vm()
    path = tmp_path / "web1.save"
    path.write_bytes(libvirt_image(b"not gzip at all" * 100, fmt="gzip", xml=xml_of(source)))
    destination = loaded_vm("-incoming", "defer")
    with pytest.raises(RestoreError, match="gzip -dc exited with status 1") as caught:
        restore(str(destination.qmp_path), str(path))
    assert "not in gzip format" in str(caught.value)

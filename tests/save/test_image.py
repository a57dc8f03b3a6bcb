"""The save image header, without QEMU: layout, round trip, and every parse error."""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import pytest

from qmonexec.errors import InputError
from qmonexec.save.image import (
    FORMAT_VERSION,
    MAGIC,
    PREFIX_SIZE,
    STATE_COMPLETE,
    STATE_PARTIAL,
    CorruptHeaderError,
    ForeignFormatError,
    ImageError,
    IncompleteImageError,
    TruncatedImageError,
    UnsupportedVersionError,
    check_stream,
    encode_header,
    finalize_header,
    new_header,
    parse_header,
    raw_header,
    read_header,
    write_header,
)


def test_layout_and_round_trip() -> None:
    header = new_header(compression="gzip", qemu_version="7.2.22", metadata={"vm": "web1"},
                        created="2024-01-02T03:04:05+00:00")
    assert header.offset == 4096 and header.block_size == 4096 and not header.complete
    data = encode_header(header)
    assert len(data) == 4096
    magic, state, version, length, crc, reserved = struct.unpack_from(">8s8sIIII", data)
    assert (magic, state, version, reserved) == (MAGIC, STATE_PARTIAL, FORMAT_VERSION, 0)
    body = data[PREFIX_SIZE:PREFIX_SIZE + length]
    assert zlib.crc32(body) == crc
    meta = json.loads(body)
    assert meta["offset"] == 4096 and meta["compression"] == "gzip"
    assert meta["metadata"] == {"vm": "web1"} and meta["qemu_version"] == "7.2.22"
    assert meta["stream_length"] is None
    assert set(data[PREFIX_SIZE + length:]) == {0}
    assert parse_header(data) == header


def test_offset_is_a_block_multiple_that_fits_the_final_metadata() -> None:
    big = {"k": "x" * 5000}
    header = new_header(block_size=512, metadata=big)
    assert header.offset % 512 == 0 and header.offset > 5000
    final = type(header)(**{**header.__dict__, "stream_length": (1 << 63) - 1,
                            "completed": "9999-12-31T23:59:59+00:00", "seconds": 1e300,
                            "verified": False, "complete": True})
    assert len(encode_header(final)) == header.offset


def test_finalize_rewrites_in_place(tmp_path: Path) -> None:
    path = tmp_path / "img"
    header = new_header(compression="zstd")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.write(fd, b"junk" * 5000)  # an older, longer file
        write_header(fd, header)
        assert os.fstat(fd).st_size == header.offset
        with pytest.raises(IncompleteImageError, match="incomplete save"):
            read_header(path)
        assert read_header(path, require_complete=False) == header
        os.pwrite(fd, b"S" * 100, header.offset)
        final = type(header)(**{**header.__dict__, "stream_length": 100, "verified": True,
                                "completed": "2024-01-02T03:04:05+00:00", "seconds": 1.5})
        done = finalize_header(fd, final)
    finally:
        os.close(fd)
    assert done.complete
    assert read_header(path) == done
    assert path.read_bytes()[8:16] == STATE_COMPLETE
    assert path.read_bytes()[header.offset:] == b"S" * 100


def test_raw_header_pads_to_a_block() -> None:
    assert raw_header(b"abc") == b"abc" + bytes(4093)
    assert raw_header(b"") == b""
    assert len(raw_header(b"x" * 4097, 512)) == 4608


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        (b"", TruncatedImageError, "too short"),
        (b"QMONE", TruncatedImageError, "too short"),
        (b"LibvirtQemudSave" + bytes(100), ForeignFormatError, "libvirt save image"),
        (b"QEVM\x00\x00\x00\x03", ForeignFormatError, "bare QEMU migration stream"),
        (b"\x1f\x8b\x08\x00", ForeignFormatError, "gzip"),
        (b"hello world, not ours", ForeignFormatError, "not a qmonexec image"),
        (MAGIC + STATE_PARTIAL + b"\0\0", TruncatedImageError, "inside the qmonexec header"),
    ],
)
def test_parse_errors(data: bytes, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        parse_header(data)


def test_errors_are_input_errors() -> None:
    for cls in (ForeignFormatError, UnsupportedVersionError, TruncatedImageError,
                IncompleteImageError, CorruptHeaderError):
        assert issubclass(cls, ImageError) and issubclass(cls, InputError)
    assert ImageError("x").exit_code == 2


def test_a_newer_version_is_refused() -> None:
    data = bytearray(encode_header(new_header()))
    data[16:20] = struct.pack(">I", 3)
    with pytest.raises(UnsupportedVersionError, match="version 3"):
        parse_header(bytes(data))


def test_new_headers_are_version_2_with_the_source_recorded() -> None:
    source = {"status": "paused", "running": False, "machine": "pc-i440fx-7.2",
              "ram_size": 64 << 20, "qemu_version": "7.2.22", "qemu_package": None,
              "argv": None}
    header = parse_header(encode_header(new_header(source=source)))
    assert FORMAT_VERSION == 2 and header.version == 2
    assert header.source == source


def test_a_version_1_header_is_still_read() -> None:
    # Version 1 had no "source" key; it reads as "not recorded".
    header = new_header()
    meta = {k: v for k, v in header.to_json().items() if k != "source"}
    body = json.dumps(meta).encode()
    data = struct.pack(">8s8sIIII", MAGIC, b"COMPLETE", 1, len(body), zlib.crc32(body), 0) + body
    parsed = parse_header(data)
    assert parsed.version == 1 and parsed.source is None and parsed.complete


def test_truncated_metadata_and_damage() -> None:
    data = encode_header(new_header(metadata={"a": 1}))
    length = struct.unpack_from(">I", data, 20)[0]
    with pytest.raises(TruncatedImageError, match="inside the header metadata"):
        parse_header(data[:PREFIX_SIZE + length - 1])
    damaged = bytearray(data)
    damaged[PREFIX_SIZE + 3] ^= 1
    with pytest.raises(CorruptHeaderError, match="checksum"):
        parse_header(bytes(damaged))
    weird = bytearray(data)
    weird[8:16] = b"SOMETHIN"
    with pytest.raises(CorruptHeaderError, match="state"):
        parse_header(bytes(weird))


def test_inconsistent_fields_are_corrupt() -> None:
    body = json.dumps({"offset": 100, "block_size": 4096, "compression": "raw",
                       "created": "x"}).encode()
    data = struct.pack(">8s8sIIII", MAGIC, STATE_COMPLETE, 1, len(body), zlib.crc32(body), 0)
    with pytest.raises(CorruptHeaderError, match="inconsistent"):
        parse_header(data + body)


def test_stream_length_checks() -> None:
    header = type(new_header())(offset=4096, stream_length=1000, complete=True)
    check_stream(header, 5096)
    with pytest.raises(TruncatedImageError, match="shorter than its header"):
        check_stream(header, 4000)
    with pytest.raises(TruncatedImageError, match="truncated: 5095 bytes"):
        check_stream(header, 5095)
    with pytest.raises(TruncatedImageError, match="longer than"):
        check_stream(header, 5097)


def test_truncated_file_detected_by_read_header(tmp_path: Path) -> None:
    path = tmp_path / "img"
    header = new_header()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        write_header(fd, header)
        os.pwrite(fd, b"x" * 50, header.offset)
        finalize_header(fd, type(header)(**{**header.__dict__, "stream_length": 100}))
    finally:
        os.close(fd)
    with pytest.raises(TruncatedImageError, match="truncated"):
        read_header(path)
    os.truncate(path, 1000)
    with pytest.raises(TruncatedImageError, match="shorter than its header"):
        read_header(path)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="cannot read"):
        read_header(tmp_path / "missing")


def test_user_metadata_must_be_an_object() -> None:
    with pytest.raises(InputError, match="JSON object"):
        new_header(metadata=[1, 2])  # type: ignore[arg-type]
    with pytest.raises(InputError, match="limit"):
        new_header(metadata={"x": "y" * 70000})


def test_transport_and_layout_round_trip_through_the_header() -> None:
    header = new_header(transport="file", layout={"mapped_ram": True, "channels": 2})
    parsed = parse_header(encode_header(header))
    assert parsed.transport == "file" and parsed.mapped_ram
    assert parsed.layout == {"mapped_ram": True, "channels": 2}


def test_a_header_without_transport_or_layout_reads_as_sequential() -> None:
    data = encode_header(new_header())
    assert b'"transport"' not in data and b'"layout"' not in data
    parsed = parse_header(data)
    assert parsed.transport is None and parsed.layout is None and not parsed.mapped_ram


@pytest.mark.parametrize("layout", [{"mapped_ram": "yes", "channels": 2},
                                    {"mapped_ram": True, "channels": 0},
                                    {"mapped_ram": True}])
def test_a_malformed_layout_is_refused(layout: dict[str, object]) -> None:
    from qmonexec.save.image import CorruptHeaderError

    with pytest.raises(CorruptHeaderError, match="layout"):
        parse_header(encode_header(new_header(layout=layout)))


def test_an_image_with_nothing_after_the_offset_is_refused_before_qemu_is_asked(
        tmp_path: Path) -> None:
    from qmonexec.save import restore

    path = tmp_path / "bare.img"
    path.write_bytes(bytes(4096))
    with pytest.raises(TruncatedImageError, match="nothing to load"):
        restore(str(tmp_path / "no-qemu.sock"), str(path), offset=4096)

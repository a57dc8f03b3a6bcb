"""``qmonexec uri restore --from-image`` renders exactly the string ``qmonexec restore`` sends.

The images are built with qmonexec's own header writer, as ``qmonexec save``
writes them (stream offset aligned to 64 KiB); ``restore`` runs against a
scripted fake QMP server that records the ``migrate-incoming`` it receives, so
no QEMU is needed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from qmonexec.save import restore

# The save workflow's header writer, imported in this one place.
from qmonexec.save.image import (
    STREAM_ALIGNMENT,
    encode_header,
    finalize_header,
    new_header,
    write_header,
)

from ..helpers.fake_qmp import FakeQMPServer, Peer

STREAM = b"QEVM" + bytes(70_000)


def write_image(path: Path, *, compression: str = "raw", complete: bool = True,
                alignment: int = STREAM_ALIGNMENT, **fields: Any) -> Path:
    """An image as ``qmonexec save`` writes it: header, stream, then marked complete."""
    header = new_header(compression=compression, alignment=alignment, **fields)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        write_header(fd, header)
        os.pwrite(fd, STREAM, header.offset)
        if complete:
            finalize_header(fd, replace(header, stream_length=len(STREAM), verified=True,
                                        completed=header.created, seconds=1.0))
    finally:
        os.close(fd)
    return path


def uri_restore(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qmonexec", "uri", "restore", *args],
                          capture_output=True, text=True, check=False)


def restore_sends(image: Path) -> str:
    """The URI ``qmonexec.save.restore`` gives QEMU's ``migrate-incoming`` for ``image``."""
    state = {"status": "inmigrate", "migration": "none"}
    sent: list[str] = []

    def handler(peer: Peer, command: dict[str, Any]) -> bool:
        name = command["execute"]
        if name == "query-status":
            peer.reply(command, {"status": state["status"], "running": False})
        elif name == "query-migrate":
            status = state["migration"]
            peer.reply(command, {} if status == "none" else {"status": status})
        elif name == "query-migrate-capabilities":
            peer.reply(command, [])
        elif name == "migrate-incoming":
            sent.append(command["arguments"]["uri"])
            state.update(status="paused", migration="completed")
            peer.reply(command)
        else:
            return False
        return True

    def script(peer: Peer) -> None:
        peer.negotiate()
        peer.serve(handler)

    with FakeQMPServer(script) as server:
        result = restore(server.address, str(image), then="pause", timeout=30)
    assert sent == [result.uri]
    return sent[0]


@pytest.mark.parametrize("compression", ["raw", "gzip", "zstd"])
def test_from_image_renders_the_string_restore_sends(tmp_path: Path, compression: str) -> None:
    image = write_image(tmp_path / "guest.img", compression=compression)
    rendered = uri_restore("--from-image", str(image))
    assert rendered.returncode == 0, rendered.stderr
    assert rendered.stdout == restore_sends(image) + "\n"


def test_an_aligned_image_is_read_in_64k_blocks(tmp_path: Path) -> None:
    image = write_image(tmp_path / "guest.img")
    assert uri_restore("--from-image", str(image)).stdout == (
        f"exec:dd if={image} bs=65536 skip=1\n")


def test_an_image_from_before_the_alignment_is_read_as_restore_reads_it(tmp_path: Path) -> None:
    image = write_image(tmp_path / "old.img", compression="xz", alignment=1)
    rendered = uri_restore("--from-image", str(image))
    assert rendered.stdout == f"exec:dd if={image} bs=4096 skip=1 | xz -dc\n"
    assert rendered.stdout == restore_sends(image) + "\n"


def test_from_image_takes_the_pinned_profile(tmp_path: Path) -> None:
    image = write_image(tmp_path / "guest.img")
    assert uri_restore("--from-image", str(image), "--profile", "default@1").stdout == (
        f"exec:dd if={image} bs=4096 skip=16\n")


def test_source_defaults_to_the_image_and_can_name_another_path(tmp_path: Path) -> None:
    image = write_image(tmp_path / "guest.img")
    rendered = uri_restore("/mnt/backup/guest.img", "--from-image", str(image), "--format", "qmp")
    assert rendered.stdout == ('{"execute":"migrate-incoming","arguments":{"uri":'
                               '"exec:dd if=/mnt/backup/guest.img bs=65536 skip=1"}}\n')


def refused(tmp_path: Path, *args: str) -> str:
    result = uri_restore(*args)
    assert (result.returncode, result.stdout) == (2, "")
    return result.stderr


def test_a_file_that_is_not_a_qmonexec_image_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "disk.qcow2"
    other.write_bytes(b"QFI\xfb" + bytes(100))
    assert "not a qmonexec image" in refused(tmp_path, "--from-image", str(other))


def test_a_partial_image_is_refused(tmp_path: Path) -> None:
    image = write_image(tmp_path / "partial.img", complete=False)
    assert "incomplete save" in refused(tmp_path, "--from-image", str(image))


def test_a_truncated_image_is_refused(tmp_path: Path) -> None:
    image = write_image(tmp_path / "cut.img")
    os.truncate(image, image.stat().st_size - 10)
    assert "truncated" in refused(tmp_path, "--from-image", str(image))


def test_a_stream_offset_dd_cannot_skip_to_is_refused(tmp_path: Path) -> None:
    header = replace(new_header(block_size=512), block_size=4, offset=1028, complete=True,
                     stream_length=0)
    image = tmp_path / "odd.img"
    image.write_bytes(encode_header(header))
    message = refused(tmp_path, "--from-image", str(image))
    assert "byte 1028, not a multiple of 512" in message


def test_a_custom_compressor_must_be_named_by_the_user(tmp_path: Path) -> None:
    image = write_image(tmp_path / "pigz.img", compression="pigz",
                        decompress=("pigz", "-dc"))
    assert "--decompress-cmd" in refused(tmp_path, "--from-image", str(image))
    named = uri_restore("--from-image", str(image), "--decompress-cmd", "pigz -dc")
    assert named.stdout == f"exec:dd if={image} bs=65536 skip=1 | pigz -dc\n"


def test_the_offset_comes_from_the_header_only(tmp_path: Path) -> None:
    image = write_image(tmp_path / "guest.img")
    assert "drop --offset" in refused(tmp_path, "--from-image", str(image), "--offset", "4096")


def test_a_missing_image_is_refused_with_the_os_error(tmp_path: Path) -> None:
    assert "No such file" in refused(tmp_path, "--from-image", str(tmp_path / "none.img"))

"""Real shells run the rendered strings: bytes land exactly where the spec says.

For every hostile name of the catalogue and every shell setup of
``tests.helpers.support.SHELLS``, the save command (without ``exec:``) is run with
``SHELL -c`` exactly as QEMU runs it, a known stream on its stdin, into a file
that already holds an 8192-byte header.  The header must be intact and the
stream must sit exactly at the offset.  The restore command must give the
stream back on stdout, and a command's argv must reach the program unchanged.

Shells run with ``LC_ALL=C`` (docs/reference.md, section 6), except where a test
says why not.  The stream is ~300 KiB and not a multiple of 64 KiB, so dd sees
short reads from the pipe and its last write is a short one.
"""

from __future__ import annotations

import gzip
import itertools
import os
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qmonexec.render import render_command, render_restore, render_save
from qmonexec.spec import CommandSpec, RestoreSpec, SaveSpec, compression
from tests.helpers.support import SHELLS, shell_argv

from .catalogue import HOSTILE

pytestmark = pytest.mark.system

HEADER = (b"QMONEXEC-TEST-HEADER\n" * 400)[:8192]
OFFSET = len(HEADER)


def _stream(size: int) -> bytes:
    """A known stream in which every 4 KiB block is unique and every byte value occurs.

    Each block: a numbered marker, the 256 byte values, 64 random bytes, then zeros.
    A stream shifted or cut anywhere no longer compares equal, and gzip compresses it
    about 4x faster than pure random bytes, which keeps the gzip cases cheap.
    """
    rng = random.Random(20241126)
    blocks = []
    for i in range(size // 4096 + 1):
        head = b"<block %08d>" % i + bytes(range(256)) + rng.randbytes(64)
        blocks.append(head + bytes(4096 - len(head)))
    return b"".join(blocks)[:size]


STREAM = _stream(300 * 1024 + 4321)
STREAM_GZ = gzip.compress(STREAM, compresslevel=1, mtime=0)
assert len(STREAM) % 65536 != 0

SHELL_LABELS = [label for label, *_ in SHELLS]
NAME_IDS = list(HOSTILE)
VARIANTS = [("default", "raw"), ("default", "gzip"), ("libvirt", "raw"), ("libvirt", "gzip")]


_COUNTER = itertools.count()


@pytest.fixture(scope="module")
def module_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One temp directory for the module: on tmpfs (/dev/shm) when there is one.

    Each case writes and deletes a ~300 KiB file; on a disk file system mounted with
    ``discard`` and busy with other work, the unlinks alone stalled for up to 0.5 s.
    Less than 2 MiB is in use at any time.
    """
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        path = Path(tempfile.mkdtemp(prefix="qmonexec-roundtrip-", dir=shm))
        yield path
        shutil.rmtree(path, ignore_errors=True)
    else:
        yield tmp_path_factory.mktemp("roundtrip")


@pytest.fixture
def tmp_path(module_tmp: Path) -> Iterator[Path]:
    """A fresh empty directory per test, under one pytest temp directory of this module.

    pytest's own ``tmp_path`` scans every existing numbered directory to pick a new
    name, which made setup cost grow with the ~2000 cases here (0.04 s each near the
    end); a counter does the same job in constant time.  The directory is removed
    after the test, so the hostile names never outlive it.
    """
    path = module_tmp / str(next(_COUNTER))
    path.mkdir()
    yield path
    shutil.rmtree(path)


def name_bytes(name_id: str) -> bytes:
    name = HOSTILE[name_id]
    return name if isinstance(name, bytes) else name.encode("utf-8")


def locale_for(label: str, command: bytes) -> str:
    """The locale to run ``command`` in: C, except yash with non-ASCII bytes.

    yash in the C locale cannot convert a ``-c`` string holding a byte >= 0x80
    to wide characters; it replaces the whole command with an empty one and
    exits 0 (docs/reference.md, section 4): a silent no-op.  A UTF-8 command runs in
    yash under C.UTF-8; one that is not UTF-8 runs in no locale (see
    ``test_yash_silently_runs_nothing_for_a_non_utf8_command``).
    """
    if label.startswith("yash") and any(b >= 0x80 for b in command):
        return "C.UTF-8"
    return "C"


#: (shell, name) pairs that can run: yash cannot run a -c string that is not UTF-8 in any
#: locale, which test_yash_silently_runs_nothing_for_a_non_utf8_command documents instead.
SHELL_NAME_PAIRS = [
    pytest.param(label, name_id, id=f"{label}-{name_id}")
    for label in SHELL_LABELS
    for name_id in NAME_IDS
    if not (label.startswith("yash") and name_id == "non-utf8")
]


def run(label: str, uri: str, *, stdin: bytes, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """Run ``uri`` without its ``exec:`` prefix as QEMU does: ``SHELL -c REST``."""
    assert uri.startswith("exec:")
    command = uri.removeprefix("exec:").encode("utf-8", "surrogateescape")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": locale_for(label, command)}
    return subprocess.run([*shell_argv(label), "-c", command], input=stdin, capture_output=True,
                          cwd=cwd, env=env, timeout=30, check=False)


def place(tmp_path: Path, name_id: str, content: bytes) -> tuple[bytes, Path]:
    """Create the hostile-named file (and its directories) under ``tmp_path``; return its path
    as bytes and an empty working directory for the shell."""
    target = os.fsencode(tmp_path / "files") + b"/" + name_bytes(name_id)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as f:
        f.write(content)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    return target, cwd


def assert_nothing_else_created(tmp_path: Path, target: bytes) -> None:
    """No stray file: an unquoted ``$(touch PWNED)``, a glob or a split word would leave one."""
    files = [os.fsencode(p) for p in tmp_path.rglob("*") if p.is_file()]
    assert files == [target]


def read(path: bytes) -> bytes:
    with open(path, "rb") as f:
        return f.read()


# --- save ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("profile", "comp"), VARIANTS, ids=[f"{p}-{c}" for p, c in VARIANTS])
@pytest.mark.parametrize(("label", "name_id"), SHELL_NAME_PAIRS)
def test_save_keeps_the_header_and_puts_the_stream_exactly_at_the_offset(
    label: str, name_id: str, profile: str, comp: str, tmp_path: Path
) -> None:
    target, cwd = place(tmp_path, name_id, HEADER)
    uri = render_save(SaveSpec(target, offset=OFFSET, compression=compression(comp),
                               profile=profile))  # type: ignore[arg-type]
    done = run(label, uri, stdin=STREAM, cwd=cwd)
    assert done.returncode == 0, done.stderr
    data = read(target)
    assert data[:OFFSET] == HEADER
    if comp == "raw":
        assert len(data) == OFFSET + len(STREAM)
        assert data[OFFSET:] == STREAM
    else:
        assert gzip.decompress(data[OFFSET:]) == STREAM
    assert_nothing_else_created(tmp_path, target)


@pytest.mark.parametrize("label", SHELL_LABELS)
def test_save_over_a_longer_old_file_leaves_its_tail_because_1rw_never_truncates(
    label: str, tmp_path: Path
) -> None:
    # Documented behaviour (docs/reference.md, section 1): `1<>` opens read-write and never
    # truncates, so a stream shorter than the old image leaves stale bytes behind it.  That is
    # why the save workflow truncates the file to the header length before it starts a save.
    old_tail = b"STALE-OLD-IMAGE!" * 40000  # 640000 bytes, longer than the new stream
    target, cwd = place(tmp_path, "space", HEADER + old_tail)
    uri = render_save(SaveSpec(target, offset=OFFSET))
    done = run(label, uri, stdin=STREAM, cwd=cwd)
    assert done.returncode == 0, done.stderr
    data = read(target)
    assert len(data) == OFFSET + len(old_tail)
    assert data[:OFFSET] == HEADER
    assert data[OFFSET:OFFSET + len(STREAM)] == STREAM
    assert data[OFFSET + len(STREAM):] == old_tail[len(STREAM):]


@pytest.mark.parametrize("label", SHELL_LABELS)
def test_save_with_stage_status_records_ok_for_every_stage(label: str, tmp_path: Path) -> None:
    target, cwd = place(tmp_path, "single-quote", HEADER)
    status = tmp_path / "status it's $(x)"
    status.mkdir()
    uri = render_save(SaveSpec(target, offset=OFFSET, compression=compression("gzip"),
                               status_dir=os.fsencode(status)))
    done = run(label, uri, stdin=STREAM, cwd=cwd)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in status.iterdir()) == [
        "compress.err", "compress.ok", "write.err", "write.ok"]
    data = read(target)
    assert data[:OFFSET] == HEADER and gzip.decompress(data[OFFSET:]) == STREAM


@pytest.mark.parametrize("label", SHELL_LABELS)
def test_save_with_stage_status_records_failed_when_the_target_cannot_be_opened(
    label: str, tmp_path: Path
) -> None:
    # docs/design.md: "Each stage ends by creating exactly one of NAME.ok / NAME.failed".
    # QEMU ignores exit statuses, so these files are the only record; a stage that leaves
    # neither cannot be told apart from one still running.
    status = tmp_path / "status"
    status.mkdir()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    uri = render_save(SaveSpec(os.fsencode(tmp_path / "missing-dir" / "g.img"), offset=OFFSET,
                               compression=compression("gzip"), status_dir=os.fsencode(status)))
    run(label, uri, stdin=STREAM, cwd=cwd)
    # ksh93 waits only for the last element of a pipeline: the compressor stage may still be
    # finishing when the shell has exited (qmonexec.save waits for the pipeline's processes),
    # so give it a moment to record its marker.
    deadline = time.monotonic() + 10
    names = {p.name for p in status.iterdir()}
    while not names & {"compress.ok", "compress.failed"} and time.monotonic() < deadline:
        time.sleep(0.02)
        names = {p.name for p in status.iterdir()}
    assert "compress.ok" in names or "compress.failed" in names
    assert len(names & {"write.ok", "write.failed"}) == 1, sorted(names)
    assert "write.failed" in names


def test_yash_silently_runs_nothing_for_a_non_utf8_command(tmp_path: Path) -> None:
    # docs/reference.md, section 4: yash replaces a -c string it cannot convert to wide
    # characters with an empty command and exits 0.  In C.UTF-8 bytes that are not UTF-8
    # cannot be converted either, so no locale helps: such a save "succeeds" and writes
    # nothing.  Never rely on yash as /bin/sh for non-UTF-8 names (QEMU would report
    # `completed` for a save that wrote nothing).
    target, cwd = place(tmp_path, "non-utf8", HEADER)
    uri = render_save(SaveSpec(target, offset=OFFSET))
    for locale in ("C", "C.UTF-8"):
        command = uri.removeprefix("exec:").encode("utf-8", "surrogateescape")
        done = subprocess.run(
            [*shell_argv("yash"), "-c", command], input=STREAM, capture_output=True, cwd=cwd,
            timeout=30, check=False,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": locale},
        )
        assert done.returncode == 0
        assert read(target) == HEADER


# --- restore ---------------------------------------------------------------------------------


@pytest.mark.parametrize("comp", ["raw", "gzip"])
@pytest.mark.parametrize(("label", "name_id"), SHELL_NAME_PAIRS)
def test_restore_gives_back_exactly_the_stream(
    label: str, name_id: str, comp: str, tmp_path: Path
) -> None:
    target, cwd = place(tmp_path, name_id, HEADER + (STREAM if comp == "raw" else STREAM_GZ))
    uri = render_restore(RestoreSpec(target, offset=OFFSET, compression=compression(comp)))
    done = run(label, uri, stdin=b"", cwd=cwd)
    assert done.returncode == 0, done.stderr
    assert done.stdout == STREAM
    assert_nothing_else_created(tmp_path, target)


# --- command ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("label", "name_id"), SHELL_NAME_PAIRS)
def test_command_words_reach_the_program_unchanged(
    label: str, name_id: str, tmp_path: Path
) -> None:
    word = name_bytes(name_id).rsplit(b"/", 1)[-1]
    uri = render_command(CommandSpec(("printf", "%s|", word, "=x", "~", "")))
    done = run(label, uri, stdin=b"", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == word + b"|=x|~||"
    assert list(tmp_path.iterdir()) == []

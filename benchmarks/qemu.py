"""QEMU benchmark: ``qmonexec save``/``restore`` of a real guest vs a bare ``exec:cat``.

For each guest size (default 256 MiB and 1 GiB of RAM) a file of random bytes covering all
RAM from 16 MiB up to 16 MiB below the top is loaded into a paused guest (``-S``) with
``-device loader,file=F,addr=0x1000000,force-raw=on`` (QEMU 7.2 accepts a 992 MiB blob in one
loader device), so the migration stream is as large as the RAM and incompressible.

Per round, in alternating order (qmonexec first in even rounds, bare first in odd ones):

* **save, qmonexec**: ``qmonexec.save.save(client, TARGET)`` (raw, default profile; it raises
  ``max-bandwidth`` itself, waits for ``completed`` and every stage's marker, fsyncs the file
  and its directory, and finalizes the header).  A progress callback notes when ``completed``
  was first seen (``completed_at`` in the JSON, as for the bare save).
* **save, bare**: ``migrate`` to ``exec:cat > FILE`` (``allow_unvalidated_exec=True``: the
  documented opt-out, ``cat >`` is not a shape the default policy accepts), wait for the
  ``MIGRATION`` event ``completed`` (the ``events`` capability and ``max-bandwidth`` are set
  before the clock starts, so the bare side pays for neither), then fsync the file and its
  directory.
* **restore, qmonexec**: ``qmonexec.save.restore(client, TARGET, then="pause")``.
* **restore, bare**: ``migrate-incoming`` ``exec:cat FILE``, wait for the ``MIGRATION`` event
  ``completed`` (``events`` enabled before the clock starts).

Every QEMU is started fresh for each timed operation, with an already connected QMP client;
start-up is never timed.  Each source QEMU is a new process with the same RAM contents; each
destination is started with ``-incoming defer`` and *without* the loader device, so the guest
RAM it ends up with came from the stream alone.

Checks on every run (not timed): the qmonexec image's header is complete and verified and its
size is ``offset + stream_length``; the bare file and the qmonexec stream have the same length
and the same first and last 64 KiB; after each restore the destination reports ``completed``
and 8 samples of 4 KiB of guest RAM (``pmemsave``) equal the random file.

Results go to ``benchmarks/results/qemu-*.json``; a Markdown table is printed.  Big files live
in a work directory on the real disk (``--dir``, default /var/tmp) and are deleted at the end;
every QEMU is killed by pid (its process group) whatever happens.

Run by hand, e.g. ``.venv/bin/python benchmarks/qemu.py --sizes 256M,1G --rounds 5``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.pipeline import filesystem_of, first_line  # noqa: E402
from qmonexec.qmp import QMPClient  # noqa: E402
from qmonexec.save import Progress, read_header, restore, save  # noqa: E402
from tests.helpers.qemu import QemuVM, running_qemu  # noqa: E402

MIB = 1 << 20
GIB = 1 << 30
DEFAULT_RESULTS = ROOT / "benchmarks" / "results"
QEMU = "qemu-system-x86_64"
#: Guest-physical address where the random bytes start (above the legacy holes).
LOAD_ADDR = 16 * MIB
#: RAM left unfilled at the top of the guest.
TOP_GAP = 16 * MIB
#: Bytes per sample compared after a restore, and samples per restore.
SAMPLE = 4096
SAMPLES = 8
#: ``max-bandwidth`` for the bare save (qmonexec's own default, 1 TiB/s: no limit).
BANDWIDTH = 1 << 40
METHODS = ("qmonexec", "bare")


class BenchError(RuntimeError):
    """A run did not produce what it should (a verification failed)."""


# --------------------------------------------------------------------------- QEMU processes

def _base_args(memory: int) -> tuple[str, ...]:
    return ("-machine", "pc,accel=tcg", "-m", f"{memory // MIB}M", "-nodefaults",
            "-display", "none", "-S")


@contextlib.contextmanager
def qemu(memory: int, sockdir: Path, name: str, *extra: str) -> Iterator[QemuVM]:
    """A paused, disk-less QEMU with ``memory`` bytes of RAM, started by the tests' launcher
    (:func:`tests.helpers.qemu.start_qemu`); killed by pid on exit, always."""
    workdir = sockdir / name
    workdir.mkdir(exist_ok=True)
    program = shutil.which(QEMU)
    if program is None:
        raise BenchError(f"{QEMU} not found (Debian package qemu-system-x86)")
    with running_qemu(*extra, workdir=workdir, program=program, base_args=_base_args(memory),
                      startup_timeout=120.0) as vm:
        yield vm


def source(memory: int, blob: Path, sockdir: Path) -> contextlib.AbstractContextManager[QemuVM]:
    """A paused source guest whose RAM from 16 MiB holds the bytes of ``blob``."""
    return qemu(memory, sockdir, "src", "-device",
                f"loader,file={blob},addr={LOAD_ADDR:#x},force-raw=on")


def destination(memory: int, sockdir: Path) -> contextlib.AbstractContextManager[QemuVM]:
    """A destination waiting for an incoming migration (no loader: RAM comes from the stream)."""
    return qemu(memory, sockdir, "dst", "-incoming", "defer")


@contextlib.contextmanager
def connected(vm: QemuVM) -> Iterator[QMPClient]:
    """A negotiated QMP client for ``vm`` (generous timeout: a 1 GiB save takes seconds)."""
    with QMPClient(str(vm.qmp_path), timeout=600.0) as client:
        yield client


# --------------------------------------------------------------------------- timed operations

def _fsync_file_and_dir(path: Path) -> None:
    """fsync ``path`` and its directory: exactly what qmonexec does after a save."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _wait_migration_event(client: QMPClient, timeout: float = 600.0) -> str:
    """Wait for a final ``MIGRATION`` event; return its status."""
    event = client.wait_event(
        "MIGRATION", timeout=timeout,
        predicate=lambda e: e.data.get("status") in ("completed", "failed", "cancelled"))
    status = event.data.get("status")
    return str(status)


def save_qmonexec(client: QMPClient, target: Path) -> tuple[float, dict[str, Any]]:
    """Time ``qmonexec.save.save``; return seconds and what it reported."""
    seen: list[float] = []

    def progress(report: Progress) -> None:
        if report.status == "completed" and not seen:
            seen.append(time.perf_counter())

    start = time.perf_counter()
    result = save(client, str(target), then="pause", progress=progress)
    seconds = time.perf_counter() - start
    return seconds, {"offset": result.offset, "stream_length": result.stream_length,
                     "verified": result.verified, "uri": result.uri,
                     "completed_at": seen[0] - start if seen else None}


def save_bare(client: QMPClient, target: Path) -> tuple[float, dict[str, Any]]:
    """Time a bare ``migrate`` to ``exec:cat > FILE`` + wait for completed + fsync."""
    client.set_parameters({"max-bandwidth": BANDWIDTH})
    client.set_capabilities({"events": True})
    client.events()  # drop anything queued so far
    uri = f"exec:cat > {target}"
    start = time.perf_counter()
    client.migrate(uri, allow_unvalidated_exec=True)
    status = _wait_migration_event(client)
    if status != "completed":
        raise BenchError(f"bare save ended {status}")
    at_completed = time.perf_counter() - start
    _fsync_file_and_dir(target)
    seconds = time.perf_counter() - start
    return seconds, {"offset": 0, "uri": uri, "completed_at": at_completed}


def restore_qmonexec(client: QMPClient, image: Path) -> tuple[float, dict[str, Any]]:
    """Time ``qmonexec.save.restore`` (``then="pause"``)."""
    start = time.perf_counter()
    result = restore(client, str(image), then="pause")
    seconds = time.perf_counter() - start
    return seconds, {"uri": result.uri, "vm_status": result.vm_status}


def restore_bare(client: QMPClient, image: Path) -> tuple[float, dict[str, Any]]:
    """Time a bare ``migrate-incoming`` of ``exec:cat FILE`` until ``completed``."""
    client.set_capabilities({"events": True})
    client.events()
    uri = f"exec:cat {image}"
    start = time.perf_counter()
    client.migrate_incoming(uri, allow_unvalidated_exec=True)
    status = _wait_migration_event(client)
    seconds = time.perf_counter() - start
    if status != "completed":
        raise BenchError(f"bare restore ended {status}")
    return seconds, {"uri": uri, "vm_status": client.execute("query-status")["status"]}


# --------------------------------------------------------------------------- verification

def _wait_stable(path: Path, quiet: float = 0.3, limit: float = 30.0) -> int:
    """Size of ``path`` once it stopped changing for ``quiet`` seconds (a bare ``cat`` may lag)."""
    end = time.monotonic() + limit
    last = -1
    since = time.monotonic()
    while time.monotonic() < end:
        size = path.stat().st_size
        if size != last:
            last, since = size, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
        time.sleep(0.05)
    return last


def check_saves(image: Path, bare: Path, info: dict[str, Any], blob_size: int) -> dict[str, int]:
    """Both saves hold a whole stream; return the two stream lengths.

    The lengths may differ by a few bytes: a page QEMU touches between the passes of RAM is
    sent again (a zero page costs 9 bytes), which depends on timing.  Both must be at least the
    random bytes loaded, within 1 MiB of each other, and start with the same 4 KiB.
    """
    header = read_header(image)  # complete, size == offset + stream_length
    if not (header.verified and info["verified"]) or header.stream_length != info["stream_length"]:
        raise BenchError(f"qmonexec image not verified or wrong length: {header}")
    length: int = info["stream_length"]
    bare_size = _wait_stable(bare)
    if min(length, bare_size) < blob_size or abs(length - bare_size) > MIB:
        raise BenchError(f"stream lengths: qmonexec {length}, bare {bare_size}, random bytes "
                         f"loaded {blob_size}")
    with open(image, "rb") as one, open(bare, "rb") as two:
        one.seek(header.offset)
        if one.read(4096) != two.read(4096):
            raise BenchError("the first 4 KiB of the two streams differ")
    return {"qmonexec": length, "bare": bare_size}


def check_restored(client: QMPClient, blob: Path, workdir: Path, seed: int) -> None:
    """The migration completed and sampled guest RAM equals the random file."""
    status = client.query_migrate().status
    if status != "completed":
        raise BenchError(f"destination reports {status}, not completed")
    size = blob.stat().st_size
    rng = random.Random(seed)
    offsets = [0, size - SAMPLE] + [rng.randrange(0, size - SAMPLE) // SAMPLE * SAMPLE
                                    for _ in range(SAMPLES - 2)]
    dump = workdir / "sample.bin"
    with open(blob, "rb") as handle:
        for offset in offsets:
            client.execute("pmemsave", {"val": LOAD_ADDR + offset, "size": SAMPLE,
                                        "filename": str(dump)})
            handle.seek(offset)
            if dump.read_bytes() != handle.read(SAMPLE):
                raise BenchError(f"restored RAM differs at blob offset {offset}")
    dump.unlink()


# --------------------------------------------------------------------------- the benchmark

@dataclass
class Run:
    """One timed operation."""

    size: int
    round: int
    op: str
    method: str
    seconds: float
    position: int
    info: dict[str, Any] = field(default_factory=dict)


def make_blob(path: Path, size: int, seed: int) -> None:
    """Write ``size`` pseudo-random (incompressible) bytes to ``path``."""
    rng = random.Random(seed)
    with open(path, "wb") as handle:
        left = size
        while left:
            chunk = min(left, 16 * MIB)
            handle.write(rng.randbytes(chunk))
            left -= chunk
        handle.flush()
        os.fsync(handle.fileno())  # its writeback must not land in the first timed round


SAVE: dict[str, Callable[[QMPClient, Path], tuple[float, dict[str, Any]]]] = {
    "qmonexec": save_qmonexec, "bare": save_bare}
RESTORE: dict[str, Callable[[QMPClient, Path], tuple[float, dict[str, Any]]]] = {
    "qmonexec": restore_qmonexec, "bare": restore_bare}


def warm_up(workdir: Path) -> None:
    """Import, compile the templates and validate once, untimed, as a long-lived caller would.

    The first save of a process pays about 0.1 s for imports and template compilation; a
    library caller pays it once, not per save.  (The CLI pays it per run: see
    ``benchmarks/library.py`` for start-up.)
    """
    from qmonexec.build import restore_uri, save_uri
    from qmonexec.spec import RestoreSpec, SaveSpec

    save_uri(SaveSpec(target=str(workdir / "x.img"), offset=65536,
                      status_dir=str(workdir / ".qmonexec-warmup0")))
    restore_uri(RestoreSpec(source=str(workdir / "x.img"), offset=65536, block_size=65536))


def run_size(memory: int, rounds: int, workdir: Path, sockdir: Path, seed: int,
             log: Callable[[str], None], warmup: int = 1) -> list[Run]:
    """All rounds for one guest size, after ``warmup`` untimed (but checked) rounds.

    Round ``i`` runs qmonexec first when ``i`` is even: with an even number of rounds each
    method is first equally often (the second restore of a round was often slower here).
    """
    blob = workdir / f"ram-{memory // MIB}M.bin"
    make_blob(blob, memory - LOAD_ADDR - TOP_GAP, seed)
    runs: list[Run] = []
    try:
        for index in range(-warmup, rounds):
            order = METHODS if index % 2 == 0 else METHODS[::-1]
            label = "warm-up " if index < 0 else f"round {index}"
            files = {"qmonexec": workdir / "image.qmx", "bare": workdir / "image.bare"}
            for path in files.values():
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            infos: dict[str, dict[str, Any]] = {}
            for position, method in enumerate(order):
                with source(memory, blob, sockdir) as vm, connected(vm) as client:
                    seconds, info = SAVE[method](client, files[method])
                    if method == "bare":
                        _wait_stable(files["bare"])  # let a lagging cat finish before the kill
                infos[method] = info
                runs.append(Run(memory, index, "save", method, seconds, position, info))
                log(f"{memory // MIB} MiB {label} save    {method:8s} {seconds:7.3f} s")
            lengths = check_saves(files["qmonexec"], files["bare"], infos["qmonexec"],
                                  blob.stat().st_size)
            for run in runs[-2:]:
                run.info["stream_length"] = lengths[run.method]
            for position, method in enumerate(order):
                with destination(memory, sockdir) as vm, connected(vm) as client:
                    seconds, info = RESTORE[method](client, files[method])
                    check_restored(client, blob, workdir, seed + index)
                runs.append(Run(memory, index, "restore", method, seconds, position, info))
                log(f"{memory // MIB} MiB {label} restore {method:8s} {seconds:7.3f} s")
            for path in files.values():
                path.unlink()
            if index < 0:
                del runs[-4:]  # a warm-up round: checked, not counted
    finally:
        with contextlib.suppress(FileNotFoundError):
            blob.unlink()
    return runs


def summarize(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """Median per (size, op, method) and the qmonexec/bare ratios of medians and per round."""
    rows = []
    for memory in sorted({r.size for r in runs}):
        for op in ("save", "restore"):
            times = {m: [r.seconds for r in runs if (r.size, r.op, r.method) == (memory, op, m)]
                     for m in METHODS}
            if not all(times.values()):
                continue
            per_round = [a / b for a, b in zip(times["qmonexec"], times["bare"], strict=True)]
            stream = next((r.info.get("stream_length") for r in runs
                           if r.size == memory and r.op == "save"), None)
            rows.append({
                "size": memory, "op": op, "rounds": len(per_round), "stream_length": stream,
                "median_qmonexec": statistics.median(times["qmonexec"]),
                "median_bare": statistics.median(times["bare"]),
                "min_qmonexec": min(times["qmonexec"]), "min_bare": min(times["bare"]),
                "ratio": statistics.median(times["qmonexec"]) / statistics.median(times["bare"]),
                "median_round_ratio": statistics.median(per_round),
            })
    return rows


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The results as a Markdown table."""
    lines = ["| guest RAM | operation | rounds | stream | qmonexec median | bare median "
             "| ratio of medians | median per-round ratio |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        stream = f"{row['stream_length'] / MIB:.1f} MiB" if row["stream_length"] else "?"
        lines.append(
            f"| {row['size'] // MIB} MiB | {row['op']} | {row['rounds']} | {stream} "
            f"| {row['median_qmonexec']:.3f} s | {row['median_bare']:.3f} s "
            f"| {row['ratio']:.3f}x | {row['median_round_ratio']:.3f}x |")
    return "\n".join(lines)


def parse_size(text: str) -> int:
    """``1G``, ``256M`` -> bytes."""
    match = re.fullmatch(r"\s*(\d+)\s*([mMgG])(?:i?[bB])?\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a size in M or G: {text!r}")
    value = int(match.group(1)) * {"m": MIB, "g": GIB}[match.group(2).lower()]
    if value < 64 * MIB:
        raise argparse.ArgumentTypeError("guest RAM must be at least 64M")
    return value


def machine_info(workdir: Path) -> dict[str, Any]:
    """What the results were measured on."""
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
            "python": platform.python_version(), "qemu": first_line([QEMU, "--version"]),
            "filesystem": filesystem_of(workdir), "loadavg": os.getloadavg(), "commit": commit}


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256M,1G", help="guest RAM sizes (default 256M,1G)")
    parser.add_argument("--rounds", type=int, default=6,
                        help="rounds per size (default 6; even: each method first as often)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed rounds per size first (default 1)")
    parser.add_argument("--rounds-large", type=int, default=None,
                        help="rounds for sizes of 1G and more (default: --rounds)")
    parser.add_argument("--dir", type=Path, default=Path("/var/tmp"),
                        help="parent of the work directory for the big files (real disk)")
    parser.add_argument("--out", type=Path, default=DEFAULT_RESULTS, help="JSON results dir")
    parser.add_argument("--seed", type=int, default=6, help="seed of the RAM bytes")
    args = parser.parse_args(argv)
    sizes = [parse_size(s) for s in args.sizes.split(",") if s]
    if shutil.which(QEMU) is None:
        parser.error(f"{QEMU} not found (Debian package qemu-system-x86)")
    need = 3 * max(sizes) + GIB // 4
    free = shutil.disk_usage(args.dir).free
    if free < need:
        parser.error(f"{args.dir} has {free // MIB} MiB free; need about {need // MIB} MiB")
    workdir = Path(tempfile.mkdtemp(prefix="qmonexec-qemu-bench-", dir=args.dir))
    sockdir = Path(tempfile.mkdtemp(prefix="qmxb-", dir="/tmp"))  # short: socket paths
    machine = machine_info(workdir)
    print(f"work dir {workdir} ({machine['filesystem']['type']}); {machine['qemu']}")
    started = time.strftime("%Y%m%d-%H%M%S")
    runs: list[Run] = []
    try:
        warm_up(workdir)
        for memory in sizes:
            rounds = args.rounds
            if args.rounds_large is not None and memory >= GIB:
                rounds = args.rounds_large
            runs += run_size(memory, rounds, workdir, sockdir, args.seed,
                             lambda text: print(text, flush=True), warmup=args.warmup)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(sockdir, ignore_errors=True)
    rows = summarize(runs)
    machine["loadavg_end"] = os.getloadavg()
    print()
    print(markdown(rows))
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"qemu-{started}.json"
    out.write_text(json.dumps({"benchmark": "qemu", "started": started, "machine": machine,
                               "summary": rows, "runs": [asdict(r) for r in runs]}, indent=1))
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

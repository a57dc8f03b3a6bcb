"""Pipeline benchmark: save-pipeline forms under ``/bin/sh -c`` with GNU dd and busybox dd.

Feeds a stream of ``--size`` bytes in 64 KiB writes (the way QEMU writes into the pipe of an
``exec:`` migration) into ``/bin/sh -c FORM`` and times each form until the shell exits, i.e. as
the caller of the shell sees it. The fsync of the output file is *not* timed; it runs after the
shell has exited (so no dirty pages carry over into the next run) and its time is recorded apart.

Each form writes into a file that already holds a 4096-byte header, except the floor ``cat > F``,
which writes a fresh file (none exists before the run). ``cat > F`` over an existing file is
measured apart (form d2): on ext4, truncating a non-empty file to 0 makes close() start writeback
of the whole file (``auto_da_alloc``), which made it about 2x slower here.

Every run is verified: header intact, stream exactly at its offset, file size exact, SHA-256 of
the stream equal to the one computed when it was generated.

Forms and dd implementations are interleaved within each round, and the order rotates from round
to round, so slow phases of a noisy machine spread over all forms. One extra pass per form runs
under ``strace -f -ff`` to count the read() and write() calls of the data stage (the second dd, or
cat for the forms without dd). Results go to ``benchmarks/results/*.json``; a table is printed and,
when matplotlib is installed (the ``bench`` extra), a plot is written (``docs/pipeline.svg``).

Run by hand, e.g. ``.venv/bin/python benchmarks/pipeline.py --size 256M --rounds 3``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

#: Size of each write into the shell's stdin: a full Linux pipe buffer, as QEMU fills it.
CHUNK = 64 * 1024
#: Length of the header that precedes the stream (``dd bs=4096 seek=1``).
HEADER_LEN = 4096
MIB = 1 << 20
GIB = 1 << 30
#: Name of the output file inside the work directory (the shell runs there; no quoting needed).
TARGET_NAME = "image.bin"
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_PLOT = ROOT / "docs" / "pipeline.svg"

_SEEK = "dd bs=4096 seek=1 if=/dev/null"


class VerificationError(RuntimeError):
    """The output file of a run is not what the form should have written."""


class RunError(RuntimeError):
    """The shell failed: non-zero exit status or a broken pipe while feeding it."""


@dataclass(frozen=True)
class Form:
    """One shell form to benchmark.

    ``command`` uses ``{F}`` for the output file. ``header`` says whether the form keeps the
    header and writes the stream behind it (else the stream starts at offset 0 in a fresh file).
    ``stage`` names the program of the data stage whose syscalls are counted; ``obs`` is the
    nominal output block size used for the write-count target ``ceil(bytes / obs) + 1``.
    ``fresh``: the output file does not exist before the run (else it holds the header).
    """

    key: str
    role: str
    command: str
    header: bool = True
    stage: str = "dd"
    obs: int | None = None
    fresh: bool = False

    def render(self, target: str = TARGET_NAME) -> str:
        """The shell text with the output file name substituted."""
        return self.command.replace("{F}", target)


def _dd_form(key: str, role: str, transfer: str, *, cat: bool, obs: int | None) -> Form:
    """A form ``[cat | ]{ dd bs=4096 seek=1 if=/dev/null && dd TRANSFER; } 1<>F``."""
    prefix = "cat | " if cat else ""
    return Form(key, role, f"{prefix}{{ {_SEEK} && dd {transfer}; }} 1<>{{F}}", obs=obs)


#: All forms, in table order. Keys: a = before the seed, b = libvirt (the seed), c* = candidates
#: for our default profile (ibs/obs), f* = ``bs=N iflag=fullblock`` (collects full blocks with
#: no copy from an input to an output buffer; GNU and busybox both have it, POSIX does not),
#: e = cat behind the header (no coalescing), d = the floor (a fresh file), d2 = ``cat > F`` over
#: an existing file.
FORMS: tuple[Form, ...] = (
    _dd_form("a", "before the seed", "bs=1048576", cat=True, obs=MIB),
    _dd_form("b", "libvirt profile (seed)", "ibs=1048576 obs=1048576", cat=True, obs=MIB),
    _dd_form("c1", "1 MiB writes (first default)", "ibs=65536 obs=1048576", cat=False, obs=MIB),
    _dd_form("c2", "candidate + cat", "ibs=65536 obs=1048576", cat=True, obs=MIB),
    _dd_form("c3", "candidate ibs=128K", "ibs=131072 obs=1048576", cat=False, obs=MIB),
    _dd_form("c4", "candidate obs=2M", "ibs=65536 obs=2097152", cat=False, obs=2 * MIB),
    _dd_form("c5", "candidate obs=4M", "ibs=65536 obs=4194304", cat=False, obs=4 * MIB),
    _dd_form("c6", "candidate obs=256K", "ibs=65536 obs=262144", cat=False, obs=256 * 1024),
    _dd_form("c7", "candidate obs=128K", "ibs=65536 obs=131072", cat=False, obs=128 * 1024),
    _dd_form("c8", "default profile", "ibs=32768 obs=65536", cat=False, obs=64 * 1024),
    _dd_form("f1", "fullblock bs=1M", "bs=1048576 iflag=fullblock", cat=False, obs=MIB),
    _dd_form("f2", "fullblock bs=256K", "bs=262144 iflag=fullblock", cat=False, obs=256 * 1024),
    Form("e", "cat behind header", f"{{ {_SEEK} && cat; }} 1<>{{F}}", stage="cat"),
    Form("d", "floor: cat > new file", "cat > {F}", header=False, stage="cat", fresh=True),
    Form("d2", "cat > existing file", "cat > {F}", header=False, stage="cat"),
)
FLOOR_KEY = "d"
LIBVIRT_KEY = "b"


@dataclass(frozen=True)
class DdImpl:
    """A dd implementation: ``path_dir`` is put first in PATH (None: the system PATH)."""

    name: str
    path_dir: str | None = None

    def env(self) -> dict[str, str]:
        """Environment for the shell: C locale, PATH with our dd directory first."""
        env = dict(os.environ)
        env["LC_ALL"] = "C"
        if self.path_dir is not None:
            env["PATH"] = self.path_dir + os.pathsep + env.get("PATH", os.defpath)
        return env


class Stream:
    """The bytes fed to the shell: 64 KiB views into a seeded pool, hashed once up front.

    Chunk ``i`` starts at ``(i * 65537) mod 2**24`` in a pool of 16 MiB + 64 KiB pseudo-random
    bytes, so no two chunks of a stream up to 1 TiB are equal (a misplaced chunk changes the
    hash) while generating costs one small buffer.
    """

    POOL_SPAN = 1 << 24

    def __init__(self, size: int, seed: int = 6) -> None:
        if size <= 0:
            raise ValueError("stream size must be positive")
        self.size = size
        self.seed = seed
        self._pool = random.Random(seed).randbytes(self.POOL_SPAN + CHUNK)
        pool = memoryview(self._pool)
        views: list[memoryview] = []
        digest = hashlib.sha256()
        done = 0
        index = 0
        while done < size:
            start = (index * (CHUNK + 1)) % self.POOL_SPAN
            view = pool[start : start + min(CHUNK, size - done)]
            views.append(view)
            digest.update(view)
            done += len(view)
            index += 1
        self.views: tuple[memoryview, ...] = tuple(views)
        self.sha256 = digest.hexdigest()


def make_header() -> bytes:
    """The 4096-byte header every output file starts with before a run."""
    text = b"QMONEXEC-BENCH-HEADER\n"
    body = bytes(range(256)) * (HEADER_LEN // 256)
    return (text + body)[:HEADER_LEN]


HEADER = make_header()


@dataclass
class StageCounts:
    """Syscall counts of one process of the pipeline (after its last successful execve)."""

    argv: list[str]
    reads: int = 0
    writes: int = 0
    reads_fd0: int = 0
    writes_fd1: int = 0
    bytes_fd1: int = 0


@dataclass
class RunResult:
    """One verified run of one form with one dd implementation."""

    form: str
    impl: str
    round: int
    size: int
    wall: float
    fed: float
    cpu: float
    fsync: float
    verified: bool
    traced: bool = False
    data_stage: StageCounts | None = None
    stages: list[StageCounts] = field(default_factory=list)


def _sync_dir(directory: Path, sync: bool = True) -> None:
    """fsync a directory: commits its pending unlinks/creations (ext4: the journal)."""
    if not sync:
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prepare_target(target: Path, fresh: bool, sync: bool = True) -> None:
    """No file (``fresh``) or a new file holding only the header; synced, so runs start alike."""
    if target.exists():
        target.unlink()
    if not fresh:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, HEADER)
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
    _sync_dir(target.parent, sync)


def verify_output(target: Path, form: Form, stream: Stream) -> None:
    """Check header, offset, size and hash of the output; raise VerificationError if wrong."""
    offset = HEADER_LEN if form.header else 0
    expected_size = offset + stream.size
    actual_size = target.stat().st_size
    if actual_size != expected_size:
        raise VerificationError(f"form {form.key}: size {actual_size}, expected {expected_size}")
    digest = hashlib.sha256()
    buffer = bytearray(4 * MIB)
    view = memoryview(buffer)
    with open(target, "rb", buffering=0) as handle:
        if form.header and handle.read(HEADER_LEN) != HEADER:
            raise VerificationError(f"form {form.key}: header overwritten")
        while True:
            count = handle.readinto(buffer)
            if not count:
                break
            digest.update(view[:count])
        # Drop the file's pages: a benchmark should not squat on the shared page cache.
        os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    if digest.hexdigest() != stream.sha256:
        raise VerificationError(f"form {form.key}: stream at offset {offset} differs")


_SYSCALL = re.compile(r"^(execve|read|write)\((\d*)")
_RESULT = re.compile(r"\)\s+=\s+(-?\d+)")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def parse_trace(path: Path) -> StageCounts | None:
    """Counts of one ``strace -ff`` output file, from its last successful execve on."""
    counts: StageCounts | None = None
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            match = _SYSCALL.match(line)
            if match is None:
                continue
            result = _RESULT.search(line)
            value = int(result.group(1)) if result else -1
            name, fd = match.group(1), match.group(2)
            if name == "execve":
                if value == 0:
                    bracket = line[line.index("[") : line.index("]") + 1]
                    counts = StageCounts(argv=_STRING.findall(bracket))
                continue
            if counts is None:
                continue
            if name == "read":
                counts.reads += 1
                counts.reads_fd0 += fd == "0"
            else:
                counts.writes += 1
                if fd == "1":
                    counts.writes_fd1 += 1
                    counts.bytes_fd1 += max(value, 0)
    return counts


def pick_data_stage(form: Form, stages: Iterable[StageCounts]) -> StageCounts | None:
    """The data stage: the last process named ``form.stage`` that is not the seeking dd."""
    chosen = None
    for stage in stages:
        named = bool(stage.argv) and os.path.basename(stage.argv[0]) == form.stage
        if named and "if=/dev/null" not in stage.argv:
            chosen = stage
    return chosen


def _feed(proc: subprocess.Popen[bytes], stream: Stream) -> None:
    """Write the stream into the shell's stdin in 64 KiB writes, then close it."""
    assert proc.stdin is not None
    fd = proc.stdin.fileno()
    for chunk in stream.views:
        view = chunk
        while view:
            view = view[os.write(fd, view) :]
    proc.stdin.close()


def run_once(
    form: Form,
    impl: DdImpl,
    stream: Stream,
    workdir: Path,
    *,
    round_no: int = 0,
    strace: str | None = None,
    sync: bool = True,
) -> RunResult:
    """Run ``form`` once with ``impl``: time it, fsync (untimed), verify, clean up.

    With ``strace`` (path of the strace binary) the run is traced, its syscall counts are
    attached, and its times are not comparable with untraced runs. ``sync=False`` skips every
    fsync (for the quick test: fsync can stall for seconds on a busy disk); fsync is then 0.
    """
    target = workdir / TARGET_NAME
    _prepare_target(target, form.fresh, sync)
    argv = ["/bin/sh", "-c", form.render()]
    trace_dir: Path | None = None
    if strace is not None:
        trace_dir = Path(tempfile.mkdtemp(prefix="trace-", dir=workdir))
        argv = [
            strace, "-f", "-ff", "-qq", "-e", "signal=none", "-s", "64",
            "-e", "trace=execve,read,write", "-o", str(trace_dir / "t"), "--", *argv,
        ]  # fmt: skip
    err_path = workdir / "stderr.txt"
    with open(err_path, "wb") as err:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err,
            cwd=workdir, env=impl.env(),
        )  # fmt: skip
        try:
            _feed(proc, stream)
        except BrokenPipeError:
            proc.wait()
            raise RunError(
                f"form {form.key} ({impl.name}): broken pipe; stderr: {err_path.read_text()!r}"
            ) from None
        fed = time.perf_counter()
        status = proc.wait()
        done = time.perf_counter()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    if status != 0:
        raise RunError(
            f"form {form.key} ({impl.name}): exit status {status}; stderr: {err_path.read_text()!r}"
        )
    fd = os.open(target, os.O_RDONLY)
    try:
        sync_start = time.perf_counter()
        if sync:
            os.fsync(fd)
        sync_time = time.perf_counter() - sync_start
    finally:
        os.close(fd)
    verify_output(target, form, stream)
    target.unlink()
    _sync_dir(workdir, sync)
    result = RunResult(
        form=form.key, impl=impl.name, round=round_no, size=stream.size,
        wall=done - start, fed=fed - start, cpu=cpu, fsync=sync_time, verified=True,
    )  # fmt: skip
    if trace_dir is not None:
        stages = [s for p in sorted(trace_dir.iterdir()) if (s := parse_trace(p)) is not None]
        shutil.rmtree(trace_dir)
        result.traced = True
        result.stages = stages
        result.data_stage = pick_data_stage(form, stages)
    return result


def schedule(pairs: Sequence[tuple[Form, DdImpl]], rounds: int) -> list[list[tuple[Form, DdImpl]]]:
    """Per round, all pairs in a rotated order; rotations spread evenly over the rounds."""
    plan = []
    for number in range(rounds):
        shift = (number * len(pairs)) // rounds if rounds else 0
        plan.append(list(pairs[shift:]) + list(pairs[:shift]))
    return plan


def run_benchmark(
    forms: Sequence[Form],
    impls: Sequence[DdImpl],
    stream: Stream,
    workdir: Path,
    *,
    rounds: int = 7,
    warmup: int = 1,
    strace: str | None = None,
    progress: Callable[[str], None] | None = None,
    sync: bool = True,
) -> list[RunResult]:
    """Run all forms with all dd implementations for ``rounds`` interleaved rounds.

    ``warmup`` untimed runs come first (results dropped); with ``strace`` one traced pass per
    pair follows the timed rounds (round number -1). ``sync``: see run_once.
    """
    pairs = [(form, impl) for form in forms for impl in impls]
    say = progress or (lambda _text: None)
    for form, impl in pairs[:warmup]:
        run_once(form, impl, stream, workdir, round_no=-2, sync=sync)
    results: list[RunResult] = []
    for number, order in enumerate(schedule(pairs, rounds)):
        for form, impl in order:
            result = run_once(form, impl, stream, workdir, round_no=number, sync=sync)
            results.append(result)
            say(f"round {number + 1}/{rounds} {form.key:>2} {impl.name:<8} {result.wall:7.3f} s")
    if strace is not None:
        for form, impl in pairs:
            result = run_once(form, impl, stream, workdir, round_no=-1, strace=strace, sync=sync)
            results.append(result)
            stage = result.data_stage
            counts = f"{stage.reads_fd0} reads, {stage.writes_fd1} writes" if stage else "?"
            say(f"traced     {form.key:>2} {impl.name:<8} {counts}")
    return results


@dataclass
class Summary:
    """Statistics of one (form, impl) pair over the timed rounds."""

    form: str
    impl: str
    role: str
    command: str
    runs: int
    median: float
    minimum: float
    maximum: float
    median_fed: float
    median_cpu: float
    median_fsync: float
    ratio_floor: float | None
    ratio_libvirt: float | None
    paired_ratio_floor: float | None
    paired_ratio_libvirt: float | None
    reads: int | None
    writes: int | None
    write_limit: int | None
    meets_targets: bool | None


def _paired(results: Sequence[RunResult], form: str, ref: str, impl: str) -> float | None:
    """Median over rounds of (time of form) / (time of ref) within the same round."""
    by_round: dict[tuple[str, int], float] = {
        (r.form, r.round): r.wall for r in results if r.impl == impl and not r.traced
    }
    ratios = [
        by_round[(form, n)] / by_round[(ref, n)]
        for (key, n) in by_round
        if key == form and (ref, n) in by_round
    ]
    return statistics.median(ratios) if ratios else None


def summarize(
    forms: Sequence[Form], impls: Sequence[DdImpl], results: Sequence[RunResult]
) -> list[Summary]:
    """Medians, ratios to the floor and to the libvirt profile, syscall counts, target check."""
    timed = [r for r in results if not r.traced and r.round >= 0]
    medians = {
        (f.key, i.name): statistics.median(
            [r.wall for r in timed if r.form == f.key and r.impl == i.name]
        )
        for f in forms
        for i in impls
        if any(r.form == f.key and r.impl == i.name for r in timed)
    }
    rows: list[Summary] = []
    for impl in impls:
        floor = medians.get((FLOOR_KEY, impl.name))
        libvirt = medians.get((LIBVIRT_KEY, impl.name))
        for form in forms:
            runs = [r for r in timed if r.form == form.key and r.impl == impl.name]
            if not runs:
                continue
            median = medians[(form.key, impl.name)]
            traced = [r for r in results if r.traced and r.form == form.key and r.impl == impl.name]
            stage = traced[-1].data_stage if traced else None
            size = runs[0].size
            limit = math.ceil(size / form.obs) + 1 if form.obs else None
            ratio_floor = median / floor if floor else None
            ratio_libvirt = median / libvirt if libvirt else None
            meets = None
            if limit is not None and stage is not None and ratio_floor and ratio_libvirt:
                meets = stage.writes_fd1 <= limit and ratio_floor <= 1.05 and ratio_libvirt <= 0.95
            rows.append(
                Summary(
                    form=form.key,
                    impl=impl.name,
                    role=form.role,
                    command=form.render("F"),
                    runs=len(runs),
                    median=median,
                    minimum=min(r.wall for r in runs),
                    maximum=max(r.wall for r in runs),
                    median_fed=statistics.median(r.fed for r in runs),
                    median_cpu=statistics.median(r.cpu for r in runs),
                    median_fsync=statistics.median(r.fsync for r in runs),
                    ratio_floor=ratio_floor,
                    ratio_libvirt=ratio_libvirt,
                    paired_ratio_floor=_paired(timed, form.key, FLOOR_KEY, impl.name),
                    paired_ratio_libvirt=_paired(timed, form.key, LIBVIRT_KEY, impl.name),
                    reads=stage.reads_fd0 if stage else None,
                    writes=stage.writes_fd1 if stage else None,
                    write_limit=limit,
                    meets_targets=meets,
                )
            )
    return rows


def _fmt(value: float | int | None, spec: str) -> str:
    """Format ``value`` with ``spec``, or a dash when missing."""
    return "-" if value is None else format(value, spec)


def format_table(rows: Sequence[Summary]) -> str:
    """A plain-text table of the summary, one block per dd implementation."""
    lines = []
    header = (
        f"{'form':<4} {'role':<24} {'median s':>8} {'min':>6} {'max':>6} {'cpu s':>6}"
        f" {'x d':>6} {'x b':>6}"
        f" {'pair d':>6} {'pair b':>6} {'reads':>7} {'writes':>7} {'limit':>6} target"
    )
    for impl in dict.fromkeys(r.impl for r in rows):
        lines.append(f"dd = {impl}")
        lines.append(header)
        for r in (r for r in rows if r.impl == impl):
            target = {None: "n/a", True: "MET", False: "missed"}[r.meets_targets]
            lines.append(
                f"{r.form:<4} {r.role:<24} {r.median:8.3f} {r.minimum:6.3f} {r.maximum:6.3f}"
                f" {r.median_cpu:6.3f}"
                f" {_fmt(r.ratio_floor, '6.3f')} {_fmt(r.ratio_libvirt, '6.3f')}"
                f" {_fmt(r.paired_ratio_floor, '6.3f')} {_fmt(r.paired_ratio_libvirt, '6.3f')}"
                f" {_fmt(r.reads, '7d')} {_fmt(r.writes, '7d')} {_fmt(r.write_limit, '6d')}"
                f" {target}"
            )
        lines.append("")
    return "\n".join(lines)


def format_markdown(rows: Sequence[Summary]) -> str:
    """The summary as Markdown tables (one per dd implementation), for docs/performance.md."""
    lines = []
    for impl in dict.fromkeys(r.impl for r in rows):
        lines += [
            f"**dd = {impl}**",
            "",
            "| form | command | median s | min-max s | CPU s | x d | x b | paired x d | paired x b"
            " | dd-stage read() | write() | limit | targets |",
            "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
        ]
        for r in (r for r in rows if r.impl == impl):
            target = {None: "n/a", True: "met", False: "missed"}[r.meets_targets]
            command = r.command.replace("|", "\\|")  # a bare | splits a Markdown table cell
            lines.append(
                f"| {r.form} ({r.role}) | `{command}` | {r.median:.3f}"
                f" | {r.minimum:.3f}-{r.maximum:.3f} | {r.median_cpu:.3f}"
                f" | {_fmt(r.ratio_floor, '.3f')} | {_fmt(r.ratio_libvirt, '.3f')}"
                f" | {_fmt(r.paired_ratio_floor, '.3f')} | {_fmt(r.paired_ratio_libvirt, '.3f')}"
                f" | {_fmt(r.reads, 'd')} | {_fmt(r.writes, 'd')} | {_fmt(r.write_limit, 'd')}"
                f" | {target} |"
            )
        lines.append("")
    return "\n".join(lines)


def write_plot(rows: Sequence[Summary], path: Path, title: str) -> str:
    """Plot median wall time and data-stage write() counts per form; say what happened."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "not written (matplotlib is not installed: pip install '.[bench]')"
    impls = list(dict.fromkeys(r.impl for r in rows))
    forms = list(dict.fromkeys(r.form for r in rows))
    index = {(r.form, r.impl): r for r in rows}
    plt.rcParams["svg.fonttype"] = "none"
    plt.rcParams["svg.hashsalt"] = "qmonexec"
    fig, (ax_time, ax_cpu, ax_writes) = plt.subplots(3, 1, figsize=(9, 10), sharex=True)
    width = 0.8 / max(len(impls), 1)
    for n, impl in enumerate(impls):
        xs = [i + (n - (len(impls) - 1) / 2) * width for i in range(len(forms))]
        got = [index.get((f, impl)) for f in forms]
        medians = [r.median if r else 0.0 for r in got]
        low = [r.median - r.minimum if r else 0.0 for r in got]
        high = [r.maximum - r.median if r else 0.0 for r in got]
        ax_time.bar(xs, medians, width, yerr=[low, high], capsize=3, label=f"{impl} dd")
        ax_cpu.bar(xs, [r.median_cpu if r else 0.0 for r in got], width, label=f"{impl} dd")
        writes = [r.writes if r and r.writes else 0 for r in got]
        bars = ax_writes.bar(xs, writes, width, label=f"{impl} dd")
        labels = [str(w) if w else "" for w in writes]
        ax_writes.bar_label(bars, labels=labels, fontsize=6, rotation=90, padding=2)
    for n, impl in enumerate(impls):
        floor = index.get((FLOOR_KEY, impl))
        if floor:
            ax_time.axhline(floor.median * 1.05, color=f"C{n}", linestyle=":", linewidth=1,
                            label=f"1.05 x floor ({impl})")  # fmt: skip
    ax_time.set_ylabel("median wall time, s (bars: min..max)")
    ax_time.set_title(title)
    ax_time.legend(fontsize=8, ncol=2)
    ax_cpu.set_ylabel("median CPU s (user+sys),\nshell and its children")
    ax_cpu.legend(fontsize=8)
    ax_writes.set_yscale("log")
    ax_writes.set_ylim(top=ax_writes.get_ylim()[1] * 4)  # room for the rotated labels
    ax_writes.set_ylabel("data-stage write() calls")
    ax_writes.set_xticks(range(len(forms)))
    roles = {r.form: r.role for r in rows}
    ax_writes.set_xticklabels([f"{f}\n{roles[f]}" for f in forms], fontsize=7, rotation=30)
    ax_writes.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata={"Date": None} if path.suffix == ".svg" else None)
    plt.close(fig)
    return f"written to {path}"


def _title(size: int, rounds: int, nproc: object) -> str:
    """Plot title: stream size, rounds, CPUs."""
    text = f"{size / GIB:g} GiB" if size >= GIB else f"{size / MIB:g} MiB"
    return f"pipeline, {text} stream, {rounds} rounds, {nproc} CPUs"


def replot(results: Path, plot: str, markdown: bool) -> int:
    """Print the tables and write the plot of an earlier run from its results JSON."""
    payload = json.loads(results.read_text())
    rows = [Summary(**row) for row in payload["summary"]]
    print(format_table(rows))
    if markdown:
        print(format_markdown(rows))
    if plot:
        title = _title(payload["size"], payload["rounds"], payload["machine"]["nproc"])
        print("plot:", write_plot(rows, Path(plot), title))
    return 0


def parse_size(text: str) -> int:
    """``1G``, ``256M``, ``2MiB``, ``4096`` -> bytes (binary units)."""
    match = re.fullmatch(r"\s*(\d+)\s*([kKmMgG]?)(?:i?[bB])?\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}")
    scale = {"": 1, "k": 1 << 10, "m": MIB, "g": GIB}[match.group(2).lower()]
    value = int(match.group(1)) * scale
    if value <= 0:
        raise argparse.ArgumentTypeError("size must be positive")
    return value


def first_line(argv: list[str]) -> str | None:
    """First output line of ``argv``, or None when it cannot run."""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=10)
    except OSError:
        return None
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else None


def filesystem_of(path: Path) -> dict[str, str]:
    """Device, mount point and type of the filesystem holding ``path`` (from /proc/mounts)."""
    best = {"device": "?", "mount": "/", "type": "?"}
    resolved = str(path.resolve())
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return best
    for line in lines:
        device, mount, kind = line.split()[:3]
        inside = resolved == mount or resolved.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best["mount"]):
            best = {"device": device, "mount": mount, "type": kind}
    disk = os.path.basename(best["device"])
    rotational = Path(f"/sys/block/{disk}/queue/rotational")
    if rotational.exists():
        best["rotational"] = rotational.read_text().strip()
    return best


def machine_info(workdir: Path, busybox: str | None) -> dict[str, object]:
    """What the results were measured on."""
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sh": os.path.realpath("/bin/sh"),
        "gnu_dd": first_line(["dd", "--version"]),
        "busybox": first_line([busybox]) if busybox else None,
        "strace": first_line(["strace", "-V"]),
        "filesystem": filesystem_of(workdir),
        "loadavg": os.getloadavg(),
    }


def busybox_impl(busybox: str, parent: Path) -> DdImpl:
    """A DdImpl whose PATH starts with a directory holding ``dd -> busybox``."""
    directory = Path(tempfile.mkdtemp(prefix="busybox-dd-", dir=parent))
    (directory / "dd").symlink_to(busybox)
    return DdImpl("busybox", str(directory))


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=GIB, help="stream size (default 1G)")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (default 7)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first (default 1)")
    parser.add_argument(
        "--forms", default=",".join(f.key for f in FORMS),
        help="comma-separated form keys (default: all)",
    )  # fmt: skip
    parser.add_argument("--impls", default="gnu,busybox", help="gnu,busybox (default both)")
    parser.add_argument("--dir", type=Path, default=None, help="parent of the work directory")
    parser.add_argument("--out", type=Path, default=DEFAULT_RESULTS, help="JSON results dir")
    parser.add_argument("--plot", default=str(DEFAULT_PLOT), help="plot path ('' for none)")
    parser.add_argument("--no-trace", action="store_true", help="skip the strace pass")
    parser.add_argument("--markdown", action="store_true", help="also print Markdown tables")
    parser.add_argument(
        "--replot", type=Path, default=None, help="no runs: table and plot from a results JSON"
    )
    parser.add_argument("--seed", type=int, default=6, help="seed of the stream bytes")
    args = parser.parse_args(argv)

    if args.replot is not None:
        return replot(args.replot, args.plot, args.markdown)
    known = {f.key: f for f in FORMS}
    try:
        forms = [known[key] for key in args.forms.split(",") if key]
    except KeyError as error:
        parser.error(f"unknown form {error}; known: {', '.join(known)}")
    parent = Path(args.dir or tempfile.gettempdir())
    workdir = Path(tempfile.mkdtemp(prefix="qmonexec-pipeline-", dir=parent))
    fs = filesystem_of(workdir)
    if fs["type"] in {"tmpfs", "ramfs"}:
        print(f"warning: {workdir} is on {fs['type']}, not a disk; use --dir", file=sys.stderr)
    busybox = shutil.which("busybox")
    impls: list[DdImpl] = []
    for name in args.impls.split(","):
        if name == "gnu":
            impls.append(DdImpl("gnu"))
        elif name == "busybox":
            if busybox is None:
                print("busybox not found: skipping busybox dd", file=sys.stderr)
            else:
                impls.append(busybox_impl(busybox, workdir))
        elif name:
            parser.error(f"unknown dd implementation {name!r}")
    strace = None if args.no_trace else shutil.which("strace")
    if strace is None and not args.no_trace:
        print("strace not found: no syscall counts", file=sys.stderr)

    machine = machine_info(workdir, busybox)
    print(f"stream: {args.size} bytes; work dir {workdir} ({fs['type']} on {fs['device']})")
    stream = Stream(args.size, args.seed)
    started = time.strftime("%Y%m%d-%H%M%S")
    try:
        results = run_benchmark(
            forms, impls, stream, workdir, rounds=args.rounds, warmup=args.warmup,
            strace=strace, progress=lambda text: print(text, flush=True),
        )  # fmt: skip
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rows = summarize(forms, impls, results)
    machine["loadavg_end"] = os.getloadavg()
    print()
    print(format_table(rows))
    if args.markdown:
        print(format_markdown(rows))
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"pipeline-{started}.json"
    payload = {
        "benchmark": "pipeline",
        "started": started,
        "size": args.size,
        "chunk": CHUNK,
        "rounds": args.rounds,
        "timing": "wall time from spawning /bin/sh -c FORM until it exits; fsync not timed;"
        " cpu = user+sys of the shell and its children",
        "stream_sha256": stream.sha256,
        "machine": machine,
        "forms": [asdict(f) | {"rendered": f.render("F")} for f in forms],
        "summary": [asdict(r) for r in rows],
        "runs": [asdict(r) for r in results],
    }
    out.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"results: {out}")
    if args.plot:
        title = _title(args.size, args.rounds, machine["nproc"])
        print("plot:", write_plot(rows, Path(args.plot), title))
    return 0


if __name__ == "__main__":
    sys.exit(main())

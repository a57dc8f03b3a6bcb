"""QEMU benchmark of the save transports: bare ``exec:`` strings vs each qmonexec transport.

Run as ``python benchmarks/qemu.py transports [options]`` (or this file directly).  One guest
size (default 1 GiB, filled with random bytes from 16 MiB up as in :mod:`benchmarks.qemu`),
on each QEMU given (default: the system's 7.2 and the backports' 10.0.2 from
``QMONEXEC_QEMU_BACKPORTS``), into each place (``tmpfs``: /dev/shm, no disk; ``disk``: the
work directory, every form fsyncs), in alternating rounds (the form order is rotated and
reversed every other round).  Forms:

* ``bare-cat``: ``migrate exec:cat > F``, wait for ``completed``, fsync F;
* ``bare-zstd``: ``migrate exec:zstd -c > F``, the same;
* ``exec-raw``, ``exec-zstd``: ``qmonexec.save.save(transport="exec")`` (the stage-status form);
* ``fd-raw``, ``fd-zstd``: ``transport="fd"`` (``fd-zstd`` is what ``auto`` does for zstd);
* ``file-raw``: ``transport="file"`` (QEMU 9.1+; what ``auto`` does for raw there);
* ``parallel2``: ``parallel=2`` (mapped-ram, 2 multifd channels; QEMU 9.1+).

Each save runs against a fresh source QEMU (start-up untimed).  Measured: wall time of the
whole operation (qmonexec: the ``save()`` call; bare: ``migrate`` to fsync done), CPU seconds
of QEMU plus the children it reaped (``/proc/PID/stat`` utime+stime+cutime+cstime), CPU of
the children qmonexec reaped (the fd transport's compressor) and of the qmonexec process
itself (``getrusage``).  Results: ``benchmarks/results/transports-*.json`` and a Markdown
table of medians and ratios to ``bare-cat`` (and ``bare-zstd`` for the zstd forms).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.qemu import (  # noqa: E402
    LOAD_ADDR,
    TOP_GAP,
    BenchError,
    _base_args,
    _fsync_file_and_dir,
    _wait_migration_event,
    machine_info,
    make_blob,
    parse_size,
)
from qmonexec.qmp import QMPClient  # noqa: E402
from qmonexec.save import save  # noqa: E402
from tests.helpers.qemu import QemuVM, running_qemu  # noqa: E402

FORMS = ("bare-cat", "bare-zstd", "exec-raw", "exec-zstd", "fd-raw", "fd-zstd", "file-raw",
         "parallel2")
#: Forms that need QEMU 9.1+.
NEW_ONLY = ("file-raw", "parallel2")
BANDWIDTH = 1 << 40
CLK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().rsplit(")", 1)[1].split()  # [0] is field 3, the state


def children(pid: int) -> list[int]:
    """Children of ``pid`` not reaped yet (zombies included)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found += [int(p) for p in handle.read().split()]
    return found


def qemu_cpu(pid: int) -> float:
    """CPU seconds of ``pid``, the children it reaped, and those it has not reaped yet.

    QEMU reaps an ``exec:`` child when it gets to it; until then the child's time is
    only in its own (zombie) entry.
    """
    try:
        fields = _stat(pid)
    except OSError:
        return 0.0
    # utime, stime, cutime, cstime are fields 14-17.
    return sum(int(fields[i]) for i in range(11, 15)) / CLK + sum(
        qemu_cpu(child) for child in children(pid))


def wait_children(pid: int, limit: float = 600.0) -> None:
    """Wait until every child of ``pid`` has exited (a bare pipeline finishing its writes)."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        alive = []
        for child in children(pid):
            with contextlib.suppress(OSError):
                if _stat(child)[0] != "Z":
                    alive.append(child)
        if not alive:
            return
        time.sleep(0.002)
    raise BenchError("the bare pipeline did not exit")


def own_cpu() -> tuple[float, float]:
    """CPU seconds of this process and of the children it has reaped."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def bare(client: QMPClient, pid: int, target: Path, command: str) -> dict[str, Any]:
    """``migrate exec:COMMAND > target``, wait for completed and the pipeline's exit, fsync.

    Waiting for the pipeline is what makes the file complete (``completed`` comes before
    the last bytes are written); QEMU itself does not wait for it.
    """
    client.set_parameters({"max-bandwidth": BANDWIDTH})
    client.set_capabilities({"events": True})
    client.events()
    client.migrate(f"exec:{command} > {target}", allow_unvalidated_exec=True)
    status = _wait_migration_event(client)
    if status != "completed":
        raise BenchError(f"bare save ended {status}")
    wait_children(pid)
    _fsync_file_and_dir(target)
    return {}


def qmonexec_form(form: str) -> Callable[[QMPClient, int, Path], dict[str, Any]]:
    """The ``save()`` call of a qmonexec form."""
    transport, _, comp = form.partition("-")
    options: dict[str, Any] = ({"parallel": 2} if form == "parallel2" else
                               {"transport": transport,
                                "compress": None if comp == "raw" else comp})

    def run(client: QMPClient, pid: int, target: Path) -> dict[str, Any]:
        result = save(client, str(target), then="pause", **options)
        if result.transport != ("file" if form == "parallel2" else transport):
            raise BenchError(f"{form} used transport {result.transport}")
        return {"stream_length": result.stream_length, "uri": result.uri[:80]}

    return run


def form_runner(form: str) -> Callable[[QMPClient, int, Path], dict[str, Any]]:
    """The timed operation of ``form``."""
    if form == "bare-cat":
        return lambda client, pid, target: bare(client, pid, target, "cat")
    if form == "bare-zstd":
        return lambda client, pid, target: bare(client, pid, target, "zstd -c")
    return qmonexec_form(form)


@contextlib.contextmanager
def source_vm(program: str, memory: int, blob: Path, sockdir: Path) -> Iterator[QemuVM]:
    workdir = sockdir / "src"
    workdir.mkdir(exist_ok=True)
    with running_qemu("-device", f"loader,file={blob},addr={LOAD_ADDR:#x},force-raw=on",
                      workdir=workdir, program=program, base_args=_base_args(memory),
                      startup_timeout=120.0) as vm:
        yield vm


def measure(program: str, form: str, memory: int, blob: Path, sockdir: Path,
            target: Path) -> dict[str, Any]:
    """One timed save of ``form``; the target is removed afterwards."""
    with source_vm(program, memory, blob, sockdir) as vm, \
            QMPClient(str(vm.qmp_path), timeout=600.0) as client:
        runner = form_runner(form)
        qemu_before = qemu_cpu(vm.pid)
        self_before, kids_before = own_cpu()
        start = time.perf_counter()
        info = runner(client, vm.pid, target)
        wall = time.perf_counter() - start
        qemu_after = qemu_cpu(vm.pid)
        self_after, kids_after = own_cpu()
    size = target.stat().st_size
    target.unlink()
    return {"form": form, "wall": wall, "qemu_cpu": qemu_after - qemu_before,
            "child_cpu": kids_after - kids_before, "self_cpu": self_after - self_before,
            "file_size": size, **info}


def programs(spec: str) -> dict[str, str]:
    """``7.2=PATH,10.0=PATH`` or the defaults."""
    found: dict[str, str] = {}
    for item in spec.split(","):
        label, _, path = item.partition("=")
        if label == "7.2" and not path:
            path = shutil.which("qemu-system-x86_64") or ""
        if label == "10.0" and not path:
            path = os.environ.get("QMONEXEC_QEMU_BACKPORTS", "")
        if path and os.access(path, os.X_OK):
            found[label] = path
    return found


def summarize(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Medians per (qemu, place, form) and ratios to the bare forms."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["qemu"], run["place"], run["form"]), []).append(run)
    rows = []
    for (qemu, place, form), items in sorted(groups.items()):
        row = {"qemu": qemu, "place": place, "form": form, "n": len(items)}
        for key in ("wall", "qemu_cpu", "child_cpu", "self_cpu"):
            row[key] = statistics.median(i[key] for i in items)
        row["cpu"] = statistics.median(i["qemu_cpu"] + i["child_cpu"] + i["self_cpu"]
                                       for i in items)
        rows.append(row)
    index = {(r["qemu"], r["place"], r["form"]): r for r in rows}
    for row in rows:
        base = index.get((row["qemu"], row["place"],
                          "bare-zstd" if "zstd" in row["form"] else "bare-cat"))
        if base:
            row["wall_ratio"] = row["wall"] / base["wall"]
            row["cpu_ratio"] = row["cpu"] / base["cpu"]
    return rows


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    lines = ["| QEMU | place | form | n | wall s | CPU s (QEMU + children + qmonexec) | "
             "wall / bare | CPU / bare |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['qemu']} | {r['place']} | {r['form']} | {r['n']} | {r['wall']:.2f} | "
            f"{r['cpu']:.2f} ({r['qemu_cpu']:.2f} + {r['child_cpu']:.2f} + "
            f"{r['self_cpu']:.2f}) | {r.get('wall_ratio', float('nan')):.2f} | "
            f"{r.get('cpu_ratio', float('nan')):.2f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1G", help="guest RAM (default 1G)")
    parser.add_argument("--rounds", type=int, default=10, help="rounds (default 10)")
    parser.add_argument("--forms", default=",".join(FORMS), help="forms to run")
    parser.add_argument("--qemu", default="7.2,10.0",
                        help="QEMU versions: LABEL[=PATH],... (default 7.2,10.0)")
    parser.add_argument("--places", default="tmpfs,disk", help="tmpfs, disk or both")
    parser.add_argument("--dir", type=Path, default=Path("/var/tmp"), help="disk work dir")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    memory = parse_size(args.size)
    forms = [f for f in args.forms.split(",") if f]
    qemus = programs(args.qemu)
    places = {"tmpfs": Path("/dev/shm"), "disk": args.dir}
    chosen = {p: places[p] for p in args.places.split(",") if p}
    sockdir = Path(tempfile.mkdtemp(prefix="qmxt-", dir="/tmp"))
    blobdir = Path(tempfile.mkdtemp(prefix="qmonexec-blob-", dir="/dev/shm"))
    workdirs = {p: Path(tempfile.mkdtemp(prefix="qmonexec-bench-", dir=d))
                for p, d in chosen.items()}
    machine = machine_info(next(iter(workdirs.values())))
    machine["qemu"] = {label: path for label, path in qemus.items()}
    started = time.strftime("%Y%m%d-%H%M%S")
    runs: list[dict[str, Any]] = []
    try:
        blob = blobdir / "ram.bin"
        make_blob(blob, memory - LOAD_ADDR - TOP_GAP, 6)
        for round_no in range(args.rounds):
            order = forms[round_no % len(forms):] + forms[:round_no % len(forms)]
            if round_no % 2:
                order.reverse()
            for label, program in qemus.items():
                for place, workdir in workdirs.items():
                    for form in order:
                        if form in NEW_ONLY and label == "7.2":
                            continue
                        run = measure(program, form, memory, blob, sockdir,
                                      workdir / "vm.img")
                        run.update(qemu=label, place=place, round=round_no)
                        runs.append(run)
                        print(f"round {round_no} {label} {place} {form}: {run['wall']:.2f} s, "
                              f"CPU {run['qemu_cpu']:.2f}+{run['child_cpu']:.2f}+"
                              f"{run['self_cpu']:.2f}", flush=True)
    finally:
        shutil.rmtree(sockdir, ignore_errors=True)
        shutil.rmtree(blobdir, ignore_errors=True)
        for workdir in workdirs.values():
            shutil.rmtree(workdir, ignore_errors=True)
        rows = summarize(runs)
        print()
        print(markdown(rows))
        args.out.mkdir(parents=True, exist_ok=True)
        out = args.out / f"transports-{started}.json"
        out.write_text(json.dumps({"benchmark": "transports", "started": started,
                                   "machine": machine, "summary": rows, "runs": runs},
                                  indent=1))
        print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

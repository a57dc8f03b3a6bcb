"""Run one accepted string in a real shell, sandboxed, and compare with the verdict.

:class:`Sandbox` owns a session directory: the compiled recording stub
(``stub/record_stub.c``), and per worker slot a scratch directory (the working
directory and the home of every path a case writes), a ``PATH`` directory of stubs,
and the log and stdio files.  :meth:`Sandbox.run` runs ``SHELL -c TRUTH`` as
``unshare -n -p -f --mount-proc --kill-child qmx-init SHELL -c TRUTH``: no network,
its own pid namespace (``/proc/1`` is the stub acting as init, which waits for every
descendant before it exits), stdin ``/dev/null``, a timeout.  Then what the stubs
recorded (argv and every open fd with its target and access mode), the scratch tree
(names, and contents: only the save target holds bytes, its old ones), stdout, stderr
and the exit status must equal what :func:`expect` derives from the verdict alone.
"""

from __future__ import annotations

__all__ = ["SPECIAL_ROOTS", "Expected", "Pair", "Sandbox", "Skip", "expect", "norm",
           "parse_log", "sandbox_problem", "shape_problem"]

import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qmonexec.shell import Verdict

from .adversarial import STUB_NAMES

STUB_SOURCE = Path(__file__).with_name("stub") / "record_stub.c"
#: Targets outside the scratch directory that are opened for real (the sandbox makes them
#: harmless): device files, descriptors, /proc views.  Others are never run.
SPECIAL_ROOTS = ("/dev/", "/proc/")
UNSHARE = ("unshare", "-n", "-p", "-f", "--mount-proc", "--kill-child")
OLD = b"OLD-HEADER-BYTES"
TIMEOUT = 15
O_ACCMODE = 0o3
O_APPEND = 0o2000
_OP_MODE = {"<": "r", ">": "w", ">|": "w", ">>": "wa", "<>": "rw"}

Fd = tuple[str, str]  # (what, mode): a normalized path or "pipe", and r / w / rw / wa
Record = tuple[tuple[str, ...], tuple[tuple[int, Fd], ...]]  # argv, open fds


class Skip(Exception):
    """The case cannot be run faithfully here (the reason says why)."""


def _b(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _s(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def sandbox_problem() -> str | None:
    """Why the sandbox cannot run here, or ``None`` when it works."""
    if shutil.which("unshare") is None:
        return "unshare is not installed (Debian package util-linux)"
    try:
        done = subprocess.run([*UNSHARE, "true"], capture_output=True, timeout=30, check=False)
    except OSError as exc:
        return f"unshare cannot run: {exc}"
    if done.returncode != 0:
        return (f"unshare {' '.join(UNSHARE[1:])} fails (needs root or user namespaces): "
                f"{done.stderr.decode(errors='replace').strip()}")  # fmt: skip
    return None


@dataclass
class Expected:
    """What the verdict says the shell does."""

    records: list[Record]
    created: set[str]  # files the redirections create (normalized, inside the scratch dir)
    save_target: str | None
    read_files: set[str] = field(default_factory=set)  # ``<`` targets (must exist)


def norm(path: str) -> str:
    """``path`` as the kernel resolves its spelling (``//x`` is ``/x`` on Linux)."""
    path = os.path.normpath(path)
    return "/" + path.lstrip("/") if path.startswith("//") else path


def shape_problem(verdict: Verdict, programs: set[str] | None) -> str | None:
    """Why the verdict's own decoded commands do not fit the shape it accepted, or ``None``.

    ``programs``: the allowed program names (an absolute path counts as its last
    component), ``None`` for any.  Save:
    two dd's behind at most one compressor stage, ``:`` markers; restore: one dd and at
    most one decompressor; command: one simple command without redirections.
    """
    names = [c.argv[0] if c.argv else "" for c in verdict.commands]
    limits = {"save": (2, 7), "restore": (1, 2), "command": (0, 1)}
    if verdict.shape not in limits:
        return f"accepted with shape {verdict.shape!r}"
    dds, most = limits[verdict.shape]
    if len(names) > most or (dds and names.count("dd") != dds):
        return f"{verdict.shape} shape with the commands {names!r}"
    if programs is not None:
        allowed = programs | {"dd", ":"}
        outside = [n for n in names if n not in allowed
                   and not (n.startswith("/") and n.rsplit("/", 1)[1] in allowed)]
        if outside:
            return f"programs outside the policy: {outside!r}"
    if verdict.shape == "command" and verdict.commands[0].redirects:
        return "a single command with redirections"
    return None


def _inside(path: str, base: str) -> bool:
    return path == base or path.startswith(base + "/")


def expect(verdict: Verdict, base: str, io: dict[int, Fd]) -> Expected:
    """Derive the stub records and created files from ``verdict.commands`` alone.

    Every stub exits 0, so in ``A && : >X.ok || : >X.failed`` the ``.failed`` marker
    is never written; ``:`` is a builtin (no record), the other programs are stubs.
    """
    last = max((c.stage for c in verdict.commands), default=0)
    records = []
    created: set[str] = set()
    reads: set[str] = set()
    save_target = None
    for cmd in verdict.commands:
        builtin = bool(cmd.argv) and cmd.argv[0] == ":"  # a no-op in every shell, no record
        if builtin and any(r.target.endswith(".failed") for r in cmd.redirects):
            continue
        fds = dict(io)
        if cmd.stage > 0:
            fds[0] = ("pipe", "")
        if cmd.stage < last:
            fds[1] = ("pipe", "")
        for r in cmd.redirects:
            if r.op in ("<&", ">&"):
                if r.target == "-":
                    fds.pop(r.fd, None)
                elif r.target.isdigit() and int(r.target) in fds:
                    fds[r.fd] = fds[int(r.target)]
                else:
                    raise Skip(f"dup of a closed fd {r.target!r}")
                continue
            if r.op not in _OP_MODE:
                raise Skip(f"operator {r.op!r} (here-documents are not modelled)")
            path = norm(r.target)
            fds[r.fd] = (path, _OP_MODE[r.op])
            if _inside(path, base):
                (reads if r.op == "<" else created).add(path)
            if r.op == "<>":
                save_target = path
        if not builtin:
            records.append((cmd.argv, tuple(sorted(fds.items()))))
    return Expected(sorted(records), created - reads, save_target, reads)


def _mode(flags: int) -> str:
    acc = {0: "r", 1: "w", 2: "rw"}.get(flags & O_ACCMODE, "?")
    return acc + ("a" if flags & O_APPEND else "")


def parse_log(data: bytes, path_dir: str, socket_pipes: bool) -> list[Record]:
    """The stub records: (argv, ((fd, (target, mode)), ...)) per program run.

    ``socket_pipes``: the shell builds pipelines from socket pairs (ksh93).
    """
    fields = data.split(b"\0")
    records = []
    i = 0
    while i < len(fields) - 1:
        argc = int(fields[i])
        argv = [_s(a) for a in fields[i + 1 : i + 1 + argc]]
        if argv[0].startswith(path_dir + "/") and "/" not in argv[0][len(path_dir) + 1 :]:
            argv[0] = argv[0][len(path_dir) + 1 :]  # some shells pass the path they found
        j = i + 1 + argc
        fds: dict[int, Fd] = {}
        for _k in range(int(fields[j])):
            fd, link, flags = int(fields[j + 1]), _s(fields[j + 2]), fields[j + 3]
            j += 3
            if link.startswith("pipe:"):
                fds[fd] = ("pipe", "")
            elif link.startswith("socket:") and socket_pipes:
                fds[fd] = ("pipe", "")  # ksh93 pipes with socketpairs
            else:
                fds[fd] = (link, _mode(int(flags or b"0", 8)))
        records.append((tuple(argv), tuple(sorted(fds.items()))))
        i = j + 1
    return sorted(records)


def _tree(base: str) -> dict[str, bytes | None]:
    """Every entry under ``base``: file contents, ``None`` for directories and symlinks."""
    out: dict[str, bytes | None] = {}
    for root, dirs, files in os.walk(_b(base)):
        for name in dirs + files:
            path = os.path.join(root, name)
            key = _s(path)
            if os.path.islink(path) or os.path.isdir(path):
                out[key] = None
            else:
                with open(path, "rb") as handle:
                    out[key] = handle.read(4096)
    return out


@dataclass(frozen=True)
class Pair:
    """A shell setup and a locale."""

    label: str
    argv: tuple[str, ...]
    locale: str

    def __str__(self) -> str:
        return f"{self.label}/{self.locale}"


class Sandbox:
    """The session directory: stub binary, and per slot scratch, PATH and log files."""

    def __init__(self, root: str, compiler: str) -> None:
        self.root = root
        self.init = os.path.join(root, "qmx-init")
        done = subprocess.run([compiler, "-O2", "-o", self.init, str(STUB_SOURCE)],
                              capture_output=True, check=False)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"cannot compile {STUB_SOURCE}: {done.stderr.decode()}")

    @classmethod
    def create(cls, compiler: str) -> Sandbox:
        """A sandbox in a fresh temporary directory (remove it with :meth:`close`)."""
        return cls(os.path.realpath(tempfile.mkdtemp(prefix="qmx-adv-")), compiler)

    def close(self) -> None:
        """Remove the session directory."""
        shutil.rmtree(self.root, ignore_errors=True)

    def base(self, slot: int) -> str:
        """The scratch directory of ``slot`` (safe characters only)."""
        return os.path.join(self.root, f"s{slot:02d}")

    def _stub(self, path: str) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if not os.path.lexists(path):
            os.symlink(self.init, path)

    def prepare(
        self, slot: int, verdict: Verdict, want: Expected
    ) -> tuple[str, dict[str, bytes | None]]:
        """Fresh scratch and PATH directories for one run; returns the PATH dir and the tree."""
        base, path_dir = self.base(slot), os.path.join(self.root, f"p{slot:02d}")
        shutil.rmtree(base, ignore_errors=True)
        os.makedirs(base)
        if not os.path.isdir(path_dir):  # stubs stay: a stub more on PATH changes nothing
            for name in STUB_NAMES:
                self._stub(os.path.join(path_dir, name))
        for cmd in verdict.commands:
            program = cmd.argv[0] if cmd.argv else ":"
            if program == ":":
                continue
            if "/" not in program:
                if program in (".", "..") or len(_b(program)) > 255:
                    raise Skip(f"program name {program!r} cannot be a file")
                self._stub(os.path.join(_s(_b(path_dir)), program))
                continue
            full = norm(os.path.join(base, program))
            if not _inside(full, base) or full == base:
                raise Skip(f"program {program!r} outside the scratch directory")
            self._make_dirs(base, os.path.join(base, program))
            self._stub(full)
        for cmd in verdict.commands:
            for r in cmd.redirects:
                if r.op in ("<&", ">&"):
                    continue
                path = norm(r.target)
                if _inside(path, base):
                    if path == base:
                        raise Skip("a redirection opens the scratch directory itself")
                    self._make_dirs(base, r.target)
                elif not path.startswith(SPECIAL_ROOTS):
                    raise Skip(f"redirection target {r.target!r} outside the scratch directory")
        for path in want.read_files:
            with open(_b(path), "ab"):
                pass
        if want.save_target is not None and _inside(want.save_target, base):
            if os.path.isdir(_b(want.save_target)):
                raise Skip("the save target is a directory another path needs")
            with open(_b(want.save_target), "wb") as handle:
                handle.write(OLD)
        return path_dir, _tree(base)

    def _make_dirs(self, base: str, raw: str) -> None:
        """Create every directory the kernel walks through to reach ``raw`` (``x/..`` too)."""
        parts = raw.split("/")
        for k in range(2, len(parts)):
            prefix = "/".join(parts[:k])
            if not prefix or not _inside(norm(prefix), base):
                continue
            if os.path.isfile(_b(prefix)) or os.path.islink(_b(prefix)):
                raise Skip(f"{prefix!r} is a file and a directory of another path")
            os.makedirs(_b(prefix), exist_ok=True)

    def run(self, slot: int, pair: Pair, truth: str, verdict: Verdict) -> tuple[str, str] | None:
        """Run ``truth`` under ``pair``: ``None``, or (mismatch class, every difference)."""
        base = self.base(slot)
        io_dir = os.path.join(self.root, f"io{slot:02d}")
        os.makedirs(io_dir, exist_ok=True)
        log, out, err = (os.path.join(io_dir, n) for n in ("log", "out", "err"))
        io: dict[int, Fd] = {0: ("/dev/null", "r"), 1: (out, "w"), 2: (err, "w")}
        want = expect(verdict, base, io)
        try:
            path_dir, before = self.prepare(slot, verdict, want)
        except OSError as exc:  # e.g. a name over 255 bytes: the shell could not open it either
            raise Skip(f"cannot create a path the string names: {exc.strerror}") from None
        if os.path.exists(log):
            os.unlink(log)
        env = {"PATH": path_dir, "QMX_LOG": log, "LC_ALL": pair.locale,
               "HOME": "/nonexistent-home"}  # fmt: skip
        unshare = shutil.which("unshare") or "unshare"
        argv: list[str | bytes] = [unshare, *UNSHARE[1:], self.init, *pair.argv, "-c", _b(truth)]
        with open(os.devnull, "rb") as stdin, open(out, "wb") as fout, open(err, "wb") as ferr:
            status = _WATCHDOG.run(argv, stdin=stdin, stdout=fout, stderr=ferr, env=env,
                                       cwd=base)  # fmt: skip
        problems = []
        if status != 0:
            problems.append({-1: "timed out", 200: "a process stopped itself (SIGSTOP/SIGTSTP)"}
                            .get(status, f"exit status {status}"))  # fmt: skip
        for name, path in (("stdout", out), ("stderr", err)):
            data = Path(path).read_bytes()
            if data:
                problems.append(f"{name} {data[:300]!r}")
        data = Path(log).read_bytes() if os.path.exists(log) else b""
        got = parse_log(data, path_dir, pair.label == "ksh93")
        if got != want.records:
            problems.append(f"ran {got!r}\n      verdict says {want.records!r}")
        after = _tree(base)
        extra = sorted(set(after) - set(before) - want.created)
        missing = sorted(want.created - set(after))
        if extra:
            problems.append(f"unexpected files {extra!r}")
        if missing:
            problems.append(f"files not created {missing!r}")
        for path, content in after.items():
            old = before.get(path, b"")
            if content is not None and content != old:
                problems.append(f"{path!r} holds {content[:200]!r} (was {old!r})")
        if not problems:
            return None
        return classify(verdict, base, got, want.records), "; ".join(problems)


class _Watchdog:
    """One daemon thread that kills runs past their deadline.

    A blocking wait plus this thread, not ``subprocess.run(timeout=...)``: that one polls
    with sleeps of 0.5, 1, 2, 4 ms..., which costs more than a run itself, and a timer
    thread per run costs most of a millisecond to start.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[int, tuple[float, subprocess.Popen[bytes]]] = {}
        self._expired: set[int] = set()
        self._thread: threading.Thread | None = None

    def run(self, argv: list[str | bytes], **popen: Any) -> int:
        """The exit status of ``argv``, or -1 when it ran past :data:`TIMEOUT` (then killed)."""
        proc = subprocess.Popen(argv, start_new_session=True, **popen)
        with self._lock:
            self._running[proc.pid] = (time.monotonic() + TIMEOUT, proc)
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, daemon=True)
                self._thread.start()
        try:
            status = proc.wait()
        finally:
            with self._lock:
                del self._running[proc.pid]
                expired = proc.pid in self._expired
                self._expired.discard(proc.pid)
        return -1 if expired else status

    def _watch(self) -> None:
        while True:
            time.sleep(0.25)
            now = time.monotonic()
            with self._lock:
                for pid, (deadline, proc) in self._running.items():
                    if now > deadline and pid not in self._expired:
                        self._expired.add(pid)
                        proc.kill()  # unshare --kill-child takes its pid namespace with it


_WATCHDOG = _Watchdog()


def classify(verdict: Verdict, base: str, got: list[Record], want: list[Record]) -> str:
    """A short name for the kind of mismatch, to group reports."""
    for cmd in verdict.commands:
        for r in cmd.redirects:
            path = norm(r.target)
            if not _inside(path, base):
                there = "" if os.path.exists(_b(path)) else " (no such file here)"
                return "special path " + "/".join(path.split("/")[:3]) + there
    got_names = Counter(argv[0] for argv, _fds in got)
    want_names = Counter(argv[0] for argv, _fds in want)
    if want_names - got_names:
        return "did not run as a program: " + " ".join(sorted(want_names - got_names))
    if got_names - want_names:
        return "ran unexpectedly: " + " ".join(sorted(got_names - want_names))
    if sorted(a for a, _f in got) != sorted(a for a, _f in want):
        return "argv differs"
    if got != want:
        return "open fds differ"
    return "output, exit status or files differ"

"""Real QEMU for tests and benchmarks: start a paused, disk-less VM with a QMP socket, kill it.

The one QEMU launcher of the repository: the tests use it through the
fixtures of :mod:`tests.helpers.qemu_fixtures` (``qemu``, ``qemu_factory``,
``loaded_vm``), ``benchmarks/qemu.py`` calls :func:`start_qemu` directly.
This module does not import pytest: only when ``program`` is not given does
:func:`start_qemu` look QEMU up with :func:`tests.helpers.support.require_program`
(skip on a laptop, fail in CI).

The VM runs ``qemu-system-x86_64 -machine pc,accel=tcg -m 64 -nodefaults
-display none -S -qmp unix:PATH,server=on,wait=off`` plus the extra arguments,
with ``LC_ALL=C``, in its own process group (so ``exec:`` children die with
it).  Its stderr goes to a file (``vm.stderr_text()``).  Teardown kills the
process group by pid and waits, also when the test failed.  A missing QEMU
skips the test on a laptop and fails it in CI (``tests.helpers.support.require_program``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

QEMU_PROGRAM = "qemu-system-x86_64"
QEMU_PACKAGE = "qemu-system-x86"

#: Options every test VM gets before the extra arguments.
BASE_ARGS: tuple[str, ...] = (
    "-machine",
    "pc,accel=tcg",
    "-m",
    "64",
    "-nodefaults",
    "-display",
    "none",
    "-S",
)


@dataclass
class QemuVM:
    """A running QEMU started by :func:`start_qemu`."""

    process: subprocess.Popen[bytes]
    qmp_path: Path
    stderr_path: Path
    workdir: Path
    argv: list[str]
    _own_workdir: bool = field(default=False, repr=False)

    @property
    def pid(self) -> int:
        """QEMU's process id (also its process group id)."""
        return self.process.pid

    def client(self, **kwargs: Any) -> Any:
        """Return an unconnected :class:`qmonexec.qmp.QMPClient` for this VM (use ``with``)."""
        from qmonexec.qmp import QMPClient

        kwargs.setdefault("timeout", 20.0)
        return QMPClient(str(self.qmp_path), **kwargs)

    def stderr_text(self) -> str:
        """Everything QEMU (and any exec: child) wrote to stderr so far."""
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_exit(self, timeout: float = 10.0) -> int:
        """Wait for QEMU to exit by itself; return its status (raises on timeout)."""
        return self.process.wait(timeout=timeout)

    def stop(self) -> int | None:
        """Kill QEMU's process group by pid (SIGKILL) and reap it; return the exit status."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        status: int | None = None
        with contextlib.suppress(subprocess.TimeoutExpired):
            status = self.process.wait(timeout=10)
        # exec: children (sh, dd) share the group; make sure none survives QEMU.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return status


def _socket_ready(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True


def start_qemu(
    *extra_args: str,
    workdir: Path | None = None,
    program: str | None = None,
    base_args: Sequence[str] = BASE_ARGS,
    env: dict[str, str] | None = None,
    startup_timeout: float = 20.0,
) -> QemuVM:
    """Start QEMU with ``base_args`` + a QMP socket + ``extra_args``; wait for the socket.

    ``workdir`` (default: a new short directory under /tmp, removed on
    :meth:`QemuVM.stop`) holds ``qmp.sock`` and ``qemu.stderr``; it is kept
    short because Unix socket paths are limited to 107 bytes.  ``env`` adds to
    (and overrides) the inherited environment; ``LC_ALL=C`` is always set
    unless ``env`` overrides it.  Raises ``RuntimeError`` with QEMU's stderr if
    it exits or the socket does not appear within ``startup_timeout``.
    """
    if program is None:
        from .support import require_program

        program = require_program(QEMU_PROGRAM, QEMU_PACKAGE)
    path = program
    own = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="qmx-vm-", dir="/tmp")) if workdir is None else workdir
    qmp_path = workdir / "qmp.sock"
    if len(os.fsencode(qmp_path)) > 107:
        raise ValueError(f"{qmp_path} is too long for a Unix socket; use a shorter workdir")
    stderr_path = workdir / "qemu.stderr"
    argv = [
        path,
        *base_args,
        "-qmp",
        f"unix:{qmp_path},server=on,wait=off",
        *extra_args,
    ]
    full_env = dict(os.environ)
    full_env["LC_ALL"] = "C"
    full_env.update(env or {})
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
            env=full_env,
            cwd=workdir,
            start_new_session=True,
        )
    vm = QemuVM(process, qmp_path, stderr_path, workdir, argv, own)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"QEMU exited with status {process.returncode} at start-up: "
                    f"{' '.join(argv)}\n{vm.stderr_text()}"
                )
            if qmp_path.exists() and _socket_ready(qmp_path):
                return vm
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"QEMU's QMP socket did not appear within {startup_timeout:g} s\n"
                    f"{vm.stderr_text()}"
                )
            time.sleep(0.02)
    except BaseException:
        vm.stop()
        raise


@contextlib.contextmanager
def running_qemu(*extra_args: str, **kwargs: Any) -> Iterator[QemuVM]:
    """Context manager form of :func:`start_qemu`: the VM is killed on exit, always."""
    vm = start_qemu(*extra_args, **kwargs)
    try:
        yield vm
    finally:
        vm.stop()

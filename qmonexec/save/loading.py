"""Loading a stream into a QEMU that waits for it (``-incoming defer``), and what a restore
reports: shared by :mod:`.restore` (qmonexec images) and :mod:`.libvirt_restore`."""

from __future__ import annotations

__all__ = ["LoadPlan", "RestoreResult", "check_destination", "load"]

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NoReturn, Protocol

from ..vocabulary import FAILED_STATUSES, STATUS_NONE, VM_INMIGRATE, VM_POSTMIGRATE, VM_RUNNING
from .destination import StderrTail, check_matches
from .errors import RestoreError, VMStateError
from .feeders import Watch, decompressor_watch, pipeline_watch
from .image import ImageHeader
from .progress import Meter, Progress
from .qemu import query_status
from .waits import enable_events, restore_events, wait_loaded

if TYPE_CHECKING:
    from ..qmp import MigrationStatus, QMPClient
    from ..shell import Policy
    from .fdstream import Stream
    from .transport import Offer


@dataclass(frozen=True)
class RestoreResult:
    """What :func:`restore` did: the image read, how long it took, the VM's status after."""

    source: str | bytes
    offset: int
    compression: str
    seconds: float
    vm_status: str
    header: ImageHeader | None
    uri: str
    #: QEMU read through a temporary symlink because the name is not plain ASCII.
    via_symlink: bool = False
    #: How the stream travelled: ``exec``, ``fd`` or ``file`` (:mod:`.transport`).
    transport: str = "exec"
    #: Why ``auto`` chose what it chose, when the user should know (else ``None``).
    note: str | None = None


def _why(lines: list[str]) -> str:
    """What QEMU said on stderr, or where to look when it could not be read."""
    if lines:
        return "; QEMU's last words on stderr:\n  " + "\n  ".join(lines)
    return (" (it does so when the stream is truncated or corrupt, or the machine options "
            "differ from the source's); see QEMU's stderr")


def check_destination(client: QMPClient) -> None:
    """Raise :class:`VMStateError` unless QEMU waits for an incoming migration."""
    status = query_status(client)
    if status == VM_POSTMIGRATE:
        raise VMStateError("this VM was already migrated away (status postmigrate); restore "
                           "into a new QEMU started with -incoming defer", status=status)
    if status != VM_INMIGRATE:
        raise VMStateError(
            f"QEMU was not started with -incoming defer (status {status}); start the "
            "destination with the same machine options as the source plus -incoming defer",
            status=status)
    if client.query_migrate().status != STATUS_NONE:
        raise VMStateError("an incoming migration was already started in this QEMU; start "
                           "a new one with -incoming defer", status=status)


class LoadPlan(Protocol):
    """What :func:`load` needs of a plan (a :class:`RestorePlan` has it all)."""

    @property
    def then(self) -> Literal["pause", "resume"]: ...
    @property
    def force(self) -> bool: ...
    @property
    def progress(self) -> Callable[[Progress], None] | None: ...
    @property
    def size(self) -> int: ...
    @property
    def deadline(self) -> float | None: ...
    @property
    def policy(self) -> Policy | None: ...


def load(client: QMPClient, plan: LoadPlan, source: dict[str, Any] | None,
         prepare: Callable[[Stream | None], str], read_as: bytes | None, *, offer: Offer,
         opener: Callable[[], Stream] | None = None, exec_source: bytes | None = None) -> str:
    """Check the destination (against ``source`` unless ``plan.force``), open the stream
    ``opener`` hands (fd transports), let ``prepare`` hand it to QEMU and name the URI to
    load, start the incoming migration, wait for it, leave the VM as ``plan.then`` says;
    return its status.  Ctrl-C during the load stops the destination QEMU.

    Where ``offer`` says QEMU can (9.1+), the load is started with ``exit-on-error``
    off: a failed load then leaves QEMU running and ``query-migrate`` says why.
    ``exec_source``: the image an ``exec:`` pipeline's dd reads; with it (or an
    ``opener``'s decompressor) a stream that ends before its first byte ends the
    wait (:mod:`.feeders`).
    """
    check_destination(client)
    if not plan.force:
        check_matches(client, source)
    stream = opener() if opener is not None else None
    events_before = enable_events(client)
    stderr = StderrTail(client)
    try:
        try:
            uri = prepare(stream)
            client.migrate_incoming(uri, policy=plan.policy,
                                    exit_on_error=False if offer.exit_on_error else None)
            watch = (decompressor_watch(stream) if stream is not None else
                     pipeline_watch(client, exec_source, stderr) if exec_source else None)
            _wait(client, plan, read_as, stderr, watch)
        except KeyboardInterrupt as exc:
            _stop(client, exc)
        except RestoreError as exc:
            failure = stream.child_failed() if stream is not None else None
            if failure is None or exc.stage == "decompress":
                raise
            # Said beside QEMU's reason, not instead of it: a decompressor can also fail
            # because QEMU stopped reading.
            raise RestoreError(exc.stage, f"{exc.reason}\nThe decompressor failed as well: "
                               f"{failure}", error_desc=exc.error_desc) from exc
        if stream is not None:
            failure = stream.finish(plan.deadline)
            if failure is not None:
                raise RestoreError("decompress", f"the decompressor failed: {failure}")
    finally:
        stderr.close()
        if stream is not None:
            stream.close(client if client.connected else None)
        if client.connected:
            restore_events(client, events_before)
    vm_status = query_status(client)
    if plan.then == "resume":
        client.execute("cont")
    elif vm_status == VM_RUNNING:
        client.execute("stop")
    return query_status(client)


def _wait(client: QMPClient, plan: LoadPlan, read_as: bytes | None,
          stderr: StderrTail, watch: Watch | None) -> None:
    """Wait for the load; say why it failed, with QEMU's own words when they can be read."""
    from ..qmp import ConnectionClosed, MigrationError, QMPError

    meter = Meter("restore", plan.progress)
    try:
        status = wait_loaded(client, read_as, plan.size, plan.deadline, meter, watch)
        if status.status in FAILED_STATUSES:
            raise _failed(client, status, stderr.lines())
    except ConnectionClosed:
        raise RestoreError("qemu", "the destination QEMU exited while loading the image"
                           + _why(stderr.lines())) from None
    except (MigrationError, QMPError) as exc:
        raise RestoreError("qemu", str(exc)) from None


def _failed(client: QMPClient, status: MigrationStatus, lines: list[str]) -> RestoreError:
    """QEMU refused the stream and kept running (``exit-on-error`` off): its reason, its
    stderr's last lines, and what the destination can still do (measured on QEMU 10.0:
    it stays ``inmigrate`` and refuses a second ``migrate-incoming``)."""
    desc = f": {status.error_desc}" if status.error_desc else ""
    words = ("; QEMU's last words on stderr:\n  " + "\n  ".join(lines) + "\n") if lines else ". "
    vm_status = query_status(client)
    return RestoreError(
        "qemu", f"QEMU reports the incoming migration {status.status}{desc}{words}"
        f"The destination QEMU is still running (status {vm_status}) but cannot load "
        "another stream: quit it and start a new one with -incoming defer",
        error_desc=status.error_desc)


def _stop(client: QMPClient, exc: KeyboardInterrupt) -> NoReturn:
    """Interrupted during the load: stop the destination QEMU and say so.

    Not every QEMU can cancel an incoming migration, and a half-loaded guest
    must never run.
    """
    from ..qmp import QMPError

    with contextlib.suppress(QMPError, OSError):
        client.execute("quit")
    raise KeyboardInterrupt("restore interrupted: the destination QEMU was stopped (a "
                            "half-loaded guest cannot run); start a new one with -incoming "
                            "defer to restore again", *exc.args) from None

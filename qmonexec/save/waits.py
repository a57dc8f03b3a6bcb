"""Waiting on QEMU and on the exec: pipeline during a save or restore.

Both waits on QEMU are :func:`qmonexec.qmp.migration.watch_migration` (the one
poll loop, woken by ``MIGRATION`` events) with hooks: :func:`wait_completed`
reports progress and fails early when a stage has already failed;
:func:`wait_loaded` reports how far a restore's dd has read.
:func:`wait_stages` then waits for every stage's marker; :func:`wait_until`
is the plain poll loop of the shorter waits (a failed stage explaining
itself, the pipeline exiting after a cancel).
"""

from __future__ import annotations

__all__ = [
    "Pipeline",
    "enable_events",
    "on_disk",
    "restore_events",
    "wait_completed",
    "wait_loaded",
    "wait_stages",
    "wait_until",
]

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..qmp.migration import POLL, remaining, watch_migration
from ..vocabulary import FAILED_STATUSES, STATUS_COMPLETED, STATUS_FAILED
from .errors import RestoreError, SaveError
from .procfs import read_position
from .progress import Meter
from .stages import Stages, StageState, blame, stage_error

if TYPE_CHECKING:
    from ..qmp import MigrationStatus, QMPClient

#: First pause while waiting for the stage markers after ``completed``; it doubles up to
#: ``POLL``.  The markers normally appear within a few milliseconds of the last byte.
_MARKER_POLL = 0.001
#: After QEMU reports failure, how long to wait for the stages to say why.
_EXPLAIN_WAIT = 5.0
#: Longest wait for one query-migrate answer when the caller set no time limit.
_QUIET_QEMU = 24 * 3600.0


@dataclass(frozen=True)
class Pipeline:
    """What the waits of a save watch: the stage markers, the target and its open file."""

    stages: Stages | None
    argv: dict[str, tuple[str, ...]]
    target: str | bytes
    fd: int
    offset: int

    def on_disk(self) -> int:
        """Bytes of stream in the target so far."""
        return on_disk(self.fd, self.offset)

    def fail_if_a_stage_failed(self) -> None:
        """Raise the :class:`SaveError` of a stage that already recorded failure."""
        culprit = self.stages.culprit() if self.stages is not None else None
        if culprit is not None:
            raise stage_error(culprit, self.argv, self.target)


def wait_until(done: Callable[[], bool], seconds: float) -> None:
    """Call ``done`` every :data:`POLL` seconds until it is true or ``seconds`` have passed."""
    end = time.monotonic() + seconds
    while time.monotonic() < end and not done():
        time.sleep(POLL)


def enable_events(client: QMPClient) -> bool | None:
    """Switch on the ``events`` migration capability; return its previous state.

    With it on, QEMU sends a ``MIGRATION`` event at every status change, and
    the waits below wake up on it instead of sleeping out a poll interval.
    ``None``: QEMU has no such capability or refused it (the waits just poll).
    """
    from ..qmp import CommandError

    try:
        capabilities = client.get_capabilities()
        if "events" not in capabilities:
            return None
        if capabilities["events"]:
            return True
        client.set_capabilities({"events": True})
    except CommandError:
        return None
    return False


def restore_events(client: QMPClient, before: bool | None) -> None:
    """Put the ``events`` capability back off if :func:`enable_events` switched it on."""
    from ..qmp import QMPError

    if before is False:
        with contextlib.suppress(QMPError, OSError):
            client.set_capabilities({"events": False})


def on_disk(fd: int, offset: int) -> int:
    """Bytes of stream in the open target ``fd`` so far (its size past ``offset``)."""
    try:
        return max(0, os.fstat(fd).st_size - offset)
    except OSError:
        return 0


def _answer_within(client: QMPClient) -> Callable[[float | None], float]:
    # QEMU 7.2 answers nothing while the exec: shell finishes after the last byte (it waits
    # for the child), which can take long for a slow compressor or disk: wait as long as the
    # caller allows.
    def within(left: float | None) -> float:
        return _QUIET_QEMU if left is None else max(left, client.timeout if left <= 0 else 0.1)

    return within


def wait_completed(client: QMPClient, pipeline: Pipeline, deadline: float | None,
                   meter: Meter) -> MigrationStatus:
    """Poll QEMU until ``completed``; fail early when a stage has already failed."""
    from ..qmp import Timeout

    def seen(status: MigrationStatus) -> None:
        done = (status.total - status.remaining
                if status.total is not None and status.remaining is not None else None)
        meter.report(status.status, done, status.total, sent=status.transferred,
                     on_disk=pipeline.on_disk())
        pipeline.fail_if_a_stage_failed()

    within = _answer_within(client)
    try:
        status = watch_migration(client, deadline, on_status=seen, answer_within=within)
    except Timeout as exc:
        raise SaveError("qemu", f"timed out: QEMU did not answer query-migrate within "
                        f"{exc.timeout:g} s", target=pipeline.target) from None
    if status.status in FAILED_STATUSES:
        raise _failure(pipeline, status)
    if status.status != STATUS_COMPLETED:
        raise SaveError("qemu", f"timed out: QEMU was still sending (status "
                        f"{status.status}) when the time limit ran out", target=pipeline.target)
    return status


def _failure(pipeline: Pipeline, status: MigrationStatus) -> SaveError:
    """The error for a migration QEMU reports failed or cancelled: a stage's, if one says why."""
    stages, target = pipeline.stages, pipeline.target
    culprit = _explain(stages)
    if culprit is not None:
        return stage_error(culprit, pipeline.argv, target)
    desc = f": {status.error_desc}" if status.error_desc else ""
    silent = [s.name for s in stages.read() if s.state == "running"] if stages else []
    if silent and status.status == STATUS_FAILED:
        # A stage whose redirections failed (target or status file not openable) never
        # runs, so it records nothing; QEMU then hits a broken pipe.  Name the most
        # downstream silent stage.
        return SaveError(silent[-1], f"the {silent[-1]} stage never recorded an exit "
                         "status: its redirections failed (could QEMU not open the "
                         "target or the status directory?) or it was killed; QEMU "
                         f"reports the migration failed{desc}", target=target)
    return SaveError("qemu", f"QEMU reports the migration {status.status}{desc}", target=target)


def wait_loaded(client: QMPClient, read_as: bytes | None, size: int, deadline: float | None,
                meter: Meter,
                watch: Callable[[MigrationStatus], None] | None = None) -> MigrationStatus:
    """Poll a restore until QEMU's status is final and return it (``completed``, or a
    failure for the caller to explain); :class:`RestoreError` when time runs out.

    ``read_as``: the image path dd reads, to show how far it has read (from
    /proc); ``None`` skips that lookup (no progress display).  ``watch`` sees
    every status that is not final and raises :class:`RestoreError` when the
    stream can no longer arrive: QEMU never ends a load whose stream ended
    before its first byte (measured on 7.2 and 10.0.2: it waits, and spins).
    """
    def seen(status: MigrationStatus) -> None:
        # Scanning /proc for dd's position is for the progress display only.
        meter.report(status.status, read_position(read_as) if read_as is not None else None,
                     size)
        if watch is not None and not status.finished:
            watch(status)

    status = watch_migration(client, deadline, on_status=seen,
                             answer_within=lambda left: None)
    if status.status != STATUS_COMPLETED and status.status not in FAILED_STATUSES:
        raise RestoreError("qemu", f"timed out: QEMU was still loading (status {status.status})")
    return status


def _explain(stages: Stages | None) -> StageState | None:
    """After QEMU failed: wait a little for a stage to record why."""
    if stages is None:
        return None
    wait_until(lambda: stages.final_culprit() is not None or stages.alive() is False,
               _EXPLAIN_WAIT)
    return stages.culprit()


def wait_stages(pipeline: Pipeline, deadline: float | None, meter: Meter,
                final: MigrationStatus) -> None:
    """QEMU said ``completed``: wait until every stage has recorded ok, or one failed."""
    stages, target = pipeline.stages, pipeline.target
    if stages is None:
        # The libvirt profile records nothing: wait until the file stops growing
        # for a second.  A heuristic, not a proof (the result says verified=False).
        last, quiet_since = -1, time.monotonic()
        while time.monotonic() - quiet_since < 1.0:
            size = pipeline.on_disk()
            if size != last:
                last, quiet_since = size, time.monotonic()
            left = remaining(deadline)
            if left is not None and left <= 0:
                break
            time.sleep(POLL)
        return
    gone_since: float | None = None
    interval = _MARKER_POLL
    while True:
        states = stages.read()
        if all(s.state != "running" for s in states):
            culprit = blame(states)
            if culprit is not None:
                raise stage_error(culprit, pipeline.argv, target)
            return
        meter.report(STATUS_COMPLETED, final.total, final.total, sent=final.transferred,
                     on_disk=pipeline.on_disk(), phase="flush")
        running = [s.name for s in states if s.state == "running"]
        left = remaining(deadline)
        if left is not None and left <= 0:
            raise SaveError(running[0], f"timed out: QEMU sent everything, but the "
                            f"{', '.join(running)} stage did not finish within the time limit",
                            target=target)
        # Looking for the pipeline in /proc costs more than a marker check: only once the
        # markers are late (the interval has grown to POLL).
        if interval >= POLL and stages.alive() is False:
            # Give a stage that just exited a moment to create its file.
            gone_since = gone_since or time.monotonic()
            if time.monotonic() - gone_since > 1.0:
                raise SaveError(running[0], f"the {', '.join(running)} stage ended without "
                                "recording its exit status (killed by a signal?)", target=target)
        time.sleep(interval)
        interval = min(interval * 2, POLL)

"""The names qmonexec, QEMU and the rendered pipeline share, written down once.

A leaf module (standard library only, imports nothing of qmonexec), so the
renderer, the save workflow, the QMP client and the validator can all use it
without import cycles.  The facts behind these names: docs/reference.md.
"""

from __future__ import annotations

__all__ = [
    "ACTIVE_STATUSES",
    "AFTER_RESTORE",
    "AFTER_SAVE",
    "AS_SAVED",
    "BLOCK_SIZE",
    "COMPRESS",
    "COMPRESSORS",
    "DIRECTION_OF_HMP",
    "DIRECTION_OF_QMP",
    "FAILED_STATUSES",
    "FINAL_STATUSES",
    "INPUT_SIZE",
    "MARKERS",
    "OUTCOMES",
    "PROFILE_NAMES",
    "RAW",
    "RESTORE_BLOCK_LIMIT",
    "SHAPE_OF_DIRECTION",
    "STAGES",
    "STATUS_CANCELLED",
    "STATUS_COMPLETED",
    "STATUS_FAILED",
    "STATUS_NONE",
    "TRANSFER_SIZE",
    "VM_INMIGRATE",
    "VM_POSTMIGRATE",
    "VM_RUNNING",
    "WRITE",
    "Direction",
    "Outcome",
    "marker",
    "spoken",
]

from typing import Literal

# ------------------------------------------------------------------ pipeline stages

#: The compressor stage of a save (absent for an uncompressed save).
COMPRESS = "compress"
#: The dd stage that writes the stream into the target.
WRITE = "write"
#: Pipeline stages of the stage-status form, upstream first.
STAGES: tuple[str, ...] = (COMPRESS, WRITE)

Outcome = Literal["ok", "failed", "err"]
#: The files a stage leaves in the status directory: exactly one of ``NAME.ok`` or
#: ``NAME.failed`` when it exits, and its stderr in ``NAME.err``.
OUTCOMES: tuple[Outcome, ...] = ("ok", "failed", "err")


def marker(stage: str, outcome: Outcome) -> str:
    """The file name stage ``stage`` writes for ``outcome``: ``compress.ok``, ``write.err``."""
    return f"{stage}.{outcome}"


#: Every marker file name, in stage order.
MARKERS: tuple[str, ...] = tuple(marker(s, o) for s in STAGES for o in OUTCOMES)

# ------------------------------------------------------------------ choices

#: Compressors known by name (libvirt's convention: ``NAME -c`` / ``NAME -dc``).
COMPRESSORS: tuple[str, ...] = ("gzip", "bzip2", "xz", "lzop", "zstd")
#: The format name for "not compressed".
RAW = "raw"
#: The shapes of the save pipeline, by profile name: ours first (the default).
PROFILE_NAMES: tuple[str, ...] = ("default", "libvirt")
#: What happens to the VM after a successful save; the first is the default.
AFTER_SAVE: tuple[str, ...] = ("pause", "resume", "quit")
#: A restore's default: the run state the image records (paused stays paused).
AS_SAVED = "as-saved"
#: What happens to the VM after a restore; the first is the default.
AFTER_RESTORE: tuple[str, ...] = (AS_SAVED, "pause", "resume")


def spoken(words: tuple[str, ...] | list[str], last: str = "or") -> str:
    """``a, b or c``: a list of choices for a message."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {last} {words[-1]}"


# ------------------------------------------------------------------ dd

#: dd's block size for the header step (``seek``) and the restore's ``skip``: the unit of the
#: stream offset, as in libvirt.
BLOCK_SIZE = 4096
#: Largest dd block size a restore reads with: one full pipe buffer (64 KiB).
RESTORE_BLOCK_LIMIT = 64 << 10
#: dd's write size (``obs``) in a save of the default profile: 64 KiB, measured fastest.
#: Every ``default@N`` so far uses it, and the validator's advice names it; a future version
#: with other sizes writes its own number (a pinned version never changes) and moves this one.
TRANSFER_SIZE = 64 << 10
#: dd's read size (``ibs``) that goes with it: half the write size, so ibs != obs and every
#: write collects two or more pipe reads (what ``spec.Profile.input_size`` gives).
INPUT_SIZE = TRANSFER_SIZE // 2

# ------------------------------------------------------------------ migration directions

Direction = Literal["outgoing", "incoming"]
#: Which side of a migration runs the ``exec:`` command, by QMP command name.
DIRECTION_OF_QMP: dict[str, Direction] = {"migrate": "outgoing", "migrate-incoming": "incoming"}
#: The same by HMP command name.
DIRECTION_OF_HMP: dict[str, Direction] = {"migrate": "outgoing", "migrate_incoming": "incoming"}
#: The rendered shape that belongs on each side.
SHAPE_OF_DIRECTION: dict[Direction, str] = {"outgoing": "save", "incoming": "restore"}

# ------------------------------------------------------------------ query-migrate statuses
# QEMU 7.2 knows none, setup, cancelling, cancelled, active, postcopy-active, postcopy-paused,
# postcopy-recover, completed, failed, colo, pre-switchover, device, wait-unplug; newer
# versions add more, so code must treat a status it does not know as "still running".

STATUS_NONE = "none"
STATUS_COMPLETED = "completed"
STATUS_FAILED = "failed"
STATUS_CANCELLED = "cancelled"
#: Final statuses that mean the migration did not succeed.
FAILED_STATUSES = frozenset({STATUS_FAILED, STATUS_CANCELLED})
#: Statuses after which a migration makes no further progress.
FINAL_STATUSES = frozenset({STATUS_COMPLETED}) | FAILED_STATUSES
#: A migration is under way: a new one cannot start.
ACTIVE_STATUSES = frozenset({
    "setup", "active", "pre-switchover", "device", "cancelling", "postcopy-active",
    "wait-unplug",
})

# ------------------------------------------------------------------ query-status run states

#: The guest runs.
VM_RUNNING = "running"
#: Paused after a successful outgoing migration; QEMU refuses to migrate it again until it runs.
VM_POSTMIGRATE = "postmigrate"
#: Started with ``-incoming``: waiting for a migration stream, no VM state of its own.
VM_INMIGRATE = "inmigrate"

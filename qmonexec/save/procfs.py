"""What /proc says about the exec: pipeline: its processes, and how far a restore's dd has read.

Linux only; every function answers ``None`` when /proc cannot tell.
"""

from __future__ import annotations

__all__ = ["pipeline_pids", "read_position"]

import os


def pipeline_pids(needle: bytes) -> list[int] | None:
    """Pids whose command line contains ``needle``; ``None`` when /proc cannot tell."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    pids = []
    me = os.getpid()
    for entry in entries:
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                if needle in handle.read():
                    pids.append(int(entry))
        except OSError:
            continue
    return pids


def read_position(source: bytes) -> int | None:
    """Bytes the restore's dd (``dd if=SOURCE``) has read so far, or ``None``."""
    needle = b"if=" + source
    for pid in pipeline_pids(needle) or ():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                args = handle.read().split(b"\0")
            if needle not in args:
                continue
            with open(f"/proc/{pid}/fdinfo/0", "rb") as handle:
                for line in handle:
                    if line.startswith(b"pos:"):
                        return int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return None

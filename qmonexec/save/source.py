"""What a save records about its source VM, and what a restore compares with the destination.

:func:`describe_vm` asks QEMU for its run state (``query-status``), its
machine type resolved to the versioned name (``query-machines``' ``is-current``
where QEMU has it, 9.0 and later; else ``qom-get /machine type``, which 7.2
answers with ``pc-i440fx-7.2-machine``), its RAM size
(``query-memory-size-summary``) and, from the greeting, its version.  When the
QMP peer is a local QEMU process (the socket's ``SO_PEERCRED`` pid, whose
``/proc/PID/exe`` is a ``qemu-system-*`` or ``qemu-kvm`` binary), its argv with
secrets redacted (:mod:`.cmdline`).  A socket opened by a manager such as
libvirt belongs to the manager, whose argv is not QEMU's: nothing is recorded.
"""

from __future__ import annotations

__all__ = ["describe_vm", "machine_type", "peer_qemu_pid", "ram_size", "source_running"]

import os
import socket
import struct
from typing import TYPE_CHECKING, Any

from .cmdline import redact

if TYPE_CHECKING:
    from ..qmp import QMPClient

_UCRED = struct.Struct("iII")
_QOM_SUFFIX = "-machine"


def machine_type(client: QMPClient) -> str | None:
    """The machine type QEMU runs, by its versioned name (``pc-i440fx-7.2``), or ``None``."""
    from ..qmp import QMPError

    try:
        machines = client.execute("query-machines")
    except QMPError:
        machines = None
    for entry in machines if isinstance(machines, list) else ():
        if isinstance(entry, dict) and entry.get("is-current") and isinstance(
                entry.get("name"), str):
            return str(entry["name"])
    try:
        kind = client.execute("qom-get", {"path": "/machine", "property": "type"})
    except QMPError:
        return None
    if not isinstance(kind, str):
        return None
    return kind[: -len(_QOM_SUFFIX)] if kind.endswith(_QOM_SUFFIX) else kind


def ram_size(client: QMPClient) -> int | None:
    """The guest's base RAM in bytes (``query-memory-size-summary``), or ``None``."""
    from ..qmp import QMPError

    try:
        answer = client.execute("query-memory-size-summary")
    except QMPError:
        return None
    value = answer.get("base-memory") if isinstance(answer, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def peer_qemu_pid(client: QMPClient) -> int | None:
    """The pid of the QEMU process at the other end of a Unix QMP socket, or ``None``.

    ``None`` for TCP, for a peer that is not a QEMU binary (a manager's proxy),
    or when the credentials or ``/proc`` cannot be read.
    """
    sock = client.raw_socket
    if sock is None or sock.family != socket.AF_UNIX or not hasattr(socket, "SO_PEERCRED"):
        return None
    try:
        pid = _UCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                            _UCRED.size))[0]
        exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return None
    if pid <= 0 or not is_qemu_binary(exe):
        return None
    return int(pid)


def is_qemu_binary(name: str) -> bool:
    """Whether ``name`` (a file name, no directory) is a QEMU system emulator."""
    name = name.removesuffix(" (deleted)")
    return name.startswith("qemu-system-") or name == "qemu-kvm"


def _argv(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            words = handle.read().split(b"\0")
    except OSError:
        return None
    if words and words[-1] == b"":
        words.pop()
    return [os.fsdecode(word) for word in words] or None


def source_running(source: dict[str, Any] | None) -> bool | None:
    """Whether the recorded source was running before the save (``None``: not recorded)."""
    if not isinstance(source, dict):
        return None
    running = source.get("running")
    return running if isinstance(running, bool) else None


def describe_vm(client: QMPClient, *, cmdline: bool = True) -> dict[str, Any]:
    """The ``source`` object of a version 2 header (docs/save-restore.md, *The header*)."""
    status = client.execute("query-status")
    status = status if isinstance(status, dict) else {}
    greeting = client.greeting
    info: dict[str, Any] = {
        "status": status.get("status") if isinstance(status.get("status"), str) else None,
        "running": status.get("running") if isinstance(status.get("running"), bool) else None,
        "machine": machine_type(client),
        "ram_size": ram_size(client),
        "qemu_version": ".".join(map(str, greeting.version)),
        "qemu_package": greeting.package or None,
        "argv": None,
    }
    if cmdline:
        pid = peer_qemu_pid(client)
        argv = _argv(pid) if pid is not None else None
        info["argv"] = redact(argv) if argv is not None else None
    return info

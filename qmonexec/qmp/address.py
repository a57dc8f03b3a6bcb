"""Where a QMP client connects: a Unix socket path, ``host:port``, or a socket object."""

from __future__ import annotations

__all__ = ["Address", "parse_address", "positive_seconds"]

import math
import os
import re
import socket
from typing import Any, Union

from ..errors import InputError

#: What :class:`QMPClient` can connect to: a Unix socket path, ``"host:port"``,
#: a ``(host, port)`` pair, or an already-connected socket object.
Address = Union[str, "os.PathLike[str]", tuple[str, int], socket.socket]

_HOST_PORT = re.compile(
    r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:/\[\]]+)):(?P<port>[0-9]{1,5})$"
)


def parse_address(address: Address) -> tuple[str, Any]:
    """Classify ``address`` as ``("unix", path)``, ``("tcp", (host, port))`` or ``("socket", s)``.

    A string with a ``/`` is always a Unix socket path; otherwise ``HOST:PORT``
    (``[V6]:PORT`` for IPv6) is TCP and anything else is a path.  Write
    ``./name:123`` for a Unix socket whose name looks like ``host:port``.
    """
    if isinstance(address, socket.socket):
        return "socket", address
    if isinstance(address, tuple):
        if len(address) != 2 or not isinstance(address[0], str) or not isinstance(address[1], int):
            raise InputError(f"a TCP address is (host, port), not {address!r}", value=address)
        return "tcp", address
    if isinstance(address, os.PathLike):
        return "unix", os.fspath(address)
    if not isinstance(address, str) or not address:
        raise InputError(f"unusable QMP address {address!r}", value=address)
    if "/" not in address:
        match = _HOST_PORT.match(address)
        if match:
            port = int(match["port"])
            if not 0 < port < 65536:
                raise InputError(f"port {port} in {address!r} is out of range", value=address)
            return "tcp", (match["v6"] or match["host"], port)
    return "unix", address


def positive_seconds(value: float, what: str) -> float:
    """``value`` as a float, or :class:`InputError` unless it is a positive, finite number."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise InputError(f"{what} must be a number of seconds, not {value!r}", value=value)
    if not (value > 0 and math.isfinite(value)):
        raise InputError(
            f"{what} must be a positive, finite number of seconds, not {value!r}: "
            "every QMP call has a deadline",
            value=value,
        )
    return float(value)

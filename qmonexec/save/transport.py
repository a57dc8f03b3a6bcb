"""Which way the stream travels between QEMU and the image: ``exec``, ``fd`` or ``file``.

``exec`` is the shell pipeline of the stage-status form (docs/design.md); the
other two hand QEMU an open file over the QMP socket (:mod:`qmonexec.qmp.fdpass`),
so no shell and no dd copy the stream (docs/reference.md, section 8):

* ``fd``: ``getfd`` + ``fd:NAME``: the target itself, positioned at the
  offset (raw), or a pipe whose other end is a compressor qmonexec starts
  from an argv list (:mod:`.fdstream`); every QEMU version.
* ``file``: ``add-fd`` + ``file:/dev/fdset/ID,offset=N``: QEMU 9.1+, raw only;
  the only transport that can write the ``mapped-ram`` layout (``parallel``).

:func:`check_request` refuses impossible combinations before QEMU is asked;
:func:`probe` reads what the QEMU offers (``query-qmp-schema``; the
greeting's version where the schema cannot tell) and :func:`choose` decides.
"""

from __future__ import annotations

__all__ = [
    "FDSET_FILE_SINCE",
    "TRANSPORTS",
    "Choice",
    "Offer",
    "Transport",
    "check_request",
    "choose",
    "decide",
    "probe",
]

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..errors import InputError
from ..qmp.errors import CommandError

if TYPE_CHECKING:
    from ..qmp import QMPClient

Transport = Literal["auto", "exec", "fd", "file"]
#: The values of ``--transport``.
TRANSPORTS: tuple[str, ...] = ("auto", "exec", "fd", "file")
#: First QEMU version that opens ``file:/dev/fdset/ID`` without truncating (schema cannot tell).
FDSET_FILE_SINCE = (9, 1)
#: Most multifd channels ``parallel`` may ask for (QEMU's own limit is 255).
MAX_PARALLEL = 64


@dataclass(frozen=True)
class Offer:
    """What a QEMU offers for carrying a migration stream.

    ``passes_fds``: the QMP connection is a Unix socket. ``file_transport``:
    the schema lists the ``file`` migration transport (8.2+). ``mapped_ram``:
    the ``mapped-ram`` capability (9.0+). ``direct_io``: the ``direct-io``
    migration parameter (9.1+). ``exit_on_error``: ``migrate-incoming`` takes
    ``exit-on-error`` (9.1+), so a failed load can leave QEMU running.
    ``version``: from the greeting.
    """

    version: tuple[int, int, int]
    passes_fds: bool
    file_transport: bool
    mapped_ram: bool
    direct_io: bool
    exit_on_error: bool = False

    @property
    def fdset_file(self) -> bool:
        """``file:/dev/fdset/ID`` works (keeps the header): the transport plus QEMU 9.1+."""
        return self.passes_fds and self.file_transport and self.version >= FDSET_FILE_SINCE

    def describe(self) -> str:
        """One line for error messages: the version and what it lacks."""
        return f"QEMU {'.'.join(map(str, self.version))}"


@dataclass(frozen=True)
class Choice:
    """The transport decided for one save or restore, and why (``note``: said to the user)."""

    transport: Literal["exec", "fd", "file"]
    parallel: int | None = None
    direct_io: bool = False
    note: str | None = None


def _enum_values(entry: dict[str, Any]) -> set[str]:
    values = entry.get("values")
    if isinstance(values, list):
        return {v for v in values if isinstance(v, str)}
    members = entry.get("members")
    if isinstance(members, list):
        return {m["name"] for m in members
                if isinstance(m, dict) and isinstance(m.get("name"), str)}
    return set()


def _members(entry: dict[str, Any]) -> set[Any]:
    return {m.get("name") for m in entry.get("members") or () if isinstance(m, dict)}


def probe(client: QMPClient) -> Offer:
    """Ask the QEMU behind ``client`` what it offers (``query-qmp-schema``, asked once).

    Below QEMU 9.1 nothing the schema could list is usable (``file:`` with fdsets,
    which ``file``, ``--parallel`` and ``--direct-io`` need, and ``exit-on-error``
    came in 9.1), so the schema, the largest answer QEMU gives (tens of
    milliseconds), is not asked for.
    """
    version = client.greeting.version
    file_transport = mapped_ram = direct_io = False
    if version < FDSET_FILE_SINCE:
        return Offer(version, client.can_pass_fds, file_transport, mapped_ram, direct_io)
    try:
        schema = client.execute("query-qmp-schema")
    except CommandError:
        schema = []
    entries = [e for e in schema if isinstance(e, dict)] if isinstance(schema, list) else []
    objects: dict[Any, set[Any]] = {}
    incoming_args: Any = None
    for entry in entries:
        if entry.get("meta-type") == "command" and entry.get("name") == "migrate-incoming":
            incoming_args = entry.get("arg-type")
        if entry.get("meta-type") == "enum":
            values = _enum_values(entry)
            # Type names are masked in the schema; the enums are known by their values.
            if {"exec", "socket", "file"} <= values:
                file_transport = True
            if {"multifd", "mapped-ram"} <= values:
                mapped_ram = True
        elif entry.get("meta-type") == "object":
            names = objects[entry.get("name")] = _members(entry)
            if {"direct-io", "multifd-channels"} <= names:
                direct_io = True
    # The command's argument type has a masked name: look it up by the command.
    exit_on_error = "exit-on-error" in objects.get(incoming_args, set())
    return Offer(version, client.can_pass_fds, file_transport, mapped_ram, direct_io,
                 exit_on_error)


def check_request(transport: str, *, compressed: bool, profile_name: str,
                  parallel: int | None, direct_io: bool, plain_name: bool) -> None:
    """Refuse, before QEMU is asked, a combination no QEMU can do (:class:`InputError`).

    ``plain_name``: the image's path can travel in a QMP string (valid UTF-8).
    """
    if transport not in TRANSPORTS:
        raise InputError(f"transport must be one of {', '.join(TRANSPORTS)}, not {transport!r}",
                         value=transport)
    if parallel is not None and (isinstance(parallel, bool) or not isinstance(parallel, int)
                                 or not 1 <= parallel <= MAX_PARALLEL):
        raise InputError(f"--parallel must be a number of channels from 1 to {MAX_PARALLEL}, "
                         f"not {parallel!r}", value=parallel)
    if profile_name.split("@")[0] == "libvirt" and transport not in ("auto", "exec"):
        raise InputError(f"--profile libvirt renders libvirt's exec: string; --transport "
                         f"{transport} cannot carry it: use --transport exec (or auto), or "
                         "leave out --profile", value=transport)
    if profile_name.split("@")[0] == "libvirt" and parallel is not None:
        raise InputError("--parallel writes the mapped-ram layout, which --profile libvirt "
                         "cannot: leave out one of them", value=parallel)
    if transport == "file" and compressed:
        raise InputError("--transport file carries raw streams only: use --transport fd "
                         "(or auto) to compress, or leave out --compress", value=transport)
    if parallel is not None and compressed:
        raise InputError("--parallel writes raw pages at fixed offsets and cannot be "
                         "compressed: leave out --compress or --parallel", value=parallel)
    if parallel is not None and transport in ("exec", "fd"):
        raise InputError(f"--parallel needs --transport file (or auto), not {transport}",
                         value=transport)
    if direct_io and parallel is None:
        raise InputError("--direct-io applies to the channels of --parallel N: add it, or "
                         "leave out --direct-io", value=direct_io)
    if transport == "exec" and not plain_name:
        raise InputError("the image's name is not valid UTF-8, so no exec: command (a QMP "
                         "string) can name it: use --transport fd or auto, which hand QEMU "
                         "the open file instead", value=transport)


def choose(transport: str, offer: Offer, *, compressed: bool, profile_name: str,
           parallel: int | None = None, direct_io: bool = False) -> Choice:
    """The transport to use with this QEMU; :class:`InputError` when the asked one cannot be."""
    version = offer.describe()
    if profile_name.split("@")[0] == "libvirt" or transport == "exec":
        return Choice("exec")
    if not offer.passes_fds:
        if transport == "auto" and parallel is None:
            return Choice("exec", note="the QMP connection is not a Unix socket and cannot "
                          "pass open files, so the stream goes through an exec: pipeline")
        raise InputError(f"--transport {transport}{' with --parallel' if parallel else ''} "
                         "hands QEMU an open file, which only a Unix QMP socket can carry: "
                         "connect with --qmp SOCKET_PATH, or use --transport exec",
                         value=transport)
    if parallel is not None:
        if not (offer.fdset_file and offer.mapped_ram):
            raise InputError(f"--parallel needs QEMU 9.1+ with the mapped-ram capability and "
                             f"file: fdsets; {version} lacks them: leave out --parallel",
                             value=parallel)
        if direct_io and not offer.direct_io:
            raise InputError(f"--direct-io needs QEMU 9.1+; {version} lacks it: leave out "
                             "--direct-io", value=direct_io)
        return Choice("file", parallel=parallel, direct_io=direct_io)
    if transport == "file":
        if not offer.fdset_file:
            raise InputError(f"--transport file needs QEMU 9.1+ (file: with fdsets keeps the "
                             f"header); {version} lacks it: use --transport fd or auto",
                             value=transport)
        return Choice("file")
    if transport == "auto" and not compressed and offer.fdset_file:
        return Choice("file")
    return Choice("fd")


def decide(client: QMPClient, transport: str, *, compressed: bool, profile_name: str = "default",
           parallel: int | None = None, direct_io: bool = False,
           mapped_ram: bool = False, offer: Offer | None = None) -> Choice:
    """:func:`choose` for the QEMU behind ``client``, asking it only when the answer matters.

    ``mapped_ram``: a restore of an image with the mapped-ram layout, which only
    ``file`` with the capability can load (:class:`InputError` otherwise).
    ``offer``: what :func:`probe` already learned (then QEMU is not asked again).
    """
    if transport == "exec" or profile_name.split("@")[0] == "libvirt":
        return Choice("exec")
    offer = probe(client) if offer is None else offer
    if mapped_ram:
        if not (offer.fdset_file and offer.mapped_ram):
            raise InputError(f"the image holds the mapped-ram layout (saved with --parallel); "
                             f"{offer.describe()} cannot load it (it needs QEMU 9.1+ with the "
                             "mapped-ram capability and file: fdsets over a Unix QMP socket): "
                             "restore it into a newer QEMU", value=transport)
        if direct_io and not offer.direct_io:
            raise InputError(f"--direct-io needs QEMU 9.1+; {offer.describe()} lacks it: "
                             "leave out --direct-io", value=direct_io)
        return Choice("file", parallel=parallel, direct_io=direct_io)
    return choose(transport, offer, compressed=compressed, profile_name=profile_name,
                  parallel=parallel, direct_io=direct_io)

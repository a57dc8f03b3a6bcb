"""Monitor command forms: QMP command objects, compact JSON, HMP lines, virsh lines.

Every string that travels inside QMP JSON is checked with
:func:`~qmonexec.quoting.check_qmp_text` first; HMP strings also respect
QEMU's 1023-byte limit; the virsh line is itself shell-quoted.
"""

from __future__ import annotations

__all__ = [
    "QMPCommand",
    "hmp_migrate",
    "hmp_migrate_incoming",
    "migrate",
    "migrate_cancel",
    "migrate_incoming",
    "migrate_set_capabilities",
    "migrate_set_parameters",
    "qmp_command",
    "query_migrate",
    "to_json",
    "virsh_line",
]

import json
from collections.abc import Mapping
from typing import Any

from .errors import InputError
from .quoting import check_qmp_text, check_qmp_value, quote_hmp, quote_word

QMPCommand = dict[str, Any]


def qmp_command(execute: str, arguments: Mapping[str, Any] | None = None) -> QMPCommand:
    """A QMP command object; every string in it is checked to be QMP-safe text."""
    command: QMPCommand = {"execute": check_qmp_text(execute, what="command name")}
    if arguments is not None:
        check_qmp_value(arguments, what="arguments")
        command["arguments"] = dict(arguments)
    return command


def migrate(uri: str) -> QMPCommand:
    """``{"execute": "migrate", "arguments": {"uri": URI}}``."""
    return qmp_command("migrate", {"uri": uri})


def migrate_incoming(uri: str) -> QMPCommand:
    """``{"execute": "migrate-incoming", "arguments": {"uri": URI}}``."""
    return qmp_command("migrate-incoming", {"uri": uri})


def query_migrate() -> QMPCommand:
    """``{"execute": "query-migrate"}``."""
    return qmp_command("query-migrate")


def migrate_cancel() -> QMPCommand:
    """``{"execute": "migrate_cancel"}``."""
    return qmp_command("migrate_cancel")


def migrate_set_capabilities(capabilities: Mapping[str, bool]) -> QMPCommand:
    """``migrate-set-capabilities`` with ``{name: state}`` turned into QEMU's list form."""
    caps = []
    for name, state in capabilities.items():
        if not isinstance(state, bool):
            raise InputError(f"capability {name!r} must be true or false, not {state!r}")
        caps.append({"capability": name, "state": state})
    if not caps:
        raise InputError("no capabilities given; name at least one, e.g. events=true")
    return qmp_command("migrate-set-capabilities", {"capabilities": caps})


def migrate_set_parameters(parameters: Mapping[str, Any]) -> QMPCommand:
    """``migrate-set-parameters``; ``max_bandwidth`` and ``max-bandwidth`` spellings both work."""
    if not parameters:
        raise InputError("no parameters given; name at least one, e.g. max-bandwidth=1073741824")
    args = {name.replace("_", "-"): value for name, value in parameters.items()}
    bandwidth = args.get("max-bandwidth")
    if bandwidth is not None and (
        isinstance(bandwidth, bool) or not isinstance(bandwidth, int) or bandwidth < 0
    ):
        raise InputError(
            f"max-bandwidth must be a non-negative integer (bytes/s), not {bandwidth!r}"
        )
    return qmp_command("migrate-set-parameters", args)


def to_json(command: QMPCommand) -> str:
    """Compact JSON text of a QMP command (UTF-8 kept readable, no spaces)."""
    check_qmp_value(command, what="command")
    return json.dumps(command, separators=(",", ":"), ensure_ascii=False)


def hmp_migrate(uri: str, *, detach: bool = True) -> str:
    """The HMP line ``migrate -d "URI"`` (``-d``: return at once, as QMP does)."""
    return ("migrate -d " if detach else "migrate ") + quote_hmp(uri, what="migration URI")


def hmp_migrate_incoming(uri: str) -> str:
    """The HMP line ``migrate_incoming "URI"``."""
    return "migrate_incoming " + quote_hmp(uri, what="migration URI")


def virsh_line(domain: str, command: QMPCommand) -> str:
    """``virsh qemu-monitor-command DOMAIN '<json>'``, every word shell-quoted.

    A domain name starting with ``-`` is refused: virsh would read it as one
    of its options (``--hmp``, ``--pretty``), whatever the quoting.
    """
    if not domain:
        raise InputError(
            "virsh needs a domain name: pass it as virsh_line()'s domain "
            "(on the command line: --domain NAME)"
        )
    if domain.startswith("-"):
        raise InputError(
            f"the domain name {domain!r} starts with '-', so virsh would read it as an option, "
            "not as the domain: give the domain's name, UUID or id",
            value=domain,
        )
    check_qmp_text(domain, what="domain name")
    return " ".join(
        ["virsh", "qemu-monitor-command", quote_word(domain, what="domain name"),
         quote_word(to_json(command), what="QMP command")]
    )

"""Monitor command forms: QMP command objects, compact JSON, HMP lines, virsh lines.

The one place QMP commands are built, for the ``uri`` renderings and the QMP
client alike: every command passes :func:`check_arguments` (each string,
keys too, is text QMP carries exactly, and the nesting stays within QEMU's
limit), capability states must be booleans, and parameter names take ``-``
for ``_``.  HMP strings also respect QEMU's 1023-byte limit; the virsh line
is itself shell-quoted.
"""

from __future__ import annotations

__all__ = [
    "QMPCommand",
    "check_arguments",
    "hmp_migrate",
    "hmp_migrate_incoming",
    "migrate",
    "migrate_cancel",
    "migrate_incoming",
    "migrate_set_capabilities",
    "migrate_set_parameters",
    "qmp_command",
    "query_migrate",
    "query_migrate_capabilities",
    "query_migrate_parameters",
    "to_json",
    "virsh_line",
]

import json
from collections.abc import Mapping
from typing import Any

from .errors import InputError
from .quoting import check_qmp_text, check_qmp_value, quote_hmp, quote_word, walk_strings

QMPCommand = dict[str, Any]


def check_arguments(name: str, arguments: Mapping[str, Any] | None, *,
                    name_in_messages: bool = True) -> None:
    """Refuse a command QEMU could not read back exactly (raises :class:`InputError`).

    Checks the command name and every string in ``arguments`` (keys too) with
    :func:`qmonexec.quoting.check_qmp_text`, plus JSON representability and
    depth (the arguments object is level 2, inside the command object).
    Messages name the place as ``NAME arguments[...]``, or ``arguments[...]``
    without ``name_in_messages``.
    """
    if not isinstance(name, str) or not name:
        raise InputError(f"the command name must be a non-empty string, not {name!r}")
    check_qmp_text(name, what="command name")
    if arguments is None:
        return
    if not isinstance(arguments, Mapping):
        raise InputError(
            f"arguments of {name!r} must be a JSON object (a dict), not {type(arguments).__name__}"
        )
    for path, text in walk_strings(arguments, depth=2):
        check_qmp_text(text, what=f"{name} {path}" if name_in_messages else path)


def qmp_command(execute: str, arguments: Mapping[str, Any] | None = None) -> QMPCommand:
    """A QMP command object, checked with :func:`check_arguments`."""
    check_arguments(execute, arguments, name_in_messages=False)
    command: QMPCommand = {"execute": execute}
    if arguments is not None:
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


def query_migrate_capabilities() -> QMPCommand:
    """``{"execute": "query-migrate-capabilities"}``."""
    return qmp_command("query-migrate-capabilities")


def query_migrate_parameters() -> QMPCommand:
    """``{"execute": "query-migrate-parameters"}``."""
    return qmp_command("query-migrate-parameters")


def migrate_cancel() -> QMPCommand:
    """``{"execute": "migrate_cancel"}``."""
    return qmp_command("migrate_cancel")


def migrate_set_capabilities(capabilities: Mapping[str, bool]) -> QMPCommand:
    """``migrate-set-capabilities`` with ``{name: state}`` turned into QEMU's list form.

    Each state must be a ``bool``: ``1`` or ``"yes"`` are refused, never converted.
    """
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

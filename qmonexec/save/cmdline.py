"""The source QEMU's argv as a save records it (secrets redacted) and as a destination needs it.

:func:`redact` replaces the values of secret-bearing option keys
(``password=``, ``passwd=``, a ``secret`` object's ``data=``, ...) with
:data:`REDACTED`, in QEMU's ``key=value,...`` form (``,,`` is a literal comma)
and in the JSON form of ``-object``/``-blockdev``.  :func:`destination_argv`
turns a recorded argv into a destination's: the monitors (``-qmp``,
``-monitor``, ``-mon`` and the ``-chardev`` they use), ``-incoming``,
``-daemonize`` and ``-pidfile`` removed, ``-S -incoming defer`` added; the
caller adds a QMP socket of its own.
"""

from __future__ import annotations

__all__ = ["REDACTED", "destination_argv", "redact"]

import json
from typing import Any

REDACTED = "<redacted>"
#: Option keys (the last part of a dotted key) whose values are secrets.
_SECRET_KEYS = frozenset({"password", "passwd", "data", "secret-data", "passphrase", "key",
                          "x509-key-password", "iv-data"})
#: Options that take no argument (everything else on QEMU's command line takes one).
_FLAGS = frozenset({
    "S", "s", "daemonize", "nodefaults", "no-reboot", "no-shutdown", "snapshot", "enable-kvm",
    "nographic", "no-user-config", "no-hpet", "no-acpi", "full-screen", "no-fd-bootchk",
    "no-quit", "only-migratable", "preconfig", "win2k-hack", "alt-grab", "ctrl-grab",
    "no-frame", "curses", "enable-fips", "version", "help", "usb", "semihosting",
    "old-param", "xen-attach", "nic-standalone",
})
#: Options the destination must not inherit, with their argument.
_DROP_WITH_ARG = frozenset({"qmp", "qmp-pretty", "monitor", "mon", "incoming", "pidfile"})
_DROP_FLAGS = frozenset({"daemonize", "S"})


def _split(text: str) -> list[str]:
    """QEMU's ``a=1,b=2`` option string split at single commas (``,,`` stays a comma)."""
    parts, current, i = [], [], 0
    while i < len(text):
        if text[i] == ",":
            if text[i + 1: i + 2] == ",":
                current.append(",,")
                i += 2
                continue
            parts.append("".join(current))
            current = []
        else:
            current.append(text[i])
        i += 1
    parts.append("".join(current))
    return parts


def _secret_key(key: str) -> bool:
    return key.rsplit(".", 1)[-1].lower() in _SECRET_KEYS


def _redact_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if _secret_key(k) else _redact_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_json(v) for v in value]
    return value


def _redact_value(text: str) -> str:
    if text.startswith("{"):
        try:
            return json.dumps(_redact_json(json.loads(text)), separators=(",", ":"))
        except ValueError:
            return REDACTED
    parts = []
    for part in _split(text):
        key, sep, _ = part.partition("=")
        parts.append(f"{key}={REDACTED}" if sep and _secret_key(key) else part)
    return ",".join(parts)


def _name(word: str) -> str | None:
    """The option name of ``word`` (``-qmp``/``--qmp``: ``qmp``), ``None`` for a value."""
    if not word.startswith("-") or word in ("-", "--"):
        return None
    return word[2:] if word.startswith("--") else word[1:]


def redact(argv: list[str]) -> list[str]:
    """``argv`` with the values of secret-bearing keys replaced by :data:`REDACTED`."""
    out = argv[:1]
    words = iter(argv[1:])
    for word in words:
        out.append(word)
        name = _name(word)
        if name is None or name in _FLAGS:
            continue
        value = next(words, None)
        if value is not None:
            out.append(_redact_value(value))
    return out


def _monitor_chardevs(argv: list[str]) -> set[str]:
    ids: set[str] = set()
    for name, value in _options(argv):
        if name in ("mon", "qmp", "monitor") and value is not None:
            for part in _split(value):
                key, _, ident = part.partition("=")
                if key == "chardev" or (name != "mon" and key == "" and ident == ""):
                    ids.add(ident)
            if value.startswith("chardev:"):
                ids.add(value[len("chardev:"):])
    return ids


def _options(argv: list[str]) -> list[tuple[str, str | None]]:
    pairs: list[tuple[str, str | None]] = []
    words = iter(argv[1:])
    for word in words:
        name = _name(word)
        if name is None or name in _FLAGS:
            pairs.append((name or "", None))
            continue
        pairs.append((name, next(words, None)))
    return pairs


def _chardev_id(value: str) -> str | None:
    for part in _split(value)[1:]:
        key, _, ident = part.partition("=")
        if key == "id":
            return ident
    return None


def destination_argv(argv: list[str]) -> list[str]:
    """A destination's argv from the source's: monitors, ``-incoming``, ``-daemonize`` and
    ``-pidfile`` removed, ``-S -incoming defer`` appended."""
    monitors = _monitor_chardevs(argv)
    out = argv[:1]
    words = iter(argv[1:])
    for word in words:
        name = _name(word)
        if name is None or name in _FLAGS:
            if name not in _DROP_FLAGS:
                out.append(word)
            continue
        value = next(words, None)
        if name in _DROP_WITH_ARG:
            continue
        if name == "chardev" and value is not None and _chardev_id(value) in monitors:
            continue
        out.append(word)
        if value is not None:
            out.append(value)
    return [*out, "-S", "-incoming", "defer"]

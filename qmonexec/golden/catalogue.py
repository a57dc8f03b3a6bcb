"""Catalogues: named cases in a JSON file, each carrying every field of a spec.

::

    {"cases": {
        "nightly-save": {"kind": "save", "target": "/var/lib/vm/web1.img",
                         "offset": 65536, "compression": "zstd", "profile": "default@2"},
        "restore": {"kind": "restore", "target": "/var/lib/vm/web1.img", "offset": 65536,
                    "compression": "zstd", "format": "qmp"},
        "tee": {"kind": "command", "argv": ["/usr/bin/tee", "/var/lib/vm/stream"]}
    }}

Fields: ``kind`` (``save``, ``restore``, ``command``; required), ``target``
(save and restore; a path, or ``{"hex": "..."}`` for a name that is not
UTF-8), ``argv`` (command; words, each a string or ``{"hex": ...}``),
``offset``, ``block_size``, ``transfer_size`` (save), ``compression`` (a
format name) or ``compress_cmd`` (save) / ``decompress_cmd`` (restore) as a
list of words, ``status_dir`` (save), ``profile`` (``default``,
``default@1``, ...), ``format`` (``uri``, ``qmp``, ``hmp``, ``virsh``),
``domain`` (for the virsh form), ``incoming`` (command).  Any other field is
an error, as is a field that does not apply to the case's kind.
"""

from __future__ import annotations

__all__ = ["Case", "CatalogueError", "load_catalogue", "parse_catalogue"]

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from ..spec import CommandSpec, Compression, RestoreSpec, SaveSpec, compression
from .block import FORMS, Golden, golden_block
from .text import field_line

_COMMON = ("kind", "format", "domain")
FIELDS: dict[str, tuple[str, ...]] = {
    "save": (*_COMMON, "target", "offset", "block_size", "transfer_size", "compression",
             "compress_cmd", "status_dir", "profile"),
    "restore": (*_COMMON, "target", "offset", "block_size", "compression", "decompress_cmd",
                "profile"),
    "command": (*_COMMON, "argv", "incoming"),
}
_REQUIRED = {"save": "target", "restore": "target", "command": "argv"}


class CatalogueError(InputError):
    """The catalogue cannot be used: the message names the case, the field and the fix."""


@dataclass(frozen=True)
class Case:
    """One named case: the spec it describes and how to show it."""

    name: str
    spec: SaveSpec | RestoreSpec | CommandSpec
    form: str = "uri"
    domain: str = "DOMAIN"
    incoming: bool = False

    def block(self) -> Golden:
        """The golden block of this case."""
        return golden_block(self.spec, name=self.name, form=self.form, domain=self.domain,
                            incoming=self.incoming)


def load_catalogue(path: str | os.PathLike[str]) -> list[Case]:
    """Read and check the catalogue at ``path`` (raises :class:`CatalogueError`)."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"cannot read the catalogue {os.fspath(path)!r}: {exc}") from None
    return parse_catalogue(text, source=os.fspath(path))


def parse_catalogue(text: str, *, source: str = "the catalogue") -> list[Case]:
    """The cases of a catalogue given as JSON text, in file order."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CatalogueError(f"{source} is not valid JSON: {exc}; fix the JSON syntax") from None
    if not isinstance(data, dict) or not isinstance(data.get("cases"), dict):
        raise CatalogueError(f'{source} must be a JSON object {{"cases": {{NAME: CASE, ...}}}}')
    extra = sorted(set(data) - {"cases"})
    if extra:
        raise CatalogueError(f"{source}: unknown top-level field {extra[0]!r}; the only one is "
                             "'cases'")
    return [_case(name, fields, source) for name, fields in data["cases"].items()]


def _case(name: str, fields: Any, source: str) -> Case:
    if not field_line("x", name).startswith("x: ") or "\n" in name:
        raise CatalogueError(f"{source}: case name {name!r} must be printable text without "
                             "leading or trailing spaces; rename it")
    where = f"{source}: case {name!r}"
    if not isinstance(fields, dict):
        raise CatalogueError(f"{where} must be an object of fields, e.g. "
                             '{"kind": "save", "target": "/var/lib/vm/x.img"}')
    kind = fields.get("kind")
    if kind not in FIELDS:
        raise CatalogueError(f"{where}, field 'kind': {kind!r} is not one of save, restore, "
                             "command; set kind")
    for key in fields:
        if key not in FIELDS[kind]:
            known = ", ".join(FIELDS[kind])
            raise CatalogueError(f"{where}, field {key!r}: unknown for kind {kind}; remove it "
                                 f"(fields of a {kind} case: {known})")
    if _REQUIRED[kind] not in fields:
        raise CatalogueError(f"{where}, field {_REQUIRED[kind]!r}: missing; a {kind} case "
                             "needs it")
    get = _Getter(fields, where)
    form = get.choice("format", FORMS, "uri")
    domain = get.text("domain", "DOMAIN")
    try:
        spec = _SPECS[kind](get)
    except CatalogueError:
        raise
    except InputError as exc:
        raise CatalogueError(f"{where}, field {get.field_of(exc.value)!r}: "
                             f"{_field_names(str(exc))}") from None
    return Case(name, spec, form, domain, get.flag("incoming"))


#: The command-line options a spec's messages name, and the catalogue fields that mean the same.
_OPTION_FIELDS = {"--block-size": "block_size", "--transfer-size": "transfer_size",
                  "--compress-cmd": "compress_cmd", "--decompress": "decompress_cmd",
                  "--offset": "offset"}


def _field_names(message: str) -> str:
    """A spec's message with command-line options replaced by the catalogue's field names."""
    for option, name in _OPTION_FIELDS.items():
        message = message.replace(f"{option} ", f"{name} ").replace(f"{option})", f"{name})")
    return message


class _Getter:
    """Typed access to one case's fields; every error names the case and the field."""

    def __init__(self, fields: dict[str, Any], where: str) -> None:
        self.fields = fields
        self.where = where

    def fail(self, key: str, problem: str) -> CatalogueError:
        return CatalogueError(f"{self.where}, field {key!r}: {problem}")

    def field_of(self, value: object) -> str:
        """The field that holds ``value`` (for errors raised by a spec), else ``kind``."""
        for key, held in self.fields.items():
            if held == value or (isinstance(held, dict) and value == self._bytes(key, held)):
                return key
        return "kind"

    def _bytes(self, key: str, held: dict[str, Any]) -> bytes:
        if set(held) != {"hex"} or not isinstance(held["hex"], str):
            raise self.fail(key, 'a name that is not UTF-8 is written {"hex": "2f766d2fe9"}')
        try:
            return bytes.fromhex(held["hex"])
        except ValueError:
            raise self.fail(key, f"{held['hex']!r} is not hex digits; write two hex digits per "
                                 "byte") from None

    def word(self, key: str, value: Any = None) -> str | bytes:
        held = self.fields.get(key) if value is None else value
        if isinstance(held, str):
            return held
        if isinstance(held, dict):
            return self._bytes(key, held)
        raise self.fail(key, f"{held!r} must be a string, or {{\"hex\": ...}} for bytes")

    def path(self, key: str) -> str | bytes | None:
        return self.word(key) if key in self.fields else None

    def integer(self, key: str) -> int | None:
        held = self.fields.get(key)
        if held is None:
            return None
        if isinstance(held, bool) or not isinstance(held, int):
            raise self.fail(key, f"{held!r} must be an integer number of bytes, e.g. 65536")
        return held

    def text(self, key: str, default: str) -> str:
        held = self.fields.get(key, default)
        if not isinstance(held, str):
            raise self.fail(key, f"{held!r} must be a string")
        return held

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        held = self.text(key, default)
        if held not in choices:
            raise self.fail(key, f"{held!r} is not one of {', '.join(choices)}")
        return held

    def flag(self, key: str) -> bool:
        held = self.fields.get(key, False)
        if not isinstance(held, bool):
            raise self.fail(key, f"{held!r} must be true or false")
        return held

    def words(self, key: str) -> list[str | bytes] | None:
        held = self.fields.get(key)
        if held is None:
            return None
        if not isinstance(held, list) or not held:
            raise self.fail(key, f"{held!r} must be a non-empty list of words, e.g. "
                                 '["pigz", "-c"]')
        return [self.word(key, w) for w in held]

    def compression(self, custom_key: str) -> Compression | None:
        custom = self.words(custom_key)
        if custom is not None:
            if "compression" in self.fields:
                raise self.fail(custom_key, "give either compression or "
                                            f"{custom_key}, not both")
            if not all(isinstance(w, str) for w in custom):
                raise self.fail(custom_key, "compressor words must be text, not hex")
            text_words = [w for w in custom if isinstance(w, str)]
            if custom_key == "decompress_cmd":
                return Compression.custom(text_words, text_words)
            return Compression.custom(text_words)
        name = self.fields.get("compression")
        if name is not None and not isinstance(name, str):
            raise self.fail("compression", f"{name!r} must be a format name such as gzip")
        return compression(name)


def _save(get: _Getter) -> SaveSpec:
    return SaveSpec(get.word("target"), offset=get.integer("offset") or 0,
                    compression=get.compression("compress_cmd"),
                    profile=get.text("profile", "default"),  # type: ignore[arg-type]
                    block_size=get.integer("block_size"),
                    transfer_size=get.integer("transfer_size"), status_dir=get.path("status_dir"))


def _restore(get: _Getter) -> RestoreSpec:
    return RestoreSpec(get.word("target"), offset=get.integer("offset") or 0,
                       compression=get.compression("decompress_cmd"),
                       block_size=get.integer("block_size"),
                       profile=get.text("profile", "default"))  # type: ignore[arg-type]


def _command(get: _Getter) -> CommandSpec:
    words = get.words("argv")
    assert words is not None  # required field
    return CommandSpec(tuple(words))


_SPECS: dict[str, Callable[[_Getter], SaveSpec | RestoreSpec | CommandSpec]] = {
    "save": _save, "restore": _restore, "command": _command,
}

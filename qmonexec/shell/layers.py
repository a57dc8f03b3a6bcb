"""Peel the layers around a shell string: QMP JSON, HMP line, ``exec:`` prefix.

:func:`peel` accepts what a user may paste:

* a QMP command ``{"execute": "migrate" | "migrate-incoming", "arguments": {"uri": ...}}``
  (also ``human-monitor-command`` carrying an HMP line),
* an HMP line ``migrate [-d] "..."`` or ``migrate_incoming "..."``,
* an ``exec:`` URI,
* a bare shell string,

and returns the shell string inside, the layers peeled (outermost first) and
an :class:`OffsetMap` from offsets in the shell string back to offsets in the
original text, through JSON and HMP escapes.  Layer problems are reported with
offsets into the original text.  QEMU's own rules apply: JSON with duplicate
keys, non-string values, NUL or text QMP cannot carry is refused; HMP strings
know only the escapes ``\\n \\r \\\\ \\' \\"`` and are cut at 1023 bytes.
"""

from __future__ import annotations

__all__ = ["FORMS", "HMP_BLANKS", "Layer", "OffsetMap", "Peeled", "peel"]

import re
from bisect import bisect_right
from dataclasses import dataclass, field

from ..errors import InputError
from ..limits import HMP_MAX_BYTES, QMP_UNCARRIED
from ..quoting import quote_word
from ..vocabulary import DIRECTION_OF_HMP, DIRECTION_OF_QMP
from .findings import Code, Reporter
from .jsonpos import JObj as _JObj
from .jsonpos import JsonError as _JsonError
from .jsonpos import JsonReader as _Json
from .jsonpos import JStr as _JStr
from .jsonpos import type_name as _type_name
from .jsonpos import value_offset as _value_offset
from .verdict import Layer

#: Values of ``form`` for :func:`peel` (``auto`` guesses from the text).
FORMS = ("auto", "qmp", "hmp", "uri", "shell")






class OffsetMap:
    """Maps offsets in a peeled string to offsets in the original text.

    A plain shift (``base + offset``), or, where escapes changed lengths,
    segments: ``starts[k]`` is the first peeled offset of segment ``k`` and
    ``sources[k]`` its offset in the outer text (an escape is a segment of its
    own).  ``outer`` maps further out (an HMP line inside a QMP string);
    ``shift`` is added first (the map of a substring).  Lookups cost
    O(log segments); building costs O(escapes).
    """

    __slots__ = ("base", "outer", "shift", "sources", "starts")

    def __init__(
        self,
        base: int = 0,
        starts: list[int] | None = None,
        sources: list[int] | None = None,
        outer: OffsetMap | None = None,
        shift: int = 0,
    ) -> None:
        self.base = base
        self.starts = starts
        self.sources = sources
        self.outer = outer
        self.shift = shift

    def __call__(self, offset: int) -> int:
        offset += self.shift
        starts = self.starts
        if starts is None or self.sources is None:
            result = self.base + offset
        else:
            k = bisect_right(starts, offset) - 1
            result = self.sources[k] + offset - starts[k]
        return result if self.outer is None else self.outer(result)

    def shifted(self, k: int) -> OffsetMap:
        """The map for the substring starting at offset ``k`` of the mapped string."""
        return OffsetMap(self.base, self.starts, self.sources, self.outer, self.shift + k)


@dataclass(slots=True)
class Peeled:
    """The result of :func:`peel`; ``shell`` is ``None`` when no shell string could be found."""

    shell: str | None
    layers: list[Layer] = field(default_factory=list)
    mapper: OffsetMap = field(default_factory=OffsetMap)
    #: ``outgoing`` (migrate), ``incoming`` (migrate-incoming) or ``None`` (unknown).
    direction: str | None = None


# -- JSON positions -> offsets --------------------------------------------------


def _json_map(text: str, s: _JStr) -> OffsetMap:
    src = s.start + 1
    end = s.end - 1
    k = text.find("\\", src, end)
    if k < 0:
        return OffsetMap(src)
    starts = [0]
    sources = [src]
    decoded = k - src
    while k >= 0:
        starts.append(decoded)
        sources.append(k)
        if text[k + 1] == "u":
            low = text[k + 8 : k + 12] if text.startswith("\\u", k + 6) else ""
            pair = 0xD800 <= int(text[k + 2 : k + 6], 16) <= 0xDBFF and len(low) == 4 and (
                0xDC00 <= int(low, 16) <= 0xDFFF
            )
            k += 12 if pair else 6
        else:
            k += 2
        decoded += 1
        starts.append(decoded)
        sources.append(k)
        nxt = text.find("\\", k, end)
        decoded += (nxt if nxt >= 0 else end) - k
        k = nxt
    if decoded != len(s.value):
        return OffsetMap(s.start)
    return OffsetMap(0, starts, sources)


def _parse_qmp(text: str, rep: Reporter) -> _JObj | None:
    """The command object of ``text``, or ``None`` (reported) when it is not one."""
    parser = _Json(text, rep.budget)
    try:
        top, end = parser.value(0, 0)
        end = parser.ws(end)
        if end != len(text):
            raise _JsonError(end, "text follows the JSON object: send one command at a time")
    except _JsonError as exc:
        rep.add(exc.code, exc.offset, exc.message)
        return None
    if not isinstance(top, _JObj):
        rep.add(Code.QMP_TYPE, 0, f"a QMP command is a JSON object, not {_type_name(top)}")
        return None
    for key, (_val, off) in top.members.items():
        if key not in ("execute", "arguments", "id"):
            rep.add(Code.QMP_UNEXPECTED_KEY, off,
                    f"the key {key!r} is not part of a plain QMP command: remove it")  # fmt: skip
    return top


def _qmp_command_name(top: _JObj, rep: Reporter) -> _JStr | None:
    """The ``execute`` string of a migration (or HMP) command, or ``None`` (reported)."""
    members = top.members
    if "execute" not in members:
        rep.add(Code.QMP_TYPE, top.start, "the QMP object has no \"execute\" key")
        return None
    execute, exec_off = members["execute"]
    if not isinstance(execute, _JStr):
        rep.add(Code.QMP_TYPE, _value_offset(execute, exec_off),
                f"\"execute\" must be a string, not {_type_name(execute)}")  # fmt: skip
        return None
    if execute.value not in DIRECTION_OF_QMP and execute.value != _HMP_COMMAND:
        rep.add(
            Code.QMP_COMMAND_NOT_ALLOWED,
            execute.start,
            f"the QMP command {execute.value!r} is not migrate or migrate-incoming: "
            "only migration commands carry an exec: URI",
            length=execute.end - execute.start,
        )
        return None
    return execute


def _qmp_argument(top: _JObj, name: str, key: str, rep: Reporter) -> _JStr | None:
    """The one string argument ``key`` of command ``name``, or ``None`` (reported)."""
    if "arguments" not in top.members:
        rep.add(Code.QMP_MISSING_URI, top.start, f"{name!r} needs \"arguments\"")
        return None
    args, args_off = top.members["arguments"]
    if not isinstance(args, _JObj):
        rep.add(Code.QMP_TYPE, _value_offset(args, args_off),
                f"\"arguments\" must be an object, not {_type_name(args)}")  # fmt: skip
        return None
    for other, (_val, off) in args.members.items():
        if other != key:
            rep.add(
                Code.QMP_UNEXPECTED_KEY,
                off,
                f"the argument {other!r} is not one qmonexec sends"
                + (" (with \"uri\" it makes QEMU refuse or ignore one of them)"
                   if other == "channels" else "")
                + ": remove it",
            )  # fmt: skip
    if key not in args.members:
        rep.add(Code.QMP_MISSING_URI, args.start, f"{name!r} has no {key!r} argument")
        return None
    value, value_off = args.members[key]
    if not isinstance(value, _JStr):
        rep.add(Code.QMP_TYPE, _value_offset(value, value_off),
                f"{key!r} must be a string, not {_type_name(value)}")  # fmt: skip
        return None
    return value


#: The QMP command that carries an HMP line (peeled as HMP, never guessed).
_HMP_COMMAND = "human-monitor-command"


def _peel_qmp(text: str, rep: Reporter) -> Peeled:
    top = _parse_qmp(text, rep)
    execute = None if top is None else _qmp_command_name(top, rep)
    if top is None or execute is None:
        return Peeled(None)
    name = execute.value
    hmp = name == _HMP_COMMAND
    if not hmp and _channels_only(top):
        return _peel_channel(top, name, rep)
    uri = _qmp_argument(top, name, "command-line" if hmp else "uri", rep)
    if uri is None:
        return Peeled(None)
    mapper = _json_map(text, uri)
    value = uri.value
    for m in QMP_UNCARRIED.finditer(value):
        cp = ord(m.group())
        what = (
            "\\u0000, which QEMU turns into the bytes C0 80"
            if cp == 0
            else f"U+{cp:04X}, which QEMU's JSON parser rejects"
        )
        rep.add(Code.QMP_TEXT, mapper(m.start()), f"the string holds {what}: remove it")
    layer = Layer("qmp", uri.start + 1, name)
    if hmp:
        inner = _peel_hmp(value, rep, mapper)
        inner.layers.insert(0, layer)
        return inner
    peeled = _peel_uri(value, rep, mapper, required=True)
    peeled.layers.insert(0, layer)
    peeled.direction = DIRECTION_OF_QMP[name]
    return peeled


# -- exec channels (QEMU 8.2+) ----------------------------------------------------

#: Where a channel's program may be named by absolute path: QEMU runs a channel's argv with
#: no PATH search, so the program is named in full; these directories hold the system's own.
SYSTEM_BIN_DIRS = ("/bin/", "/usr/bin/")


def channel_program(word: str) -> str:
    """A channel's program as a policy names it: ``/usr/bin/dd`` is ``dd``; any other path
    stays as it is (and the policy's allow-list judges it)."""
    for directory in SYSTEM_BIN_DIRS:
        rest = word[len(directory):]
        if word.startswith(directory) and rest and "/" not in rest and rest not in (".", ".."):
            return rest
    return word


def _channels_only(top: _JObj) -> bool:
    args = top.members.get("arguments", (None, 0))[0]
    return isinstance(args, _JObj) and "channels" in args.members and "uri" not in args.members


def _exactly(obj: _JObj, keys: tuple[str, ...], what: str, rep: Reporter) -> bool:
    """Whether ``obj`` has exactly ``keys`` (each missing or extra one is reported)."""
    ok = True
    for key, (_val, off) in obj.members.items():
        if key not in keys:
            ok = False
            rep.add(Code.QMP_UNEXPECTED_KEY, off, f"the key {key!r} is not part of {what} as "
                    f"qmonexec checks it ({', '.join(keys)}): remove it")
    for key in keys:
        if key not in obj.members:
            ok = False
            rep.add(Code.QMP_TYPE, obj.start, f"{what} has no {key!r}")
    return ok


def _one_channel(top: _JObj, rep: Reporter) -> _JObj | None:
    """The address of the one ``main`` channel, or ``None`` (reported)."""
    args, _ = top.members["arguments"]
    assert isinstance(args, _JObj)
    if not _exactly(args, ("channels",), "a channel command's arguments", rep):
        return None
    channels, off = args.members["channels"]
    if not (isinstance(channels, list) and len(channels) == 1
            and isinstance(channels[0], _JObj)):
        rep.add(Code.QMP_TYPE, _value_offset(channels, off),
                "\"channels\" must hold exactly one channel object")
        return None
    channel = channels[0]
    if not _exactly(channel, ("channel-type", "addr"), "a channel", rep):
        return None
    ctype, ctype_off = channel.members["channel-type"]
    addr, addr_off = channel.members["addr"]
    if not (isinstance(ctype, _JStr) and ctype.value == "main"):
        rep.add(Code.QMP_TYPE, _value_offset(ctype, ctype_off),
                "the channel's \"channel-type\" must be \"main\"")
        return None
    if not isinstance(addr, _JObj):
        rep.add(Code.QMP_TYPE, _value_offset(addr, addr_off), "\"addr\" must be an object")
        return None
    return addr


def _channel_argv(top: _JObj, rep: Reporter) -> tuple[list[_JStr], int] | None:
    """The argv strings of the one ``main`` exec channel and where ``args`` is, or ``None``
    (reported) for anything else: other transports, several channels, other keys."""
    addr = _one_channel(top, rep)
    if addr is None or not _exactly(addr, ("transport", "args"), "an exec channel's address",
                                    rep):
        return None
    transport, t_off = addr.members["transport"]
    argv, argv_off = addr.members["args"]
    if not (isinstance(transport, _JStr) and transport.value == "exec"):
        rep.add(Code.QMP_TYPE, _value_offset(transport, t_off),
                "only an \"exec\" channel runs a command; qmonexec checks no other transport")
        return None
    if not (isinstance(argv, list) and argv and all(isinstance(a, _JStr) for a in argv)):
        rep.add(Code.QMP_TYPE, argv_off,
                "an exec channel's \"args\" must be a non-empty array of strings")
        return None
    return argv, argv_off


def _peel_channel(top: _JObj, name: str, rep: Reporter) -> Peeled:
    """A migration command with one QEMU 8.2+ exec channel: QEMU runs its argv with no
    shell, so the argv is judged as the equivalent command with every word quoted (the
    way the QMP client judges it).  Positions map to the start of each argument."""
    found = _channel_argv(top, rep)
    if found is None:
        return Peeled(None)
    argv, argv_off = found
    words: list[str] = []
    starts: list[int] = []
    sources: list[int] = []
    length = 0
    for k, arg in enumerate(argv):
        bad = QMP_UNCARRIED.search(arg.value)
        if bad is not None:
            rep.add(Code.QMP_TEXT, arg.start + 1, f"the argument holds U+{ord(bad.group()):04X}, "
                    "which QMP cannot carry exactly: remove it")
            return Peeled(None)
        try:
            word = quote_word(channel_program(arg.value) if k == 0 else arg.value)
        except InputError as exc:
            rep.add(Code.QMP_TEXT, arg.start + 1, str(exc))
            return Peeled(None)
        starts.append(length)
        sources.append(arg.start + 1)
        words.append(word)
        length += len(word) + 1
    return Peeled(" ".join(words), [Layer("qmp", argv_off, name)],
                  OffsetMap(0, starts, sources), DIRECTION_OF_QMP[name])


# -- HMP ------------------------------------------------------------------------

_HMP_ESCAPES = {"n": "\n", "r": "\r", "\\": "\\", "'": "'", '"': '"'}
_HMP_SPECIAL = re.compile(r'["\\]')
#: The characters QEMU's monitor skips between words (C ``isspace``): it skips
#: them before the command name too, so ``"\nmigrate ..."`` is a migrate command.
HMP_BLANKS = " \t\n\v\f\r"


def _skip_blanks(text: str, i: int) -> int:
    while i < len(text) and text[i] in HMP_BLANKS:
        i += 1
    return i


def _hmp_word_end(text: str, i: int) -> int:
    while i < len(text) and text[i] not in HMP_BLANKS:
        i += 1
    return i


def _hmp_head(text: str, rep: Reporter, outer: OffsetMap) -> tuple[str, int] | None:
    """The command name and where its URI argument starts (flags skipped), or ``None``."""
    i = _skip_blanks(text, 0)
    j = _hmp_word_end(text, i)
    name = text[i:j]
    if name not in DIRECTION_OF_HMP:
        rep.add(
            Code.HMP_COMMAND_NOT_ALLOWED,
            outer(i),
            f"the HMP command {name!r} is not migrate or migrate_incoming",
            length=max(j - i, 1),
        )
        return None
    i = _skip_blanks(text, j)
    while name == "migrate" and text.startswith("-", i):
        j = _hmp_word_end(text, i)
        flag = text[i:j]
        if flag != "-d":
            rep.add(
                Code.HMP_UNEXPECTED_FLAG,
                outer(i),
                f"the HMP flag {flag!r} is not one qmonexec sends (only -d): remove it",
                length=j - i,
            )
        i = _skip_blanks(text, j)
    if i >= len(text):
        rep.add(Code.HMP_SYNTAX, outer(i), f"{name} needs a URI argument")
        return None
    return name, i


def _hmp_quoted(
    text: str, start: int, rep: Reporter, outer: OffsetMap
) -> tuple[str, OffsetMap, int] | None:
    """Decode the double-quoted HMP string at ``start``: (value, its map, end), or ``None``."""
    n = len(text)
    i = start + 1
    starts, sources = [0], [i]
    chars: list[str] = []
    decoded = 0
    while True:
        m = _HMP_SPECIAL.search(text, i)
        j = n if m is None else m.start()
        chars.append(text[i:j])
        decoded += j - i
        if j >= n:
            rep.add(Code.HMP_SYNTAX, outer(start),
                    "the HMP string is never closed: add the closing '\"'")  # fmt: skip
            return None
        i = j
        if text[i] == '"':
            return "".join(chars), OffsetMap(0, starts, sources, outer), i + 1
        e = text[i + 1] if i + 1 < n else ""
        if e not in _HMP_ESCAPES:
            rep.add(
                Code.HMP_SYNTAX,
                outer(i),
                f"HMP strings know only the escapes \\n \\r \\\\ \\' \\\", not "
                f"'\\{e}': QEMU refuses the command",
                length=2,
            )
            return None
        starts.append(decoded)
        sources.append(i)
        chars.append(_HMP_ESCAPES[e])
        decoded += 1
        i += 2
        starts.append(decoded)
        sources.append(i)


def _hmp_tail(text: str, start: int, end: int, uri: str, mapper: OffsetMap, rep: Reporter,
              outer: OffsetMap) -> None:
    """Report text after the URI argument and a URI that QEMU would truncate."""
    rest = _skip_blanks(text, end)
    if rest < len(text):
        hint = (
            ": an unquoted HMP argument ends at the first blank, so QEMU would see only "
            f"{uri!r}; put the URI in double quotes"
            if text[start] != '"'
            else ": remove it"
        )
        rep.add(
            Code.HMP_TRAILING_TEXT,
            outer(rest),
            f"text after the URI argument (QEMU refuses the command){hint}",
            length=len(text) - rest,
        )
    size = len(uri.encode("utf-8", "surrogatepass"))
    if size > HMP_MAX_BYTES:
        cut = len(uri.encode("utf-8", "surrogatepass")[:HMP_MAX_BYTES].decode("utf-8", "ignore"))
        rep.add(
            Code.HMP_TRUNCATION,
            mapper(cut),
            f"the HMP string is {size} bytes; QEMU silently cuts it to {HMP_MAX_BYTES} bytes "
            "here and runs the rest as if it were whole: use QMP, or a shorter path",
            length=max(mapper(len(uri)) - mapper(cut), 1),
        )


def _peel_hmp(text: str, rep: Reporter, outer: OffsetMap) -> Peeled:
    head = _hmp_head(text, rep, outer)
    if head is None:
        return Peeled(None)
    name, start = head
    if text[start] == '"':
        quoted = _hmp_quoted(text, start, rep, outer)
        if quoted is None:
            return Peeled(None)
        uri, mapper, end = quoted
    else:
        end = _hmp_word_end(text, start)
        uri = text[start:end]
        mapper = OffsetMap(0, [0], [start], outer)
    _hmp_tail(text, start, end, uri, mapper, rep, outer)
    peeled = _peel_uri(uri, rep, mapper, required=True)
    peeled.layers.insert(0, Layer("hmp", outer(start), name))
    peeled.direction = DIRECTION_OF_HMP[name]
    return peeled


# -- exec: -------------------------------------------------------------------------


def _peel_uri(uri: str, rep: Reporter, mapper: OffsetMap, *, required: bool) -> Peeled:
    if uri.startswith("exec:"):
        return Peeled(uri[5:], [Layer("exec", mapper(5), "")], mapper.shifted(5))
    if required:
        scheme = uri.split(":", 1)[0] if ":" in uri else uri
        hint = (
            "; QEMU matches 'exec:' exactly, with no blanks or capitals before it"
            if uri.strip().lower().startswith("exec:")
            else ""
        )
        rep.add(
            Code.NOT_EXEC_URI,
            mapper(0),
            f"the URI starts with {scheme[:20]!r}, not 'exec:': the shell validator only "
            f"checks exec: URIs{hint}",
            length=max(len(scheme), 1),
        )
        return Peeled(None)
    return Peeled(uri, [], mapper)


def _guess(text: str) -> str:
    stripped = text.lstrip(" \t\r\n")
    if stripped.startswith("{"):
        rest = stripped[1:].lstrip(" \t\r\n")
        if rest[:1] in ('"', "'", "}"):
            return "qmp"
    line = text.lstrip(HMP_BLANKS)
    end = 0
    while end < len(line) and line[end] not in HMP_BLANKS:
        end += 1
    if line[:end] in DIRECTION_OF_HMP:
        # read as QEMU's monitor reads it: whatever blanks come first
        return "hmp"
    return "uri"


def peel(text: str, rep: Reporter, form: str = "auto") -> Peeled:
    """Peel ``text`` as ``form`` (one of :data:`FORMS`); layer findings go to ``rep``.

    ``uri`` peels an ``exec:`` prefix when there is one and otherwise takes
    the text as a bare shell string, as does ``auto`` after ruling out QMP
    (text starting ``{"``) and HMP (a first word ``migrate`` or
    ``migrate_incoming``).
    """
    if form == "auto":
        form = _guess(text)
    if form == "qmp":
        return _peel_qmp(text, rep)
    if form == "hmp":
        return _peel_hmp(text, rep, OffsetMap())
    if form == "shell":
        return Peeled(text)
    return _peel_uri(text, rep, OffsetMap(), required=False)

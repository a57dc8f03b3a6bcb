"""Review JSON and JSON Lines files: QMP transcripts and fixtures.

Every object anywhere in the document whose ``execute`` is ``migrate`` or
``migrate-incoming`` is checked as a QMP command (``form="qmp"``) from its
exact text in the file, so duplicate keys and every layer are seen as QEMU
would see them; every ``human-monitor-command`` has its ``command-line``
checked as an HMP line.  Positions are the file's own.  A file that is
neither one JSON document nor JSON Lines is reported (``unreadable-source``).
"""

from __future__ import annotations

__all__ = ["review_json"]

import json
import json.decoder
import json.scanner
from typing import Any

from ..shell import Policy, check
from .catalogue import ReviewCode
from .model import LineIndex, ReviewFinding, SourceMap, findings_from, make_finding

_MIGRATE = ("migrate", "migrate-incoming")
_JSON_OBJECT: Any = getattr(json.decoder, "JSONObject")  # noqa: B009
_SCANSTRING: Any = getattr(json.decoder, "scanstring")  # noqa: B009
_PY_SCANNER: Any = getattr(json.scanner, "py_make_scanner")  # noqa: B009


class _Obj(dict[str, Any]):
    """A decoded object that remembers its span in the text."""

    start = 0
    end = 0


class _Str(str):
    """A decoded string that remembers where its opening quote is."""

    start = 0


def _decoder() -> json.JSONDecoder:
    decoder = json.JSONDecoder()

    def parse_object(state: Any, *args: Any) -> tuple[Any, int]:
        idx = state[1]
        value, end = _JSON_OBJECT(state, *args)
        obj = _Obj(value)
        obj.start, obj.end = idx - 1, end
        return obj, end

    def parse_string(string: str, idx: int, strict: bool) -> tuple[str, int]:
        value, end = _SCANSTRING(string, idx, strict)
        out = _Str(value)
        out.start = idx - 1
        return out, end

    hooks: Any = decoder  # the attributes below are undocumented, and missing from typeshed
    hooks.parse_object = parse_object
    hooks.parse_string = parse_string
    hooks.scan_once = _PY_SCANNER(decoder)  # the C scanner calls no hooks
    return decoder


def _string_points(text: str, start: int, index: LineIndex) -> list[tuple[int, int]]:
    """File positions of each decoded character of the JSON string whose quote is at ``start``."""
    points: list[tuple[int, int]] = []
    i = start + 1
    while i < len(text) and text[i] != '"':
        here = index.at(i)
        if text[i] != "\\":
            points.append(here)
            i += 1
        elif text[i + 1] == "u":
            code = int(text[i + 2 : i + 6], 16)
            i += 6
            if 0xD800 <= code < 0xDC00 and text[i : i + 2] == "\\u":
                i += 6  # a surrogate pair is one character
            points.append(here)
        else:
            points.append(here)
            i += 2
    return points


def _walk(value: Any) -> Any:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))


def _review_value(
    name: str, text: str, value: Any, index: LineIndex, policy: Policy
) -> list[ReviewFinding]:
    out: list[ReviewFinding] = []
    for obj in _walk(value):
        execute = obj.get("execute")
        if execute in _MIGRATE and isinstance(obj, _Obj):
            raw = text[obj.start : obj.end]
            points = [index.at(obj.start + k) for k in range(len(raw))]
            out += findings_from(check(raw, policy, form="qmp"), SourceMap(name, points))
        elif execute == "human-monitor-command":
            args = obj.get("arguments")
            line = args.get("command-line") if isinstance(args, dict) else None
            if isinstance(line, _Str):
                points = _string_points(text, line.start, index)
                verdict = check(str(line), policy, form="hmp")
                out += findings_from(verdict, SourceMap(name, points))
    return out


def review_json(name: str, text: str, policy: Policy) -> list[ReviewFinding]:
    """Check every migrate, migrate-incoming and human-monitor-command message of ``text``."""
    index = LineIndex(text)
    decoder = _decoder()
    values: list[Any] = []
    try:
        values.append(decoder.decode(text))
    except json.JSONDecodeError as whole:
        pos = 0
        try:
            for line in text.split("\n"):
                if line.strip():
                    values.append(decoder.raw_decode(text, pos + len(line) - len(line.lstrip()))[0])
                pos += len(line) + 1
        except json.JSONDecodeError:
            here = index.at(whole.pos)
            return [make_finding(name, here, here, ReviewCode.UNREADABLE_SOURCE.value,
                                 f"not JSON or JSON Lines: {whole.msg}")]
    out: list[ReviewFinding] = []
    for value in values:
        out += _review_value(name, text, value, index, policy)
    return out

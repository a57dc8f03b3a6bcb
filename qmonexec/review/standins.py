"""Stand-ins: the text review checks in place of each value a Python string interpolates.

A value review cannot see is checked as a harmless word, a ``%d`` value as a
number, and a builder's result as the URI that builder renders.  Each stand-in
of one string holds a marker of its own: a word ``/qmonexec/value-N-`` or a
number that is a distinct power of two (a valid ``bs=``, ``seek=`` or ``skip=``,
and never equal to another, so no ``ibs=``/``obs=`` warning comes from two
stand-ins).  :meth:`StandIns.rename` puts the source expression, as
``{expr}``, where a finding's message quotes a marker, so that no message
shows a stand-in.
"""

from __future__ import annotations

__all__ = ["StandIns"]

import re

_WORD = "/qmonexec/value-{}-"
_WORD_MARK = re.compile(r"/qmonexec/value-\d+-")
#: Powers of two that a command hardly holds literally (2**23 to 2**29).
_NUMBERS = tuple(str(1 << k) for k in range(23, 30))
_NUMBER_MARK = re.compile(r"(?<![0-9])(?:" + "|".join(_NUMBERS) + r")(?![0-9])")
_SHOWN = 30
#: What a message says for a marker that stands for more than one expression.
_SEVERAL = "{...}"


def _uri(kind: str, word: str) -> str:
    """The URI a builder of ``kind`` renders, with ``word`` as its file."""
    if kind == "save":
        # qmonexec: ignore[unquoted-interpolation] the word is review's own stand-in
        return f"exec:{{ dd bs=4096 seek=1 if=/dev/null && dd ibs=32768 obs=65536; }} 1<>{word}"
    if kind == "restore":
        # qmonexec: ignore[unquoted-interpolation] the word is review's own stand-in
        return f"exec:dd if={word} bs=4096 skip=1"
    # qmonexec: ignore[unquoted-interpolation] the word is review's own stand-in
    return f"exec:cat {word}"


class StandIns:
    """The stand-ins of one checked string and the source expressions they stand for."""

    __slots__ = ("shown",)

    def __init__(self) -> None:
        self.shown: dict[str, str] = {}

    def _mark(self, marker: str, source: str) -> str:
        text = " ".join(source.split())
        text = text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."
        shown = "{" + text + "}"
        self.shown[marker] = shown if self.shown.get(marker, shown) == shown else _SEVERAL
        return marker

    def word(self, source: str) -> str:
        """A stand-in word for the value written ``source``."""
        return self._mark(_WORD.format(len(self.shown)), source)

    def number(self, source: str) -> str:
        """A stand-in number for the value written ``source``."""
        count = sum(m in self.shown for m in _NUMBERS)
        return self._mark(_NUMBERS[count % len(_NUMBERS)], source)

    def uri(self, kind: str, source: str) -> str:
        """A stand-in for the URI a ``kind`` builder (save, restore, command) returns."""
        return _uri(kind, self.word(source))

    def rename(self, message: str) -> str:
        """``message`` with each marker replaced by the expression it stands for."""
        if not self.shown:
            return message
        for pattern in (_WORD_MARK, _NUMBER_MARK):
            message = pattern.sub(lambda m: self.shown.get(m.group(), m.group()), message)
        return message

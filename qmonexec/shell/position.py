"""Source positions: :class:`Pos` and :func:`positioner`, the bottom of the validator's imports.

Every node, token and finding carries a :class:`Pos`: a 0-based character
offset into the analysed text plus 1-based line and column numbers.
"""

from __future__ import annotations

__all__ = ["Pos", "positioner"]

from bisect import bisect_right
from collections.abc import Callable
from itertools import accumulate
from typing import NamedTuple


class Pos(NamedTuple):
    """A source position: ``offset`` (0-based, in characters), ``line`` and ``column`` (1-based)."""

    offset: int
    line: int
    column: int

    def to_dict(self) -> dict[str, int]:
        """Return ``{"offset": ..., "line": ..., "column": ...}``."""
        return {"offset": self.offset, "line": self.line, "column": self.column}


def positioner(text: str) -> Callable[[int], Pos]:
    """Return a function mapping an offset in ``text`` to its :class:`Pos`.

    Building it costs one pass over ``text``; each lookup is O(log lines).
    """
    mk = tuple.__new__  # NamedTuple's own __new__ is several times slower
    if "\n" not in text:
        return lambda offset: mk(Pos, (offset, 1, offset + 1))
    # line start offsets, computed without a Python-level loop per line
    starts = list(accumulate(map((1).__add__, map(len, text.split("\n"))), initial=0))

    def pos(offset: int) -> Pos:
        k = bisect_right(starts, offset) - 1
        return mk(Pos, (offset, k + 1, offset - starts[k] + 1))

    return pos

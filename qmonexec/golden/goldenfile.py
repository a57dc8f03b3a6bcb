"""Golden files: the blocks of a catalogue, one after another, compared case by case.

A golden file is UTF-8 text holding one block per case (see
:mod:`qmonexec.golden.block`), each starting with its header line
``qmonexec-golden 1: NAME`` and separated by one empty line.
"""

from __future__ import annotations

__all__ = ["Comparison", "compare", "join_blocks", "split_blocks"]

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from .block import BLOCK_VERSION, HEADER, Golden

_PREFIX = f"{HEADER} "


def join_blocks(blocks: Sequence[Golden]) -> str:
    """The text of a golden file holding ``blocks`` in order."""
    return "\n".join(block.text for block in blocks)


def split_blocks(text: str) -> dict[str, str]:
    """The blocks of a golden file by case name (each with its trailing newline).

    Lines before the first header are ignored; a header without a name or of
    another format version is kept under its header line, so a comparison
    reports it rather than silently dropping it.
    """
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith(_PREFIX):
            version, _, name = line[len(_PREFIX):].partition(": ")
            key = name if version == str(BLOCK_VERSION) and name else line
            current = blocks.setdefault(key, [])
        if current is not None:
            current.append(line)
    return {name: "\n".join(_strip_blank(lines)) + "\n" for name, lines in blocks.items()}


def _strip_blank(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


@dataclass(frozen=True)
class Comparison:
    """What differs between the rendered blocks and a golden file."""

    changed: tuple[str, ...]
    unsafe: tuple[str, ...]
    missing: tuple[str, ...]
    stale: tuple[str, ...]
    diff: str
    problems: dict[str, tuple[str, ...]]

    @property
    def ok(self) -> bool:
        """Every case renders byte-identical to the golden file and safe."""
        return not (self.changed or self.unsafe or self.missing or self.stale)


def compare(rendered: Sequence[Golden], golden_text: str, golden_name: str) -> Comparison:
    """Compare ``rendered`` blocks with the golden file's text; build a unified diff."""
    stored = split_blocks(golden_text)
    changed: list[str] = []
    missing: list[str] = []
    diff: list[str] = []
    for block in rendered:
        name = block.name or ""
        old = stored.get(name)
        if old is None:
            missing.append(name)
        elif old != block.text:
            changed.append(name)
        if old != block.text:
            diff += difflib.unified_diff(
                (old or "").splitlines(keepends=True), block.text.splitlines(keepends=True),
                fromfile=f"{golden_name} ({name})", tofile=f"rendered ({name})")
    names = {block.name for block in rendered}
    stale = [name for name in stored if name not in names]
    for name in stale:
        diff += difflib.unified_diff(stored[name].splitlines(keepends=True), [],
                                     fromfile=f"{golden_name} ({name})",
                                     tofile=f"rendered ({name}: no such case)")
    unsafe = [block.name or "" for block in rendered if not block.ok]
    problems = {block.name or "": block.problems for block in rendered if not block.ok}
    return Comparison(tuple(changed), tuple(unsafe), tuple(missing), tuple(stale),
                      "".join(diff), problems)

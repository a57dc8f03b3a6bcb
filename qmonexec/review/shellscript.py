"""Review shell scripts: ``virsh qemu-monitor-command DOMAIN [--hmp] ARG`` lines.

The script is read with a minimal POSIX word reader of our own (never
:mod:`shlex`): blanks split words; ``'...'`` is literal; inside ``"..."`` a
backslash escapes only ``$ ` " \\`` and newline; outside quotes a backslash
escapes the next character; ``;``, ``&``, ``|``, ``(``, ``)`` and an
unquoted newline end a command; ``#`` at a word start begins a comment.
Each word keeps the file position of every character it decodes to.  A
``$`` or backquote outside single quotes makes the word not literal: in the
monitor argument that is an ``unquoted-interpolation``.  The arguments after
the domain are joined with spaces (as virsh does) and checked as a QMP
command, or as an HMP line with ``--hmp``.  Here-documents are not read.
"""

from __future__ import annotations

__all__ = ["Word", "read_commands", "review_shell"]

from dataclasses import dataclass, field

from ..shell import Policy, check
from .catalogue import ReviewCode
from .model import LineIndex, ReviewFinding, SourceMap, findings_from, make_finding

_BLANK = " \t"
_ENDS = ";&|()\n"
_DQ_ESCAPES = '$`"\\\n'
_VIRSH_FLAGS = {"--hmp", "--pretty", "--return-value", "--pass-fds", "--domain"}


@dataclass
class Word:
    """One word: its decoded text, the file offset of each character, and whether it is literal."""

    text: list[str] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    literal: bool = True
    start: int = 0
    end: int = 0

    @property
    def value(self) -> str:
        return "".join(self.text)


class _Reader:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def _quoted(self, word: Word, quote: str) -> None:
        s = self.s
        self.i += 1
        while self.i < len(s) and s[self.i] != quote:
            c = s[self.i]
            if quote == '"' and c == "\\" and s[self.i + 1 : self.i + 2] in _DQ_ESCAPES:
                if s[self.i + 1] != "\n":
                    word.text.append(s[self.i + 1])
                    word.offsets.append(self.i + 1)
                self.i += 2
                continue
            if quote == '"' and c in "$`":
                word.literal = False
            word.text.append(c)
            word.offsets.append(self.i)
            self.i += 1
        self.i += 1

    def word(self) -> Word:
        s = self.s
        word = Word(start=self.i)
        while self.i < len(s) and s[self.i] not in _BLANK and s[self.i] not in _ENDS:
            c = s[self.i]
            if c in "'\"":
                self._quoted(word, c)
            elif c == "\\":
                if s[self.i + 1 : self.i + 2] not in ("\n", ""):
                    word.text.append(s[self.i + 1])
                    word.offsets.append(self.i + 1)
                self.i += 2
            else:
                if c in "$`":
                    word.literal = False
                word.text.append(c)
                word.offsets.append(self.i)
                self.i += 1
        word.end = self.i
        return word


def read_commands(text: str) -> list[list[Word]]:
    """The simple commands of ``text`` as lists of words."""
    reader = _Reader(text)
    commands: list[list[Word]] = []
    current: list[Word] = []
    s = text
    while reader.i < len(s):
        c = s[reader.i]
        if c in _BLANK or (c == "\\" and s[reader.i + 1 : reader.i + 2] == "\n"):
            reader.i += 1 if c in _BLANK else 2
        elif c in _ENDS:
            reader.i += 1
            if current:
                commands.append(current)
            current = []
        elif c == "#":
            end = s.find("\n", reader.i)
            reader.i = len(s) if end < 0 else end
        else:
            current.append(reader.word())
    if current:
        commands.append(current)
    return commands


def _monitor_args(words: list[Word]) -> tuple[list[Word], bool] | None:
    """The monitor argument words of a virsh qemu-monitor-command, and whether --hmp is given."""
    values = [w.value for w in words]
    if "qemu-monitor-command" not in values:
        return None
    k = values.index("qemu-monitor-command")
    if not any(v.rsplit("/", 1)[-1] == "virsh" for v in values[:k]):
        return None
    rest = words[k + 1 :]  # virsh's own options (-c URI, ...) may stand before the command
    hmp, positional, skip = False, [], False
    for w in rest:
        if skip:
            skip = False
        elif w.value == "--hmp":
            hmp = True
        elif w.value in ("--pass-fds", "--domain"):
            skip = True
        elif w.value in _VIRSH_FLAGS:
            continue
        else:
            positional.append(w)
    domain_given = any(w.value == "--domain" for w in rest)
    return (positional if domain_given else positional[1:]), hmp


def review_shell(name: str, text: str, policy: Policy) -> list[ReviewFinding]:
    """Check the monitor argument of every ``virsh qemu-monitor-command`` in ``text``."""
    if "qemu-monitor-command" not in text:
        return []
    index = LineIndex(text)
    out: list[ReviewFinding] = []
    for words in read_commands(text):
        found = _monitor_args(words)
        if found is None or not found[0]:
            continue
        args, hmp = found
        chars: list[str] = []
        offsets: list[int] = []
        for k, w in enumerate(args):
            if k:
                chars.append(" ")
                offsets.append(args[k - 1].end)
            chars += w.text
            offsets += w.offsets
        not_literal = [w for w in args if not w.literal]
        for w in not_literal:
            out.append(make_finding(
                name, index.at(w.start), index.at(max(w.end - 1, w.start)),
                ReviewCode.UNQUOTED_INTERPOLATION.value,
                "this argument holds a $ expansion or a backquote, so what reaches QEMU is "
                "not written here: render it with 'qmonexec uri save ... --format virsh'",
            ))  # fmt: skip
        if not_literal:
            continue
        verdict = check("".join(chars), policy, form="hmp" if hmp else "qmp")
        out += findings_from(verdict, SourceMap(name, [index.at(o) for o in offsets]))
    return out

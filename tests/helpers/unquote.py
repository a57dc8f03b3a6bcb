"""A tiny, independent reader of the quoting format qmonexec emits.

The format (docs/reference.md, section 4) is deliberately small: a word is a run of
bare safe characters, single-quoted runs ``'...'`` (no escapes inside), and
``\\'`` between runs for a literal quote.  This reader accepts exactly that and
nothing else, so a test that un-quotes our output also proves that nothing
outside the safe set ever appears unquoted.  It is not a shell: it refuses
every other backslash, ``$'...'``, double quotes and blanks.
"""

from __future__ import annotations

SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:@%+,-")


class NotOurFormat(ValueError):
    """The text is not a word in qmonexec's quoting format."""


def unquote_word(word: str) -> bytes:
    """Return the bytes the shell would see for one quoted ``word``.

    Bytes that are not UTF-8 appear in our ``str`` output as surrogate escapes
    and come back as the original bytes.
    """
    out: list[str] = []
    i = 0
    if not word:
        raise NotOurFormat("an empty string is no word: the empty word is written ''")
    while i < len(word):
        ch = word[i]
        if ch == "'":
            end = word.find("'", i + 1)
            if end < 0:
                raise NotOurFormat(f"unterminated single quote at {i}")
            out.append(word[i + 1:end])
            i = end + 1
        elif ch == "\\":
            if word[i + 1:i + 2] != "'":
                raise NotOurFormat(f"backslash not followed by a quote at {i}")
            if not (i > 0 and word[i - 1] == "'" and word[i + 2:i + 3] == "'"):
                raise NotOurFormat(f"\\' outside the '\\'' idiom at {i}")
            out.append("'")
            i += 2
        elif ch in SAFE:
            out.append(ch)
            i += 1
        else:
            raise NotOurFormat(f"unquoted {ch!r} at {i} is outside the safe set")
    return "".join(out).encode("utf-8", "surrogateescape")


def split_words(line: str) -> list[bytes]:
    """Split a line of words joined by single spaces (outside quotes) and un-quote each."""
    words: list[str] = []
    current: list[str] = []
    quoted = False
    escaped = False
    for ch in line:
        if escaped:
            escaped = False
        elif ch == "\\" and not quoted:
            escaped = True
        elif ch == "'":
            quoted = not quoted
        if ch == " " and not quoted and not escaped:
            words.append("".join(current))
            current = []
        else:
            current.append(ch)
    if quoted:
        raise NotOurFormat("unterminated single quote")
    words.append("".join(current))
    return [unquote_word(w) for w in words]

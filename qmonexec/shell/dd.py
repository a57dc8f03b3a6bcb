"""dd's operands as the validator reads them, and the advice it gives about them.

The three dd steps qmonexec renders (a save's header and data steps, a
restore), their operands, what makes a number or a block size acceptable,
and every message that tells the reader which operands to write.  The sizes
named in advice are the defaults qmonexec renders (:mod:`qmonexec.vocabulary`),
so a message says what ``qmonexec uri save`` writes.  Standard library only:
the fast path (:mod:`qmonexec.shell.fast`) uses it as well as the shape
matchers (:mod:`qmonexec.shell.shapes`).
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_SIZES",
    "OPERANDS",
    "SAVE_GROUP_FORM",
    "STEP_FORMS",
    "block_sizes_message",
    "dd_digits",
    "dd_number",
    "is_block_size",
    "not_a_block_size_message",
    "unexpected_operand_message",
]

from ..vocabulary import BLOCK_SIZE, INPUT_SIZE, TRANSFER_SIZE, spoken

#: The largest block size the validator accepts: 1 GiB.
_MAX_BLOCK = 1 << 30

#: The data step's operands as qmonexec renders them by default.
DEFAULT_SIZES = f"ibs={INPUT_SIZE} obs={TRANSFER_SIZE}"

#: The operands of each dd step, in the order qmonexec writes them.
OPERANDS: dict[str, tuple[str, ...]] = {
    "header": ("bs", "seek", "if"),
    "data": ("ibs", "obs"),
    "restore": ("if", "bs", "skip"),
}

#: Each dd step as messages show it.
STEP_FORMS: dict[str, str] = {
    "header": "dd bs=B seek=N if=/dev/null",
    "data": "dd ibs=I obs=O",
    "restore": "dd if=SOURCE bs=B skip=N",
}
#: A save's dd group as messages show it.
SAVE_GROUP_FORM = f"{{ dd bs={BLOCK_SIZE} seek=N if=/dev/null && {STEP_FORMS['data']}; }}"


def dd_number(text: str) -> int | None:
    """``text`` as a plain decimal number (no sign, suffix or leading zero), else ``None``."""
    if not text.isascii() or not text.isdigit():
        return None
    return dd_digits(text)


def dd_digits(digits: str) -> int | None:
    """``digits`` (ASCII digits only, as a pattern matched them) as a dd number: ``None`` for
    a leading zero or more than 18 digits."""
    if (len(digits) > 1 and digits[0] == "0") or len(digits) > 18:
        return None
    return int(digits)


def is_block_size(number: int) -> bool:
    """Whether ``number`` is a block size the validator accepts: a power of two up to 1 GiB."""
    return number != 0 and not number & (number - 1) and number <= _MAX_BLOCK


def block_sizes_message(obs: int | str) -> str:
    """The message of the ``dd-block-sizes`` warning."""
    return (
        f"ibs=obs={obs}: busybox dd treats equal sizes like bs= and writes every short pipe "
        f"read as its own block; use {DEFAULT_SIZES}"
    )


def not_a_block_size_message(key: str, number: int) -> str:
    """The message for a ``bs``/``ibs``/``obs`` that is not an accepted block size.

    It names the powers of two around ``number``: ``use 2048 or 4096`` for 3000.
    """
    message = f"{key}={number} is not a power of two up to 1 GiB"
    if number <= 0:
        return message
    below = min(1 << (number.bit_length() - 1), _MAX_BLOCK)
    above = below << 1
    return message + f": use {below}" + (f" or {above}" if above <= _MAX_BLOCK else "")


def unexpected_operand_message(role: str, value: str, key: str) -> str:
    """The message for the operand ``value`` (named ``key``), which the ``role`` step never has."""
    if role == "data" and key == "bs":
        return (
            f"{value!r} makes dd write each read from the pipe as a block of its own, "
            "however short, instead of collecting reads into full obs= writes: "
            f"use {DEFAULT_SIZES}"
        )
    if key == "of":
        return (
            f"{value!r} makes dd open the file itself and truncate it at the seek point "
            "(destroying what follows): write to stdout, opened with '1<>'"
        )
    if key in ("ibs", "obs") and role != "data":
        return f"{value!r} does not belong in the {role} step: it takes bs= only"
    null = role == "header"  # the header step reads if=/dev/null
    takes = [f"{k}=/dev/null" if null and k == "if" else f"{k}=" for k in OPERANDS[role]]
    return (f"{value!r} is not an operand of the {role} step, which takes "
            f"{spoken(takes, 'and')}: remove it")  # fmt: skip

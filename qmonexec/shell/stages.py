"""The stages the shapes are built of: compressors, dd steps, stage-status files.

:class:`StageChecks` checks one stage of a save or restore at a time and
reports where it differs from what qmonexec renders; the shape matchers of
:mod:`qmonexec.shell.shapes` put the stages together.  The dd steps'
operands and the advice about them come from :mod:`qmonexec.shell.dd`, the
stage and outcome names from :mod:`qmonexec.vocabulary`.
"""

from __future__ import annotations

__all__ = ["StageChecks", "option_code"]

from ..limits import DD_MAX_BYTES, special_path
from ..vocabulary import Outcome, marker
from .checker import Checker, fd
from .dd import (
    OPERANDS,
    STEP_FORMS,
    block_sizes_message,
    dd_number,
    is_block_size,
    not_a_block_size_message,
    unexpected_operand_message,
)
from .findings import Code, Severity
from .nodes import AndOr, BraceGroup, Command, Redirect, SimpleCommand, Word
from .policy import GENERIC_RULE, PASS_THROUGH


def _passes_through(name: str) -> bool:
    """Whether the program (bare or by absolute path) copies its input unchanged."""
    return name.rsplit("/", 1)[-1] in PASS_THROUGH


def option_code(value: str) -> Code:
    """The code for a refused argument word: an option, or an operand."""
    if value.startswith("-") and value != "-":
        return Code.OPTION_NOT_ALLOWED
    return Code.UNEXPECTED_ARGUMENT


class StageChecks(Checker):
    """Checks of single stages, shared by the shape matchers."""

    def plain_args(self, cmd: SimpleCommand) -> list[tuple[str, Word]]:
        """The value and word of each argument of ``cmd`` (after its name)."""
        return [(self.info(w).value, w) for w in cmd.words[1:]]

    def refuse_redirect(self, r: Redirect, message: str) -> None:
        """Report ``r`` as not allowed here, unless the general pass already reported it."""
        if id(r) not in self.flagged:
            self.add(
                Code.REDIRECT_NOT_ALLOWED,
                r.pos.offset,
                message,
                length=r.target.end - r.pos.offset,
            )

    def no_redirects(self, cmd: Command, what: str) -> bool:
        """Whether ``cmd`` has no redirection (each one is reported, naming ``what``)."""
        for r in cmd.redirects:
            self.refuse_redirect(r, f"the {what} takes no redirection here: remove it")
        return not cmd.redirects

    # -- compressor stages ---------------------------------------------------

    def compressor(self, cmd: Command, mode: str) -> bool:
        """Check a compressor stage: ``c`` (save: NAME -c or cat) or ``dc`` (restore)."""
        if not isinstance(cmd, SimpleCommand) or cmd.assignments or not cmd.words:
            self.add(
                Code.UNEXPECTED_SHAPE,
                cmd.pos.offset,
                "the stage before '|' must be one compressor command "
                f"('COMP -{mode}'{' or cat' if mode == 'c' else ''})",
            )
            return False
        ok = self.no_redirects(cmd, "compressor")
        name = self.name(cmd)
        if name is None or self.policy.rule_for(name) is None:
            if name == "dd" or name == ":":
                self.add(
                    Code.UNEXPECTED_SHAPE,
                    cmd.words[0].pos.offset,
                    f"{name!r} cannot be the compressor stage: use 'COMP -{mode}'",
                )
            return False
        if _passes_through(name) and mode == "dc":
            self.add(
                Code.UNEXPECTED_SHAPE,
                cmd.words[0].pos.offset,
                f"a restore pipes dd into a decompressor ('COMP -dc'), not into {name}: "
                f"drop '| {name}' for an uncompressed image",
                length=len(name),
            )
            return False
        return self._compressor_options(cmd, name, mode, ok)

    def _compressor_options(self, cmd: SimpleCommand, name: str, mode: str, ok: bool) -> bool:
        """Check the compressor's options, then (if all is ``ok``) that it (de)compresses."""
        rule = self.policy.rule_for(name)
        assert rule is not None  # checked by the caller
        flags: set[str] = set()
        for value, word in self.plain_args(cmd):
            problem, got = rule.check_option(value)
            flags |= got
            if problem is not None:
                ok = False
                self.add(
                    option_code(value),
                    word.pos.offset,
                    f"{value!r} for {name} {problem}: remove it",
                    length=word.end - word.pos.offset,
                )
        return ok and self._compressor_mode(cmd, name, mode, flags)

    def _compressor_mode(self, cmd: SimpleCommand, name: str, mode: str, flags: set[str]) -> bool:
        if self.policy.rule_for(name) is GENERIC_RULE or _passes_through(name):
            return True
        want = set(mode)
        if want <= flags and ("d" not in flags or "d" in want):
            return True
        self.add(
            Code.OPTION_NOT_ALLOWED,
            cmd.words[0].pos.offset,
            f"{name} here must {'decompress' if 'd' in want else 'compress'} to stdout: "
            f"write '{name} -{mode}'",
            length=len(name),
        )
        return False

    # -- dd steps --------------------------------------------------------------

    def dd(self, cmd: Command, role: str) -> dict[str, int | str] | None:
        """Check one dd command; ``role`` is ``header``, ``data`` or ``restore``."""
        expected = OPERANDS[role]
        if not isinstance(cmd, SimpleCommand) or self.name(cmd) != "dd" or cmd.assignments:
            self.add(Code.UNEXPECTED_SHAPE, cmd.pos.offset, f"expected '{STEP_FORMS[role]}' here")
            return None
        ok = self.no_redirects(cmd, "dd command")
        values: dict[str, int | str] = {}
        for value, word in self.plain_args(cmd):
            off = word.pos.offset
            length = word.end - off
            key, eq, val = value.partition("=")
            if not eq or key not in expected:
                ok = False
                self.add(Code.DD_OPERAND, off, unexpected_operand_message(role, value, key),
                         length=length)  # fmt: skip
            elif key in values:
                ok = False
                self.add(Code.DD_OPERAND, off, f"dd operand {key}= is given twice: keep one",
                         length=length)  # fmt: skip
            elif key == "if":
                ok = self._dd_input(role, val, off, length) and ok
                values[key] = val
            else:
                number = self._dd_size(key, val, off, length)
                if number is None:
                    ok = False
                else:
                    values[key] = number
        missing = [k for k in expected if k not in values]
        if missing and ok:
            ok = False
            self.add(
                Code.DD_OPERAND,
                cmd.pos.offset,
                f"dd is missing {', '.join(k + '=' for k in missing)}: the {role} step is "
                f"'dd {' '.join(k + '=...' for k in expected)}'",
                length=2,
            )
        if not ok:
            return None
        if role == "data" and values["ibs"] == values["obs"]:
            self.add(Code.DD_BLOCK_SIZES, cmd.pos.offset, block_sizes_message(values["obs"]),
                     severity=Severity.WARNING, length=2)  # fmt: skip
        return values

    def _dd_input(self, role: str, val: str, off: int, length: int) -> bool:
        """Check ``if=val``: /dev/null in the header step, an ordinary file in a restore."""
        if role == "header" and val != "/dev/null":
            self.add(
                Code.DD_OPERAND,
                off,
                f"the header step must read if=/dev/null (it only moves the offset), "
                f"not {val!r}: write if=/dev/null",
                length=length,
            )
            return False
        if role != "restore":
            return True
        special = special_path(val)
        if special is not None:
            self.special(special, off + 3, off + length)
            return False
        if not val.startswith("/"):
            self.add(
                Code.RELATIVE_PATH,
                off + 3,
                f"the image {val!r} is a relative path, resolved against QEMU's "
                "working directory: give an absolute path",
                length=max(len(val), 1),
            )
            return False
        return True

    def _dd_size(self, key: str, val: str, off: int, length: int) -> int | None:
        """``key=val`` as a number (a block size for bs/ibs/obs), or ``None`` after reporting."""
        number = dd_number(val)
        if number is None:
            self.add(
                Code.DD_OPERAND,
                off,
                f"{key}={val!r} is not a plain decimal number: dd also reads suffixes "
                f"and products (1M, 2x4096) which qmonexec never writes; write the number",
                length=length,
            )
            return None
        if key in ("bs", "ibs", "obs") and not is_block_size(number):
            self.add(Code.DD_OPERAND, off, not_a_block_size_message(key, number), length=length)
            return None
        return number

    def check_offset(self, values: dict[str, int | str], key: str, word_cmd: Command) -> bool:
        """Check ``key`` (seek/skip) times bs: within dd's range, and the expected offset."""
        count = values[key]
        bs = values["bs"]
        assert isinstance(count, int) and isinstance(bs, int)
        if count * bs > DD_MAX_BYTES:
            self.add(
                Code.DD_OPERAND,
                word_cmd.pos.offset,
                f"{key}={count} with bs={bs} is byte {count * bs}, past the largest offset dd "
                f"accepts (2^63 - 1 = {DD_MAX_BYTES}): dd would fail; use a smaller offset",
                length=2,
            )
            return False
        want = self.policy.offset
        if want is None:
            return True
        if count * bs != want:
            self.add(
                Code.OFFSET_MISMATCH,
                word_cmd.pos.offset,
                f"{key}={count} with bs={bs} positions at byte {count * bs}, but the header "
                f"is {want} bytes: write {key}={want // bs}"
                + ("" if want % bs == 0 else f" with a bs that divides {want}"),
                length=2,
            )
        return True

    # -- stage-status files --------------------------------------------------

    def _status(self, cmd: Command, stage: str, outcome: Outcome) -> str | None:
        """Check ``: >D/STAGE.OUTCOME``; return D."""
        if (
            not isinstance(cmd, SimpleCommand)
            or self.name(cmd) != ":"
            or len(cmd.words) != 1
            or cmd.assignments
            or len(cmd.redirects) != 1
            or cmd.redirects[0].op != ">"
            or fd(cmd.redirects[0]) != 1
        ):
            self.add(
                Code.STATUS_FILE,
                cmd.pos.offset,
                f"expected ': >DIR/{marker(stage, outcome)}' here (the stage-status form)",
            )
            return None
        return self.status_path(cmd.redirects[0], marker(stage, outcome))

    def status_path(self, r: Redirect, leaf: str) -> str | None:
        """The directory of the status file ``r`` opens, which must be ``DIR/leaf``."""
        info = self.info(r.target)
        value = info.value
        suffix = "/" + leaf
        if not info.literal or not value.endswith(suffix) or not value.startswith("/"):
            self.add(
                Code.STATUS_FILE,
                r.target.pos.offset,
                f"the status file {value!r} must be DIR/{leaf} with an absolute DIR",
                length=r.target.end - r.target.pos.offset,
            )
            return None
        return value[: -len(suffix)] or "/"

    def marker_chain(self, ao: AndOr, stage: str, n_work: int) -> list[str] | None:
        """Check ``W1 && ... && : >D/stage.ok || : >D/stage.failed``; return the dirs."""
        pipes = ao.pipelines
        want_ops = ["&&"] * n_work + ["||"]
        if ao.ops != want_ops or any(p.negated or len(p.commands) != 1 for p in pipes):
            self.add(
                Code.UNEXPECTED_SHAPE,
                ao.pos.offset,
                f"the stage-status form is '... && : >DIR/{marker(stage, 'ok')} "
                f"|| : >DIR/{marker(stage, 'failed')}'",
            )
            return None
        ok_dir = self._status(pipes[-2].commands[0], stage, "ok")
        failed_dir = self._status(pipes[-1].commands[0], stage, "failed")
        if ok_dir is None or failed_dir is None:
            return None
        return [ok_dir, failed_dir]

    def single_item(self, group: BraceGroup) -> AndOr | None:
        """The one and-or list in ``group``, or ``None``."""
        items = group.body.items
        if len(items) != 1:
            return None  # separators reported by the general pass
        return items[0].command

    def save_channel(self, cmd: SimpleCommand) -> bool:
        """A raw save with no shell (a QEMU 8.2+ ``exec`` channel's argv):
        ``dd of=TARGET ibs=I obs=O seek=N conv=notrunc``, writing at N*O and keeping the
        header before it (``conv=notrunc``: without it dd truncates at the seek point, and
        the caller cuts the file to the offset before the save)."""
        ok = self.no_redirects(cmd, "dd command")
        values: dict[str, str] = {}
        for value, word in self.plain_args(cmd):
            key, eq, val = value.partition("=")
            if not eq or key not in ("of", "ibs", "obs", "seek", "conv") or key in values:
                ok = False
                self.add(Code.DD_OPERAND, word.pos.offset, f"{value!r} does not belong in a "
                         "save channel 'dd of=TARGET ibs=I obs=O seek=N conv=notrunc': "
                         "remove it", length=word.end - word.pos.offset)
                continue
            values[key] = val
            if key == "of":
                ok = self._channel_target(val, word) and ok
        numbers = {k: dd_number(values.get(k, "")) for k in ("ibs", "obs", "seek")}
        if not ok or values.get("conv") != "notrunc" or "of" not in values or any(
                n is None for n in numbers.values()):
            if ok:
                self.add(Code.DD_OPERAND, cmd.pos.offset, "a save channel is exactly 'dd "
                         "of=TARGET ibs=I obs=O seek=N conv=notrunc' (plain decimal numbers; "
                         "conv=notrunc keeps the header)", length=2)
            return False
        ibs, obs = numbers["ibs"], numbers["obs"]
        assert ibs is not None and obs is not None
        if not (is_block_size(ibs) and is_block_size(obs)):
            self.add(Code.DD_OPERAND, cmd.pos.offset, "ibs= and obs= must be powers of two "
                     "up to 1 GiB", length=2)
            return False
        return self.check_offset({"seek": numbers["seek"] or 0, "bs": obs}, "seek", cmd)

    def _channel_target(self, val: str, word: Word) -> bool:
        special = special_path(val)
        if special is not None:
            self.special(special, word.pos.offset + 3, word.end)
            return False
        if not val.startswith("/"):
            self.add(Code.RELATIVE_PATH, word.pos.offset + 3, f"the target {val!r} is a "
                     "relative path: give an absolute path", length=len(val) or 1)
            return False
        return True

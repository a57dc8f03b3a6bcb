"""Check a parsed script against a :class:`~qmonexec.shell.policy.Policy`.

:func:`evaluate` walks the AST of :mod:`qmonexec.shell.nodes` twice: a general
pass reports what no shape may hold wherever it appears (background jobs,
separators, subshells, assignments, programs the policy does not allow,
truncating or relative redirections, ...), then a shape pass matches the
script against the shapes of :mod:`qmonexec.shell.policy` (save, restore,
single command) word for word, and says what differs and how to fix it.
The policy data and tables live in :mod:`qmonexec.shell.policy`; this module
holds the logic that needs the AST.
"""

from __future__ import annotations

__all__ = ["evaluate"]

from collections.abc import Callable, Iterable

from ..limits import DD_MAX_BYTES, SpecialPath, special_path
from .findings import Code, Reporter, Severity
from .grammar import REDIRECTIONS
from .nodes import (
    AndOr,
    BraceGroup,
    Command,
    CommandList,
    Pipeline,
    Redirect,
    Script,
    SimpleCommand,
    Subshell,
    Word,
)
from .policy import (
    GENERIC_RULE,
    PASS_THROUGH,
    Policy,
    dd_block_sizes_message,
    dd_number,
)
from .refusals import refusal
from .words import WordInfo

_DEFAULT_FD = {"<": 0, "<>": 0, "<&": 0, "<<": 0, "<<-": 0}
_FILE_OPS = frozenset({"<", ">", ">>", "<>", ">|"})
#: Every redirection operator the checks below know; any other is unproven.
_KNOWN_OPS = REDIRECTIONS
assert _FILE_OPS | {"<&", ">&", "<<", "<<-"} == REDIRECTIONS
_SHAPE_HELP = (
    "qmonexec accepts a save '[COMP -c | ]{ dd bs=B seek=N if=/dev/null && "
    "dd ibs=I obs=O; } 1<>TARGET', a restore 'dd if=SOURCE bs=B skip=N[ | COMP -dc]' "
    "or one allowed command"
)


def _fd(redirect: Redirect) -> int:
    if redirect.fd is not None:
        return redirect.fd
    return _DEFAULT_FD.get(redirect.op, 1)


class _Checker:
    def __init__(
        self, policy: Policy, rep: Reporter, info: Callable[[Word], WordInfo]
    ) -> None:
        self.policy = policy
        self.rep = rep
        self.info = info
        self.flagged: set[int] = set()  # id() of redirects already reported

    def add(self, code: Code, offset: int, message: str, **kw: object) -> None:
        self.rep.add(code, offset, message, **kw)  # type: ignore[arg-type]

    def name(self, cmd: SimpleCommand) -> str | None:
        if not cmd.words:
            return None
        info = self.info(cmd.words[0])
        return info.value if info.literal else None

    # -- general pass: every node, shape-independent ---------------------

    def walk_list(self, lst: CommandList, top: bool) -> None:
        items = lst.items
        last = len(items) - 1
        for k, item in enumerate(items):
            if item.sep == "&" and item.sep_pos is not None:
                self.add(
                    Code.BACKGROUND,
                    item.sep_pos.offset,
                    "'&' runs the command before it in the background and goes on: QEMU "
                    "would not wait for it; remove the '&'",
                )
            elif item.sep == ";" and item.sep_pos is not None and (k < last or top):
                what = "a newline" if self._is_newline(item.sep_pos.offset) else "';'"
                self.add(
                    Code.COMMAND_SEPARATOR,
                    item.sep_pos.offset,
                    f"{what} ends the command here"
                    + (", and what follows runs as another command" if k < last else "")
                    + ": qmonexec's shapes hold exactly one command list; remove it"
                    + (" and everything after it" if k < last else ""),
                )
            self.walk_and_or(item.command)

    def _is_newline(self, offset: int) -> bool:
        return offset in self.newlines

    newlines: frozenset[int] = frozenset()

    def walk_and_or(self, ao: AndOr) -> None:
        for pipe in ao.pipelines:
            if pipe.negated:
                self.add(
                    Code.NEGATION,
                    pipe.pos.offset,
                    "'!' inverts the pipeline's exit status: remove it",
                )
            for cmd in pipe.commands:
                self.walk_command(cmd)

    def walk_command(self, cmd: Command) -> None:
        if isinstance(cmd, SimpleCommand):
            self.walk_simple(cmd)
            return
        if isinstance(cmd, Subshell):
            self.add(
                Code.SUBSHELL,
                cmd.pos.offset,
                "'( ... )' runs the list in a subshell, which no qmonexec shape uses: "
                "use '{ ...; }' as in the save form, or a single command",
            )
        elif not isinstance(cmd, BraceGroup):
            self.add(
                Code.UNHANDLED_CONSTRUCT,
                cmd.pos.offset,
                f"a {type(cmd).__name__} node that the analysis does not handle: it is not "
                "proven safe; use one of the shapes qmonexec renders",
            )
            return
        self.rep.budget.spend()
        self.walk_list(cmd.body, False)
        self.check_redirects(cmd.redirects, None)

    def walk_simple(self, cmd: SimpleCommand) -> None:
        for assignment in cmd.assignments:
            self.add(
                Code.ASSIGNMENT,
                assignment.pos.offset,
                f"'{assignment.name}=...' sets a variable for the command: no qmonexec shape "
                "needs one; remove it",
                length=assignment.word.end - assignment.pos.offset,
            )
        name = self.name(cmd)
        if not cmd.words:
            self.add(
                Code.UNEXPECTED_SHAPE,
                cmd.pos.offset,
                "a redirection without a command just creates or opens the file: "
                "give the command, or remove the redirection",
            )
        elif name is not None:
            self.check_name(cmd, name)
        self.check_redirects(cmd.redirects, name)

    def check_name(self, cmd: SimpleCommand, name: str) -> None:
        policy = self.policy
        if policy.rule_for(name) is not None:
            if policy.runs_unchecked(name):
                self.add(
                    Code.RUNS_CODE_UNCHECKED,
                    cmd.words[0].pos.offset,
                    f"{name!r} runs its arguments (or its input) as code or as another "
                    "command; the caller allowed it, but qmonexec does not check what it runs",
                    severity=Severity.WARNING,
                    length=len(name),
                )
            return
        if name == "dd" and ("save" in policy.shapes or "restore" in policy.shapes):
            return
        if name == ":" and "save" in policy.shapes:
            return
        code, message = refusal(name, policy.programs, policy.allow_hint)
        self.add(code, cmd.words[0].pos.offset, message, length=max(len(name), 1))

    def check_redirects(self, redirects: list[Redirect], name: str | None) -> None:
        seen: dict[int, Redirect] = {}
        allowed = self.policy.redirects
        for r in redirects:
            op = r.op
            if op not in _KNOWN_OPS:
                self.flag(r)
                self.add(
                    Code.UNHANDLED_CONSTRUCT,
                    r.pos.offset,
                    f"the redirection operator {op!r} is not one the analysis handles, so it "
                    "is not proven safe: remove it",
                    length=len(op),
                )
                continue
            fd = _fd(r)
            target = self.info(r.target)
            value = target.value
            where = r.pos.offset
            if fd in seen:
                self.flag(r)
                self.add(
                    Code.DUPLICATE_REDIRECT,
                    where,
                    f"fd {fd} is redirected twice; zsh then writes to both files (multios), "
                    "other shells only to the last: keep one redirection",
                )
            seen[fd] = r
            if op in ("<&", ">&"):
                if op not in allowed:
                    self.flag(r)
                    extra = (
                        f"; bash and zsh read {op}{value} as a file name"
                        if not (value.isdigit() or value == "-")
                        else ""
                    )
                    self.add(
                        Code.REDIRECT_NOT_ALLOWED,
                        where,
                        f"{op!r} duplicates or closes a file descriptor, which no qmonexec "
                        f"shape does{extra}: remove it",
                        length=r.target.end - where,
                    )
                continue
            if target.literal and op in _FILE_OPS:
                special = special_path(value)
                if special is not None:
                    self.flag(r)
                    self._special(special, r.target.pos.offset, r.target.end)
            if target.literal and op in _FILE_OPS and not value.startswith("/"):
                self.flag(r)
                self.add(
                    Code.RELATIVE_PATH,
                    r.target.pos.offset,
                    f"the file {value!r} is a relative path, resolved against QEMU's working "
                    "directory: give an absolute path",
                    length=max(r.target.end - r.target.pos.offset, 1),
                )
            if op in allowed:
                continue
            if op in (">", ">|") and fd == 1 and name != ":":
                self.flag(r)
                self.add(
                    Code.TRUNCATING_REDIRECT,
                    where,
                    f"{op!r} truncates {value!r} when the shell opens it, destroying a header "
                    "written before the stream (and anything else in the file): "
                    "open it with '1<>' as the save form does",
                    length=len(op) + (len(str(r.fd)) if r.fd is not None else 0),
                )
            elif op == ">>":
                self.flag(r)
                self.add(
                    Code.APPENDING_REDIRECT,
                    where,
                    f"'>>' appends to {value!r}, so the stream lands after whatever the file "
                    "holds instead of at the header offset: open it with '1<>' "
                    "and position with dd seek=",
                    length=2 + (len(str(r.fd)) if r.fd is not None else 0),
                )
            elif op == "<>" and fd != 1:
                self.flag(r)
                self.add(
                    Code.REDIRECT_NOT_ALLOWED,
                    where,
                    f"'<>' opens {value!r} on fd {fd}, but dd writes to fd 1: write '1<>'",
                    length=2 + (len(str(r.fd)) if r.fd is not None else 0),
                )
            elif op in ("<<", "<<-"):
                self.flag(r)

    def _special(self, special: SpecialPath, start: int, end: int) -> None:
        self.add(
            Code.SPECIAL_PATH,
            start,
            f"{special.reason}: give the path of an ordinary file",
            length=max(end - start, 1),
            shells=special.shells,
        )

    def flag(self, r: Redirect) -> None:
        self.flagged.add(id(r))

    # -- shape pass --------------------------------------------------------

    def shape(self, script: Script) -> str | None:
        ao = script.body.items[0].command
        if len(ao.pipelines) != 1:
            op = ao.ops[0]
            self.add(
                Code.UNEXPECTED_SHAPE,
                ao.op_positions[0].offset,
                f"{op!r} at the top level chains commands, which no shape does ({_SHAPE_HELP})",
                length=2,
            )
            return None
        pipe = ao.pipelines[0]
        cmds = pipe.commands
        first = cmds[0]
        shapes = self.policy.shapes
        if isinstance(cmds[-1], BraceGroup):
            if "save" not in shapes:
                self._refuse("save", cmds[-1])
                return None
            return "save" if self.save(pipe) else None
        if isinstance(first, SimpleCommand):
            name = self.name(first)
            if name == "dd" and "restore" in shapes:
                return "restore" if self.restore(pipe) else None
            if len(cmds) == 1 and "command" in shapes:
                return "command" if self.command(first) else None
        if len(cmds) > 1 and "command" in shapes and not {"save", "restore"} & shapes:
            self.add(
                Code.UNEXPECTED_SHAPE,
                pipe.pos.offset,
                "a pipeline where one simple command is expected: run one program",
            )
            return None
        self.add(
            Code.UNEXPECTED_SHAPE, pipe.pos.offset, f"this is none of the shapes: {_SHAPE_HELP}"
        )
        return None

    def _refuse(self, shape: str, node: Command) -> None:
        self.add(
            Code.UNEXPECTED_SHAPE,
            node.pos.offset,
            f"this has the {shape} shape, which this policy does not accept "
            f"(it accepts: {', '.join(sorted(self.policy.shapes))})",
        )

    def _plain_args(self, cmd: SimpleCommand) -> list[tuple[str, Word]]:
        return [(self.info(w).value, w) for w in cmd.words[1:]]

    def _no_redirects(self, cmd: Command, what: str) -> bool:
        ok = True
        for r in cmd.redirects:
            if id(r) not in self.flagged:
                self.add(
                    Code.REDIRECT_NOT_ALLOWED,
                    r.pos.offset,
                    f"the {what} takes no redirection here: remove it",
                    length=r.target.end - r.pos.offset,
                )
            ok = False
        return ok

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
        ok = self._no_redirects(cmd, "compressor")
        name = self.name(cmd)
        rule = None if name is None else self.policy.rule_for(name)
        if name is None or rule is None:
            if name == "dd" or name == ":":
                self.add(
                    Code.UNEXPECTED_SHAPE,
                    cmd.words[0].pos.offset,
                    f"{name!r} cannot be the compressor stage: use 'COMP -{mode}'",
                )
            return False
        passes = name.rsplit("/", 1)[-1] in PASS_THROUGH
        if passes and mode == "dc":
            self.add(
                Code.UNEXPECTED_SHAPE,
                cmd.words[0].pos.offset,
                f"a restore pipes dd into a decompressor ('COMP -dc'), not into {name}: "
                f"drop '| {name}' for an uncompressed image",
                length=len(name),
            )
            return False
        flags: set[str] = set()
        for value, word in self._plain_args(cmd):
            problem, got = rule.check_option(value)
            flags |= got
            if problem is not None:
                ok = False
                code = _option_code(value)
                self.add(
                    code,
                    word.pos.offset,
                    f"{value!r} for {name} {problem}: remove it",
                    length=word.end - word.pos.offset,
                )
        if ok and rule is not GENERIC_RULE and not passes:
            want = set(mode)
            if not want <= flags or ("d" in flags and "d" not in want):
                self.add(
                    Code.OPTION_NOT_ALLOWED,
                    cmd.words[0].pos.offset,
                    f"{name} here must {'decompress' if 'd' in want else 'compress'} to stdout: "
                    f"write '{name} -{mode}'",
                    length=len(name),
                )
                ok = False
        return ok

    def dd(self, cmd: Command, role: str) -> dict[str, int | str] | None:
        """Check one dd command; ``role`` is ``header``, ``data`` or ``restore``."""
        expected = {"header": ("bs", "seek", "if"), "data": ("ibs", "obs"),
                    "restore": ("if", "bs", "skip")}[role]  # fmt: skip
        if not isinstance(cmd, SimpleCommand) or self.name(cmd) != "dd" or cmd.assignments:
            shown = {"header": "dd bs=4096 seek=N if=/dev/null",
                     "data": "dd ibs=65536 obs=1048576",
                     "restore": "dd if=SOURCE bs=4096 skip=N"}[role]  # fmt: skip
            self.add(Code.UNEXPECTED_SHAPE, cmd.pos.offset, f"expected '{shown}' here")
            return None
        ok = self._no_redirects(cmd, "dd command")
        values: dict[str, int | str] = {}
        for value, word in self._plain_args(cmd):
            off = word.pos.offset
            length = word.end - off
            key, eq, val = value.partition("=")
            if not eq or key not in expected:
                ok = False
                self.add(Code.DD_OPERAND, off, self._dd_unexpected(role, value, key), length=length)
                continue
            if key in values:
                ok = False
                self.add(Code.DD_OPERAND, off, f"dd operand {key}= is given twice: keep one",
                         length=length)  # fmt: skip
                continue
            if key == "if":
                if role == "header" and val != "/dev/null":
                    ok = False
                    self.add(
                        Code.DD_OPERAND,
                        off,
                        f"the header step must read if=/dev/null (it only moves the offset), "
                        f"not {val!r}: write if=/dev/null",
                        length=length,
                    )
                elif role == "restore" and special_path(val) is not None:
                    ok = False
                    special = special_path(val)
                    assert special is not None
                    self._special(special, off + 3, off + length)
                elif role == "restore" and not val.startswith("/"):
                    ok = False
                    self.add(
                        Code.RELATIVE_PATH,
                        off + 3,
                        f"the image {val!r} is a relative path, resolved against QEMU's "
                        "working directory: give an absolute path",
                        length=max(len(val), 1),
                    )
                values[key] = val
                continue
            number = dd_number(val)
            if number is None:
                ok = False
                self.add(
                    Code.DD_OPERAND,
                    off,
                    f"{key}={val!r} is not a plain decimal number: dd also reads suffixes "
                    f"and products (1M, 2x4096) which qmonexec never writes; write the number",
                    length=length,
                )
                continue
            if key in ("bs", "ibs", "obs") and (number == 0 or number & (number - 1)
                                                 or number > 1 << 30):  # fmt: skip
                ok = False
                self.add(
                    Code.DD_OPERAND,
                    off,
                    f"{key}={number} is not a power of two up to 1 GiB: use 4096 for the "
                    "offset step and 65536/1048576 for the transfer",
                    length=length,
                )
                continue
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
            self.add(
                Code.DD_BLOCK_SIZES,
                cmd.pos.offset,
                dd_block_sizes_message(values["obs"]),
                severity=Severity.WARNING,
                length=2,
            )
        return values

    @staticmethod
    def _dd_unexpected(role: str, value: str, key: str) -> str:
        if role == "data" and key == "bs":
            return (
                f"{value!r} makes dd write each short read from the pipe as a short block "
                "(16,384 writes per GiB instead of 1,024): use ibs=65536 obs=1048576"
            )
        if key == "of":
            return (
                f"{value!r} makes dd open the file itself and truncate it at the seek point "
                "(destroying what follows): write to stdout, opened with '1<>'"
            )
        if key in ("ibs", "obs") and role != "data":
            return f"{value!r} does not belong in the {role} step: it takes bs= only"
        expected = {"header": "bs=, seek= and if=/dev/null", "data": "ibs= and obs=",
                    "restore": "if=, bs= and skip="}[role]  # fmt: skip
        return f"{value!r} is not an operand of the {role} step, which takes {expected}: remove it"

    def _offset(self, values: dict[str, int | str], key: str, word_cmd: Command) -> bool:
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

    def _status(self, cmd: Command, stage: str, outcome: str) -> str | None:
        """Check ``: >D/STAGE.OUTCOME``; return D."""
        if (
            not isinstance(cmd, SimpleCommand)
            or self.name(cmd) != ":"
            or len(cmd.words) != 1
            or cmd.assignments
            or len(cmd.redirects) != 1
            or cmd.redirects[0].op != ">"
            or _fd(cmd.redirects[0]) != 1
        ):
            self.add(
                Code.STATUS_FILE,
                cmd.pos.offset,
                f"expected ': >DIR/{stage}.{outcome}' here (the stage-status form)",
            )
            return None
        return self._status_path(cmd.redirects[0], f"{stage}.{outcome}")

    def _status_path(self, r: Redirect, leaf: str) -> str | None:
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

    def _marker_chain(self, ao: AndOr, stage: str, n_work: int) -> list[str] | None:
        """Check ``W1 && ... && : >D/stage.ok || : >D/stage.failed``; return the dirs."""
        pipes = ao.pipelines
        want_ops = ["&&"] * n_work + ["||"]
        if ao.ops != want_ops or any(p.negated or len(p.commands) != 1 for p in pipes):
            self.add(
                Code.UNEXPECTED_SHAPE,
                ao.pos.offset,
                f"the stage-status form is '... && : >DIR/{stage}.ok || : >DIR/{stage}.failed'",
            )
            return None
        ok_dir = self._status(pipes[-2].commands[0], stage, "ok")
        failed_dir = self._status(pipes[-1].commands[0], stage, "failed")
        if ok_dir is None or failed_dir is None:
            return None
        return [ok_dir, failed_dir]

    def _single_item(self, group: BraceGroup) -> AndOr | None:
        items = group.body.items
        if len(items) != 1:
            return None  # separators reported by the general pass
        return items[0].command

    def save(self, pipe: Pipeline) -> bool:
        cmds = pipe.commands
        ok = True
        if pipe.negated:
            return False
        if len(cmds) > 2:
            self.add(
                Code.UNEXPECTED_SHAPE,
                cmds[1].pos.offset,
                "a save pipes at most one compressor stage into the '{ dd ...; }' group: "
                "remove the extra stages",
            )
            return False
        dirs: list[str] = []
        status_stage = False
        if len(cmds) == 2:
            stage = cmds[0]
            if isinstance(stage, BraceGroup):
                status_stage = True
                ao = self._single_item(stage)
                if ao is None:
                    return False
                chain = self._marker_chain(ao, "compress", 1)
                if chain is None:
                    return False
                dirs += chain
                ok = self.compressor(ao.pipelines[0].commands[0], "c") and ok
                rs = stage.redirects
                if len(rs) != 1 or rs[0].op != ">" or _fd(rs[0]) != 2:
                    self.add(
                        Code.STATUS_FILE,
                        stage.pos.offset,
                        "the compressor group must end in '} 2>DIR/compress.err'",
                    )
                    return False
                d = self._status_path(rs[0], "compress.err")
                if d is None:
                    return False
                dirs.append(d)
            else:
                ok = self.compressor(stage, "c") and ok
        writer = cmds[-1]
        assert isinstance(writer, BraceGroup)
        ao = self._single_item(writer)
        if ao is None:
            return False
        first = ao.pipelines[0]
        status_writer = len(first.commands) == 1 and isinstance(first.commands[0], BraceGroup)
        if status_stage and not status_writer:
            self.add(
                Code.STATUS_FILE,
                writer.pos.offset,
                "the compressor reports its status but the dd group does not: write "
                "'{ { dd ...; } 1<>TARGET && : >DIR/write.ok || : >DIR/write.failed; } "
                "2>DIR/write.err'",
            )
            return False
        dd_group = writer
        if status_writer:
            # { { dd ... && dd ...; } 1<>T && : >D/write.ok || : >D/write.failed; } 2>D/write.err
            chain = self._marker_chain(ao, "write", 1)
            if chain is None:
                return False
            dirs += chain
            rs = writer.redirects
            if len(rs) != 1 or rs[0].op != ">" or _fd(rs[0]) != 2:
                if not any(id(r) in self.flagged for r in rs):
                    self.add(
                        Code.STATUS_FILE,
                        writer.pos.offset,
                        "the stage-status write group must end in '} 2>DIR/write.err' "
                        "(and only that: '1<>TARGET' belongs to the inner dd group)",
                    )
                return False
            d = self._status_path(rs[0], "write.err")
            if d is None:
                return False
            dirs.append(d)
            inner = first.commands[0]
            assert isinstance(inner, BraceGroup)
            dd_group = inner
            ao = self._single_item(inner)
            if ao is None:
                return False
        elif len(ao.pipelines) == 4 and ao.ops == ["&&", "&&", "||"]:
            self.add(
                Code.STATUS_FILE,
                writer.pos.offset,
                "this is the old stage-status form: when TARGET cannot be opened the shell "
                "skips the whole group, so neither write.ok nor write.failed appears; write "
                "'{ { dd ... && dd ...; } 1<>TARGET && : >DIR/write.ok || : >DIR/write.failed; }"
                " 2>DIR/write.err'",
            )
            return False
        if ao.ops != ["&&"] or len(ao.pipelines) != 2:
            self.add(
                Code.UNEXPECTED_SHAPE,
                dd_group.pos.offset,
                "the save group is '{ dd bs=4096 seek=N if=/dev/null && dd ibs=I obs=O; }'"
                " (or the stage-status form)",
            )
            return False
        for p in ao.pipelines:
            if p.negated or len(p.commands) != 1:
                self.add(Code.UNEXPECTED_SHAPE, p.pos.offset, "expected a single dd command here")
                return False
        header = self.dd(ao.pipelines[0].commands[0], "header")
        data = self.dd(ao.pipelines[1].commands[0], "data")
        if header is not None and not self._offset(header, "seek", ao.pipelines[0].commands[0]):
            ok = False
        ok = ok and header is not None and data is not None
        # the dd group's redirection: exactly 1<>TARGET
        rs = dd_group.redirects
        target = [r for r in rs if r.op == "<>" and _fd(r) == 1]
        others = [r for r in rs if r not in target]
        if not target:
            if not any(id(r) in self.flagged for r in rs):
                self.add(
                    Code.UNEXPECTED_SHAPE,
                    dd_group.pos.offset,
                    "the save group must end in '} 1<>TARGET': without it dd writes to "
                    "QEMU's own stdout",
                )
            return False
        if not self.info(target[0].target).literal:
            return False
        if others:
            for r in others:
                if id(r) not in self.flagged:
                    self.add(
                        Code.REDIRECT_NOT_ALLOWED,
                        r.pos.offset,
                        "the dd group takes only '1<>TARGET' (the stage-status form puts "
                        "'2>DIR/write.err' on the enclosing group): remove this redirection",
                        length=r.target.end - r.pos.offset,
                    )
            return False
        if dirs and len(set(dirs)) != 1:
            self.add(
                Code.STATUS_FILE,
                writer.pos.offset,
                "the status files are spread over several directories "
                f"({', '.join(sorted(set(dirs)))}): use one status directory",
            )
            return False
        return ok

    def restore(self, pipe: Pipeline) -> bool:
        cmds = pipe.commands
        if pipe.negated:
            return False
        if len(cmds) > 2:
            self.add(
                Code.UNEXPECTED_SHAPE,
                cmds[2].pos.offset,
                "a restore is 'dd if=SOURCE bs=B skip=N' with at most one '| COMP -dc': "
                "remove the extra stages",
            )
            return False
        values = self.dd(cmds[0], "restore")
        ok = values is not None and self._offset(values, "skip", cmds[0])
        if len(cmds) == 2:
            ok = self.compressor(cmds[1], "dc") and ok
        return ok

    def command(self, cmd: SimpleCommand) -> bool:
        name = self.name(cmd)
        if name is None or cmd.assignments:
            return False
        ok = True
        for r in cmd.redirects:
            if r.op not in self.policy.redirects:
                ok = False
                if id(r) not in self.flagged:
                    self.add(
                        Code.REDIRECT_NOT_ALLOWED,
                        r.pos.offset,
                        f"the single-command shape takes no {r.op!r} redirection "
                        "(a caller may allow it with Policy.allowing_redirects()): remove it",
                        length=r.target.end - r.pos.offset,
                    )
        rule = self.policy.rule_for(name)
        if rule is None:
            if name not in (":", "dd"):
                return False  # the general pass said why
            self.add(
                Code.COMMAND_NOT_ALLOWED,
                cmd.words[0].pos.offset,
                f"{name!r} is not a program this policy allows as a single command "
                f"(allowed: {', '.join(sorted(self.policy.programs)) or 'none'}); "
                f"{self.policy.allow_hint}",
                length=max(len(name), 1),
            )
            return False
        for value, word in self._plain_args(cmd):
            if self.rep.full():
                return False
            problem, _flags = rule.check_option(value)
            if problem is not None:
                ok = False
                code = _option_code(value)
                self.add(code, word.pos.offset, f"{value!r} for {name} {problem}: remove it",
                         length=word.end - word.pos.offset)  # fmt: skip
        return ok


def _option_code(value: str) -> Code:
    if value.startswith("-") and value != "-":
        return Code.OPTION_NOT_ALLOWED
    return Code.UNEXPECTED_ARGUMENT


def evaluate(
    script: Script,
    policy: Policy,
    rep: Reporter,
    info: Callable[[Word], WordInfo],
    newlines: Iterable[int] = (),
) -> str | None:
    """Check ``script`` against ``policy``; return the shape it has, or ``None``.

    Findings go to ``rep``.  ``info`` gives the analysis of a word (see
    :func:`~qmonexec.shell.words.analyze_word`); ``newlines`` are the offsets
    of newline characters (to name them in messages).
    """
    checker = _Checker(policy, rep, info)
    checker.newlines = frozenset(newlines)
    checker.walk_list(script.body, True)
    had_errors = rep.has_errors()
    shape = checker.shape(script)
    if had_errors:
        return None
    return shape

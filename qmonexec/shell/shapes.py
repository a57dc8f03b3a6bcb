"""Check a parsed script against a :class:`~qmonexec.shell.policy.Policy`.

:func:`evaluate` walks the AST of :mod:`qmonexec.shell.nodes` twice: the
general rules of :mod:`qmonexec.shell.rules` report what no shape may hold
wherever it appears, then the shape matchers here match the script against
the shapes of :mod:`qmonexec.shell.policy` (save, restore, single command)
word for word, and say what differs and how to fix it.  The checks of single
stages (compressor, dd step, stage-status files) are
:mod:`qmonexec.shell.stages`.
"""

from __future__ import annotations

__all__ = ["evaluate"]

from collections.abc import Callable, Iterable

from ..vocabulary import COMPRESS, WRITE, marker
from .checker import fd
from .dd import SAVE_GROUP_FORM
from .findings import Code, Reporter
from .nodes import AndOr, BraceGroup, Command, Pipeline, Redirect, Script, SimpleCommand, Word
from .policy import Policy
from .rules import GeneralRules
from .stages import StageChecks, option_code
from .words import WordInfo

_SHAPE_HELP = (
    "qmonexec accepts a save '[COMP -c | ]{ dd bs=B seek=N if=/dev/null && "
    "dd ibs=I obs=O; } 1<>TARGET', a restore 'dd if=SOURCE bs=B skip=N[ | COMP -dc]' "
    "or one allowed command"
)


def _status_writer(steps: str) -> str:
    """The stage-status form of a save's write group around ``steps``, as messages show it."""
    return (
        f"'{{ {{ {steps}; }} 1<>TARGET && : >DIR/{marker(WRITE, 'ok')} || "
        f": >DIR/{marker(WRITE, 'failed')}; }} 2>DIR/{marker(WRITE, 'err')}'"
    )


def _one_stderr_file(redirects: list[Redirect]) -> bool:
    """Whether ``redirects`` is exactly one ``2>FILE``."""
    return len(redirects) == 1 and redirects[0].op == ">" and fd(redirects[0]) == 2


class _ShapeMatcher(StageChecks):
    """The shape pass: which shape the script has, and where it differs from it."""

    def shape(self, script: Script) -> str | None:
        """The shape ``script`` has, or ``None`` after reporting where it differs."""
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
            if name == "dd" and "save" in shapes and len(cmds) == 1 and any(
                    v.startswith("of=") for v, _ in self.plain_args(first)):
                return "save" if self.save_channel(first) else None
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

    # -- the shapes ----------------------------------------------------------

    def _two_stages_at_most(self, pipe: Pipeline, extra: int, message: str) -> bool:
        """Whether ``pipe`` has at most two stages (else report ``message`` at stage ``extra``)."""
        if pipe.negated:
            return False  # reported by the general pass
        if len(pipe.commands) > 2:
            self.add(Code.UNEXPECTED_SHAPE, pipe.commands[extra].pos.offset, message)
            return False
        return True

    def save(self, pipe: Pipeline) -> bool:
        """Match the save shape (optionally in its stage-status form)."""
        cmds = pipe.commands
        if not self._two_stages_at_most(
            pipe,
            1,
            "a save pipes at most one compressor stage into the '{ dd ...; }' group: "
            "remove the extra stages",
        ):
            return False
        dirs: list[str] = []
        ok = True
        if len(cmds) == 2:
            stage_ok = self._compress_stage(cmds[0], dirs)
            if stage_ok is None:
                return False
            ok = stage_ok
        writer = cmds[-1]
        assert isinstance(writer, BraceGroup)
        status_stage = len(cmds) == 2 and isinstance(cmds[0], BraceGroup)
        found = self._write_group(writer, status_stage, dirs)
        if found is None:
            return False
        dd_group, ao = found
        steps_ok = self._dd_steps(dd_group, ao)
        if steps_ok is None or not self._dd_target(dd_group):
            return False
        if dirs and len(set(dirs)) != 1:
            self.add(
                Code.STATUS_FILE,
                writer.pos.offset,
                "the status files are spread over several directories "
                f"({', '.join(sorted(set(dirs)))}): use one status directory",
            )
            return False
        return ok and steps_ok

    def _compress_stage(self, stage: Command, dirs: list[str]) -> bool | None:
        """Check a save's compressor stage, adding its status dirs to ``dirs``.

        ``None`` when the save cannot be checked further, else whether the stage is right.
        """
        if not isinstance(stage, BraceGroup):
            return self.compressor(stage, "c")
        ao = self.single_item(stage)
        if ao is None:
            return None
        chain = self.marker_chain(ao, COMPRESS, 1)
        if chain is None:
            return None
        dirs += chain
        ok = self.compressor(ao.pipelines[0].commands[0], "c")
        if not _one_stderr_file(stage.redirects):
            self.add(
                Code.STATUS_FILE,
                stage.pos.offset,
                f"the compressor group must end in '}} 2>DIR/{marker(COMPRESS, 'err')}'",
            )
            return None
        d = self.status_path(stage.redirects[0], marker(COMPRESS, "err"))
        if d is None:
            return None
        dirs.append(d)
        return ok

    def _write_group(
        self, writer: BraceGroup, status_stage: bool, dirs: list[str]
    ) -> tuple[BraceGroup, AndOr] | None:
        """Check a save's write group, adding its status dirs to ``dirs``.

        Returns the group that holds the two dd steps and their and-or list,
        or ``None`` when the save cannot be checked further.
        """
        ao = self.single_item(writer)
        if ao is None:
            return None
        first = ao.pipelines[0]
        status_writer = len(first.commands) == 1 and isinstance(first.commands[0], BraceGroup)
        if status_stage and not status_writer:
            self.add(Code.STATUS_FILE, writer.pos.offset,
                     "the compressor reports its status but the dd group does not: write "
                     + _status_writer("dd ..."))  # fmt: skip
            return None
        if not status_writer:
            if len(ao.pipelines) == 4 and ao.ops == ["&&", "&&", "||"]:
                self.add(Code.STATUS_FILE, writer.pos.offset,
                         "this is the old stage-status form: when TARGET cannot be opened the "
                         f"shell skips the whole group, so neither {marker(WRITE, 'ok')} nor "
                         f"{marker(WRITE, 'failed')} appears; write "
                         + _status_writer("dd ... && dd ..."))  # fmt: skip
                return None
            return writer, ao
        # { { dd ... && dd ...; } 1<>T && : >D/write.ok || : >D/write.failed; } 2>D/write.err
        chain = self.marker_chain(ao, WRITE, 1)
        if chain is None:
            return None
        dirs += chain
        rs = writer.redirects
        if not _one_stderr_file(rs):
            if not any(id(r) in self.flagged for r in rs):
                self.add(
                    Code.STATUS_FILE,
                    writer.pos.offset,
                    f"the stage-status write group must end in '}} 2>DIR/{marker(WRITE, 'err')}'"
                    " (and only that: '1<>TARGET' belongs to the inner dd group)",
                )
            return None
        d = self.status_path(rs[0], marker(WRITE, "err"))
        if d is None:
            return None
        dirs.append(d)
        inner = first.commands[0]
        assert isinstance(inner, BraceGroup)
        inner_ao = self.single_item(inner)
        return None if inner_ao is None else (inner, inner_ao)

    def _dd_steps(self, dd_group: BraceGroup, ao: AndOr) -> bool | None:
        """Check ``dd HEADER && dd DATA``: ``None`` if it is not that, else whether it is right."""
        if ao.ops != ["&&"] or len(ao.pipelines) != 2:
            self.add(
                Code.UNEXPECTED_SHAPE,
                dd_group.pos.offset,
                f"the save group is '{SAVE_GROUP_FORM}' (or the stage-status form)",
            )
            return None
        for p in ao.pipelines:
            if p.negated or len(p.commands) != 1:
                self.add(Code.UNEXPECTED_SHAPE, p.pos.offset, "expected a single dd command here")
                return None
        header_cmd = ao.pipelines[0].commands[0]
        header = self.dd(header_cmd, "header")
        data = self.dd(ao.pipelines[1].commands[0], "data")
        offset_ok = header is not None and self.check_offset(header, "seek", header_cmd)
        return offset_ok and data is not None

    def _dd_target(self, dd_group: BraceGroup) -> bool:
        """Check the dd group's redirection: exactly ``1<>TARGET``, with a literal TARGET."""
        rs = dd_group.redirects
        target = [r for r in rs if r.op == "<>" and fd(r) == 1]
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
        for r in others:
            self.refuse_redirect(
                r,
                "the dd group takes only '1<>TARGET' (the stage-status form puts "
                f"'2>DIR/{marker(WRITE, 'err')}' on the enclosing group): remove this redirection",
            )
        return not others

    def restore(self, pipe: Pipeline) -> bool:
        """Match the restore shape: ``dd if=SOURCE bs=B skip=N[ | COMP -dc]``."""
        cmds = pipe.commands
        if not self._two_stages_at_most(
            pipe,
            2,
            "a restore is 'dd if=SOURCE bs=B skip=N' with at most one '| COMP -dc': "
            "remove the extra stages",
        ):
            return False
        values = self.dd(cmds[0], "restore")
        ok = values is not None and self.check_offset(values, "skip", cmds[0])
        if len(cmds) == 2:
            ok = self.compressor(cmds[1], "dc") and ok
        return ok

    def command(self, cmd: SimpleCommand) -> bool:
        """Match the single-command shape: an allowed program with allowed options."""
        name = self.name(cmd)
        if name is None or cmd.assignments:
            return False
        ok = True
        for r in cmd.redirects:
            if r.op not in self.policy.redirects:
                ok = False
                self.refuse_redirect(
                    r,
                    f"the single-command shape takes no {r.op!r} redirection "
                    "(a caller may allow it with Policy.allowing_redirects()): remove it",
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
        for value, word in self.plain_args(cmd):
            if self.rep.full():
                return False
            problem, _flags = rule.check_option(value)
            if problem is not None:
                ok = False
                self.add(option_code(value), word.pos.offset,
                         f"{value!r} for {name} {problem}: remove it",
                         length=word.end - word.pos.offset)  # fmt: skip
        return ok


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
    flagged: set[int] = set()
    general = GeneralRules(policy, rep, info, flagged)
    general.newlines = frozenset(newlines)
    general.walk_list(script.body, True)
    had_errors = rep.has_errors()
    shape = _ShapeMatcher(policy, rep, info, flagged).shape(script)
    if had_errors:
        return None
    return shape

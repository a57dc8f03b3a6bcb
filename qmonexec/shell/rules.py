"""The general rules: what no shape may hold, wherever it stands in the script.

The first pass of :func:`~qmonexec.shell.shapes.evaluate` walks every node
and reports background jobs, command separators, negation, subshells,
assignments, programs the policy does not allow, and redirections that are
unknown, repeated, duplicate a descriptor, name a special or relative file,
truncate or append.  None of these depends on which shape the script has;
matching the shapes is :mod:`qmonexec.shell.shapes`.
"""

from __future__ import annotations

__all__ = ["GeneralRules"]

from ..limits import special_path
from .checker import FILE_OPS, Checker, fd
from .findings import Code, Severity
from .grammar import REDIRECTIONS
from .nodes import AndOr, BraceGroup, Command, CommandList, Redirect, SimpleCommand, Subshell
from .refusals import refusal
from .words import WordInfo

#: Every redirection operator the checks below know; any other is unproven.
_KNOWN_OPS = REDIRECTIONS
assert FILE_OPS | {"<&", ">&", "<<", "<<-"} == REDIRECTIONS


class GeneralRules(Checker):
    """The general pass; ``newlines`` are the offsets of newline characters (to name them)."""

    newlines: frozenset[int] = frozenset()

    def walk_list(self, lst: CommandList, top: bool) -> None:
        """Check a command list; ``top`` for the script's own (a trailing ';' counts there)."""
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
                what = "a newline" if item.sep_pos.offset in self.newlines else "';'"
                self.add(
                    Code.COMMAND_SEPARATOR,
                    item.sep_pos.offset,
                    f"{what} ends the command here"
                    + (", and what follows runs as another command" if k < last else "")
                    + ": qmonexec's shapes hold exactly one command list; remove it"
                    + (" and everything after it" if k < last else ""),
                )
            self.walk_and_or(item.command)

    def walk_and_or(self, ao: AndOr) -> None:
        """Check every pipeline of an and-or list."""
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
        """Check one command: a simple command, a group or anything else (refused)."""
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
        """Check a simple command's assignments, name and redirections."""
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
        """Refuse a program the policy does not allow; warn about one that runs code."""
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
        """Check the redirections of one command (named ``name`` if literal, else ``None``)."""
        seen: set[int] = set()
        for r in redirects:
            if r.op not in _KNOWN_OPS:
                self.flag(r)
                self.add(
                    Code.UNHANDLED_CONSTRUCT,
                    r.pos.offset,
                    f"the redirection operator {r.op!r} is not one the analysis handles, so "
                    "it is not proven safe: remove it",
                    length=len(r.op),
                )
                continue
            target = self.info(r.target)
            if fd(r) in seen:
                self.flag(r)
                self.add(
                    Code.DUPLICATE_REDIRECT,
                    r.pos.offset,
                    f"fd {fd(r)} is redirected twice; zsh then writes to both files (multios), "
                    "other shells only to the last: keep one redirection",
                )
            seen.add(fd(r))
            if r.op in ("<&", ">&"):
                self._duplication(r, target.value)
                continue
            if target.literal and r.op in FILE_OPS:
                self._file_name(r, target)
            if r.op not in self.policy.redirects:
                self._opening(r, target.value, name)

    def _duplication(self, r: Redirect, value: str) -> None:
        """``<&``/``>&``: refused unless the policy allows the operator."""
        if r.op in self.policy.redirects:
            return
        self.flag(r)
        extra = (
            f"; bash and zsh read {r.op}{value} as a file name"
            if not (value.isdigit() or value == "-")
            else ""
        )
        self.add(
            Code.REDIRECT_NOT_ALLOWED,
            r.pos.offset,
            f"{r.op!r} duplicates or closes a file descriptor, which no qmonexec "
            f"shape does{extra}: remove it",
            length=r.target.end - r.pos.offset,
        )

    def _file_name(self, r: Redirect, target: WordInfo) -> None:
        """A literal file name: neither a special file nor a relative path."""
        value = target.value
        special = special_path(value)
        if special is not None:
            self.flag(r)
            self.special(special, r.target.pos.offset, r.target.end)
        if not value.startswith("/"):
            self.flag(r)
            self.add(
                Code.RELATIVE_PATH,
                r.target.pos.offset,
                f"the file {value!r} is a relative path, resolved against QEMU's working "
                "directory: give an absolute path",
                length=max(r.target.end - r.target.pos.offset, 1),
            )

    def _opening(self, r: Redirect, value: str, name: str | None) -> None:
        """How the file is opened: no truncating, appending, other fd for '<>', here-document."""
        op = r.op
        where = r.pos.offset
        written_fd = len(str(r.fd)) if r.fd is not None else 0
        if op in (">", ">|") and fd(r) == 1 and name != ":":
            self.flag(r)
            self.add(
                Code.TRUNCATING_REDIRECT,
                where,
                f"{op!r} truncates {value!r} when the shell opens it, destroying a header "
                "written before the stream (and anything else in the file): "
                "open it with '1<>' as the save form does",
                length=len(op) + written_fd,
            )
        elif op == ">>":
            self.flag(r)
            self.add(
                Code.APPENDING_REDIRECT,
                where,
                f"'>>' appends to {value!r}, so the stream lands after whatever the file "
                "holds instead of at the header offset: open it with '1<>' "
                "and position with dd seek=",
                length=2 + written_fd,
            )
        elif op == "<>" and fd(r) != 1:
            self.flag(r)
            self.add(
                Code.REDIRECT_NOT_ALLOWED,
                where,
                f"'<>' opens {value!r} on fd {fd(r)}, but dd writes to fd 1: write '1<>'",
                length=2 + written_fd,
            )
        elif op in ("<<", "<<-"):
            self.flag(r)

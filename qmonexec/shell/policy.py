"""The allow-list: which command shapes a shell string may have.

A :class:`Policy` accepts a parsed script only when it has one of the shapes
qmonexec renders (``docs/design.md``), word for word:

* **save**: ``[COMP -c | ]{ dd bs=B seek=N if=/dev/null && dd ibs=I obs=O; } 1<>T``
  (``cat |`` allowed as the stage, libvirt style), and the stage-status form
  ``[{ COMP -c && : >D/compress.ok || : >D/compress.failed; } 2>D/compress.err | ]``
  ``{ { dd ... && dd ...; } 1<>T && : >D/write.ok || : >D/write.failed; } 2>D/write.err``
  (``1<>T`` on the inner group, so a target that cannot be opened still runs the
  ``||`` branch and records ``write.failed``);
* **restore**: ``dd if=S bs=B skip=N[ | COMP -dc]``;
* **command**: one simple command of an allowed program with allowed options.

Programs are an allow-list: a bare name is accepted only when the policy
names it, an absolute path when the policy names it or its last component
(and no shell binds a builtin to that path).  Names the shells handle
themselves (:mod:`qmonexec.shell.builtins`) and relative paths are never
accepted, not even when a caller adds them; programs that run their
arguments as code (:mod:`qmonexec.shell.runners`) are accepted only when a
caller names them, with a ``runs-code-unchecked`` warning.

Anything else is refused with a finding that says what is wrong and how to
fix it.  Policies are immutable; derive custom ones from :meth:`Policy.default`
or :meth:`Policy.command` with the ``allowing_*``/``expecting_*`` methods.

This module holds the policy data: :class:`Policy`, :class:`ProgramRule` and
the program tables, which the fast path needs.  Checking a parsed script
against a policy lives in :mod:`qmonexec.shell.shapes`, with the AST it walks.
"""

from __future__ import annotations

__all__ = [
    "ARITHMETIC_BUILTINS",
    "COMPRESSORS",
    "EVALUATING",
    "GENERIC_RULE",
    "PASS_THROUGH",
    "RUNS_CODE",
    "Policy",
    "ProgramRule",
    "program_problem",
]

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from ..errors import InputError
from .builtins import ARITHMETIC_BUILTINS, NEVER_PROGRAMS, RUNS_CODE, where_handled
from .runners import runs_code

SHAPES = frozenset({"save", "restore", "command"})


@dataclass(frozen=True)
class ProgramRule:
    """The option words one program may take (it never gets file operands).

    ``short`` lists the letters allowed in ``-xyz`` clusters, ``numeric_short``
    letters that take an attached number (``-T0``), ``levels`` the range of
    ``-N`` compression levels (``None``: none), ``long`` the ``--name``
    options and ``numeric_long`` the ``--name=N`` ones.  ``any_argument``
    accepts every literal word (for programs a caller added, who vouches for
    their arguments).
    """

    short: str = ""
    long: frozenset[str] = frozenset()
    numeric_short: str = ""
    numeric_long: frozenset[str] = frozenset()
    levels: tuple[int, int] | None = None
    any_argument: bool = False

    def check_option(self, arg: str) -> tuple[str | None, set[str]]:
        """Return ``(problem or None, canonical flags)`` for one argument word.

        Flags are the short letters seen, with ``--stdout``/``--to-stdout``
        counted as ``c`` and ``--decompress``/``--uncompress`` as ``d``.
        """
        flags: set[str] = set()
        if self.any_argument:
            return None, flags
        if not arg.startswith("-") or arg == "-":
            return (
                "is not an option: the program must read stdin and write stdout, "
                "so it takes no file names",
                flags,
            )
        if arg.startswith("--"):
            name, eq, val = arg[2:].partition("=")
            if eq:
                if name in self.numeric_long and val.isascii() and val.isdigit():
                    return None, flags
                return "is not an allowed --option=NUMBER", flags
            if name in self.long:
                if name in ("stdout", "to-stdout"):
                    flags.add("c")
                elif name in ("decompress", "uncompress"):
                    flags.add("d")
                return None, flags
            return "is not an allowed long option", flags
        body = arg[1:]
        k = 0
        n = len(body)
        while k < n:
            ch = body[k]
            if "0" <= ch <= "9":
                j = k
                while j < n and "0" <= body[j] <= "9":
                    j += 1
                level = int(body[k:j])
                if self.levels is None or not self.levels[0] <= level <= self.levels[1]:
                    return f"has a compression level -{body[k:j]} out of range", flags
                k = j
            elif ch in self.numeric_short:
                j = k + 1
                while j < n and "0" <= body[j] <= "9":
                    j += 1
                if j == k + 1:
                    return f"needs a number right after -{ch}", flags
                k = j
            elif ch in self.short:
                flags.add(ch)
                k += 1
            else:
                return f"holds the option -{ch}, which is not allowed", flags
        return None, flags


_STD = frozenset({"stdout", "decompress", "force", "quiet", "fast", "best"})

#: The compressors (and ``cat``) of the default policy, with their options.
COMPRESSORS: Mapping[str, ProgramRule] = {
    "gzip": ProgramRule(
        "cdfnNq", _STD | {"to-stdout", "uncompress", "no-name", "name", "rsyncable"},
        levels=(1, 9),
    ),
    "bzip2": ProgramRule("cdfqsz", _STD | {"small", "compress"}, levels=(1, 9)),
    "xz": ProgramRule(
        "cdfqez", _STD | {"to-stdout", "uncompress", "extreme", "compress"},
        numeric_short="T", numeric_long=frozenset({"threads"}), levels=(0, 9),
    ),
    "lzop": ProgramRule("cdfq", _STD | {"to-stdout", "uncompress"}, levels=(1, 9)),
    "zstd": ProgramRule(
        "cdfqz", _STD | {"uncompress", "compress", "ultra", "long", "no-progress", "rsyncable"},
        numeric_short="T", numeric_long=frozenset({"threads", "long", "fast"}), levels=(1, 22),
    ),
    "cat": ProgramRule(),
}  # fmt: skip

#: Programs that copy stdin to stdout unchanged when given no arguments (a save stage
#: like libvirt's ``cat |``, never a decompressor).
PASS_THROUGH = frozenset({"cat", "tee"})

#: The default allow-list: the programs qmonexec renders, plus ``tee``.
_DEFAULT_PROGRAMS: Mapping[str, ProgramRule] = {**COMPRESSORS, "tee": ProgramRule()}

#: How a library caller allows another program (the CLI names its own option instead).
LIBRARY_HINT = "a caller may allow it with Policy.allowing_commands()"

_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.+-")

#: The rule for programs added with :meth:`Policy.allowing_commands` without one.
GENERIC_RULE = ProgramRule(any_argument=True)


#: Bare command names refused even by Policy.command(): their arguments escape validation.
EVALUATING = RUNS_CODE | ARITHMETIC_BUILTINS


@dataclass(frozen=True)
class Policy:
    """An allow-list of command shapes, programs and redirections.

    * ``shapes``: which of ``"save"``, ``"restore"``, ``"command"`` are accepted.
    * ``programs``: the program allow-list (bare names or absolute paths; see
      :meth:`rule_for`) for compressor stages and the single command, each with its
      :class:`ProgramRule`.  Every name must pass :func:`program_problem`
      (``InputError`` otherwise).
    * ``redirects``: redirection operators the single command may carry
      (for example ``">"``); the save shape's ``1<>`` and status files are
      always part of the save shape.
    * ``offset``: when set, ``seek``/``skip`` times the block size must equal it.
    * ``ascii_only``: refuse (instead of warn about) control characters and
      non-ASCII text inside single quotes; see :meth:`strict_text`.
    * ``allow_hint``: how findings tell the reader to allow a program (see
      :meth:`hinting`).
    """

    shapes: frozenset[str] = SHAPES
    programs: Mapping[str, ProgramRule] = field(default_factory=lambda: dict(_DEFAULT_PROGRAMS))
    redirects: frozenset[str] = frozenset()
    offset: int | None = None
    ascii_only: bool = False
    allow_hint: str = LIBRARY_HINT
    #: The allowed programs that run their arguments as code (they draw a warning).
    unchecked: frozenset[str] = field(init=False, repr=False, compare=False,
                                      default=frozenset())  # fmt: skip

    def __post_init__(self) -> None:
        for name in self.programs:
            problem = program_problem(name)
            if problem is not None:
                raise InputError(f"cannot allow the program {name!r}: {problem}", value=name)
        object.__setattr__(self, "unchecked", frozenset(filter(runs_code, self.programs)))

    def __hash__(self) -> int:
        return hash((self.shapes, tuple(sorted(self.programs)), self.redirects, self.offset,
                     self.ascii_only))  # fmt: skip

    @classmethod
    def default(cls) -> Policy:
        """Save, restore and single-command shapes with gzip, bzip2, xz, lzop, zstd, cat, tee."""
        return cls()

    @classmethod
    def command(cls) -> Policy:
        """One single simple command whose words are all literal (``qmonexec uri command``).

        The program must be on the allow-list (dd, cat, tee and the compressors
        by default; add more with :meth:`allowing_commands`); it may take any
        literal arguments.
        """
        programs = dict.fromkeys(("dd", *_DEFAULT_PROGRAMS), GENERIC_RULE)
        return cls(shapes=frozenset({"command"}), programs=programs)

    def allowing_commands(self, *names: str, rule: ProgramRule | None = None) -> Policy:
        """A copy that also allows these programs (options per ``rule``, default any).

        A name is a bare program name or an absolute path (see :meth:`rule_for`).
        Raises :class:`~qmonexec.errors.InputError` naming the reason for a
        name that can never be allowed (see :func:`program_problem`).  A
        program that runs its arguments as code (``env``, ``sh``, ``python3``)
        is accepted, and every use draws a ``runs-code-unchecked`` warning.
        """
        programs = dict(self.programs)
        for name in names:
            programs[name] = rule or GENERIC_RULE
        return replace(self, programs=programs)

    def rule_for(self, name: str) -> ProgramRule | None:
        """The rule for the program ``name``, or ``None`` when the allow-list does not name it.

        A bare name must be on the list.  An absolute path counts as its last
        component (``/usr/bin/tee`` is ``tee``) unless it is listed itself, and
        never when a shell binds a builtin to that path (ksh93's
        ``/opt/ast/bin/cat``); relative paths never count.
        """
        rule = self.programs.get(name)
        if rule is not None or not name.startswith("/") or name in NEVER_PROGRAMS:
            return rule
        if program_problem(name) is not None:
            return None
        return self.programs.get(name.rsplit("/", 1)[1])

    def runs_unchecked(self, name: str) -> bool:
        """Whether ``name`` is an allowed program that runs its arguments as code (it warns)."""
        if "/" not in name:
            return name in self.unchecked  # the names of the list that run code
        return self.rule_for(name) is not None and runs_code(name)

    def hinting(self, allow_hint: str) -> Policy:
        """A copy whose findings say ``allow_hint`` where a program could be allowed.

        The default names :meth:`allowing_commands`; the CLI names its
        ``--allow-program`` option.
        """
        return replace(self, allow_hint=allow_hint)

    def allowing_redirects(self, *ops: str) -> Policy:
        """A copy whose single command may also carry these redirection operators."""
        return replace(self, redirects=self.redirects | frozenset(ops))

    def expecting_offset(self, offset: int) -> Policy:
        """A copy that requires dd's ``seek``/``skip`` times its block size to equal ``offset``."""
        return replace(self, offset=offset)

    def strict_text(self, strict: bool = True) -> Policy:
        """A copy that refuses control characters and non-ASCII text even inside single quotes.

        By default both mean exactly themselves inside single quotes in every
        common shell and only draw a warning (``control-character``,
        ``non-ascii``); a strict policy makes those warnings errors, for
        users who want printable ASCII only.
        """
        return replace(self, ascii_only=strict)

    def only(self, *shapes: str) -> Policy:
        """A copy accepting only the given shapes."""
        unknown = set(shapes) - SHAPES
        if unknown:
            raise InputError(f"unknown shapes {sorted(unknown)}; use {sorted(SHAPES)}")
        return replace(self, shapes=frozenset(shapes))


def program_problem(name: str) -> str | None:
    """Why ``name`` can never be an allowed program, or ``None`` when it may be.

    A program is a bare name or an absolute path made of ``A-Z a-z 0-9 _ . + -``
    (and ``/`` between path components); it must not start with ``-`` or ``+`` nor be
    a name any common shell handles itself (a builtin, reserved word or
    alias: the shell, not the program, would read its arguments).
    """
    if not isinstance(name, str) or not name:
        return "a program name must be a non-empty string"
    if name in NEVER_PROGRAMS:
        return (f"it is a shell builtin, reserved word or alias ({where_handled(name)}), never "
                "run as a program, so its arguments would escape validation; give a program")
    if "/" in name and not name.startswith("/"):
        return ("it is a relative path, resolved against QEMU's working directory: "
                "give an absolute path or a bare name")  # fmt: skip
    if name.startswith("/"):
        bad = sorted(c for c in set(name) if not c.isprintable())
    else:
        bad = sorted(set(name) - _NAME_CHARS)
    if bad:
        return (f"it holds {bad[0]!r}; a bare program name may hold only A-Z a-z 0-9 _ . + -, "
                "an absolute path only printable characters")  # fmt: skip
    parts = name[1:].split("/") if name.startswith("/") else [name]
    if parts[-1] in ("", ".", ".."):
        return "it names a directory, not a program: end the path with the program's name"
    if name[0] in "-+":
        return f"it starts with {name[0]!r}, which shells and programs read as an option"
    return None

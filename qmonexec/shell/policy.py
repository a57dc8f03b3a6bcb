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

Anything else is refused with a finding that says what is wrong and how to
fix it.  Policies are immutable; derive custom ones from :meth:`Policy.default`
or :meth:`Policy.command` with the ``allowing_*``/``expecting_*`` methods.

This module holds the policy data: :class:`Policy`, :class:`ProgramRule` and
the program tables, which the fast path needs.  Checking a parsed script
against a policy (:func:`evaluate`) lives in :mod:`qmonexec.shell.shapes`,
with the AST it walks; ``evaluate`` is still importable from here (loaded on
first use).
"""

from __future__ import annotations

__all__ = [
    "ARITHMETIC_BUILTINS",
    "COMPRESSORS",
    "EVALUATING",
    "GENERIC_RULE",
    "RUNS_CODE",
    "Policy",
    "ProgramRule",
    "dd_block_sizes_message",
    "dd_number",
    "evaluate",
]

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .shapes import evaluate

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

#: The rule for programs added with :meth:`Policy.allowing_commands` without one.
GENERIC_RULE = ProgramRule(any_argument=True)

#: Builtins that run their arguments as shell code (refused even by Policy.command()).
RUNS_CODE = frozenset({"eval", ".", "source", "trap", "alias", "fc", "builtin", "command"})

#: Builtins that evaluate an argument as an arithmetic expression or a variable name with an
#: array subscript, where ``a[$(cmd)]`` runs ``cmd``.  Measured with the argument
#: ``'a[$(touch F)]'`` (F created): let, declare, typeset, read, printf, test in bash (also
#: --posix); typeset, export, readonly, unset, read, test, [, getopts, shift, integer, ulimit,
#: local in mksh; declare, typeset, export, read, printf, local in zsh (also as sh); export,
#: readonly, unset, read, test, [, getopts, shift, local in posh.  Relatives that take names
#: or numbers the same way are listed too.  The program of the same name runs when it is
#: given by its absolute path (``/usr/bin/test``).
ARITHMETIC_BUILTINS = frozenset({
    "let", "declare", "typeset", "export", "readonly", "unset", "read", "printf", "print",
    "test", "[", "getopts", "shift", "integer", "float", "ulimit", "local", "mapfile",
    "readarray", "wait", "exit", "return", "kill", "umask", "setvar", "nameref", "sleep",
})  # fmt: skip

#: Bare command names refused even by Policy.command(): their arguments escape validation.
EVALUATING = RUNS_CODE | ARITHMETIC_BUILTINS


@dataclass(frozen=True)
class Policy:
    """An allow-list of command shapes, programs and redirections.

    * ``shapes``: which of ``"save"``, ``"restore"``, ``"command"`` are accepted.
    * ``programs``: bare program names allowed as compressor stages and as the
      single command, each with its :class:`ProgramRule`.
    * ``any_command``: the single command may run any program (words must still
      be literal; absolute or bare names only).
    * ``redirects``: redirection operators the single command may carry
      (for example ``">"``); the save shape's ``1<>`` and status files are
      always part of the save shape.
    * ``offset``: when set, ``seek``/``skip`` times the block size must equal it.
    * ``ascii_only``: refuse (instead of warn about) control characters and
      non-ASCII text inside single quotes; see :meth:`strict_text`.
    """

    shapes: frozenset[str] = SHAPES
    programs: Mapping[str, ProgramRule] = field(default_factory=lambda: dict(COMPRESSORS))
    any_command: bool = False
    redirects: frozenset[str] = frozenset()
    offset: int | None = None
    ascii_only: bool = False

    def __hash__(self) -> int:
        return hash((self.shapes, tuple(sorted(self.programs)), self.any_command,
                     self.redirects, self.offset, self.ascii_only))  # fmt: skip

    @classmethod
    def default(cls) -> Policy:
        """Save, restore and single-command shapes with gzip, bzip2, xz, lzop, zstd and cat."""
        return cls()

    @classmethod
    def command(cls) -> Policy:
        """Any single simple command whose words are all literal (``qmonexec uri command``)."""
        return cls(shapes=frozenset({"command"}), programs={}, any_command=True)

    def allowing_commands(self, *names: str, rule: ProgramRule | None = None) -> Policy:
        """A copy that also allows these bare program names (options per ``rule``)."""
        programs = dict(self.programs)
        for name in names:
            programs[name] = rule or GENERIC_RULE
        return replace(self, programs=programs)

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
            from ..errors import InputError

            raise InputError(f"unknown shapes {sorted(unknown)}; use {sorted(SHAPES)}")
        return replace(self, shapes=frozenset(shapes))


def dd_block_sizes_message(obs: int | str) -> str:
    """The message of the ``dd-block-sizes`` warning."""
    return (
        f"ibs=obs={obs}: busybox dd treats equal sizes like bs= and writes every short pipe "
        "read as its own block; use ibs=65536 obs=1048576"
    )


def dd_number(text: str) -> int | None:
    """``text`` as a plain decimal number (no sign, suffix or leading zero), else ``None``."""
    if not text.isascii() or not text.isdigit() or (len(text) > 1 and text[0] == "0"):
        return None
    if len(text) > 18:
        return None
    return int(text)


def __getattr__(name: str) -> Any:
    # ``evaluate`` used to live here; importing it on demand keeps the AST
    # machinery out of the fast path's imports.
    if name == "evaluate":
        from .shapes import evaluate

        return evaluate
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

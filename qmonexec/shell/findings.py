"""Finding codes, severities and the :class:`Finding` record.

Every problem the validator reports is a :class:`Finding` with a short,
stable kebab-case :class:`Code`.  Codes never change meaning once published;
tools and tests match on them.  :data:`CODE_INFO` documents each code: its
default severity, the shells it affects and a one-line summary.

A verdict is ``ok`` exactly when it holds no finding of severity
:attr:`Severity.ERROR`.  The codes of :data:`UNPROVEN` say that the analysis
could not finish its proof (a limit was reached, or a construct is not
understood); they are always errors, and no policy option turns them off.

Reporting never changes a verdict: identical findings (same code, severity
and message) are kept once, with a ``count`` and the first position, and no
finding is ever dropped silently.  When the number of distinct findings
reaches :data:`MAX_FINDINGS`, the analysis stops and the verdict carries the
``too-many-findings`` error.
"""

from __future__ import annotations

__all__ = [
    "ALL_SHELLS",
    "CODE_INFO",
    "MAX_FINDINGS",
    "MAX_STEPS",
    "UNPROVEN",
    "Budget",
    "BudgetExceeded",
    "Code",
    "CodeInfo",
    "Finding",
    "FindingGroup",
    "Reporter",
    "Severity",
    "group_findings",
]

import enum
from dataclasses import dataclass
from typing import Any

from .position import Pos

#: Shell setups findings may name (the labels of ``tests/support.py`` plus
#: ``bourne``, the historical Bourne shell).
ALL_SHELLS: tuple[str, ...] = (
    "dash",
    "bash",
    "bash-posix",
    "busybox",
    "mksh",
    "ksh93",
    "zsh",
    "zsh-sh",
    "yash",
    "posh",
    "bourne",
)


class Severity(str, enum.Enum):
    """How bad a finding is; only ``error`` makes a verdict fail."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


class Code(str, enum.Enum):
    """Stable finding codes (see :data:`CODE_INFO` for what each means)."""

    # layers around the shell string
    JSON_SYNTAX = "json-syntax"
    JSON_DUPLICATE_KEY = "json-duplicate-key"
    QMP_UNEXPECTED_KEY = "qmp-unexpected-key"
    QMP_COMMAND_NOT_ALLOWED = "qmp-command-not-allowed"
    QMP_TYPE = "qmp-type"
    QMP_MISSING_URI = "qmp-missing-uri"
    QMP_TEXT = "qmp-text"
    NOT_EXEC_URI = "not-exec-uri"
    HMP_SYNTAX = "hmp-syntax"
    HMP_COMMAND_NOT_ALLOWED = "hmp-command-not-allowed"
    HMP_UNEXPECTED_FLAG = "hmp-unexpected-flag"
    HMP_TRUNCATION = "hmp-truncation"
    HMP_TRAILING_TEXT = "hmp-trailing-text"
    DIRECTION_MISMATCH = "direction-mismatch"
    # characters and tokens
    TOO_LONG = "too-long"
    NUL_CHARACTER = "nul-character"
    CONTROL_CHARACTER = "control-character"
    NON_ASCII = "non-ascii"
    UNTERMINATED_QUOTE = "unterminated-quote"
    UNTERMINATED_EXPANSION = "unterminated-expansion"
    COMMENT = "comment"
    LINE_CONTINUATION = "line-continuation"
    NON_POSIX_OPERATOR = "non-posix-operator"
    HERE_DOCUMENT = "here-document"
    FD_NUMBER = "fd-number"
    # words
    PARAMETER_EXPANSION = "parameter-expansion"
    COMMAND_SUBSTITUTION = "command-substitution"
    ARITHMETIC_EXPANSION = "arithmetic-expansion"
    DOLLAR_SINGLE_QUOTE = "dollar-single-quote"
    DOLLAR_DOUBLE_QUOTE = "dollar-double-quote"
    DOLLAR_SIGN = "dollar-sign"
    UNQUOTED_GLOB = "unquoted-glob"
    TILDE_EXPANSION = "tilde-expansion"
    BRACE_EXPANSION = "brace-expansion"
    UNQUOTED_BRACE = "unquoted-brace"
    EQUALS_EXPANSION = "equals-expansion"
    EMPTY_QUOTE_TRAP = "empty-quote-trap"
    BOURNE_PIPE = "bourne-pipe"
    UNQUOTED_SPECIAL = "unquoted-special"
    # syntax
    SYNTAX_ERROR = "syntax-error"
    EMPTY_COMMAND = "empty-command"
    RESERVED_WORD = "reserved-word"
    TOO_DEEP = "too-deep"
    TOO_MANY_COMMANDS = "too-many-commands"
    TOO_MUCH_WORK = "too-much-work"
    UNHANDLED_CONSTRUCT = "unhandled-construct"
    # policy
    COMMAND_SEPARATOR = "command-separator"
    BACKGROUND = "background"
    NEGATION = "negation"
    SUBSHELL = "subshell"
    ASSIGNMENT = "assignment"
    COMMAND_NOT_ALLOWED = "command-not-allowed"
    PROGRAM_RUNS_CODE = "program-runs-code"
    EVALUATES_CODE = "evaluates-code"
    RUNS_CODE_UNCHECKED = "runs-code-unchecked"
    OPTION_NOT_ALLOWED = "option-not-allowed"
    UNEXPECTED_ARGUMENT = "unexpected-argument"
    UNEXPECTED_SHAPE = "unexpected-shape"
    DD_OPERAND = "dd-operand"
    DD_BLOCK_SIZES = "dd-block-sizes"
    OFFSET_MISMATCH = "offset-mismatch"
    TRUNCATING_REDIRECT = "truncating-redirect"
    APPENDING_REDIRECT = "appending-redirect"
    REDIRECT_NOT_ALLOWED = "redirect-not-allowed"
    DUPLICATE_REDIRECT = "duplicate-redirect"
    RELATIVE_PATH = "relative-path"
    STATUS_FILE = "status-file"
    SPECIAL_PATH = "special-path"
    # bookkeeping
    TOO_MANY_FINDINGS = "too-many-findings"


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """Default severity, affected shells and summary of one :class:`Code`."""

    severity: Severity
    shells: tuple[str, ...]
    summary: str


_E = Severity.ERROR
_W = Severity.WARNING
_N = Severity.NOTE
_ALL = ALL_SHELLS
_NONE: tuple[str, ...] = ()
_BRACE = ("bash", "bash-posix", "mksh", "ksh93", "zsh")
_EXT = ("bash", "bash-posix", "mksh", "ksh93", "zsh", "zsh-sh")

CODE_INFO: dict[Code, CodeInfo] = {
    Code.JSON_SYNTAX: CodeInfo(_E, _NONE, "the QMP command is not valid JSON"),
    Code.JSON_DUPLICATE_KEY: CodeInfo(_E, _NONE, "a JSON object repeats a key"),
    Code.QMP_UNEXPECTED_KEY: CodeInfo(_E, _NONE, "a QMP object holds a key qmonexec never sends"),
    Code.QMP_COMMAND_NOT_ALLOWED: CodeInfo(
        _E, _NONE, "the QMP command is not migrate or migrate-incoming"
    ),
    Code.QMP_TYPE: CodeInfo(_E, _NONE, "a QMP value has the wrong JSON type"),
    Code.QMP_MISSING_URI: CodeInfo(_E, _NONE, "the QMP command carries no uri"),
    Code.QMP_TEXT: CodeInfo(_E, _NONE, "text QMP cannot carry exactly"),
    Code.NOT_EXEC_URI: CodeInfo(_E, _NONE, "the migration URI is not an exec: URI"),
    Code.HMP_SYNTAX: CodeInfo(_E, _NONE, "the HMP line does not parse"),
    Code.HMP_COMMAND_NOT_ALLOWED: CodeInfo(
        _E, _NONE, "the HMP command is not migrate or migrate_incoming"
    ),
    Code.HMP_UNEXPECTED_FLAG: CodeInfo(_E, _NONE, "an HMP flag other than -d"),
    Code.HMP_TRUNCATION: CodeInfo(_E, _NONE, "QEMU truncates HMP strings to 1023 bytes"),
    Code.HMP_TRAILING_TEXT: CodeInfo(_E, _NONE, "text after the HMP URI argument"),
    Code.DIRECTION_MISMATCH: CodeInfo(
        _E, _NONE, "a save command sent as incoming or a restore command as outgoing"
    ),
    Code.TOO_LONG: CodeInfo(_E, _NONE, "longer than one execve argument may be (128 KiB)"),
    Code.NUL_CHARACTER: CodeInfo(_E, _ALL, "a NUL character, which no shell string can carry"),
    Code.CONTROL_CHARACTER: CodeInfo(
        _E, _ALL, "a control character (invisible in review; only a warning inside single quotes)"
    ),
    Code.NON_ASCII: CodeInfo(
        _E, ("yash",), "non-ASCII text (yash in C locale runs nothing; "
        "only a warning inside single quotes when it is valid UTF-8)"
    ),
    Code.UNTERMINATED_QUOTE: CodeInfo(_E, _ALL, "a quote that is never closed"),
    Code.UNTERMINATED_EXPANSION: CodeInfo(_E, _ALL, "an expansion that is never closed"),
    Code.COMMENT: CodeInfo(_E, _ALL, "a # comment hides the rest of the line"),
    Code.LINE_CONTINUATION: CodeInfo(_E, _ALL, "a backslash-newline joins lines"),
    Code.NON_POSIX_OPERATOR: CodeInfo(
        _E, _EXT, "an operator that some shells read differently from POSIX"
    ),
    Code.HERE_DOCUMENT: CodeInfo(_E, _ALL, "a here-document"),
    Code.FD_NUMBER: CodeInfo(_E, ("dash", "posh", "bourne"), "a multi-digit fd prefix"),
    Code.PARAMETER_EXPANSION: CodeInfo(_E, _ALL, "a parameter expansion"),
    Code.COMMAND_SUBSTITUTION: CodeInfo(_E, _ALL, "a command substitution"),
    Code.ARITHMETIC_EXPANSION: CodeInfo(_E, _ALL, "an arithmetic expansion"),
    Code.DOLLAR_SINGLE_QUOTE: CodeInfo(_E, _ALL, "$'...', which shells read differently"),
    Code.DOLLAR_DOUBLE_QUOTE: CodeInfo(_E, _ALL, '$"...", which shells read differently'),
    Code.DOLLAR_SIGN: CodeInfo(_E, _ALL, "a $ that is not single-quoted"),
    Code.UNQUOTED_GLOB: CodeInfo(_E, _ALL, "an unquoted glob character"),
    Code.TILDE_EXPANSION: CodeInfo(_E, _ALL, "an unquoted ~ that may expand"),
    Code.BRACE_EXPANSION: CodeInfo(_E, _BRACE, "{a,b} or {1..3} brace expansion"),
    Code.UNQUOTED_BRACE: CodeInfo(_E, ("zsh", "bash", "ksh93", "mksh"), "an unquoted { or }"),
    Code.EQUALS_EXPANSION: CodeInfo(_E, ("zsh",), "= at word start (zsh expands =cmd)"),
    Code.EMPTY_QUOTE_TRAP: CodeInfo(
        _E, ("zsh", "zsh-sh"), "empty quotes do not protect the special character after them"
    ),
    Code.BOURNE_PIPE: CodeInfo(_E, ("bourne",), "^ is a pipe in the Bourne shell"),
    Code.UNQUOTED_SPECIAL: CodeInfo(_E, _ALL, "an unquoted character outside the safe set"),
    Code.SYNTAX_ERROR: CodeInfo(_E, _ALL, "the string does not parse"),
    Code.EMPTY_COMMAND: CodeInfo(_E, _ALL, "there is no command"),
    Code.RESERVED_WORD: CodeInfo(_E, _ALL, "a reserved word in command position"),
    Code.TOO_DEEP: CodeInfo(_E, _ALL, "groups nested too deeply"),
    Code.TOO_MANY_COMMANDS: CodeInfo(_E, _NONE, "more commands than any shape has"),
    Code.TOO_MUCH_WORK: CodeInfo(
        _E, _NONE, "the analysis used up its fixed work budget before it could finish"
    ),
    Code.UNHANDLED_CONSTRUCT: CodeInfo(
        _E, _NONE, "a construct the analysis does not understand, so it proves nothing about it"
    ),
    Code.COMMAND_SEPARATOR: CodeInfo(_E, _ALL, "a ; or newline starts another command"),
    Code.BACKGROUND: CodeInfo(_E, _ALL, "& runs a command in the background"),
    Code.NEGATION: CodeInfo(_E, _ALL, "! inverts a pipeline's status"),
    Code.SUBSHELL: CodeInfo(_E, _ALL, "a ( ) subshell"),
    Code.ASSIGNMENT: CodeInfo(_E, _ALL, "a variable assignment"),
    Code.COMMAND_NOT_ALLOWED: CodeInfo(_E, _ALL, "a program the policy does not allow"),
    Code.PROGRAM_RUNS_CODE: CodeInfo(
        _E, _ALL, "a program the policy does not allow that runs code it is given"
    ),
    Code.EVALUATES_CODE: CodeInfo(
        _E, _ALL, "a builtin that runs its arguments as shell code (or as arithmetic)"
    ),
    Code.RUNS_CODE_UNCHECKED: CodeInfo(
        _W, _NONE, "an allowed program that runs its arguments as code, unchecked"
    ),
    Code.OPTION_NOT_ALLOWED: CodeInfo(_E, _ALL, "an option the policy does not allow"),
    Code.UNEXPECTED_ARGUMENT: CodeInfo(_E, _ALL, "an argument the shape does not have"),
    Code.UNEXPECTED_SHAPE: CodeInfo(_E, _ALL, "the command is none of the allowed shapes"),
    Code.DD_OPERAND: CodeInfo(_E, _ALL, "a dd operand that is missing, extra or wrong"),
    Code.DD_BLOCK_SIZES: CodeInfo(_W, ("busybox",), "busybox dd treats ibs=obs like bs="),
    Code.OFFSET_MISMATCH: CodeInfo(_E, _ALL, "dd's offset is not the expected header size"),
    Code.TRUNCATING_REDIRECT: CodeInfo(_E, _ALL, "> truncates the file (and its header)"),
    Code.APPENDING_REDIRECT: CodeInfo(_E, _ALL, ">> writes after old content"),
    Code.REDIRECT_NOT_ALLOWED: CodeInfo(_E, _ALL, "a redirection the shape does not have"),
    Code.DUPLICATE_REDIRECT: CodeInfo(_E, ("zsh",), "one fd redirected twice (zsh copies to both)"),
    Code.RELATIVE_PATH: CodeInfo(_E, _ALL, "a path that depends on QEMU's working directory"),
    Code.STATUS_FILE: CodeInfo(_E, _ALL, "a stage-status file that breaks the status protocol"),
    Code.SPECIAL_PATH: CodeInfo(
        _E, _ALL, "a file name the shell or the kernel treats specially (network, descriptors)"
    ),
    Code.TOO_MANY_FINDINGS: CodeInfo(
        _E, _NONE, "so many distinct findings that the analysis stopped before the end"
    ),
}


#: Programs that run code given in their arguments or input (shells, interpreters,
#: and programs that start other programs).  A program the policy refuses is
#: reported as :attr:`Code.PROGRAM_RUNS_CODE` when its base name is here, and
#: as :attr:`Code.COMMAND_NOT_ALLOWED` otherwise; the verdict is the same.
@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: what (``code``, ``message``), where and for whom.

    ``position`` and ``length`` point into the text the caller passed to
    :func:`qmonexec.shell.check` (after mapping back through any peeled QMP,
    HMP or ``exec:`` layer).  ``shells`` names the shell setups affected
    (see :data:`ALL_SHELLS`); empty when the problem is in a monitor layer.
    """

    code: Code
    message: str
    position: Pos
    severity: Severity = Severity.ERROR
    shells: tuple[str, ...] = ()
    length: int = 1
    count: int = 1

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict of this finding."""
        return {
            "code": self.code.value,
            "severity": self.severity.value,
            "message": self.message,
            "position": self.position.to_dict(),
            "length": self.length,
            "shells": list(self.shells),
            "count": self.count,
        }

    def __str__(self) -> str:
        p = self.position
        more = f" ({self.count} times, first here)" if self.count > 1 else ""
        return (
            f"{p.line}:{p.column}: {self.severity.value}: {self.code.value}: {self.message}{more}"
        )


@dataclass(frozen=True, slots=True)
class FindingGroup:
    """Consecutive findings of one code and severity, for printing: the first, how many, the last.

    Grouping is for people reading a report; a verdict always keeps every
    finding (see :attr:`Finding.count`).
    """

    first: Finding
    count: int
    last: Finding

    def __str__(self) -> str:
        if self.count == 1:
            return str(self.first)
        p, q = self.first.position, self.last.position
        f = self.first
        last = "" if self.last is f else f", the last at {q.line}:{q.column}"
        return (
            f"{p.line}:{p.column}: {f.severity.value}: {f.code.value}: {f.message} "
            f"({self.count} findings like this{last})"
        )


def group_findings(findings: tuple[Finding, ...] | list[Finding]) -> list[FindingGroup]:
    """Group runs of findings with the same code and severity (counts included)."""
    groups: list[FindingGroup] = []
    for f in findings:
        if groups and groups[-1].first.code is f.code and groups[-1].first.severity is f.severity:
            g = groups[-1]
            groups[-1] = FindingGroup(g.first, g.count + f.count, f)
        else:
            groups.append(FindingGroup(f, f.count, f))
    return groups


#: The codes that mean "not proven": a limit was reached or a construct is not
#: understood.  Always errors; no policy option turns them off.
UNPROVEN: frozenset[Code] = frozenset({
    Code.SYNTAX_ERROR,
    Code.TOO_LONG,
    Code.TOO_DEEP,
    Code.TOO_MANY_COMMANDS,
    Code.TOO_MUCH_WORK,
    Code.UNHANDLED_CONSTRUCT,
    Code.TOO_MANY_FINDINGS,
})

#: At most this many distinct findings are recorded per verdict (identical ones
#: are counted, not repeated).  Reaching it stops the analysis with the
#: ``too-many-findings`` error: what was not analysed is not proven.
MAX_FINDINGS = 1000

#: The work budget of one analysis, in steps (one per token, word part, node and
#: finding): a fixed count, never wall time, so a verdict never depends on the
#: machine's load.  A shell string of the longest length Linux accepts needs far
#: fewer steps than this; reaching it is the ``too-much-work`` error.
MAX_STEPS = 2_000_000


class BudgetExceeded(Exception):
    """Raised inside the analysis when its :class:`Budget` is used up."""


class Budget:
    """A fixed number of analysis steps; :meth:`spend` raises :class:`BudgetExceeded` past it."""

    __slots__ = ("left", "total")

    def __init__(self, steps: int | None = None) -> None:
        self.total = MAX_STEPS if steps is None else steps
        self.left = self.total

    def spend(self, steps: int = 1) -> None:
        """Use ``steps`` steps of the budget."""
        self.left -= steps
        if self.left < 0:
            raise BudgetExceeded


_Item = tuple[Code, int, int, str, "Severity | None", "tuple[str, ...] | None"]


class Reporter:
    """Collects findings with offsets into the shell string being analysed.

    Internal to the validator: :func:`qmonexec.shell.check` maps the offsets
    back to the caller's text and turns them into :class:`Finding` objects.
    A finding identical to an earlier one (code, severity, message) is
    counted on the first (``counts``), never dropped.  After
    :data:`MAX_FINDINGS` distinct findings the reporter is :meth:`full`: it
    records one ``too-many-findings`` error and nothing more.
    """

    __slots__ = ("_seen", "budget", "counts", "errors", "items", "overflowed")

    def __init__(self, budget: Budget | None = None) -> None:
        self.items: list[_Item] = []
        self.counts: list[int] = []
        self.overflowed = False
        #: every error reported, duplicates included (so a caller can tell new ones)
        self.errors = 0
        self.budget = budget if budget is not None else Budget()
        self._seen: dict[tuple[Code, str, Severity | None], int] = {}

    def add(
        self,
        code: Code,
        offset: int,
        message: str,
        *,
        length: int = 1,
        severity: Severity | None = None,
        shells: tuple[str, ...] | None = None,
    ) -> None:
        """Record one finding at ``offset`` (``severity``/``shells`` default from the code)."""
        self.budget.spend()
        if (severity or CODE_INFO[code].severity) is Severity.ERROR:
            self.errors += 1
        key = (code, message, severity)
        index = self._seen.get(key)
        if index is not None:
            self.counts[index] += 1
            return
        if self.overflowed:
            return
        if len(self.items) >= MAX_FINDINGS:
            self.overflowed = True
            self.stop(
                Code.TOO_MANY_FINDINGS,
                offset,
                f"more than {MAX_FINDINGS} distinct findings: the analysis stopped here, so "
                "the rest of the string is not proven safe; fix the findings shown first",
            )
            return
        self._seen[key] = len(self.items)
        self._record(code, offset, message, length, severity, shells)

    def _record(self, code: Code, offset: int, message: str, length: int,
                severity: Severity | None, shells: tuple[str, ...] | None) -> None:
        self.items.append((code, offset, max(length, 1), message, severity, shells))
        self.counts.append(1)

    def stop(self, code: Code, offset: int, message: str) -> None:
        """Record the error that ends the analysis early (no budget, no limit applies)."""
        self.errors += 1
        self._record(code, offset, message, 1, Severity.ERROR, None)

    def full(self) -> bool:
        """Whether the finding limit is reached (the analysis stops: the verdict is a no)."""
        return self.overflowed

    def codes(self) -> set[Code]:
        """The codes recorded so far."""
        return {item[0] for item in self.items}

    def has_errors(self) -> bool:
        """Whether any recorded finding has severity error."""
        return self.errors > 0

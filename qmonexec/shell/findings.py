"""Finding codes, severities and the :class:`Finding` record.

Every problem the validator reports is a :class:`Finding` with a short,
stable kebab-case :class:`Code`.  Codes never change meaning once published;
tools and tests match on them.  :data:`CODE_INFO` documents each code: its
default severity, the shells it affects and a one-line summary.

A verdict is ``ok`` exactly when it holds no finding of severity
:attr:`Severity.ERROR`.
"""

from __future__ import annotations

__all__ = [
    "ALL_SHELLS",
    "CODE_INFO",
    "CODE_RUNNERS",
    "MAX_FINDINGS",
    "Code",
    "CodeInfo",
    "Finding",
    "Reporter",
    "Severity",
    "not_allowed_code",
]

import enum
from dataclasses import dataclass
from typing import Any

from .tokens import Pos

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
    # policy
    COMMAND_SEPARATOR = "command-separator"
    BACKGROUND = "background"
    NEGATION = "negation"
    SUBSHELL = "subshell"
    ASSIGNMENT = "assignment"
    COMMAND_NOT_ALLOWED = "command-not-allowed"
    PROGRAM_RUNS_CODE = "program-runs-code"
    EVALUATES_CODE = "evaluates-code"
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
    Code.TOO_MANY_FINDINGS: CodeInfo(_N, _NONE, "further findings were left out"),
}


#: Programs that run code given in their arguments or input (shells, interpreters,
#: and programs that start other programs).  A program the policy refuses is
#: reported as :attr:`Code.PROGRAM_RUNS_CODE` when its base name is here, and
#: as :attr:`Code.COMMAND_NOT_ALLOWED` otherwise; the verdict is the same.
CODE_RUNNERS = frozenset({
    "sh", "bash", "dash", "ash", "busybox", "ksh", "ksh93", "mksh", "lksh", "zsh", "yash",
    "posh", "csh", "tcsh", "fish", "python", "python2", "python3", "perl", "ruby", "node",
    "php", "lua", "tclsh", "awk", "gawk", "mawk", "nawk", "sed", "env", "xargs", "find",
    "nohup", "nice", "ionice", "timeout", "setsid", "stdbuf", "sudo", "su", "doas", "chroot",
    "ssh", "socat", "nc", "ncat", "script", "watch", "time", "exec", "strace", "gdb",
})  # fmt: skip


def not_allowed_code(name: str) -> Code:
    """The code for a program the policy refuses: whether it runs code, or is merely unknown."""
    base = name.rsplit("/", 1)[-1]
    return Code.PROGRAM_RUNS_CODE if base in CODE_RUNNERS else Code.COMMAND_NOT_ALLOWED


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

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict of this finding."""
        return {
            "code": self.code.value,
            "severity": self.severity.value,
            "message": self.message,
            "position": self.position.to_dict(),
            "length": self.length,
            "shells": list(self.shells),
        }

    def __str__(self) -> str:
        p = self.position
        return f"{p.line}:{p.column}: {self.severity.value}: {self.code.value}: {self.message}"


#: At most this many findings are kept per verdict; hostile input can
#: otherwise produce one per character.
MAX_FINDINGS = 200


class Reporter:
    """Collects findings with offsets into the shell string being analysed.

    Internal to the validator: :func:`qmonexec.shell.check` maps the offsets
    back to the caller's text and turns them into :class:`Finding` objects.
    """

    __slots__ = ("dropped", "items")

    def __init__(self) -> None:
        self.items: list[tuple[Code, int, int, str, Severity | None, tuple[str, ...] | None]] = []
        self.dropped = 0

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
        if len(self.items) >= MAX_FINDINGS:
            self.dropped += 1
            return
        self.items.append((code, offset, max(length, 1), message, severity, shells))

    def full(self) -> bool:
        """Whether the finding limit is reached (analysis may stop: the verdict is a no)."""
        return len(self.items) >= MAX_FINDINGS

    def codes(self) -> set[Code]:
        """The codes recorded so far."""
        return {item[0] for item in self.items}

    def has_errors(self) -> bool:
        """Whether any recorded finding has severity error."""
        for code, _o, _l, _m, severity, _s in self.items:
            if (severity or CODE_INFO[code].severity) is Severity.ERROR:
                return True
        return False

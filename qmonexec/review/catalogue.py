"""The catalogue of finding codes: class, example and fix of every code.

This is the one table that gives each code of the validator
(:class:`qmonexec.shell.Code`) and of the review (:class:`ReviewCode`) its
:class:`FindingClass`.  A code missing here is a test failure, so a code
added to the validator must be added here too.  ``docs/findings.md`` is
generated from this table (``python -m qmonexec.review.docs``); every
example is checked by the tests to really produce its code.

Classes, from the reader's side:

* ``injection``: something not written literally can run, expand, be opened or read;
* ``data-loss``: the save can lose or corrupt data silently;
* ``portability``: the text means different things in different shells or locales;
* ``shape``: correct shell, but not a form qmonexec renders;
* ``unproven``: a limit was hit or a construct is not understood; always fails.
"""

from __future__ import annotations

__all__ = [
    "CATALOGUE",
    "FAILING_ALWAYS",
    "SEVERITY_RANK",
    "Entry",
    "FindingClass",
    "ReviewCode",
    "all_codes",
    "class_of",
    "entry",
    "severity_of",
    "shells_of",
    "summary_of",
]

import enum
from collections.abc import Callable
from dataclasses import dataclass

from ..shell.findings import CODE_INFO, Code, Severity
from ..vocabulary import INPUT_SIZE, TRANSFER_SIZE


class FindingClass(str, enum.Enum):
    """What kind of harm a finding stands for (see the module docstring)."""

    INJECTION = "injection"
    DATA_LOSS = "data-loss"
    PORTABILITY = "portability"
    SHAPE = "shape"
    UNPROVEN = "unproven"


#: Classes that fail a review whatever ``--fail-on`` says, and that no suppression hides.
FAILING_ALWAYS = frozenset({FindingClass.UNPROVEN})


#: Severities in increasing order (``--severity LEVEL`` prints LEVEL and worse).
SEVERITY_RANK = {"note": 0, "warning": 1, "error": 2}


class ReviewCode(str, enum.Enum):
    """Codes the review adds to the validator's own."""

    UNQUOTED_INTERPOLATION = "unquoted-interpolation"
    UNREADABLE_SOURCE = "unreadable-source"
    SUPPRESSION_WITHOUT_REASON = "suppression-without-reason"
    UNUSED_SUPPRESSION = "unused-suppression"
    TEMPLATE_SLOT_ESCAPES = "template-slot-escapes"


@dataclass(frozen=True, slots=True)
class Entry:
    """One code's catalogue entry.

    ``example`` is a bad string that produces the code under ``policy``
    (``default``, ``command``, ``command+NAME`` for the command policy
    allowing the program NAME, or ``offset:N`` for the default policy
    expecting an N-byte header) read as ``form``; ``sample`` builds the real
    text when the example is shown shortened.  ``fix`` is the corrected
    string ("" when the fix is not a string), ``advice`` says what to do.
    ``example`` is ``None`` for a code this version never emits.
    """

    cls: FindingClass
    example: str | None
    fix: str
    advice: str
    policy: str = "default"
    form: str = "auto"
    sample: Callable[[], str] | None = None
    kind: str = "string"  # "string", or the input kind of a review-only code


_I = FindingClass.INJECTION
_D = FindingClass.DATA_LOSS
_P = FindingClass.PORTABILITY
_S = FindingClass.SHAPE
_U = FindingClass.UNPROVEN

_T = "/vm/x.img"
_DD = f"{{ dd bs=4096 seek=2 if=/dev/null && dd ibs={INPUT_SIZE} obs={TRANSFER_SIZE}; }}"
SAVE = f"exec:gzip -c | {_DD} 1<>{_T}"
_ST = "/run/qm"
_STATUS_BAD = (
    f"exec:{{ {_DD} 1<>{_T} && : >{_ST}/write.ok || : >{_ST}/wrote.failed; }} 2>{_ST}/write.err"
)
_STATUS_OK = _STATUS_BAD.replace("wrote.failed", "write.failed")
_QMP = '{{"execute":"migrate","arguments":{{"uri":"{}"}}}}'

CATALOGUE: dict[str, Entry] = {
    # -- monitor layers
    Code.JSON_SYNTAX: Entry(
        _U, _QMP.format("exec:cat")[:-1], _QMP.format(SAVE), "Write valid JSON: close every brace."
    ),
    Code.JSON_DUPLICATE_KEY: Entry(
        _I, '{"execute":"migrate","arguments":{"uri":"' + SAVE + '","uri":"exec:reboot"}}',
        _QMP.format(SAVE), "Give each key once: QEMU and a reader may take different copies.",
    ),
    Code.QMP_UNEXPECTED_KEY: Entry(
        _S, '{"execute":"migrate","arguments":{"uri":"' + SAVE + '","blk":true}}',
        _QMP.format(SAVE),
        "Remove the key; set migration options with migrate-set-parameters.",
    ),
    Code.QMP_COMMAND_NOT_ALLOWED: Entry(
        _S, '{"execute":"quit"}', _QMP.format(SAVE), "Check only migrate and migrate-incoming."
    ),
    Code.QMP_TYPE: Entry(
        _S, '{"execute":"migrate","arguments":{"uri":7}}', _QMP.format(SAVE),
        "Give the uri as a string.",
    ),
    Code.QMP_MISSING_URI: Entry(
        _S, '{"execute":"migrate","arguments":{}}', _QMP.format(SAVE), "Give the uri argument."
    ),
    Code.QMP_TEXT: Entry(
        _U, _QMP.format("exec:cat /vm/\\ud800"), "",
        "Use UTF-8 text without lone surrogates or noncharacters; pass odd file names as an "
        "open file descriptor instead.",
    ),
    Code.NOT_EXEC_URI: Entry(
        _S, 'migrate -d "tcp:10.0.0.2:4444"', f'migrate -d "{SAVE}"',
        "Only exec: URIs are checked; other transports need no shell string.",
    ),
    Code.HMP_SYNTAX: Entry(
        _U, 'migrate -d "exec:cat', f'migrate -d "{SAVE}"', "Close the double quote."
    ),
    Code.HMP_COMMAND_NOT_ALLOWED: Entry(
        _S, "quit", f'migrate -d "{SAVE}"', "Check only migrate and migrate_incoming lines.",
        form="hmp",
    ),
    Code.HMP_UNEXPECTED_FLAG: Entry(
        _S, 'migrate -b "exec:cat"', f'migrate -d "{SAVE}"', "Use no flag other than -d."
    ),
    Code.HMP_TRUNCATION: Entry(
        _U, 'migrate -d "exec:cat /vm/aaaa...(1100 a)"', f'migrate -d "{SAVE}"',
        "Send the command over QMP (qmonexec uri --format qmp): QEMU cuts HMP strings at "
        "1023 bytes without a word.",
        sample=lambda: 'migrate -d "exec:cat /vm/' + "a" * 1100 + '"',
    ),
    Code.HMP_TRAILING_TEXT: Entry(
        _S, 'migrate -d "exec:cat" extra', f'migrate -d "{SAVE}"', "Remove the text after the URI."
    ),
    Code.DIRECTION_MISMATCH: Entry(
        _S, f'migrate_incoming "{SAVE}"', f'migrate -d "{SAVE}"',
        "Send a save with migrate and a restore with migrate_incoming.",
    ),
    # -- characters and tokens
    Code.TOO_LONG: Entry(
        _U, "exec:cat /vm/aaaa...(131072 a)", SAVE,
        "Shorten the command: Linux refuses an execve argument over 128 KiB.",
        sample=lambda: "exec:cat /vm/" + "a" * 131072,
    ),
    Code.NUL_CHARACTER: Entry(
        _U, "exec:cat /vm/a\\x00b (a NUL character)", SAVE, "Remove the NUL character.",
        sample=lambda: "exec:cat /vm/a\x00b",
    ),
    Code.CONTROL_CHARACTER: Entry(
        _I, "exec:cat /vm/a\\x1bb (an escape character)", SAVE,
        "Remove the character, or quote it with qmonexec.quoting.quote_word() (then a warning).",
        sample=lambda: "exec:cat /vm/a\x1bb",
    ),
    Code.NON_ASCII: Entry(
        _P, "exec:cat /vm/caf\u00e9", "exec:cat '/vm/caf\u00e9'",
        "Quote it with qmonexec.quoting.quote_word() (then a warning), or use ASCII names.",
    ),
    Code.UNTERMINATED_QUOTE: Entry(
        _I, "exec:cat '/vm/x", "exec:cat '/vm/x'", "Close the quote; render with quote_word()."
    ),
    Code.UNTERMINATED_EXPANSION: Entry(
        _I, "exec:cat /vm/$(date", "exec:cat /vm/x", "Write the value literally."
    ),
    Code.COMMENT: Entry(
        _S, "exec:cat /vm/x #1<>/vm/y", "exec:cat /vm/x", "Remove the comment, or quote the #."
    ),
    Code.LINE_CONTINUATION: Entry(
        _S, "exec:cat /vm/x \\<newline>/vm/y", "exec:cat /vm/x /vm/y", "Write one line.",
        sample=lambda: "exec:cat /vm/x \\\n/vm/y",
    ),
    Code.NON_POSIX_OPERATOR: Entry(
        _P, "exec:cat &>/vm/x", "exec:cat", "Use POSIX operators only."
    ),
    Code.HERE_DOCUMENT: Entry(_S, "exec:cat <<EOF", "exec:cat", "Remove the here-document."),
    Code.FD_NUMBER: Entry(_P, "exec:cat 10>/vm/x", "exec:cat", "Use file descriptors 0 to 9."),
    Code.PARAMETER_EXPANSION: Entry(
        _I, "exec:cat /vm/$HOME", "exec:cat /vm/x", "Write the value, quoted with quote_word()."
    ),
    Code.COMMAND_SUBSTITUTION: Entry(
        _I, "exec:cat /vm/$(date)", "exec:cat /vm/x", "Write the value, quoted with quote_word()."
    ),
    Code.ARITHMETIC_EXPANSION: Entry(
        _I, "exec:cat /vm/$((1+1))", "exec:cat /vm/2", "Compute the value in Python."
    ),
    Code.DOLLAR_SINGLE_QUOTE: Entry(
        _P, "exec:cat $'/vm/x'", "exec:cat '/vm/x'", "Use single quotes, as quote_word() does."
    ),
    Code.DOLLAR_DOUBLE_QUOTE: Entry(
        _P, 'exec:cat $"/vm/x"', "exec:cat '/vm/x'", "Use single quotes, as quote_word() does."
    ),
    Code.DOLLAR_SIGN: Entry(
        _I, "exec:cat /vm/x$", "exec:cat '/vm/x$'", "Single-quote it with quote_word()."
    ),
    Code.UNQUOTED_GLOB: Entry(
        _I, "exec:cat /vm/*.img", "exec:cat '/vm/*.img'", "Single-quote it with quote_word()."
    ),
    Code.TILDE_EXPANSION: Entry(
        _I, "exec:cat ~/x.img", "exec:cat /home/vm/x.img", "Give the absolute path."
    ),
    Code.BRACE_EXPANSION: Entry(
        _I, "exec:cat /vm/{a,b}.img", "exec:cat '/vm/{a,b}.img'",
        "Single-quote it with quote_word().",
    ),
    Code.UNQUOTED_BRACE: Entry(
        _P, "exec:cat /vm/}x", "exec:cat '/vm/}x'", "Single-quote it with quote_word()."
    ),
    Code.EQUALS_EXPANSION: Entry(
        _I, "exec:cat =ls", "exec:cat '=ls'", "Single-quote it with quote_word()."
    ),
    Code.EMPTY_QUOTE_TRAP: Entry(
        _I, None, "", "Quote the special character itself, as quote_word() does."
    ),
    Code.BOURNE_PIPE: Entry(
        _I, "exec:cat /vm/a^b", "exec:cat '/vm/a^b'", "Single-quote it with quote_word()."
    ),
    Code.UNQUOTED_SPECIAL: Entry(
        _P, "exec:cat /vm/a!b", "exec:cat '/vm/a!b'", "Single-quote it with quote_word()."
    ),
    # -- structure
    Code.SYNTAX_ERROR: Entry(_U, "exec:cat | | gzip", "exec:cat", "Write a complete command."),
    Code.EMPTY_COMMAND: Entry(_S, "exec:", SAVE, "Give the command."),
    Code.RESERVED_WORD: Entry(_S, "exec:if cat", "exec:cat", "Run a program, not a compound."),
    Code.TOO_DEEP: Entry(
        _U, "exec:{ { { ... cat; } ... }", SAVE, "Remove the extra groups.",
        sample=lambda: "exec:" + "{ " * 60 + "cat" + "; }" * 60,
    ),
    Code.TOO_MANY_COMMANDS: Entry(
        _U, "exec:cat | cat | ... (300 commands)", SAVE, "Use one of the rendered shapes.",
        sample=lambda: "exec:" + " | ".join(["cat"] * 300),
    ),
    Code.COMMAND_SEPARATOR: Entry(
        _I, "exec:cat >/vm/x; reboot", SAVE, "Remove the separator and what follows."
    ),
    Code.BACKGROUND: Entry(_I, "exec:cat /vm/x & reboot", "exec:cat /vm/x", "Remove the &."),
    Code.NEGATION: Entry(_D, "exec:! " + SAVE[5:], SAVE, "Remove the !."),
    Code.SUBSHELL: Entry(_S, "exec:(cat)", "exec:cat", "Remove the parentheses."),
    Code.ASSIGNMENT: Entry(
        _I, "exec:LD_PRELOAD=/tmp/x.so gzip -c", "exec:gzip -c",
        "Remove the assignment: it changes what the program runs.",
    ),
    Code.COMMAND_NOT_ALLOWED: Entry(
        _S, SAVE.replace("gzip", "pigz"), SAVE,
        "Use an allowed program, or allow it: Policy.default().allowing_commands('pigz') "
        "(qmonexec check --allow-program pigz).",
    ),
    Code.PROGRAM_RUNS_CODE: Entry(
        _I, "exec:sh -c 'cat >/vm/x'", SAVE, "Run the program itself, not a shell or interpreter."
    ),
    Code.EVALUATES_CODE: Entry(
        _I, "exec:eval cat", "exec:cat", "Run the program itself.", policy="command"
    ),
    Code.RUNS_CODE_UNCHECKED: Entry(
        _I, "exec:env gzip -c", "exec:gzip -c",
        "Run the program itself; name a code-running program only when you trust every "
        "argument it can be given.", policy="command+env",
    ),
    Code.OPTION_NOT_ALLOWED: Entry(
        _S, SAVE.replace("gzip -c", "gzip -c -S .x"), SAVE, "Use the options qmonexec renders."
    ),
    Code.UNEXPECTED_ARGUMENT: Entry(
        _S, SAVE.replace("gzip -c", "gzip -c /etc/shadow"), SAVE, "Remove the argument."
    ),
    Code.UNEXPECTED_SHAPE: Entry(
        _S, "exec:cat | gzip -c | gzip -c | gzip -c", SAVE,
        "Render the command with qmonexec.build.save_uri() or qmonexec uri save.",
    ),
    Code.DD_OPERAND: Entry(
        _S, "exec:dd if=/vm/x.img bs=4096 skip=2 of=/vm/y", "exec:dd if=/vm/x.img bs=4096 skip=2",
        "Use the dd operands qmonexec renders.",
    ),
    Code.DD_BLOCK_SIZES: Entry(
        _P, SAVE.replace(f"ibs={INPUT_SIZE}", f"ibs={TRANSFER_SIZE}"), SAVE,
        "Give ibs= and obs= different values."
    ),
    Code.OFFSET_MISMATCH: Entry(
        _D, SAVE, SAVE.replace("seek=2", "seek=1"),
        "Make seek/skip times the block size equal the header size.", policy="offset:4096",
    ),
    Code.TRUNCATING_REDIRECT: Entry(
        _D, "exec:gzip -c > /tmp/vm.gz", "exec:gzip -c | { dd bs=4096 seek=0 if=/dev/null && "
        "dd ibs=32768 obs=65536; } 1<>/tmp/vm.gz", "Open the file with 1<> as the save form does.",
    ),
    Code.APPENDING_REDIRECT: Entry(
        _D, "exec:gzip -c >> /tmp/vm.gz", "exec:gzip -c | { dd bs=4096 seek=0 if=/dev/null && "
        "dd ibs=32768 obs=65536; } 1<>/tmp/vm.gz", "Open the file with 1<> and seek with dd.",
    ),
    Code.REDIRECT_NOT_ALLOWED: Entry(
        _S, SAVE + " 2>/tmp/err", SAVE, "Remove the redirection."
    ),
    Code.DUPLICATE_REDIRECT: Entry(
        _P, "exec:cat 1<>/vm/x 1<>/vm/y", "exec:cat 1<>/vm/x", "Redirect each fd once."
    ),
    Code.RELATIVE_PATH: Entry(
        _I, SAVE.replace("1<>/vm/", "1<>vm/"), SAVE,
        "Give an absolute path: a relative one is resolved against QEMU's working directory.",
    ),
    Code.STATUS_FILE: Entry(
        _D, _STATUS_BAD, _STATUS_OK, "Use the stage-status names NAME.ok, NAME.failed, NAME.err."
    ),
    Code.SPECIAL_PATH: Entry(
        _I, SAVE.replace("1<>/vm/x.img", "1<>/dev/tcp/10.0.0.1/9000"), SAVE,
        "Write to an ordinary file: /dev/tcp and /dev/udp open network connections in bash and "
        "ksh93, /dev/fd, /dev/std* and /proc alias the pipeline's own descriptors.",
    ),
    Code.TOO_MANY_FINDINGS: Entry(
        _U, "exec:a0=1 a1=1 ... (1,100 different assignments)", SAVE,
        "Fix the findings shown first.",
        sample=lambda: "exec:" + " ".join(f"a{k}=1" for k in range(1100)),
    ),
    Code.TOO_MUCH_WORK: Entry(
        _U, '{"execute":"migrate","arguments":{"uri":"exec:cat"},"id":[0,0,... (2,100,000)]}',
        "", "Send a smaller command: a migration command needs a few hundred bytes.",
        sample=lambda: '{"execute":"migrate","arguments":{"uri":"exec:cat"},"id":['
        + "0," * 2_100_000 + "0]}",
    ),
    Code.UNHANDLED_CONSTRUCT: Entry(
        _U, None, "", "Write the command in one of the shapes qmonexec renders.",
    ),
    # -- the review's own codes
    ReviewCode.UNQUOTED_INTERPOLATION: Entry(
        _I, 'f"exec:cat >{path}"', 'f"exec:cat 1<>{quote_word(path)}"',
        "Quote the value with qmonexec.quoting.quote_word(), or build the whole URI with "
        "qmonexec.build.save_uri(); a local name assigned only such calls counts as the call.",
        kind="python",
    ),
    ReviewCode.UNREADABLE_SOURCE: Entry(
        _U, "uri = 'exec:cat", "uri = 'exec:cat'",
        "Make the file parse (Python, JSON) and be UTF-8 text.", kind="python",
    ),
    ReviewCode.SUPPRESSION_WITHOUT_REASON: Entry(
        _U, "# qmonexec: ignore[non-ascii]", "# qmonexec: ignore[non-ascii] file names are UTF-8",
        "Say after the brackets why the finding does not apply.", kind="list",
    ),
    ReviewCode.UNUSED_SUPPRESSION: Entry(
        _U, "# qmonexec: ignore[comment] old", "",
        "Remove the suppression (or the codes it lists that do not occur on the next line).",
        kind="list",
    ),
    ReviewCode.TEMPLATE_SLOT_ESCAPES: Entry(
        _I, "exec:cat \"{{ target }}\"", "exec:cat {{ target }}",
        "Write the slot bare, as its own word: the environment quotes every value.",
        kind="template",
    ),
}  # fmt: skip

_REVIEW_INFO: dict[str, tuple[Severity, str]] = {
    ReviewCode.UNQUOTED_INTERPOLATION: (
        Severity.ERROR, "a value is interpolated into the command without qmonexec's quoting"
    ),
    ReviewCode.TEMPLATE_SLOT_ESCAPES: (
        Severity.ERROR, "a template slot can render outside one whole literal word"
    ),
    ReviewCode.UNREADABLE_SOURCE: (Severity.ERROR, "the file could not be read or parsed"),
    ReviewCode.SUPPRESSION_WITHOUT_REASON: (
        Severity.ERROR, "a suppression comment gives no reason (it suppresses nothing)"
    ),
    ReviewCode.UNUSED_SUPPRESSION: (
        Severity.ERROR, "a suppression comment names a code that does not occur where it applies"
    ),
}


def _key(code: str | Code | ReviewCode) -> str:
    return code.value if isinstance(code, enum.Enum) else str(code)


_BY_VALUE: dict[str, Entry] = {_key(k): v for k, v in CATALOGUE.items()}


def all_codes() -> list[str]:
    """Every code: the validator's (in declaration order), then the review's."""
    return [c.value for c in Code] + [c.value for c in ReviewCode]


def entry(code: str | Code | ReviewCode) -> Entry:
    """The catalogue entry of ``code`` (:class:`KeyError` for an unknown code)."""
    return _BY_VALUE[_key(code)]


def class_of(code: str | Code | ReviewCode) -> FindingClass:
    """The class of ``code``.  A code without an entry counts as ``unproven`` (fails closed)."""
    found = _BY_VALUE.get(_key(code))
    return found.cls if found is not None else FindingClass.UNPROVEN


def _info(code: str) -> tuple[Severity, tuple[str, ...], str]:
    try:
        info = CODE_INFO[Code(code)]
    except ValueError:
        severity, summary = _REVIEW_INFO[code]
        return severity, (), summary
    return info.severity, info.shells, info.summary


def severity_of(code: str | Code | ReviewCode) -> Severity:
    """The default severity of ``code``."""
    return _info(_key(code))[0]


def shells_of(code: str | Code | ReviewCode) -> tuple[str, ...]:
    """The shell setups ``code`` affects (empty: a monitor layer, or every shell alike)."""
    return _info(_key(code))[1]


def summary_of(code: str | Code | ReviewCode) -> str:
    """The one-line summary of ``code``."""
    return _info(_key(code))[2]

"""Fast path: accept the canonical rendered shapes without building an AST.

qmonexec renders a handful of exact shapes.  :func:`fast_check` recognises an
``exec:`` URI that is *literally* one of them (single spaces, words made only
of safe characters, single quotes holding printable ASCII, and ``\\'``), checks
the values against the policy, and returns the same :class:`Verdict` the full
analysis returns.  For anything else it returns ``None`` and
:func:`~qmonexec.shell.check` runs the full lexer, parser and policy.

The fast path can only *accept*: every refusal, and every string it is not
sure about, goes through the full analysis.  Its verdicts are tested to be
identical to the full path's (``tests/shell/test_fast.py``).

Why two implementations of the same rules: every ``qmonexec uri``, ``save``
and ``restore`` run validates the string it renders, and the full analysis
needs the lexer, parser and AST modules, whose import and per-token objects
would dominate that command's start-up (docs/performance.md).  The full
analysis stays the reference; this module only recognises what it accepts.

The patterns are anchored, words are written so that a text splits into
word parts in one way only, and the text is at most :data:`FAST_MAX`
characters, so matching time is bounded.
"""

from __future__ import annotations

__all__ = ["FAST_MAX", "fast_check"]

import functools
import re

# Only light modules: the fast path must not load the lexer, parser or AST.
from ..limits import DD_MAX_BYTES, special_path
from ..vocabulary import COMPRESS, OUTCOMES, WRITE, marker
from .dd import block_sizes_message, dd_digits, is_block_size
from .findings import CODE_INFO, Code, Finding, Severity
from .grammar import RESERVED_WORDS
from .policy import GENERIC_RULE, PASS_THROUGH, Policy, ProgramRule
from .position import Pos
from .verdict import CommandView, Layer, RedirectView, Verdict

#: Longer texts always take the full path.
FAST_MAX = 8192

# One word: runs of bare safe characters between quoted parts ('...' or \').
# Written "unrolled" (s*(q s*)*) so that each text splits into parts one way only.
_S = r"[A-Za-z0-9_./:@%+,=-]"
_Q = r"(?:'[ -&(-~]*'|\\')"
_W = r"(?=[A-Za-z0-9_./:@%+,=\-'\\])" + _S + "*(?:" + _Q + _S + "*)*"
_WS = _W + r"(?: " + _W + r")*"
_SAVE_SOURCE = (
    r"exec:(?:(?P<cg>\{ )?(?P<comp>" + _WS + r")"
    r"(?: && (?P<cokc>:) >(?P<cok>" + _W + r") \|\| (?P<cfailc>:) >(?P<cfail>" + _W + r"); \} "
    r"(?P<cerrr>2>)(?P<cerr>" + _W + r"))? \| )?"
    r"(?P<wg>\{ )?\{ (?P<dd1>dd) bs=(?P<bs>[0-9]+) seek=(?P<seek>[0-9]+) if=/dev/null && "
    r"(?P<dd2>dd) ibs=(?P<ibs>[0-9]+) obs=(?P<obs>[0-9]+); \} (?P<tgtr>1<>)(?P<target>" + _W + r")"
    r"(?: && (?P<wokc>:) >(?P<wok>" + _W + r") \|\| (?P<wfailc>:) >(?P<wfail>" + _W + r"); \} "
    r"(?P<werrr>2>)(?P<werr>" + _W + r"))?"
)
_RESTORE_SOURCE = (
    r"exec:(?P<dd>dd) if=(?P<src>" + _W + r") bs=(?P<bs>[0-9]+) skip=(?P<skip>[0-9]+)"
    r"(?: \| (?P<comp>" + _WS + r"))?"
)
_COMMAND_SOURCE = r"exec:(?P<argv>" + _WS + r")"

_WORD = re.compile(_W)
_PIECE = re.compile(r"'([^']*)'|\\(')|([^'\\]+)")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


@functools.cache
def _shape(source: str) -> re.Pattern[str]:
    """``source`` compiled, once, on first use.

    Compiling the three shape patterns takes ~2.3 ms, more than the rest of
    this module, and one command line needs one of them.
    """
    return re.compile(source)

_mk = tuple.__new__


def _pos(offset: int) -> Pos:
    return _mk(Pos, (offset, 1, offset + 1))


def _decode(word: str) -> str:
    if "'" not in word and "\\" not in word:
        return word
    return "".join(a or b or c for a, b, c in _PIECE.findall(word))


def _words(text: str, start: int, end: int) -> list[tuple[str, int]]:
    return [(_decode(m.group()), m.start()) for m in _WORD.finditer(text, start, end)]


def _options_ok(
    name: str, rule: ProgramRule, args: list[tuple[str, int]], mode: str | None
) -> bool:
    flags: set[str] = set()
    for value, _off in args:
        problem, got = rule.check_option(value)
        if problem is not None:
            return False
        flags |= got
    if mode is None or rule is GENERIC_RULE or name in PASS_THROUGH:
        return True
    want = set(mode)
    return want <= flags and ("d" not in flags or "d" in want)


def _program(policy: Policy, words: list[tuple[str, int]], mode: str | None) -> bool:
    name = words[0][0]
    rule = policy.programs.get(name)
    if rule is None or name in policy.unchecked:  # unchecked: the full path warns
        return False
    if mode == "dc" and name in PASS_THROUGH:
        return False
    return _options_ok(name, rule, words[1:], mode)


def _cmd(
    words: list[tuple[str, int]], redirects: tuple[RedirectView, ...], stage: int
) -> CommandView:
    return CommandView(tuple(w for w, _o in words), redirects, _pos(words[0][1]), (), stage)


def fast_check(text: str, policy: Policy) -> Verdict | None:
    """The verdict for ``text`` if it is literally a canonical accepted shape, else ``None``."""
    if len(text) > FAST_MAX or not text.startswith("exec:"):
        return None
    if " =" in text or "''=" in text or text.startswith("exec:="):
        return None  # '=' at word start: leave the zsh rules to the full path
    # a save always holds '; } 1<>' and a restore starts 'exec:dd if=': skipping a
    # pattern that cannot match (and not compiling it) changes no verdict
    if "; } 1<>" in text:
        m = _shape(_SAVE_SOURCE).fullmatch(text)
        if m is not None:
            return _save(text, m, policy)
    if text.startswith("exec:dd if="):
        m = _shape(_RESTORE_SOURCE).fullmatch(text)
        if m is not None:
            return _restore(text, m, policy)
    m = _shape(_COMMAND_SOURCE).fullmatch(text)
    if m is not None:
        return _command(text, m, policy)
    return None


def _status(m: re.Match[str], group: str, leaf: str) -> tuple[str, str] | None:
    value = _decode(m.group(group))
    suffix = "/" + leaf
    if not value.startswith("/") or not value.endswith(suffix) or special_path(value):
        return None
    return value, value[: -len(suffix)] or "/"


def _verdict(
    text: str, shape: str, commands: list[CommandView], findings: tuple[Finding, ...] = ()
) -> Verdict:
    return Verdict(
        ok=True,
        text=text,
        shell=text[5:],
        layers=(Layer("exec", 5, ""),),
        shape=shape,
        direction=None,
        commands=tuple(commands),
        findings=findings,
    )


def _status_files(
    m: re.Match[str], stage: str, groups: tuple[str, str, str], dirs: set[str]
) -> tuple[str, str, str] | None:
    """The ``ok``, ``failed`` and ``err`` files of ``stage`` (in ``groups``), adding their dir."""
    paths = [_status(m, g, marker(stage, o)) for g, o in zip(groups, OUTCOMES, strict=True)]
    if None in paths:
        return None
    dirs |= {p[1] for p in paths if p is not None}
    ok, failed, err = (p[0] for p in paths if p is not None)
    return ok, failed, err


def _markers(
    m: re.Match[str],
    files: tuple[str, str, str],
    errs: tuple[RedirectView, ...],
    groups: tuple[str, str],
    stage: int,
) -> list[CommandView]:
    """The ``: >D/NAME.ok`` and ``: >D/NAME.failed`` commands (the ``:`` in ``groups``)."""
    commands = []
    for g, value in zip(groups, files[:2], strict=True):
        own = RedirectView(1, ">", value, _pos(m.start(g) + 2), False, False)
        commands.append(_cmd([(":", m.start(g))], (*errs, own), stage))
    return commands


def _save(text: str, m: re.Match[str], policy: Policy) -> Verdict | None:
    if "save" not in policy.shapes:
        return None
    cg, cok, wg, wok, comp = m.group("cg", "cok", "wg", "wok", "comp")
    status_stage = cg is not None
    if status_stage != (cok is not None):
        return None
    status_writer = wok is not None
    if status_writer != (wg is not None) or (status_stage and not status_writer):
        return None
    sizes = _save_sizes(m, policy)
    target = _decode(m.group("target"))
    if sizes is None or not target.startswith("/") or special_path(target) is not None:
        return None
    dirs: set[str] = set()
    commands: list[CommandView] = []
    if comp is not None:
        stage = _compress_stage(text, m, policy, status_stage, dirs)
        if stage is None:
            return None
        commands += stage
    writer = _write_stage(m, target, 1 if commands else 0, status_writer, dirs)
    if writer is None or len(dirs) > 1:
        return None
    commands += writer
    findings: tuple[Finding, ...] = ()
    ibs, obs = sizes
    if ibs == obs:
        info = CODE_INFO[Code.DD_BLOCK_SIZES]
        findings = (
            Finding(Code.DD_BLOCK_SIZES, block_sizes_message(obs), _pos(m.start("dd2")),
                    Severity.WARNING, info.shells, 2),
        )  # fmt: skip
    return _verdict(text, "save", commands, findings)


def _save_sizes(m: re.Match[str], policy: Policy) -> tuple[int, int] | None:
    """``(ibs, obs)`` when every dd number of the save is acceptable, else ``None``."""
    # the pattern matched [0-9]+ for each of them
    bs_s, seek_s, ibs_s, obs_s = m.group("bs", "seek", "ibs", "obs")
    bs, seek, ibs, obs = dd_digits(bs_s), dd_digits(seek_s), dd_digits(ibs_s), dd_digits(obs_s)
    if bs is None or seek is None or ibs is None or obs is None:
        return None
    if not (is_block_size(bs) and is_block_size(ibs) and is_block_size(obs)):
        return None
    if policy.offset is not None and seek * bs != policy.offset:
        return None
    if seek * bs > DD_MAX_BYTES:
        return None
    return ibs, obs


def _compress_stage(
    text: str, m: re.Match[str], policy: Policy, status_stage: bool, dirs: set[str]
) -> list[CommandView] | None:
    """The compressor stage's commands (with its status commands), or ``None``."""
    comp = m.group("comp")
    words = _words(text, m.start("comp"), m.end("comp"))
    if _ASSIGNMENT.match(comp) or not _program(policy, words, "c"):
        return None
    if not status_stage:
        return [_cmd(words, (), 0)]
    files = _status_files(m, COMPRESS, ("cok", "cfail", "cerr"), dirs)
    if files is None:
        return None
    errs = (RedirectView(2, ">", files[2], _pos(m.start("cerrr")), True, True),)
    return [_cmd(words, errs, 0), *_markers(m, files, errs, ("cokc", "cfailc"), 0)]


def _write_stage(
    m: re.Match[str], target: str, stage: int, status_writer: bool, dirs: set[str]
) -> list[CommandView] | None:
    """The two dd commands of the write group (with its status commands), or ``None``."""
    group: tuple[RedirectView, ...] = (
        RedirectView(1, "<>", target, _pos(m.start("tgtr")), True, True),
    )
    files = None
    if status_writer:
        files = _status_files(m, WRITE, ("wok", "wfail", "werr"), dirs)
        if files is None:
            return None
        # the outer group's 2>D/write.err applies first, then the inner group's 1<>T
        group = (RedirectView(2, ">", files[2], _pos(m.start("werrr")), True, True), *group)
    bs_s, seek_s, ibs_s, obs_s = m.group("bs", "seek", "ibs", "obs")
    dd1 = m.start("dd1")
    dd2 = m.start("dd2")
    commands = [
        _cmd([("dd", dd1), ("bs=" + bs_s, dd1 + 3), ("seek=" + seek_s, m.start("seek") - 5),
              ("if=/dev/null", m.end("seek") + 1)], group, stage),
        _cmd([("dd", dd2), ("ibs=" + ibs_s, dd2 + 3), ("obs=" + obs_s, m.start("obs") - 4)],
             group, stage),
    ]  # fmt: skip
    if files is not None:
        commands += _markers(m, files, group[:1], ("wokc", "wfailc"), stage)
    return commands


def _restore(text: str, m: re.Match[str], policy: Policy) -> Verdict | None:
    if "restore" not in policy.shapes:
        return None
    bs = dd_digits(m.group("bs"))
    skip = dd_digits(m.group("skip"))
    if bs is None or skip is None or not is_block_size(bs):
        return None
    if policy.offset is not None and skip * bs != policy.offset:
        return None
    if skip * bs > DD_MAX_BYTES:
        return None
    source = _decode(m.group("src"))
    if not source.startswith("/") or special_path(source) is not None:
        return None
    dd = m.start("dd")
    commands = [_cmd([("dd", dd), ("if=" + source, dd + 3), (f"bs={bs}", m.start("bs") - 3),
                      (f"skip={skip}", m.start("skip") - 5)], (), 0)]  # fmt: skip
    if m.group("comp") is not None:
        words = _words(text, m.start("comp"), m.end("comp"))
        if _ASSIGNMENT.match(m.group("comp")) or not _program(policy, words, "dc"):
            return None
        commands.append(_cmd(words, (), 1))
    return _verdict(text, "restore", commands)


def _command(text: str, m: re.Match[str], policy: Policy) -> Verdict | None:
    if "command" not in policy.shapes:
        return None
    raw = m.group("argv")
    if _ASSIGNMENT.match(raw):
        return None
    words = _words(text, m.start("argv"), m.end("argv"))
    name = words[0][0]
    if name in RESERVED_WORDS or (raw.startswith(name) and name in ("{", "}", "!")):
        return None
    if name == "dd" and ("restore" in policy.shapes or "save" in policy.shapes):
        return None
    rule = policy.rule_for(name)
    if rule is None or policy.runs_unchecked(name) or not _options_ok(name, rule, words[1:], None):
        return None
    return _verdict(text, "command", [_cmd(words, (), 0)])

"""The full analysis behind :func:`~qmonexec.shell.check`, for strings the fast path leaves.

Peel the layers (:mod:`.layers`), lex and parse the shell string
(:mod:`.lexer`, :mod:`.parser`), analyse every word (:mod:`.words`), match
the script against the policy's shapes (:mod:`.shapes`), then build the
decoded command views and the findings with positions in the caller's text.
:mod:`.check` imports this module only when :mod:`.fast` cannot decide.
"""

from __future__ import annotations

__all__ = ["analyse"]

from ..limits import SHELL_MAX_BYTES as MAX_SHELL_BYTES
from .findings import (
    CODE_INFO,
    Budget,
    BudgetExceeded,
    Code,
    Finding,
    Reporter,
    Severity,
)
from .layers import OffsetMap, Peeled, peel
from .lexer import lex
from .nodes import CommandList, Redirect, Script, SglQuoted, SimpleCommand, Word, iter_words
from .parser import parse
from .policy import Policy
from .shapes import evaluate
from .tokens import Kind, Token, positioner
from .verdict import CommandView, RedirectView, Verdict
from .words import WordInfo, analyze_word, scan_characters

# Kind.X is an enum class attribute: ~100 ns per lookup in Python 3.11, against a few ns
# for a module global, and the analysis looks kinds up for every token.
_NEWLINE, _WORD = Kind.NEWLINE, Kind.WORD

_DEFAULT_FD = {"<": 0, "<>": 0, "<&": 0, "<<": 0, "<<-": 0}
_MAYBE_RESERVED = frozenset({"{", "}", "!"})


def analyse(text: str, policy: Policy, form: str) -> Verdict:
    """The verdict for ``text`` read as ``form`` (arguments already checked by ``check``).

    One :class:`~.findings.Budget` of steps covers the whole analysis; when it
    runs out, the analysis stops and the verdict carries ``too-much-work``.
    """
    budget = Budget()
    outer = Reporter(budget)
    inner = Reporter(budget)
    peeled = Peeled(None)
    shape: str | None = None
    commands: tuple[CommandView, ...] = ()
    script: Script | None = None
    try:
        peeled = peel(text, outer, form)
        if peeled.shell is not None:
            script, shape, infos = _analyse_shell(peeled.shell, policy, inner)
            if script is not None:
                commands = _views(script, infos, peeled.mapper, positioner(text))
        if shape is not None:
            _check_direction(shape, peeled, outer)
    except BudgetExceeded:
        script = shape = None
        outer.stop(
            Code.TOO_MUCH_WORK,
            0,
            f"the analysis used up its fixed budget of {budget.total} steps before the end, so "
            "the string is not proven safe: shorten or simplify it",
        )
    findings = _finalize(text, outer, inner, peeled.mapper, policy.ascii_only)
    ok = (
        peeled.shell is not None
        and script is not None
        and shape is not None
        and not outer.errors
        and not inner.errors
        and not any(f.severity is Severity.ERROR for f in findings)
    )
    return Verdict(
        ok=ok,
        text=text,
        shell=peeled.shell,
        layers=tuple(peeled.layers),
        shape=shape if ok else None,
        direction=peeled.direction,
        commands=commands,
        findings=findings,
    )


def _check_direction(shape: str, peeled: Peeled, rep: Reporter) -> None:
    """A save sent with ``migrate-incoming`` (or a restore with ``migrate``) is an error."""
    if peeled.direction is None:
        return
    wrong = (shape == "save" and peeled.direction == "incoming") or (
        shape == "restore" and peeled.direction == "outgoing"
    )
    if wrong:
        layer = peeled.layers[0]
        rep.add(
            Code.DIRECTION_MISMATCH,
            layer.start,
            f"a {shape} command sent with {layer.detail}: "
            + (
                "a save runs on the outgoing side ('migrate')"
                if shape == "save"
                else "a restore runs on the incoming side ('migrate-incoming')"
            ),
        )


def _analyse_shell(
    shell: str, policy: Policy, rep: Reporter
) -> tuple[Script | None, str | None, dict[int, WordInfo]]:
    if len(shell) > MAX_SHELL_BYTES // 4 and len(
        shell.encode("utf-8", "surrogateescape")
    ) > MAX_SHELL_BYTES:
        rep.add(
            Code.TOO_LONG,
            0,
            f"the shell string is longer than {MAX_SHELL_BYTES} bytes, the most Linux passes "
            "as one execve argument: QEMU could not even start the shell; shorten it "
            f"(only the first {MAX_SHELL_BYTES} characters were analysed)",
        )
        # it can never run, so bound the work: analyse the part a reviewer would read
        shell = shell[:MAX_SHELL_BYTES]
    tokens = lex(shell, rep)
    rep.budget.spend(len(tokens))
    if not (shell.isascii() and shell.isprintable()):
        scan_characters(shell, rep, _single_quoted(tokens))
    infos: dict[int, WordInfo] = {}
    for tok in tokens:
        if tok.kind is _WORD:
            word = tok.word
            assert word is not None
            # '{', '}' and '!' may be reserved words: analysed below if they are not
            if word.literal_text() not in _MAYBE_RESERVED:
                infos[id(word)] = analyze_word(word, rep)
    script = parse(tokens, rep)
    if script is None:
        return None, None, infos
    for word in iter_words(script):
        if id(word) not in infos:
            infos[id(word)] = analyze_word(word, rep)

    def info(word: Word) -> WordInfo:
        return infos[id(word)]

    newlines = [t.pos.offset for t in tokens if t.kind is _NEWLINE]
    return script, evaluate(script, policy, rep, info, newlines), infos


def _single_quoted(tokens: list[Token]) -> list[tuple[int, int]]:
    """The (start, end) offsets of the contents of every closed single quote, in order."""
    spans: list[tuple[int, int]] = []
    for tok in tokens:
        word = tok.word
        if word is None:
            continue
        for part in word.parts:
            if type(part) is SglQuoted and part.closed:
                start = part.pos.offset + 1
                spans.append((start, start + len(part.text)))
    return spans


def _views(
    script: Script,
    infos: dict[int, WordInfo],
    mapper: OffsetMap,
    pos: object,
) -> tuple[CommandView, ...]:
    to_pos = pos  # positioner of the original text
    out: list[CommandView] = []

    def redirect_view(r: Redirect, group: bool) -> RedirectView:
        fd = r.fd if r.fd is not None else _DEFAULT_FD.get(r.op, 1)
        return RedirectView(
            fd,
            r.op,
            infos[id(r.target)].value,
            to_pos(mapper(r.pos.offset)),  # type: ignore[operator]
            r.fd is not None,
            group,
        )

    def walk(lst: CommandList, inherited: tuple[RedirectView, ...], outer: int | None) -> None:
        for item in lst.items:
            for pipe in item.command.pipelines:
                for index, cmd in enumerate(pipe.commands):
                    stage = index if outer is None else outer
                    if isinstance(cmd, SimpleCommand):
                        own = tuple([redirect_view(r, False) for r in cmd.redirects])
                        out.append(
                            CommandView(
                                tuple([infos[id(w)].value for w in cmd.words]),
                                inherited + own if own else inherited,
                                to_pos(mapper(cmd.pos.offset)),  # type: ignore[operator]
                                tuple(
                                    [(a.name, infos[id(a.word)].value[len(a.name) + 1 :])
                                     for a in cmd.assignments]
                                ) if cmd.assignments else (),
                                stage,
                            )
                        )
                    else:
                        group = tuple([redirect_view(r, True) for r in cmd.redirects])
                        walk(cmd.body, inherited + group, stage)

    walk(script.body, (), None)
    return tuple(out)


_TEXT_CODES = frozenset({Code.CONTROL_CHARACTER, Code.NON_ASCII})
_STRICT = " (this policy is strict about text: printable ASCII only)"


def _finalize(
    text: str, outer: Reporter, inner: Reporter, mapper: OffsetMap, strict: bool = False
) -> tuple[Finding, ...]:
    pos = positioner(text)
    found: list[Finding] = []
    for rep, mapped in ((outer, False), (inner, True)):
        for (code, offset, length, message, severity, shells), count in zip(
            rep.items, rep.counts, strict=True
        ):
            info = CODE_INFO[code]
            if mapped:
                start = mapper(offset)
                length = max(mapper(offset + length) - start, 1)
            else:
                start = offset
            if strict and severity is Severity.WARNING and code in _TEXT_CODES:
                severity = Severity.ERROR
                message += _STRICT
            found.append(
                Finding(
                    code,
                    message,
                    pos(min(start, len(text))),
                    severity or info.severity,
                    info.shells if shells is None else shells,
                    length,
                    count,
                )
            )
    found.sort(key=lambda f: (f.position.offset, f.code.value))
    return tuple(found)

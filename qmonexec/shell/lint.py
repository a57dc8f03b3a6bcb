"""Template lint: every ``{{ }}`` slot must render as one whole literal word.

:func:`lint_templates` renders every ``*.j2`` template with hostile sentinel
values in every slot (quotes, ``$(...)``, backquotes, separators, globs,
braces, ``=``/``~``/``#`` at word start, blanks, redirection text) and checks
with the validator that:

* the rendered string has no lexical or word-level finding (no expansion,
  glob, separator, comment, unbalanced quote, ...);
* each sentinel arrives intact inside exactly one word per use, whose decoded
  value is the sentinel itself or ``key=`` followed by it (``if=SENTINEL``).

Templates are rendered with the project's own Jinja2 environment
(:func:`qmonexec.render.environment`).  ``{% if %}`` branches are covered by
rendering once with every slot set and once per slot left empty (``None``).
A template change that lets a slot escape its word fails this lint, and the
test suite runs it.  ``qmonexec lint-templates DIR...`` runs it on users'
templates, one finding per unsafe slot (:mod:`qmonexec.review.templates`).
"""

from __future__ import annotations

__all__ = ["LintProblem", "lint_templates", "sentinel_for"]

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .check import check
from .findings import Code
from .policy import Policy


@dataclass(frozen=True)
class LintProblem:
    """One problem: which template, which slot (or ``*``), and what went wrong."""

    template: str
    slot: str
    message: str

    def __str__(self) -> str:
        return f"{self.template}: {{{{ {self.slot} }}}}: {self.message}"


#: Findings that mean a slot escaped its word (everything but shape/policy codes).
ESCAPE_CODES = frozenset(
    {
        Code.UNTERMINATED_QUOTE, Code.UNTERMINATED_EXPANSION, Code.COMMENT,
        Code.LINE_CONTINUATION, Code.NON_POSIX_OPERATOR, Code.HERE_DOCUMENT, Code.FD_NUMBER,
        Code.PARAMETER_EXPANSION, Code.COMMAND_SUBSTITUTION, Code.ARITHMETIC_EXPANSION,
        Code.DOLLAR_SINGLE_QUOTE, Code.DOLLAR_DOUBLE_QUOTE, Code.DOLLAR_SIGN, Code.UNQUOTED_GLOB,
        Code.TILDE_EXPANSION, Code.BRACE_EXPANSION, Code.UNQUOTED_BRACE, Code.EQUALS_EXPANSION,
        Code.EMPTY_QUOTE_TRAP, Code.BOURNE_PIPE, Code.UNQUOTED_SPECIAL, Code.SYNTAX_ERROR,
        Code.EMPTY_COMMAND, Code.RESERVED_WORD, Code.TOO_DEEP, Code.COMMAND_SEPARATOR,
        Code.BACKGROUND, Code.NEGATION, Code.SUBSHELL, Code.ASSIGNMENT, Code.CONTROL_CHARACTER,
        Code.NON_ASCII, Code.NUL_CHARACTER, Code.DUPLICATE_REDIRECT,
    }
)  # fmt: skip

_HOSTILE = "'\"$(reboot)`reboot`${IFS};|&<>*?[a]{b,c}^!\\ 1<>/x #%"


def sentinel_for(slot: str) -> str:
    """The hostile value written into ``slot``: a unique tag plus every dangerous character."""
    return f"=~#<{slot}>{_HOSTILE}"


class _Sentinel(str):
    """A hostile str that also acts as a one-word list and has sentinel attributes."""

    __slots__ = ()

    def __iter__(self) -> Any:
        return iter((str(self),))

    def __getattr__(self, name: str) -> _Sentinel:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Sentinel(sentinel_for(f"{self.slot}.{name}"))

    @property
    def slot(self) -> str:
        return str.__str__(self).split("<", 1)[1].split(">", 1)[0]


def _slots(env: Any, source: str) -> list[str]:
    from jinja2 import meta

    return sorted(meta.find_undeclared_variables(env.parse(source)))


def _check_render(template: str, slot: str, text: str) -> list[LintProblem]:
    problems: list[LintProblem] = []
    verdict = check(text, Policy.command(), form="uri")
    for f in verdict.findings:
        if f.code in ESCAPE_CODES:
            problems.append(LintProblem(template, slot, f"rendered text has {f}: {text!r}"))
    words: list[str] = []
    for cmd in verdict.commands:
        words.extend(cmd.argv)
        words.extend(r.target for r in cmd.redirects if not r.group)
    groups = {id(r): r.target for cmd in verdict.commands for r in cmd.redirects if r.group}
    words.extend(groups.values())
    for tag in sorted(set(re.findall(r"=~#<([^>]*)>", text.replace("'\\''", "'")))):
        value = sentinel_for(tag)
        holders = [w for w in words if f"<{tag}>" in w]
        if not holders:
            problems.append(LintProblem(template, tag, f"the sentinel is in no word: {text!r}"))
        for w in holders:
            if not re.fullmatch(r"(?:[a-z]+=)?" + re.escape(value), w):
                problems.append(
                    LintProblem(
                        template,
                        tag,
                        f"the slot does not render as one whole word: got {w!r} in {text!r}",
                    )
                )
    return problems


def lint_templates(template_dir: str | Path | None = None) -> list[LintProblem]:
    """Lint every ``*.j2`` template in ``template_dir`` (default: qmonexec's own)."""
    from ..render import environment
    from ..render import template_dir as default_dir

    directory = Path(template_dir) if template_dir is not None else default_dir()
    env = environment(str(directory))
    problems: list[LintProblem] = []
    for path in sorted(directory.glob("*.j2")):
        name = path.name
        slots = _slots(env, path.read_text(encoding="utf-8"))
        template = env.get_template(name)
        full = {slot: _Sentinel(sentinel_for(slot)) for slot in slots}
        variants: list[tuple[str, dict[str, Any]]] = [("*", full)]
        variants += [(slot, {**full, slot: None}) for slot in slots]
        rendered = 0
        for label, context in variants:
            try:
                text = template.render(**context)
            except Exception:  # a slot that must not be empty: that variant does not exist
                if label == "*":
                    raise
                continue
            rendered += 1
            problems.extend(_check_render(name, label, text))
        if not slots:
            problems.append(LintProblem(name, "*", "the template has no slots (is it used?)"))
        assert rendered
    return problems

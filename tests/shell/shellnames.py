"""Ask each real shell which command names it handles itself (builtins, reserved words, aliases).

Used by ``test_builtins_enumerated.py`` to check the table in
:mod:`qmonexec.shell.builtins` against the shells installed here.  Two sources,
both from the shells themselves:

* the listings a shell has: bash ``compgen -b -k -a``; zsh's ``builtins``,
  ``reswords`` and ``aliases`` associative arrays (zsh/parameter) plus its
  precommand modifiers; ksh93 ``builtin`` (path-bound builtins come with
  their path) and ``alias``; busybox sh ``help``; mksh and yash ``alias``;
* a probe: every name-like token of the shell's binary (lower case, as every
  builtin of these shells is) is given to
  ``command -V`` in each shell, and whatever the shell answers is a builtin, a
  keyword or an alias (not an external file) is collected.  A builtin's name
  is necessarily a string in the binary that implements it.  posh's
  ``command -V`` says nothing about reserved words, so for posh every reserved
  word of the other shells and of its manual is run alone as a command: a
  reserved word is a syntax error there, any other word runs or is not found.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from functools import cache
from pathlib import Path

from tests.helpers.support import SHELLS, shell_argv

__all__ = ["LABELS", "enumerate_names", "probe_candidates"]

#: The ten shell setups (``sh`` is dash on Debian and is left out).
LABELS = tuple(label for label, *_rest in SHELLS if label != "sh")

#: zsh's precommand modifiers (zsh manual, "Precommand Modifiers").
ZSH_PRECOMMANDS = frozenset({"-", "builtin", "command", "exec", "nocorrect", "noglob"})
#: posh's reserved words as its manual lists them.
POSH_MANUAL_RESERVED = frozenset(
    {"case", "do", "done", "elif", "else", "esac", "fi", "for", "if", "in", "then", "until",
     "while", "{", "}", "!"}
)  # fmt: skip

_TOKEN = re.compile(rb"[A-Za-z0-9_.:\[\]{}!+%@,-]+")
_NAMEISH = re.compile(r"[a-z_.:\[\]{}!][a-z0-9_.:\[\]{}!+%@,-]*")
_PROBE = r"""
PATH=/nonexistent  # no file can answer for a name: only the shell itself (echo: a builtin)
while IFS= read -r n; do
  echo; echo "@@name $n"
  command -V "$n" 2>/dev/null && { echo; echo @@found; }
done < "$1"
"""


def _run(label: str, script: str, *args: str) -> str:
    argv = shell_argv(label)
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C"}
    done = subprocess.run([*argv, "-c", script, "probe", *args], capture_output=True,
                          timeout=600, check=False, env=env)  # fmt: skip
    return done.stdout.decode("latin-1")


@cache
def probe_candidates(label: str) -> tuple[str, ...]:
    """Every name-like token of the binary of shell setup ``label``."""
    path = shell_argv(label)[0]
    found: set[str] = set()
    data = Path(path).resolve().read_bytes()
    # yash keeps its names as wide strings: read the binary as UTF-32 too
    wide = data[: len(data) // 4 * 4].decode("utf-32-le", "replace").encode("ascii", "replace")
    for token in _TOKEN.findall(data) + _TOKEN.findall(wide):
        text = token.decode("ascii")
        # every tail too: the linker stores "exec" inside a longer string ending in it
        found.update(t for k in range(len(text)) if len(t := text[k:]) <= 24
                     and _NAMEISH.fullmatch(t))  # fmt: skip
    return tuple(sorted(found))


def _classify(answer: str) -> bool:
    """Whether ``command -V``'s answer names something the shell handles itself."""
    low = answer.lower()
    if "tracked alias" in low or "external command" in low or low.startswith("executable"):
        return False
    return bool(re.search(r"built-?in|keyword|reserved|alias|function", low))


def _probe(label: str, names: tuple[str, ...]) -> set[str]:
    with tempfile.NamedTemporaryFile("w", suffix=".names") as handle:
        handle.write("\n".join(names) + "\n")
        handle.flush()
        out = _run(label, _PROBE, handle.name)
    found: set[str] = set()
    for block in out.split("\n@@name ")[1:]:
        name, _nl, rest = block.partition("\n")
        answer, marker, _tail = rest.partition("\n@@found")
        if marker and _classify(answer.strip()):
            found.add(name)
    return found


def _words(text: str) -> set[str]:
    return {w for w in text.split() if w}


def _listed(label: str) -> set[str]:
    if label.startswith("bash"):
        return _words(_run(label, "compgen -b -k -a"))
    if label.startswith("zsh"):
        # emulate zsh: the (k) flag means nothing in sh emulation
        script = ("zmodload zsh/parameter; emulate zsh -c "
                  "'print -rl -- ${(k)builtins} ${(k)reswords} ${(k)aliases}'")
        return _words(_run(label, script)) | ZSH_PRECOMMANDS
    if label == "ksh93":
        aliases = {line.split("=", 1)[0] for line in _run(label, "alias").splitlines()}
        return _words(_run(label, "builtin")) | {a for a in aliases if a}
    if label == "busybox":
        text = _run(label, "help").split("Built-in commands:", 1)[-1]
        return {w for w in _words(text) if not set(w) <= {"-"}}
    if label in ("mksh", "yash"):
        return {line.split("=", 1)[0] for line in _run(label, "alias").splitlines() if line}
    return set()


def _posh_reserved(candidates: set[str]) -> set[str]:
    # each word alone as a command: a reserved word is a syntax error (or, for ``time``, a
    # complaint about the missing program); any other word runs or is not found
    script = r"""for n; do printf '\n@@name %s\n' "$n"; (eval "$n") </dev/null 2>&1 >/dev/null
done"""
    out = _run("posh", script, *sorted(w for w in candidates if _NAMEISH.fullmatch(w)))
    found: set[str] = set()
    for block in out.split("\n@@name ")[1:]:
        name, _nl, answer = block.partition("\n")
        if answer.strip() and "not found" not in answer:
            found.add(name)
    return found


@cache
def _reserved_elsewhere() -> frozenset[str]:
    words: set[str] = set(POSH_MANUAL_RESERVED)
    for label in ("bash", "zsh"):
        words |= _words(_run(label, "compgen -k" if label == "bash" else
                             "zmodload zsh/parameter; print -rl -- ${(k)reswords}"))  # fmt: skip
    for label in ("mksh", "ksh93", "yash", "dash"):
        script = r"""for n in "$@"; do printf '\n@@name %s\n' "$n"; command -V "$n"; done"""
        out = _run(label, script, *sorted(words | {"select", "function", "time", "[[", "]]"}))
        for block in out.split("\n@@name ")[1:]:
            name, _nl, answer = block.partition("\n")
            if re.search(r"keyword|reserved", answer):
                words.add(name)
    return frozenset(words)


def enumerate_names(label: str) -> frozenset[str]:
    """The builtins, reserved words and aliases of shell setup ``label``, as the shell says."""
    found = _listed(label) | _probe(label, probe_candidates(label))
    if label == "posh":
        found |= _posh_reserved(set(_reserved_elsewhere()))
    return frozenset(found)

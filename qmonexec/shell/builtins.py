"""Command names the shells handle themselves: builtins, reserved words, aliases.

QEMU hands an ``exec:`` string to ``/bin/sh``, which may be any of ten common
shell setups.  A command name that one of them treats as a builtin, a reserved
word, a precommand modifier or a predefined alias never reaches a program: the
shell itself interprets the arguments, and many such names run code
(``eval``, ``trap``, ``emulate sh -c``, ``compgen -C``), evaluate subscripts
(``read 'a[$(cmd)]'``) or run their arguments as a command (``exec``,
``noglob``, ``builtin``).  qmonexec therefore never accepts these names as a
program, not even when a caller adds them; only :data:`INERT` is exempt.

How :data:`SHELL_NAMES` was enumerated (Debian 12: dash 0.5.12, bash 5.2,
busybox 1.35, mksh R59, ksh93u+m 1.0.4, zsh 5.9, yash 2.52, posh 0.14), and
how ``tests/shell/test_builtins_enumerated.py`` re-checks it on every run:

* listings the shells have: bash ``compgen -b -k -a`` (also ``--posix``);
  zsh's ``builtins``, ``reswords`` and ``aliases`` associative arrays
  (zsh/parameter) and its precommand modifiers ``- builtin command exec
  nocorrect noglob``; ksh93 ``builtin``, which lists builtins bound to a path
  (``/opt/ast/bin/cat``) with that path, and ``alias``; busybox sh ``help``;
  mksh and yash ``alias``;
* a probe: every name-like string in the shell's binary (as bytes and, for
  yash, as wide characters) is given to ``command -V`` with an empty ``PATH``;
  whatever the shell says is a builtin, keyword or alias is recorded;
* posh says nothing about reserved words, so every reserved word of the
  others is run alone in posh: a reserved word is a syntax error there.

A name with a ``/`` is never looked up as a builtin, except the paths ksh93
binds builtins to: those are listed as paths and refused at that path only.
"""

from __future__ import annotations

__all__ = [
    "ARITHMETIC_BUILTINS",
    "INERT", "NEVER_PROGRAMS",
    "RUNS_CODE",
    "SHELL_NAMES",
    "shells_handling",
    "where_handled",
]

from collections.abc import Mapping


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


_BASH = _names(
    "! . : [ [[ ]] alias bg bind break builtin caller case cd command compgen complete "
    "compopt continue coproc declare dirs disown do done echo elif else enable esac eval exec "
    "exit export false fc fg fi for function getopts hash help history if in jobs kill let "
    "local logout mapfile popd printf pushd pwd read readarray readonly return select set "
    "shift shopt source suspend test then time times trap true type typeset ulimit umask "
    "unalias unset until wait while { }"
)

#: Per shell setup: the names it handles itself (builtins, reserved words, aliases).
SHELL_NAMES: Mapping[str, frozenset[str]] = {
    "dash": _names(
        "! . : [ alias bg break case cd chdir command continue do done echo elif else esac eval "
        "exec exit export false fg fi for getopts hash if in jobs kill local printf pwd read "
        "readonly return set shift test then times trap true type ulimit umask unalias unset "
        "until wait while { }"
    ),
    "bash": _BASH,
    "bash-posix": _BASH,  # bash --posix reports the same names
    "busybox": _names(
        "! . : [ [[ alias bg break case cd chdir command continue do done echo elif else esac "
        "eval exec exit export false fg fi for function getopts hash help history if in jobs kill "
        "let local printf pwd read readonly return set shift source test then times trap true "
        "type ulimit umask unalias unset until wait while { }"
    ),
    "mksh": _names(
        "! . : [ [[ alias autoload bg bind break builtin case cd chdir command continue do done "
        "echo elif else esac eval exec exit export false fc fg fi for function functions getopts "
        "hash history if in integer jobs kill let local login nameref nohup print pwd r read "
        "readonly realpath rename return select set shift source suspend test then time times "
        "trap true type typeset ulimit umask unalias unset until wait whence while { }"
    ),
    "ksh93": _names(
        "! . /opt/ast/bin/basename /opt/ast/bin/cat /opt/ast/bin/cp /opt/ast/bin/cut "
        "/opt/ast/bin/dirname /opt/ast/bin/getconf /opt/ast/bin/ln /opt/ast/bin/mktemp "
        "/opt/ast/bin/mv : [ [[ alias autoload bg break builtin case cd command compound continue "
        "disown do done echo elif else enum esac eval exec exit export false fc fg fi float for "
        "function functions getopts hash hist if in integer jobs kill let nameref namespace print "
        "printf pwd read readonly redirect return select set shift sleep source stop suspend test "
        "then time times trap true type typeset ulimit umask unalias unset until wait whence "
        "while { }"
    ),
    "zsh": _names(
        "! - . : [ [[ alias autoload bg bindkey break builtin bye case cd chdir command compadd "
        "comparguments compcall compctl compdescribe compfiles compgroups compquote compset "
        "comptags comptry compvalues continue coproc declare dirs disable disown do done echo "
        "echotc echoti elif else emulate enable end esac eval exec exit export false fc fg fi "
        "float for foreach function functions getln getopts hash history if integer jobs kill let "
        "limit local log logout nocorrect noglob popd print printf private pushd pushln pwd r "
        "read readonly rehash repeat return run-help sched select set setopt shift source suspend "
        "test then time times trap true ttyctl type typeset ulimit umask unalias unfunction "
        "unhash unlimit unset unsetopt until vared wait whence where which which-command while "
        "zcompile zformat zle zmodload zparseopts zregexparse zstyle { }"
    ),
    "zsh-sh": _names(
        "! - . : [ [[ alias autoload bg break builtin bye case cd chdir command continue coproc "
        "declare dirs disable disown do done echo elif else emulate enable end esac eval exec "
        "exit export false fc fg fi float for foreach function functions getln getopts hash "
        "history if integer jobs kill let local logout nocorrect noglob popd print printf pushd "
        "pushln pwd r read readonly rehash return run-help select set setopt shift source suspend "
        "test then time times trap true ttyctl type typeset ulimit umask unalias unfunction "
        "unhash unset unsetopt until wait whence where which which-command while zcompile "
        "zmodload { }"
    ),
    "yash": _names(
        "! . : [ [[ alias array bg bindkey break case cd command complete continue dirs disown do "
        "done echo elif else esac eval exec exit export false fc fg fi for function getopts hash "
        "help history if in jobs kill local popd printf pushd pwd read readonly return set shift "
        "suspend test then times trap true type typeset ulimit umask unalias unset until wait "
        "while { }"
    ),
    "posh": _names(
        "! . : [ break builtin case cd command continue do done echo elif else esac eval exec "
        "exit export false fi for getopts if in local pwd read readonly return set shift test "
        "then time times trap true umask unset until wait while { }"
    ),
}

#: Builtins shown inert: run in every setup with hostile arguments ('$(cmd)', 'a[$(cmd)]',
#: '-c' 'cmd', '-v' 'a[$(cmd)]', ...) they ran nothing (``test_builtins_enumerated.py``
#: repeats that).  ``:`` is needed by the stage-status save form.
INERT = frozenset({":", "true", "false", "echo"})

#: Names never accepted as a program: every name of :data:`SHELL_NAMES` but the inert ones.
NEVER_PROGRAMS = frozenset().union(*SHELL_NAMES.values()) - INERT

#: Builtins that run their arguments as shell code (named in refusals).
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


def shells_handling(name: str) -> tuple[str, ...]:
    """The shell setups that handle ``name`` themselves instead of running a program."""
    return tuple(label for label, names in SHELL_NAMES.items() if name in names)


def where_handled(name: str) -> str:
    """Which shells handle ``name`` themselves, in words ("every common shell" or a list)."""
    shells = shells_handling(name)
    return "every common shell" if len(shells) == len(SHELL_NAMES) else ", ".join(shells)

"""The shell language's fixed vocabulary: reserved words and redirection operators.

Kept apart from the lexer and the AST so that the fast path can use it
without loading either.
"""

from __future__ import annotations

__all__ = ["REDIRECTIONS", "RESERVED_WORDS"]

#: Redirection operators the lexer produces as :attr:`Kind.REDIRECT` tokens.
#: ``<<`` and ``<<-`` (here-documents) are recognised so that the parser can
#: refuse them.
REDIRECTIONS = frozenset({"<", ">", ">>", "<>", ">|", "<&", ">&", "<<", "<<-"})

#: Words that start or belong to compound commands in some shell when they
#: stand in command position; qmonexec never produces them.  (``{``, ``}`` and
#: ``!`` are reserved too, but only as an unquoted word on its own: the parser
#: handles them.)
RESERVED_WORDS = frozenset(
    {
        "if", "then", "else", "elif", "fi", "do", "done", "case", "esac", "while", "until",
        "for", "in", "function", "select", "[[", "]]", "time", "coproc", "repeat", "foreach",
        "nocorrect", "end",
    }
)  # fmt: skip

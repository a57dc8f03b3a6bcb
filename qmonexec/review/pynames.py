"""Which values a simple local name of Python source can hold, or that review cannot tell.

:class:`Names` indexes a module once: for every scope (the module, each
function, lambda and class body) the bindings of each name, and for every
name read, the scope it is read in.  :meth:`Names.values` answers for one
read: the value expressions of every assignment to that name in that same
scope, when each binding is a plain ``name = value`` (or ``name: T = value``).
It answers ``None`` (review cannot tell, so the reader fails closed) when the
name is not assigned in the scope it is read in (a parameter, a module name
read inside a function, a name of an enclosing function) or when any binding
of it there is of another kind: augmented assignment, a ``for``/``with``/
``except``/``import``/``match``/comprehension target, a tuple target,
``del``, a walrus, a ``def``/``class`` of that name, a ``global``/``nonlocal``
declaration, or any binding of that name in a function or class nested in
the scope.  Comprehensions are not scopes of their own here: their targets
count as bindings of the enclosing scope, which fails closed.
"""

from __future__ import annotations

__all__ = ["Names"]

import ast
from dataclasses import dataclass, field

#: A binding review cannot follow (anything but ``name = value``).
_OTHER = None

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
#: The node types that bind a name other than through an ``ast.Name`` target.
_SPECIAL = frozenset({
    ast.Assign, ast.AnnAssign, *_FUNCTIONS, ast.Lambda, ast.ClassDef, ast.Global, ast.Nonlocal,
    ast.Import, ast.ImportFrom, ast.ExceptHandler, ast.MatchAs, ast.MatchStar, ast.MatchMapping,
})  # fmt: skip


@dataclass
class _Scope:
    parent: _Scope | None
    bound: dict[str, list[ast.expr | None]] = field(default_factory=dict)
    children: list[_Scope] = field(default_factory=list)
    _inner: set[str] | None = None

    def bind(self, name: str, value: ast.expr | None) -> None:
        self.bound.setdefault(name, []).append(value)

    def inner(self) -> set[str]:
        """Names bound or declared in any scope nested in this one."""
        if self._inner is None:
            names: set[str] = set()
            for child in self.children:
                names |= child.bound.keys() | child.inner()
            self._inner = names
        return self._inner


def _arguments(args: ast.arguments) -> list[ast.arg]:
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    return every + [a for a in (args.vararg, args.kwarg) if a is not None]


class _Indexer:
    """One walk of the tree, recording bindings per scope and the scope of each read."""

    def __init__(self) -> None:
        self.module = _Scope(None)
        self.reads: dict[int, _Scope] = {}

    def run(self, tree: ast.AST) -> None:
        stack: list[tuple[ast.AST, _Scope]] = [(tree, self.module)]
        reads, special = self.reads, _SPECIAL
        while stack:
            node, scope = stack.pop()
            if isinstance(node, ast.Name):
                if isinstance(node.ctx, ast.Load):
                    reads[id(node)] = scope
                else:
                    scope.bind(node.id, _OTHER)
                continue
            if type(node) in special and self.enter(node, scope, stack) is not None:
                continue
            for name in node._fields:
                value = getattr(node, name, None)
                if isinstance(value, list):
                    stack.extend((child, scope) for child in value if isinstance(child, ast.AST))
                elif isinstance(value, ast.AST):
                    stack.append((value, scope))

    def new_scope(self, parent: _Scope) -> _Scope:
        scope = _Scope(parent)
        parent.children.append(scope)
        return scope

    def enter(
        self, node: ast.AST, scope: _Scope, stack: list[tuple[ast.AST, _Scope]]
    ) -> _Scope | None:
        """Record what ``node`` binds; push its children itself (returning the scope) when
        they are not all in ``scope``, else return ``None`` for the generic walk."""
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            return self.assign(node, scope, stack)
        if isinstance(node, (*_FUNCTIONS, ast.Lambda, ast.ClassDef)):
            return self.define(node, scope, stack)
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            for name in node.names:
                scope.bind(name, _OTHER)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                scope.bind(alias.asname or alias.name.split(".", 1)[0], _OTHER)
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)):
            if node.name:
                scope.bind(node.name, _OTHER)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            scope.bind(node.rest, _OTHER)
        return None

    def assign(
        self, node: ast.Assign | ast.AnnAssign, scope: _Scope,
        stack: list[tuple[ast.AST, _Scope]],
    ) -> _Scope:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            if isinstance(target, ast.Name):
                if node.value is not None:  # ``x: T`` alone binds nothing
                    scope.bind(target.id, node.value)
            else:
                stack.append((target, scope))
        for child in (node.value, getattr(node, "annotation", None)):
            if child is not None:
                stack.append((child, scope))
        return scope

    def define(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef,
        scope: _Scope, stack: list[tuple[ast.AST, _Scope]],
    ) -> _Scope:
        inner = self.new_scope(scope)
        outside: list[ast.AST] = []
        inside: list[ast.AST] = []
        if isinstance(node, ast.ClassDef):
            scope.bind(node.name, _OTHER)
            outside += [*node.decorator_list, *node.bases, *node.keywords]
            inside += node.body
        else:
            if not isinstance(node, ast.Lambda):
                scope.bind(node.name, _OTHER)
                outside += [*node.decorator_list, *([node.returns] if node.returns else [])]
            args = node.args
            outside += [*args.defaults, *(d for d in args.kw_defaults if d is not None)]
            for arg in _arguments(args):
                inner.bind(arg.arg, _OTHER)
                if arg.annotation is not None:
                    outside.append(arg.annotation)
            inside += node.body if isinstance(node.body, list) else [node.body]
        stack += [(child, scope) for child in outside]
        stack += [(child, inner) for child in inside]
        return inner


class Names:
    """The assignments of simple local names in one module (see the module docstring)."""

    def __init__(self, tree: ast.AST) -> None:
        indexer = _Indexer()
        indexer.run(tree)
        self._reads = indexer.reads

    def values(self, node: ast.Name) -> list[ast.expr] | None:
        """The value of every assignment to the name read at ``node``, in the scope it is
        read in, or ``None`` when any binding there is not ``name = value`` (or none is)."""
        scope = self._reads.get(id(node))
        if scope is None or node.id in scope.inner():
            return None
        bound = scope.bound.get(node.id)
        if not bound or any(value is None for value in bound):
            return None
        return [value for value in bound if value is not None]

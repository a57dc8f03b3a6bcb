"""Review Python source: the shell strings a program builds, found with :mod:`ast`.

Checked, each once (the outermost expression):

* string expressions (literals, f-strings, ``%`` and ``.format`` templates,
  ``+`` concatenations) that are commands: the text starts with ``exec:``, holds
  a quoted ``"exec:`` (inside JSON or HMP quotes), is a QMP ``"execute"`` of a
  ``"migrate..."`` command or an HMP ``migrate`` line (docstrings, prose
  that mentions an exec: URI, patterns given to :mod:`re` and raw strings with
  regex groups such as ``(?P<`` are not commands);
* the ``uri`` of calls named ``migrate``/``migrate_incoming`` (first
  positional argument or keyword) and the ``uri`` keyword of calls whose
  first argument is ``"migrate"``/``"migrate-incoming"``;
* ``"uri"`` under ``"arguments"`` of a dict whose ``"execute"`` is
  ``"migrate"``/``"migrate-incoming"``, and the ``"command-line"`` of a
  ``"human-monitor-command"`` (read as HMP).

An interpolated value (or a ``uri`` that is no string expression) is reported
as ``unquoted-interpolation`` unless it is a call to qmonexec's quoting or
builders (``quote_word``, ``quote_words``, ``save_uri``, ``restore_uri``,
``command_uri``, ``build_*(...).uri``).  A simple local name is followed
(:mod:`.pynames`): when every assignment to it in the scope it is read in is
such a call (all of one kind), it is trusted like the call; when its one
assignment is a string expression, that expression is checked in its place
(findings point at where it is written); anything else is unknown.  The
whole string is checked with a stand-in for each value (:mod:`.standins`),
and messages show the value's source expression (``'{path}'``), never the
stand-in.  Positions are exact, inside f-strings too (on every Python version).
"""

from __future__ import annotations

__all__ = ["review_python"]

import ast
import re
from dataclasses import dataclass, field, replace

from ..shell import Policy, check
from .catalogue import ReviewCode
from .model import Hole, ReviewFinding, SourceMap, findings_from, make_finding
from .pynames import Names
from .pystrings import SourceText, fstring_points, literal_points
from .standins import StandIns

_MIGRATE_CALLS = frozenset({"migrate", "migrate_incoming", "migrate-incoming"})
_MIGRATE_COMMANDS = frozenset({"migrate", "migrate-incoming"})
_QUOTING = frozenset({"quote_word", "quote_words"})
_BUILDERS = {"save_uri": "save", "restore_uri": "restore", "command_uri": "command"}
_BUILT = {"build_save": "save", "build_restore": "restore", "build_command": "command"}
_PERCENT = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?(?P<conv>.)"
)
_FIELD = re.compile(r"\{\{|\}\}|\{(?P<name>[^{}!:]*)(?:![rsa])?(?::[^{}]*)?\}")


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _built(node: ast.expr) -> str | None:
    """The kind of URI a ``build_*`` call builds (its result's ``.uri``), or ``None``."""
    if not isinstance(node, ast.Call):
        return None
    name = _name(node.func)
    return _BUILT.get(name, "command") if name.startswith("build_") else None


def _trusted(node: ast.expr) -> str | None:
    """What a call to qmonexec's quoting or builders gives (``word`` or a URI kind), or
    ``None`` for any other expression."""
    if isinstance(node, ast.Attribute) and node.attr == "uri":
        return _built(node.value)  # build_save(spec).uri
    if not isinstance(node, ast.Call):
        return None
    name = _name(node.func)
    return "word" if name in _QUOTING else _BUILDERS.get(name)


@dataclass
class _Text:
    """A string expression flattened: text with stand-ins, positions, holes, raw values."""

    text: list[str] = field(default_factory=list)
    points: list[tuple[int, int]] = field(default_factory=list)
    holes: list[Hole] = field(default_factory=list)
    values: list[ast.expr] = field(default_factory=list)
    literal: list[str] = field(default_factory=list)
    inlined: list[ast.expr] = field(default_factory=list)
    stand_ins: StandIns = field(default_factory=StandIns)

    def add(self, text: str, points: list[tuple[int, int]]) -> None:
        self.text.append(text)
        self.points += points
        self.literal.append(text)

    def hole(self, stand_in: str, at: tuple[int, int]) -> None:
        start = len(self.points)
        self.text.append(stand_in)
        self.points += [at] * len(stand_in)
        self.holes.append(Hole(start, start + len(stand_in)))


class _Flattener:
    def __init__(self, source: SourceText, tree: ast.AST, text: str) -> None:
        self.source, self.tree, self.text = source, tree, text
        self._names: Names | None = None
        self._written: dict[str, bool] = {}
        self.active: set[int] = set()  # assignments being followed (a cycle fails closed)

    def written(self, name: str) -> bool:
        """Whether the source may hold ``name = ...`` (a quick test before indexing names:
        it can only say yes too often, never no for a plain assignment)."""
        found = self._written.get(name)
        if found is None:
            pattern = r"(?<![\w.])" + re.escape(name) + r"\s*(?::[^\n=]*)?=(?!=)"
            found = self._written[name] = re.search(pattern, self.text) is not None
        return found

    def assigned(self, node: ast.Name) -> list[ast.expr] | None:
        """The values assigned to the local name read at ``node`` (see :mod:`.pynames`)."""
        if not self.written(node.id):
            return None
        if self._names is None:
            self._names = Names(self.tree)
        values = self._names.values(node)
        if values is None or any(id(v) in self.active for v in values):
            return None
        return values

    def trusted(self, node: ast.expr) -> str | None:
        """What qmonexec's quoting or builder gave ``node`` (directly or through a local name
        every assignment of which is such a call, all of one kind), or ``None``."""
        if isinstance(node, ast.Attribute) and node.attr == "uri" and isinstance(
            node.value, ast.Name
        ):
            values = self.assigned(node.value)
            kinds = {_built(v) for v in values} if values else {None}
        elif isinstance(node, ast.Name):
            values = self.assigned(node)
            if not values:
                return None
            self.active.update(map(id, values))
            kinds = {self.trusted(v) for v in values}
            self.active.difference_update(map(id, values))
        else:
            return _trusted(node)
        return kinds.pop() if len(kinds) == 1 else None

    def hole(self, node: ast.expr, out: _Text, numeric: bool = False,
             at: tuple[int, int] | None = None) -> None:
        """Append a stand-in for the value ``node``; a value review cannot see is noted."""
        source = self.source.segment(node)
        kind = None if numeric else self.trusted(node)
        if numeric:
            stand_in = out.stand_ins.number(source)
        elif kind is None or kind == "word":
            stand_in = out.stand_ins.word(source)
        else:
            stand_in = out.stand_ins.uri(kind, source)
        out.hole(stand_in, at or self.source.start(node))
        if kind is None and not numeric:
            out.values.append(node)

    def name(self, node: ast.Name, out: _Text) -> bool:
        """Flatten the one string expression assigned to a local name (see :mod:`.pynames`)."""
        values = self.assigned(node)
        if values is None or len(values) != 1:
            return False
        value = values[0]
        self.active.add(id(value))
        found = self.flatten(value, out)  # appends nothing when it is false
        self.active.discard(id(value))
        if found:
            out.inlined.append(value)
        return found

    def inline(self, part: ast.FormattedValue, out: _Text) -> bool:
        """Flatten a replacement field that is a string expression as it is (no ``!r``, no
        format spec); false when it is not one."""
        plain = part.conversion == -1 and part.format_spec is None
        return plain and self.flatten(part.value, out)

    def flatten(self, node: ast.expr, out: _Text) -> bool:
        """Append ``node``'s pieces to ``out``; false when it is not a string expression."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.add(node.value, literal_points(self.source, node))
            return True
        if isinstance(node, ast.Name):
            return self.name(node, out)
        if isinstance(node, ast.JoinedStr):
            where = fstring_points(self.source, node)
            for part, points in zip(node.values, where, strict=True):
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    out.add(part.value, points)
                elif isinstance(part, ast.FormattedValue) and not self.inline(part, out):
                    self.hole(part.value, out, at=points[0])
            return True
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            if not (self.stringish(node.left) or self.stringish(node.right)):
                return False
            for side in (node.left, node.right):
                if not self.flatten(side, out):
                    self.hole(side, out)
            return True
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            return self._percent(node, out)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            return self._format(node, out)
        return False

    def stringish(self, node: ast.expr) -> bool:
        return self.flatten(node, _Text())

    def _percent(self, node: ast.BinOp, out: _Text) -> bool:
        left = node.left
        if not (isinstance(left, ast.Constant) and isinstance(left.value, str)):
            return False
        right = node.right
        args = list(right.elts) if isinstance(right, ast.Tuple) else [right]
        keyed = {
            k.value: v for k, v in zip(right.keys, right.values, strict=True)
            if isinstance(k, ast.Constant)
        } if isinstance(right, ast.Dict) else {}  # fmt: skip
        points = literal_points(self.source, left)
        value, pos, k = left.value, 0, 0
        for m in _PERCENT.finditer(value):
            out.add(value[pos : m.start()], points[pos : m.start()])
            pos = m.end()
            conv = m.group("conv")
            if conv == "%":
                out.add("%", points[m.start() : m.start() + 1])
                continue
            key = m.group("key")
            arg = keyed.get(key) if key is not None else (args[k] if k < len(args) else None)
            k += key is None
            plain = arg is not None and m.group(0) in ("%s", f"%({key})s")
            if not (plain and arg is not None and self.flatten(arg, out)):
                self.hole(arg if arg is not None else right, out, numeric=conv in "diouxXeEfFgG")
        out.add(value[pos:], points[pos:])
        return True

    def _format(self, node: ast.Call, out: _Text) -> bool:
        func = node.func
        assert isinstance(func, ast.Attribute)
        base = func.value
        if func.attr != "format" or not (
            isinstance(base, ast.Constant) and isinstance(base.value, str)
        ):
            return False
        keywords = {kw.arg: kw.value for kw in node.keywords if kw.arg is not None}
        points = literal_points(self.source, base)
        value, pos, auto = base.value, 0, 0
        for m in _FIELD.finditer(value):
            out.add(value[pos : m.start()], points[pos : m.start()])
            pos = m.end()
            if m.group(0) in ("{{", "}}"):
                out.add(m.group(0)[0], points[m.start() : m.start() + 1])
                continue
            whole = m.group("name")
            name = whole.split(".", 1)[0].split("[", 1)[0]
            if name == "":
                name, auto = str(auto), auto + 1
            arg = node.args[int(name)] if name.isdigit() and int(name) < len(node.args) else None
            arg = keywords.get(name, arg)
            plain = m.group(0) == "{" + whole + "}" and not any(c in whole for c in ".[")
            if not (plain and arg is not None and self.flatten(arg, out)):
                self.hole(arg if arg is not None else node, out)
        out.add(value[pos:], points[pos:])
        return True


def _call_target(node: ast.Call) -> tuple[ast.expr, str] | None:
    """The uri (or HMP command line) a call passes, with the form to read it in."""
    name = _name(node.func)
    first = node.args[0] if node.args else None
    command = first.value if isinstance(first, ast.Constant) else None
    kw = {k.arg: k.value for k in node.keywords if k.arg}
    if name in _MIGRATE_CALLS:
        value = kw.get("uri", first)
        return (value, "uri") if value is not None else None
    if command in _MIGRATE_COMMANDS and "uri" in kw:
        return (kw["uri"], "uri")
    if command == "human-monitor-command" and "command_line" in kw:
        return (kw["command_line"], "hmp")
    return None


@dataclass
class _Scan:
    """One pass over the tree: targets, each node's parent, and constants that hold a command."""

    targets: list[tuple[ast.expr, str]] = field(default_factory=list)
    parents: dict[int, ast.AST] = field(default_factory=dict)
    commands: list[ast.Constant] = field(default_factory=list)


_CLIMB = (ast.JoinedStr, ast.BinOp, ast.Attribute, ast.Call)


def _scan(tree: ast.AST) -> _Scan:
    scan = _Scan()
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str) and _mentions_command(node.value):
                scan.commands.append(node)
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring, or a string statement: text, never sent anywhere
        if isinstance(node, ast.Call):
            found = _call_target(node)
            if found is not None:
                scan.targets.append(found)
        elif isinstance(node, ast.Dict):
            scan.targets += _dict_target(node)
        climbs = isinstance(node, _CLIMB)
        for name in node._fields:
            value = getattr(node, name, None)
            children = value if isinstance(value, list) else (value,)
            for child in children:
                if isinstance(child, ast.AST):
                    if climbs:  # only a string expression's parts need their parent
                        scan.parents[id(child)] = node
                    stack.append(child)
    return scan


_RE_FUNCTIONS = frozenset(
    {"compile", "match", "fullmatch", "search", "sub", "subn", "split", "findall", "finditer"}
)


def _is_pattern(node: ast.expr, parents: dict[int, ast.AST]) -> bool:
    """Whether ``node`` is the pattern given to a ``re`` function (a regex, not a command)."""
    call = parents.get(id(node))
    return (
        isinstance(call, ast.Call)
        and bool(call.args)
        and call.args[0] is node
        and isinstance(call.func, ast.Attribute)
        and call.func.attr in _RE_FUNCTIONS
        and isinstance(call.func.value, ast.Name)
        and call.func.value.id == "re"
    )


def _outermost(node: ast.expr, parents: dict[int, ast.AST]) -> ast.expr:
    """The largest string expression ``node`` is a literal part of."""
    while True:
        parent = parents.get(id(node))
        if isinstance(parent, ast.JoinedStr) or (
            isinstance(parent, ast.BinOp)
            and (isinstance(parent.op, ast.Add) or (isinstance(parent.op, ast.Mod)
                                                    and parent.left is node))
        ):
            node = parent
            continue
        if isinstance(parent, ast.Attribute) and parent.attr == "format":
            call = parents.get(id(parent))
            if isinstance(call, ast.Call) and call.func is parent:
                node = call
                continue
        return node


def _get(node: ast.Dict, key: str) -> ast.expr | None:
    for k, v in zip(node.keys, node.values, strict=True):
        if isinstance(k, ast.Constant) and k.value == key:
            return v
    return None


def _dict_target(node: ast.Dict) -> list[tuple[ast.expr, str]]:
    execute = _get(node, "execute")
    args = _get(node, "arguments")
    if not isinstance(execute, ast.Constant) or not isinstance(args, ast.Dict):
        return []
    if execute.value in _MIGRATE_COMMANDS:
        value, form = _get(args, "uri"), "uri"
    elif execute.value == "human-monitor-command":
        value, form = _get(args, "command-line"), "hmp"
    else:
        return []
    return [(value, form)] if value is not None else []


def _mentions_command(literal: str) -> bool:
    """Whether a string constant may be part of a command (cheap test before the real one)."""
    return "exec:" in literal or ('"execute"' in literal and '"migrate' in literal)


_HMP_LINE = re.compile(r"\s*migrate(?:_incoming)?\s")


def _is_command(text: str) -> bool:
    """Whether a string's text (placeholders for values) is a command rather than prose.

    An ``exec:`` URI (the text starts with ``exec:``), a QMP migration command (JSON with
    ``"execute"`` and ``"migrate...``), an HMP ``migrate``/``migrate_incoming`` line, or any
    text holding a quoted ``"exec:`` (a URI inside JSON or HMP quotes).  A sentence that
    mentions an exec: URI is none of these.
    """
    head = text.lstrip()
    if head.rstrip() in ("exec:", "'exec:", '"exec:'):
        return False  # the prefix alone, as in uri.startswith("exec:")
    return (
        head.startswith(("exec:", "'exec:", '"exec:'))
        or '"exec:' in text
        or (head.startswith("{") and '"execute"' in text and '"migrate' in text)
        or (_HMP_LINE.match(text) is not None and "exec:" in text)
    )


class _Reviewer:
    def __init__(self, name: str, text: str, policy: Policy) -> None:
        self.name, self.text, self.policy = name, text, policy
        self.source = SourceText(text)
        self.flat: _Flattener
        self.done: set[int] = set()
        self.out: list[ReviewFinding] = []

    def value(self, node: ast.expr, form: str) -> None:
        for sub in ast.walk(node):
            self.done.add(id(sub))
        text = _Text()
        if not self.flat.flatten(node, text):
            if self.flat.trusted(node) is None:
                self.interpolation(node, "the value passed here is not a string review can see")
            return
        for inlined in text.inlined:  # checked here, in place: not again on its own
            self.done.update(id(sub) for sub in ast.walk(inlined))
        joined = "".join(text.text)
        for hole in text.values:
            self.interpolation(hole, "this value is interpolated without qmonexec's quoting")
        if not "".join(text.literal).strip():
            return  # nothing written literally: only the values, reported above
        where = SourceMap(self.name, text.points, text.holes)
        rename = text.stand_ins.rename
        self.out += [
            replace(f, message=rename(f.message))
            for f in findings_from(check(joined, self.policy, form=form), where)
        ]

    def is_raw_regex(self, node: ast.Constant) -> bool:
        """Whether ``node`` is a raw string with regex group syntax (``(?:``, ``(?P<``)."""
        return "(?" in str(node.value) and self.source.segment(node)[:1] in ("r", "R")

    def interpolation(self, node: ast.expr, what: str) -> None:
        shown = self.source.segment(node) or "?"
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        message = (
            f"{what}: {shown!r} can carry any shell text into the command; quote it with "
            "qmonexec.quoting.quote_word() or build the URI with qmonexec.build.save_uri()"
        )
        self.out.append(make_finding(
            self.name, self.source.start(node), self.source.end(node),
            ReviewCode.UNQUOTED_INTERPOLATION.value, message,
        ))  # fmt: skip

    def run(self, tree: ast.AST) -> list[ReviewFinding]:
        self.flat = _Flattener(self.source, tree, self.text)
        scan = _scan(tree)
        for target, form in scan.targets:
            if id(target) not in self.done:
                self.value(target, form)
        for constant in scan.commands:
            if self.is_raw_regex(constant):
                continue
            node = _outermost(constant, scan.parents)
            if id(node) in self.done or _is_pattern(node, scan.parents):
                continue
            text = _Text()
            if self.flat.flatten(node, text) and _is_command("".join(text.text)):
                self.value(node, "auto")
        return list(dict.fromkeys(self.out))  # a name's string checked at each use: report once


def review_python(name: str, text: str, policy: Policy) -> list[ReviewFinding]:
    """Check every shell string the Python source ``text`` (file ``name``) builds."""
    if "exec:" not in text and "migrate" not in text and "human-monitor" not in text:
        return []
    try:
        tree = ast.parse(text, filename=name)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None) or 1
        column = getattr(exc, "offset", None) or 1
        return [make_finding(name, (line, column), (line, column),
                             ReviewCode.UNREADABLE_SOURCE.value,
                             f"the file is not valid Python: {getattr(exc, 'msg', exc)}")]
    return _Reviewer(name, text, policy).run(tree)

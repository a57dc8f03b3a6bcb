"""Review files and directories: pick the reader for each file, apply suppressions, gate.

:func:`review_paths` reads every path in order (``-`` is standard input;
a directory is walked recursively, in sorted order, taking Python, JSON,
JSON Lines and shell files and skipping hidden directories); each file is
read by the reader for its kind (:func:`kind_of`), its suppressions are
applied (unless ``no_ignore``), and the findings are returned sorted by
position.  :func:`failing` says whether findings fail a ``--fail-on`` gate.
"""

from __future__ import annotations

__all__ = ["KINDS", "Report", "failing", "kind_of", "review_paths", "review_text", "visible"]

import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..shell import Policy
from . import suppressions
from .catalogue import FAILING_ALWAYS, SEVERITY_RANK, FindingClass, ReviewCode
from .jsonfile import review_json
from .lists import review_list
from .model import ReviewFinding, make_finding
from .python import review_python
from .shellscript import review_shell

KINDS = ("python", "json", "shell", "list")
_READERS: dict[str, Callable[[str, str, Policy], list[ReviewFinding]]] = {
    "python": review_python, "json": review_json, "shell": review_shell, "list": review_list,
}  # fmt: skip
_SUFFIX = {".py": "python", ".pyi": "python", ".json": "json", ".jsonl": "json",
           ".ndjson": "json", ".sh": "shell", ".bash": "shell"}  # fmt: skip
_SHELLS = ("sh", "bash", "dash", "ash", "ksh", "mksh", "zsh", "yash", "posh")
_SKIP_DIRS = frozenset({"__pycache__", "node_modules"})


@dataclass
class Report:
    """What a review found: the findings (sorted per file) and how many files were read."""

    findings: list[ReviewFinding] = field(default_factory=list)
    files: int = 0


def kind_of(path: str, head: str) -> str:
    """The input kind of a file named ``path`` whose first line is ``head``."""
    kind = _SUFFIX.get(os.path.splitext(path)[1].lower())
    if kind is not None:
        return kind
    if head.startswith("#!"):
        words = head[2:].split()
        prog = words[0].rsplit("/", 1)[-1] if words else ""
        if prog == "env" and len(words) > 1:
            prog = words[1]
        if prog in _SHELLS:
            return "shell"
        if prog.startswith("python"):
            return "python"
    return "list"


def review_text(
    name: str, text: str, kind: str, policy: Policy, no_ignore: bool
) -> list[ReviewFinding]:
    """Review ``text`` (file ``name``) as a ``kind`` file."""
    found = _READERS[kind](name, text, policy)
    if not no_ignore:
        found = suppressions.apply(name, found, suppressions.find(text, kind))
    return sorted(found, key=lambda f: (f.line, f.column, f.code))


def _files(path: str) -> Iterable[str]:
    if not os.path.isdir(path):
        yield path
        return
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
        for name in sorted(files):
            full = os.path.join(root, name)
            if os.path.splitext(name)[1].lower() in _SUFFIX or _shebang_kind(full) != "list":
                yield full


def _shebang_kind(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            head = handle.readline(200)
    except OSError:
        return "list"
    return kind_of("", head.decode("utf-8", "replace")) if head.startswith(b"#!") else "list"


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path!r}: {exc.strerror}") from None


def review_paths(
    paths: list[str], policy: Policy, *, stdin_type: str = "list", no_ignore: bool = False
) -> Report:
    """Review every file under ``paths`` (``-``: standard input read as ``stdin_type``)."""
    for path in paths:
        if path != "-" and not os.path.exists(path):
            raise InputError(f"no such file or directory: {path!r}: give existing paths")
    report = Report()
    for path in paths:
        for name in _files(path):
            data = _read(name)
            report.files += 1
            shown = "<stdin>" if name == "-" else name
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                report.findings.append(make_finding(
                    shown, (1, 1), (1, 1), ReviewCode.UNREADABLE_SOURCE.value,
                    f"the file is not UTF-8 text (byte {exc.start}): review reads UTF-8 only",
                ))  # fmt: skip
                continue
            kind = stdin_type if name == "-" else kind_of(name, text[:200].split("\n", 1)[0])
            report.findings += review_text(shown, text, kind, policy, no_ignore)
    return report


def failing(findings: Iterable[ReviewFinding], fail_on: frozenset[FindingClass]) -> bool:
    """Whether any finding fails the gate: an error of a class in ``fail_on``, or ``unproven``."""
    return any(
        f.cls in FAILING_ALWAYS or (f.severity == "error" and f.cls in fail_on) for f in findings
    )


def visible(findings: Iterable[ReviewFinding], severity: str) -> list[ReviewFinding]:
    """The findings of ``severity`` or worse (what is printed)."""
    floor = SEVERITY_RANK[severity]
    return [f for f in findings if SEVERITY_RANK.get(f.severity, 2) >= floor]

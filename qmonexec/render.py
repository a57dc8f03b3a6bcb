"""Render specs into ``exec:`` URIs through one Jinja2 environment.

Quoting cannot be forgotten: the environment's ``finalize`` hook sees every
``{{ }}`` output and shell-quotes it with :func:`~qmonexec.quoting.quote_word`
unless it is an ``int`` or a :class:`ShellText` the code built on purpose (the
``argv`` filter is the only producer in templates).  Any other type is an
error, as is an undefined name (``StrictUndefined``).
"""

from __future__ import annotations

__all__ = [
    "ShellText",
    "environment",
    "render_command",
    "render_restore",
    "render_save",
    "template_dir",
]

import functools
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jinja2

from .errors import InputError
from .quoting import Value, quote_word, quote_words
from .spec import CommandSpec, RestoreSpec, SaveSpec
from .vocabulary import OUTCOMES, STAGES, marker


class ShellText(str):
    """Text that is already valid, quoted shell syntax and must be written as is."""

    __slots__ = ()


def _finalize(value: Any) -> str:
    # Exact-type checks first: they are the hot path of every render.
    kind = type(value)
    if kind is str:
        return quote_word(value)
    if kind is int:
        return str(value)
    if isinstance(value, ShellText):
        return value
    if isinstance(value, jinja2.Undefined):
        return str(value)  # StrictUndefined raises UndefinedError naming the missing slot
    if isinstance(value, bool):
        raise InputError(f"a template slot got the boolean {value!r}; pass an int or a word")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (str, bytes, os.PathLike)):
        return quote_word(value)
    raise InputError(
        f"a template slot got a {type(value).__name__}; only words (str, bytes, paths), ints "
        "and ShellText may be written: use the argv filter for lists"
    )


def _argv(words: Iterable[Value]) -> ShellText:
    return ShellText(quote_words(words))


def template_dir() -> Path:
    """The directory holding the ``.j2`` templates (inside the installed package, or the repo)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"qmonexec templates not found next to {here}; reinstall qmonexec")


@functools.cache
def environment(directory: str | None = None) -> jinja2.Environment:
    """The Jinja2 environment every qmonexec template is rendered with."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory or str(template_dir())),
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["argv"] = _argv
    return env


@functools.cache
def _template(name: str) -> jinja2.Template:
    return environment().get_template(name)


def render_template(name: str, /, **context: Any) -> str:
    """Render template ``name`` with ``context``; the result is one line of shell text."""
    template = _template(name)
    # shared=True hands the context over without merging Jinja's globals, which our
    # templates do not use; it roughly doubles the render rate (docs/performance.md).
    return "".join(template.root_render_func(template.new_context(context, shared=True)))


def _status_paths(status_dir: str | bytes | None) -> dict[str, str | bytes] | None:
    """The template's ``status.STAGE_OUTCOME`` slots: each marker file's path in ``status_dir``."""
    if status_dir is None:
        return None
    names = {f"{stage}_{outcome}": marker(stage, outcome) for stage in STAGES
             for outcome in OUTCOMES}
    if isinstance(status_dir, bytes):
        base = status_dir.rstrip(b"/") + b"/"
        return {slot: base + name.encode() for slot, name in names.items()}
    return {slot: status_dir.rstrip("/") + "/" + name for slot, name in names.items()}


def render_save(spec: SaveSpec) -> str:
    """The ``exec:`` URI that streams the migration into ``spec.target`` at ``spec.offset``."""
    return render_template(
        "save.j2",
        compress=spec.compress_argv,
        bs=spec.block_size,
        seek=spec.seek_blocks,
        ibs=spec.ibs,
        obs=spec.obs,
        target=spec.target,
        status=_status_paths(spec.status_dir),
    )


def render_restore(spec: RestoreSpec) -> str:
    """The ``exec:`` URI that reads the stream back from ``spec.source`` at ``spec.offset``."""
    return render_template(
        "restore.j2",
        source=spec.source,
        bs=spec.block_size,
        skip=spec.skip_blocks,
        decompress=spec.compression.decompress if spec.compression else None,
    )


def render_command(spec: CommandSpec) -> str:
    """The ``exec:`` URI that runs ``spec.argv`` with every word quoted."""
    return render_template("command.j2", argv=spec.argv)

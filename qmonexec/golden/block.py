"""Golden blocks: one readable, diff-friendly text block per rendered string.

A block records, for a spec (:class:`~qmonexec.spec.SaveSpec`,
:class:`~qmonexec.spec.RestoreSpec`, :class:`~qmonexec.spec.CommandSpec`), a
rendered ``exec:`` URI, a QMP command dict or an HMP line:

* a header line ``qmonexec-golden 1[: NAME]`` (1 is the block format version);
* ``kind``, the pinned ``profile`` version of a save or restore, ``direction``;
* ``string``: the exact string (in ``form`` for a spec), then its other forms
  (``uri``, ``qmp``, ``hmp``, ``virsh``); a form QEMU would refuse reads
  ``FORM (refused): ERROR``;
* ``verdict`` (``ok``/``unsafe``), which text was ``checked``, and each
  finding as ``finding: SEVERITY CODE at OFFSET`` (offset in the checked text;
  never the message wording, which may improve between releases);
* the decoded commands: ``stage``, every ``argv`` word and ``redirect``.

Values that are not plain printable text are escaped (:mod:`.text`).
"""

from __future__ import annotations

__all__ = ["BLOCK_VERSION", "FORMS", "HEADER", "Golden", "golden_block"]

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import monitor
from ..build import policy_for
from ..errors import InputError
from ..render import render_command, render_restore, render_save
from ..spec import CommandSpec, RestoreSpec, SaveSpec
from .text import field_line

if TYPE_CHECKING:
    from ..shell import Policy, Verdict

#: Version of the block format (the header line's number).
BLOCK_VERSION = 1
#: The first word of every block's header line.
HEADER = "qmonexec-golden"
#: The monitor forms a string is shown in.
FORMS = ("uri", "qmp", "hmp", "virsh")

Subject = SaveSpec | RestoreSpec | CommandSpec | str | Mapping[str, Any]


@dataclass(frozen=True)
class Golden:
    """A rendered block: ``text`` (ends with a newline), whether it is ``ok``, and why not."""

    name: str | None
    text: str
    ok: bool
    problems: tuple[str, ...]


@dataclass(frozen=True)
class _Subject:
    kind: str
    profile: str | None
    uri: str | None
    incoming: bool
    policy: Policy
    string: str | None  # the exact text of a raw subject; None: a spec's chosen form


def golden_block(subject: Subject, *, name: str | None = None, form: str = "uri",
                 domain: str = "DOMAIN", incoming: bool = False,
                 policy: Policy | None = None) -> Golden:
    """The golden block of ``subject``.

    ``form`` picks the exact string of a spec (``uri``, ``qmp``, ``hmp``,
    ``virsh``); ``domain`` is used in the virsh form; ``incoming`` renders a
    command spec for ``migrate-incoming``.  ``policy`` overrides the policy the
    string is checked with (default: the one :mod:`qmonexec.build` uses).
    Raises :class:`~qmonexec.errors.InputError` for an unknown form or a
    subject of another type.
    """
    if form not in FORMS:
        raise InputError(f"unknown form {form!r}; use one of {', '.join(FORMS)}", value=form)
    found = _resolve(subject, incoming, policy)
    forms = _forms(found.uri, found.incoming, domain)
    if found.string is not None:
        string: str | _Refused = found.string
        shown = found.kind if found.kind in FORMS else "uri"
    else:
        string, shown = forms[form], form
    lines = [f"{HEADER} {BLOCK_VERSION}" + (f": {name}" if name else ""),
             f"kind: {found.kind}"]
    if found.profile is not None:
        lines.append(f"profile: {found.profile}")
    lines.append(f"direction: {'incoming' if found.incoming else 'outgoing'}")
    lines.append(f"form: {shown}")
    lines.append(_value_line("string", string))
    lines += [_value_line(f, forms[f]) for f in FORMS if f != shown]
    checked, text = ("qmp", forms["qmp"]) if shown == "virsh" else ("string", string)
    problems: list[str] = []
    if isinstance(text, _Refused):
        lines += ["verdict: unsafe", f"checked: {checked}"]
        problems.append(f"the {checked} form is refused: {text.message or text.reason}")
    else:
        verdict = _check(text, found.policy)
        lines += _verdict_lines(verdict, checked)
        problems += [f"{f.code.value} ({f.severity.value}) at {f.position.offset}: {f.message}"
                     for f in verdict.findings if f.severity.value == "error"]
        if not verdict.ok and not problems:
            problems.append("the string has none of the shapes the policy allows")
    return Golden(name, "\n".join(lines) + "\n", not problems, tuple(problems))


def _resolve(subject: Subject, incoming: bool, policy: Policy | None) -> _Subject:
    if isinstance(subject, SaveSpec):
        return _Subject("save", subject.profile.id, render_save(subject), False,
                        policy or policy_for(subject.compression), None)
    if isinstance(subject, RestoreSpec):
        return _Subject("restore", subject.profile.id, render_restore(subject), True,
                        policy or policy_for(subject.compression), None)
    if isinstance(subject, CommandSpec):
        from ..shell import Policy

        return _Subject("command", None, render_command(subject), incoming,
                        policy or Policy.command(), None)
    if isinstance(subject, Mapping):
        return _raw("qmp", monitor.to_json(dict(subject)), policy)
    if isinstance(subject, str):
        kind = "uri" if subject.startswith("exec:") else (
            "qmp" if subject.lstrip().startswith("{") else "hmp")
        return _raw(kind, subject, policy)
    raise InputError(
        f"a golden block is made of a SaveSpec, RestoreSpec, CommandSpec, an exec: URI, a QMP "
        f"command dict or an HMP line, not a {type(subject).__name__}")


def _raw(kind: str, text: str, policy: Policy | None) -> _Subject:
    from ..shell import Policy

    chosen = policy or Policy.default()
    verdict = _check(text, chosen)
    uri = "exec:" + verdict.shell if verdict.shell is not None and (
        kind != "uri" or text.startswith("exec:")) else None
    return _Subject(kind, None, uri, verdict.direction == "incoming", chosen, text)


def _forms(uri: str | None, incoming: bool, domain: str) -> dict[str, str | _Refused]:
    def attempt(make: Callable[[str], str]) -> str | _Refused:
        if uri is None:
            return _Refused("no exec: URI inside", "")
        try:
            return make(uri)
        except InputError as exc:
            return _Refused(_reason(uri), str(exc))

    def command(u: str) -> dict[str, Any]:
        return monitor.migrate_incoming(u) if incoming else monitor.migrate(u)

    return {
        "uri": attempt(lambda u: u),
        "qmp": attempt(lambda u: monitor.to_json(command(u))),
        "hmp": attempt(monitor.hmp_migrate_incoming if incoming else monitor.hmp_migrate),
        "virsh": attempt(lambda u: monitor.virsh_line(domain, command(u))),
    }


@dataclass(frozen=True)
class _Refused:
    """A form qmonexec.monitor refuses: a stable reason for the block, the message for people."""

    reason: str
    message: str


def _value_line(key: str, value: str | _Refused) -> str:
    if isinstance(value, _Refused):
        return f"{key} (refused): {value.reason}"
    return field_line(key, value)


def _reason(uri: str) -> str:
    """Why a monitor form of ``uri`` is refused, from the URI itself (not message wording)."""
    try:
        data = uri.encode("utf-8")
    except UnicodeEncodeError:
        return "not UTF-8 text"
    if len(data) > 1023:
        return "longer than HMP's 1023 bytes"
    return "not QMP text"


def _check(text: str, policy: Policy) -> Verdict:
    from ..shell import check

    return check(text, policy)


def _verdict_lines(verdict: Verdict, checked: str) -> list[str]:
    lines = [f"verdict: {'ok' if verdict.ok else 'unsafe'}", f"checked: {checked}"]
    lines += [f"finding: {f.severity.value} {f.code.value} at {f.position.offset}"
              for f in verdict.findings]
    for n, cmd in enumerate(verdict.commands):
        lines.append(f"command {n} stage: {cmd.stage}")
        lines += [field_line(f"command {n} argv {i}", word) for i, word in enumerate(cmd.argv)]
        lines += [field_line(f"command {n} redirect {i}", f"{r.fd}{r.op} {r.target}")
                  for i, r in enumerate(cmd.redirects)]
    return lines

"""One call: build an ``exec:`` URI from a spec and prove it safe with the validator.

This is the gate between rendering and QEMU: :func:`save_uri`,
:func:`restore_uri` and :func:`command_uri` return only strings the
validator accepts, and raise :class:`~qmonexec.errors.UnsafeCommandError`
(carrying the verdict) otherwise.
"""

from __future__ import annotations

__all__ = [
    "Built",
    "build_command",
    "build_restore",
    "build_save",
    "command_uri",
    "policy_for",
    "restore_channel",
    "restore_uri",
    "save_channel",
    "save_uri",
    "validate",
]

from typing import TYPE_CHECKING, NamedTuple

from .errors import InputError, UnsafeCommandError
from .render import render_command, render_restore, render_save
from .spec import COMPRESSIONS, CommandSpec, Compression, RestoreSpec, SaveSpec

if TYPE_CHECKING:
    from .shell import Policy, Verdict


def policy_for(compression: Compression | None) -> Policy:
    """The default policy, extended with a custom compressor's program when there is one."""
    from .shell import Policy

    policy = Policy.default()
    if compression is None or COMPRESSIONS.get(compression.name) == compression:
        return policy
    programs = {compression.compress[0], compression.decompress[0]}
    return policy.allowing_commands(*sorted(programs))


def validate(uri: str, policy: Policy) -> Verdict:
    """Return the verdict for ``uri``; raise :class:`UnsafeCommandError` unless it is ok."""
    from .shell import check

    verdict = check(uri, policy)
    if not verdict.ok:
        reasons = "; ".join(f"{f.code.value}: {f.message}" for f in verdict.errors)
        raise UnsafeCommandError(f"rendered URI failed validation: {reasons}", verdict=verdict)
    return verdict


class Built(NamedTuple):
    """A rendered URI and the verdict that let it through (its warnings are worth showing)."""

    uri: str
    verdict: Verdict


def build_save(spec: SaveSpec, policy: Policy | None = None) -> Built:
    """Render the save URI for ``spec`` and validate it (default policy plus its compressor)."""
    uri = render_save(spec)
    return Built(uri, validate(uri, policy or policy_for(spec.compression)))


def build_restore(spec: RestoreSpec, policy: Policy | None = None) -> Built:
    """Render the restore URI for ``spec`` and validate it."""
    uri = render_restore(spec)
    return Built(uri, validate(uri, policy or policy_for(spec.compression)))


def build_command(spec: CommandSpec, policy: Policy | None = None) -> Built:
    """Render the command URI for ``spec`` and validate it.

    Without a policy, one command of an allowed program (dd, cat, tee or a
    compressor) whose words are all literal is accepted (``Policy.command()``);
    pass ``Policy.command().allowing_commands(...)`` for other programs.
    """
    from .shell import Policy

    uri = render_command(spec)
    return Built(uri, validate(uri, policy or Policy.command()))


def save_uri(spec: SaveSpec, policy: Policy | None = None) -> str:
    """The validated save URI for ``spec`` (see :func:`build_save`)."""
    return build_save(spec, policy).uri


def restore_uri(spec: RestoreSpec, policy: Policy | None = None) -> str:
    """The validated restore URI for ``spec`` (see :func:`build_restore`)."""
    return build_restore(spec, policy).uri


def command_uri(spec: CommandSpec, policy: Policy | None = None) -> str:
    """The validated command URI for ``spec`` (see :func:`build_command`)."""
    return build_command(spec, policy).uri


#: The program of a channel: QEMU runs a channel's argv without searching PATH.
CHANNEL_DD = "/bin/dd"


def _check_channel(name: str, argv: list[str], policy: Policy | None) -> None:
    """What the QMP client will check before sending: the argv judged as a quoted command."""
    from .qmp.guard import check_command

    channel = {"channel-type": "main", "addr": {"transport": "exec", "args": argv}}
    check_command(name, {"channels": [channel]}, policy=policy or policy_for(None))


def _channel_spec_problem(compression: Compression | None, what: str) -> None:
    if compression is not None:
        raise InputError(f"a compressed {what} needs a pipeline, which an exec channel's argv "
                         "cannot express without a shell: use --format qmp (the exec: URI)")


def save_channel(spec: SaveSpec, policy: Policy | None = None) -> list[str]:
    """The argv of a QEMU 8.2+ ``exec`` channel for a raw save, validated; no shell runs it.

    ``dd of=TARGET ibs=I obs=O seek=N conv=notrunc``: ``O`` is the largest power
    of two up to the transfer size dividing the offset, so ``seek`` counts whole
    output blocks; ``conv=notrunc`` keeps the header.  dd does not cut the file
    after the stream: truncate it to the offset first, as ``qmonexec save`` does.
    """
    _channel_spec_problem(spec.compression, "save")
    if spec.status_dir is not None or spec.profile.name != "default":
        raise InputError("an exec channel records no stage status and renders no profile's "
                         "string: drop --status-dir and --profile, or use --format qmp")
    obs = spec.transfer_size
    assert obs is not None
    while spec.offset % obs:
        obs //= 2
    ibs = max(min(65536, obs // 2), 512) if obs > 512 else obs
    target = spec.target if isinstance(spec.target, str) else spec.target.decode(
        "utf-8", "surrogateescape")
    argv = [CHANNEL_DD, f"of={target}", f"ibs={ibs}", f"obs={obs}",
            f"seek={spec.offset // obs}", "conv=notrunc"]
    _check_channel("migrate", argv, policy)
    return argv


def restore_channel(spec: RestoreSpec, policy: Policy | None = None) -> list[str]:
    """The argv of a QEMU 8.2+ ``exec`` channel for a raw restore: ``dd if=S bs=B skip=N``."""
    _channel_spec_problem(spec.compression, "restore")
    block = spec.block_size
    assert block is not None
    source = spec.source if isinstance(spec.source, str) else spec.source.decode(
        "utf-8", "surrogateescape")
    argv = [CHANNEL_DD, f"if={source}", f"bs={block}", f"skip={spec.offset // block}"]
    _check_channel("migrate-incoming", argv, policy)
    return argv

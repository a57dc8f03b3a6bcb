"""Typed, validated specifications of what to render.

A spec is checked when it is built: an invalid one raises
:class:`~qmonexec.errors.InputError` with a message that names the fix, so a
template never sees a bad value.
"""

from __future__ import annotations

__all__ = [
    "BLOCK_SIZE_RANGE",
    "COMPRESSIONS",
    "PROFILES",
    "TRANSFER_SIZE_RANGE",
    "CommandSpec",
    "Compression",
    "Profile",
    "RestoreSpec",
    "SaveSpec",
    "absolute_path",
    "compression",
    "profile",
]

import os
from dataclasses import dataclass, field
from typing import Any

from .errors import InputError
from .quoting import Value, to_bytes
from .vocabulary import BLOCK_SIZE, COMPRESSORS, RAW

#: Allowed block sizes (the unit of the header offset): 512 B .. 1 MiB.
BLOCK_SIZE_RANGE = (512, 1 << 20)
#: Allowed transfer sizes (dd's obs, the size of each write): 8 KiB .. 64 MiB.
TRANSFER_SIZE_RANGE = (8 << 10, 64 << 20)
#: The most a Linux pipe hands dd per read: a larger ibs never fills.
PIPE_READ_SIZE = 64 << 10


def _argv(value: Any, what: str, example: str) -> tuple[Any, ...]:
    """``value`` as a tuple of words; a lone string is refused, never split."""
    if isinstance(value, (str, bytes, os.PathLike)):
        raise InputError(
            f"{what} {value!r} must be an argv list such as {example}, not one string: "
            "qmonexec never splits or parses shell text",
            value=value,
        )
    return tuple(value)


@dataclass(frozen=True)
class Compression:
    """A stream filter: ``compress`` writes the compressed stream, ``decompress`` reverses it."""

    name: str
    compress: tuple[str, ...]
    decompress: tuple[str, ...]

    def __post_init__(self) -> None:
        for label, argv in (("compress", self.compress), ("decompress", self.decompress)):
            _argv(argv, f"{label} command", "('gzip', '-c')")
            if not argv:
                raise InputError(f"{label} command of {self.name!r} is empty; give a program name")
            for word in argv:
                if not isinstance(word, str):
                    raise InputError(f"{label} command words must be str, got {word!r}")
                to_bytes(word, what=f"{label} command word")

    @classmethod
    def custom(cls, compress: tuple[str, ...] | list[str],
               decompress: tuple[str, ...] | list[str] | None = None) -> Compression:
        """A compressor given as argv; ``decompress`` defaults to the same program with ``-dc``."""
        compress = _argv(compress, "custom compressor", "['pigz', '-c']")
        if not compress:
            raise InputError("custom compressor command is empty; give a program and its options")
        dec = (_argv(decompress, "custom decompressor", "['pigz', '-dc']")
               if decompress is not None else (compress[0], "-dc"))
        return cls(name=os.path.basename(compress[0]) or compress[0], compress=compress,
                   decompress=dec)


def _named(name: str) -> Compression:
    return Compression(name=name, compress=(name, "-c"), decompress=(name, "-dc"))


#: The named compression formats (libvirt's convention: ``NAME -c`` / ``NAME -dc``).
COMPRESSIONS: dict[str, Compression] = {n: _named(n) for n in COMPRESSORS}
_RAW_NAMES = (RAW,)


def compression(name: str | None) -> Compression | None:
    """Return the named compression format, ``None`` for ``raw``/``None``; else raise."""
    if name is None or name in _RAW_NAMES:
        return None
    found = COMPRESSIONS.get(name)
    if found is None:
        known = ", ".join([*_RAW_NAMES, *COMPRESSIONS])
        raise InputError(
            f"unknown compression format {name!r}; known formats: {known} "
            "(or give a custom command with --compress-cmd)",
            value=name,
        )
    return found


@dataclass(frozen=True)
class Profile:
    """How the save pipeline is shaped: dd sizes and whether ``cat`` feeds an uncompressed save."""

    name: str
    block_size: int
    cat_when_raw: bool
    obs: int
    #: libvirt's form reads and writes in the same size; ours does not.
    ibs_equals_obs: bool

    def input_size(self, obs: int) -> int:
        """dd's ``ibs`` for a given ``obs``.

        Ours is half of ``obs`` (at most what a pipe gives, 64 KiB), so every
        write collects two or more reads: ``ibs != obs`` matters because busybox
        dd only collects short reads into full writes when the two differ
        (docs/reference.md, section 5).  The default ``obs`` of 64 KiB was measured
        fastest: large writes stall QEMU's side of the pipe meanwhile
        (docs/performance.md).
        """
        return obs if self.ibs_equals_obs else min(PIPE_READ_SIZE, obs // 2)


#: Profiles by name.  ``libvirt`` reproduces libvirt's string byte for byte.
PROFILES: dict[str, Profile] = {
    "default": Profile("default", block_size=BLOCK_SIZE, cat_when_raw=False, obs=64 << 10,
                       ibs_equals_obs=False),
    "libvirt": Profile("libvirt", block_size=BLOCK_SIZE, cat_when_raw=True, obs=1 << 20,
                       ibs_equals_obs=True),
}


def profile(name: str | Profile) -> Profile:
    """Return the profile called ``name`` (or ``name`` itself if it is a :class:`Profile`)."""
    if isinstance(name, Profile):
        return name
    found = PROFILES.get(name)
    if found is None:
        raise InputError(
            f"unknown profile {name!r}; known profiles: {', '.join(PROFILES)}", value=name
        )
    return found


def _power_of_two(value: int, what: str, bounds: tuple[int, int], flag: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{what} must be an integer number of bytes, not {value!r}", value=value)
    low, high = bounds
    if value <= 0 or value & (value - 1) or not low <= value <= high:
        raise InputError(
            f"{what} {value} is not a power of two between {low} and {high}: "
            f"give {flag} a power of two such as {low}, 4096 or 1048576",
            value=value,
        )
    return value


def _offset(offset: int, block_size: int, what: str) -> int:
    if isinstance(offset, bool) or not isinstance(offset, int):
        raise InputError(f"{what} must be an integer number of bytes, not {offset!r}", value=offset)
    if offset < 0:
        raise InputError(f"{what} {offset} is negative; give 0 or a positive multiple of "
                         f"the block size {block_size}", value=offset)
    if offset % block_size:
        below = offset - offset % block_size
        above = below + block_size
        raise InputError(
            f"{what} {offset} is not a multiple of the block size {block_size}; "
            f"the nearest valid offsets are {below} and {above} "
            "(or choose a --block-size that divides it)",
            value=offset,
        )
    return offset


def absolute_path(path: Value, what: str) -> str | bytes:
    """``path`` as ``str``/``bytes`` if absolute and free of NUL, else :class:`InputError`."""
    raw = os.fspath(path) if isinstance(path, os.PathLike) else path
    if not isinstance(raw, (str, bytes)):
        raise InputError(f"{what} must be a path (str, bytes or os.PathLike), not {path!r}",
                         value=path)
    to_bytes(raw, what=what)
    if not (raw.startswith("/") if isinstance(raw, str) else raw.startswith(b"/")):
        shown = raw if isinstance(raw, str) else raw.decode("utf-8", "backslashreplace")
        raise InputError(
            f"{what} {shown!r} is not an absolute path; QEMU runs the command in its own working "
            f"directory, so give the full path (e.g. {os.path.join('/', 'var', 'lib', 'vm', 'x')})",
            value=path,
        )
    return raw


@dataclass(frozen=True)
class SaveSpec:
    """Stream the migration into ``target`` starting at byte ``offset``, behind a header.

    ``block_size`` defaults to the profile's; ``transfer_size`` (dd's ``obs``)
    too.  ``status_dir`` (absolute) asks for the stage-status form, in which
    each stage records whether it exited 0 (see docs/design.md).
    """

    target: str | bytes
    offset: int = 0
    compression: Compression | None = None
    profile: Profile = field(default_factory=lambda: PROFILES["default"])
    block_size: int | None = None
    transfer_size: int | None = None
    status_dir: str | bytes | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "profile", profile(self.profile))
        set_(self, "target", absolute_path(self.target, "target"))
        bs = self.block_size if self.block_size is not None else self.profile.block_size
        set_(self, "block_size", _power_of_two(bs, "block size", BLOCK_SIZE_RANGE,
                                               "--block-size"))
        ts = self.transfer_size if self.transfer_size is not None else self.profile.obs
        set_(self, "transfer_size", _power_of_two(ts, "transfer size", TRANSFER_SIZE_RANGE,
                                                  "--transfer-size"))
        _offset(self.offset, bs, "offset")
        if self.status_dir is not None:
            set_(self, "status_dir", absolute_path(self.status_dir, "status directory"))
        if self.compression is not None and not isinstance(self.compression, Compression):
            raise InputError(f"compression must be a Compression or None, not "
                             f"{self.compression!r}; use qmonexec.spec.compression(NAME)")

    @property
    def seek_blocks(self) -> int:
        """How many blocks the header step skips."""
        return self.offset // self.block_size  # type: ignore[operator]

    @property
    def ibs(self) -> int:
        """dd's input block size for the data step."""
        return self.profile.input_size(self.obs)

    @property
    def obs(self) -> int:
        """dd's output block size for the data step: every write but the last has this size."""
        assert self.transfer_size is not None
        return self.transfer_size

    @property
    def compress_argv(self) -> tuple[str, ...] | None:
        """The first pipeline stage, or ``None`` when dd reads QEMU's stream directly."""
        if self.compression is not None:
            return self.compression.compress
        return ("cat",) if self.profile.cat_when_raw else None


@dataclass(frozen=True)
class RestoreSpec:
    """Read the migration stream back from ``source``, starting at byte ``offset``."""

    source: str | bytes
    offset: int = 0
    compression: Compression | None = None
    block_size: int = BLOCK_SIZE

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", absolute_path(self.source, "source"))
        _power_of_two(self.block_size, "block size", BLOCK_SIZE_RANGE, "--block-size")
        _offset(self.offset, self.block_size, "offset")
        if self.compression is not None and not isinstance(self.compression, Compression):
            raise InputError(f"compression must be a Compression or None, not "
                             f"{self.compression!r}; use qmonexec.spec.compression(NAME)")

    @property
    def skip_blocks(self) -> int:
        """How many blocks dd skips to reach the stream."""
        return self.offset // self.block_size


@dataclass(frozen=True)
class CommandSpec:
    """Run ``argv`` with the stream on its stdin (outgoing) or stdout (incoming)."""

    argv: tuple[str | bytes, ...]

    def __post_init__(self) -> None:
        argv = tuple(os.fspath(a) if isinstance(a, os.PathLike) else a
                     for a in _argv(self.argv, "command", "['tee', '/tmp/f']"))
        if not argv:
            raise InputError("command is empty; give the program and its arguments after --")
        for i, word in enumerate(argv):
            if not isinstance(word, (str, bytes)):
                raise InputError(f"argument {i} must be str or bytes, not {word!r}", value=word)
            to_bytes(word, what=f"argument {i}")
        object.__setattr__(self, "argv", argv)

"""Typed, validated specifications of what to render.

A spec is checked when it is built: an invalid one raises
:class:`~qmonexec.errors.InputError` with a message that names the fix, so a
template never sees a bad value.
"""

from __future__ import annotations

__all__ = [
    "BLOCK_SIZE_RANGE",
    "COMPRESSIONS",
    "CURRENT",
    "DD_MAX_BYTES",
    "PIPE_READ_SIZE",
    "PROFILES",
    "PROFILE_VERSIONS",
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
from .limits import DD_MAX_BYTES, special_path
from .quoting import Value, to_bytes
from .vocabulary import (
    BLOCK_SIZE,
    COMPRESSORS,
    PROFILE_NAMES,
    RAW,
    RESTORE_BLOCK_LIMIT,
    TRANSFER_SIZE,
)

#: Allowed block sizes (the unit of the header offset): 512 B .. 1 MiB.
BLOCK_SIZE_RANGE = (512, 1 << 20)
#: Allowed transfer sizes (dd's obs, the size of each write): 8 KiB .. 64 MiB.
TRANSFER_SIZE_RANGE = (8 << 10, 64 << 20)


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
            "(or a custom command: Compression.custom(argv))",
            value=name,
        )
    return found


# ------------------------------------------------------------------ versioned profiles
# Versioned profiles: the shape of every string a profile renders, pinned by ``NAME@VERSION``.
#
# A profile decides the dd sizes of a save, whether ``cat`` feeds an
# uncompressed save, and the block size a restore reads with.  Each published
# shape is a version: ``default@1``, ``default@2``, ``libvirt@1``.  A pinned
# name (``profile="default@1"``, ``--profile default@1``) renders the same
# strings in every later release; an unpinned name (``default``) means the
# current version of that profile, which may move to a new version in a
# release (never within one); CHANGELOG.md lists every such move.

#: The most a Linux pipe hands dd per read: a larger ibs never fills.
PIPE_READ_SIZE = 64 << 10
#: The smallest block a restore reads with (the smallest allowed block size).
_MIN_BLOCK = 512


@dataclass(frozen=True)
class Profile:
    """How a profile shapes its strings: dd sizes, ``cat`` for raw saves, the restore read size.

    ``restore_max_block``: ``None`` reads a restore with ``block_size``
    (version 1 of every profile); a power of two reads it with the largest
    power of two up to that size dividing the offset, which is 64 KiB for
    the images ``qmonexec save`` writes (their stream starts 64 KiB-aligned).
    """

    name: str
    block_size: int
    cat_when_raw: bool
    obs: int
    #: libvirt's form reads and writes in the same size; ours does not.
    ibs_equals_obs: bool
    version: int = 1
    restore_max_block: int | None = None

    @property
    def id(self) -> str:
        """The pinned name, ``NAME@VERSION`` (what golden blocks record)."""
        return f"{self.name}@{self.version}"

    def input_size(self, obs: int) -> int:
        """dd's ``ibs`` for a given ``obs``.

        Ours is half of ``obs`` (at most what a pipe gives, 64 KiB), so every
        write collects two or more reads: ``ibs != obs`` matters because busybox
        dd only collects short reads into full writes when the two differ
        (docs/design.md).  The default ``obs`` of 64 KiB was measured
        fastest: large writes stall QEMU's side of the pipe meanwhile
        (docs/performance.md).
        """
        return obs if self.ibs_equals_obs else min(PIPE_READ_SIZE, obs // 2)

    def restore_block_size(self, offset: int) -> int:
        """dd's ``bs`` for a restore whose stream starts at byte ``offset``."""
        if self.restore_max_block is None:
            return self.block_size
        size = self.restore_max_block
        while size > _MIN_BLOCK and offset % size:
            size //= 2
        return size


#: Every published shape, by pinned name.  Never change one: add a version.
PROFILE_VERSIONS: dict[str, Profile] = {
    p.id: p for p in (
        # default@1: dd reads QEMU's pipe directly, 32 KiB reads into 64 KiB writes;
        # restores read 4 KiB blocks.
        Profile("default", block_size=BLOCK_SIZE, cat_when_raw=False, obs=TRANSFER_SIZE,
                ibs_equals_obs=False, version=1),
        # default@2: as @1, but a restore reads the largest block up to 64 KiB dividing
        # the offset, as `qmonexec restore` does.
        Profile("default", block_size=BLOCK_SIZE, cat_when_raw=False, obs=TRANSFER_SIZE,
                ibs_equals_obs=False, version=2, restore_max_block=RESTORE_BLOCK_LIMIT),
        # libvirt@1: libvirt's exact save string; restores read 4 KiB blocks.
        Profile("libvirt", block_size=BLOCK_SIZE, cat_when_raw=True, obs=1 << 20,
                ibs_equals_obs=True, version=1),
    )
}

#: The version an unpinned name means in this release (one entry per profile name).
CURRENT: dict[str, int] = {"default": 2, "libvirt": 1}
assert tuple(CURRENT) == PROFILE_NAMES

#: Profiles by unpinned name: the current version of each.
PROFILES: dict[str, Profile] = {
    name: PROFILE_VERSIONS[f"{name}@{version}"] for name, version in CURRENT.items()
}


def profile(name: str | Profile) -> Profile:
    """The profile ``name`` (``default``, ``default@1``, ...) or ``name`` itself if a Profile."""
    if isinstance(name, Profile):
        return name
    found = PROFILES.get(name) if isinstance(name, str) else None
    if found is None and isinstance(name, str):
        found = PROFILE_VERSIONS.get(name)
    if found is None:
        raise InputError(
            f"unknown profile {name!r}; known profiles: {', '.join(PROFILES)} "
            f"(or a pinned version: {', '.join(PROFILE_VERSIONS)})", value=name
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
    if offset > DD_MAX_BYTES:
        raise InputError(
            f"{what} {offset} is larger than dd accepts (2^63 - 1 = {DD_MAX_BYTES} bytes, "
            "the largest file offset): give a smaller offset",
            value=offset,
        )
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
    special = special_path(raw)
    if special is not None:
        raise InputError(
            f"{what}: {special.reason}; give the path of an ordinary file",
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
    """Read the migration stream back from ``source``, starting at byte ``offset``.

    ``block_size`` (dd's ``bs``, the unit of ``offset``) defaults to the
    profile's choice for that offset: 4096 with version 1 of every profile,
    the largest power of two up to 64 KiB dividing the offset with
    ``default@2`` (see :data:`PROFILE_VERSIONS`).
    """

    source: str | bytes
    offset: int = 0
    compression: Compression | None = None
    block_size: int | None = None
    profile: Profile = field(default_factory=lambda: PROFILES["default"])

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "profile", profile(self.profile))
        set_(self, "source", absolute_path(self.source, "source"))
        if isinstance(self.offset, int) and not isinstance(self.offset, bool):
            bs = (self.block_size if self.block_size is not None
                  else self.profile.restore_block_size(self.offset))
        else:
            bs = self.profile.block_size  # _offset names the bad offset below
        set_(self, "block_size", _power_of_two(bs, "block size", BLOCK_SIZE_RANGE,
                                               "--block-size"))
        _offset(self.offset, bs, "offset")
        if self.compression is not None and not isinstance(self.compression, Compression):
            raise InputError(f"compression must be a Compression or None, not "
                             f"{self.compression!r}; use qmonexec.spec.compression(NAME)")

    @property
    def skip_blocks(self) -> int:
        """How many blocks dd skips to reach the stream."""
        return self.offset // self.block_size  # type: ignore[operator]


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

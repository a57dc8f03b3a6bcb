"""Versioned profiles: the shape of every string a profile renders, pinned by ``NAME@VERSION``.

A profile decides the dd sizes of a save, whether ``cat`` feeds an
uncompressed save, and the block size a restore reads with.  Each published
shape is a version: ``default@1``, ``default@2``, ``libvirt@1``.  A pinned
name (``profile="default@1"``, ``--profile default@1``) renders the same
strings in every later release; an unpinned name (``default``) means the
current version of that profile, which may move to a new version in a
release (never within one); CHANGELOG.md lists every such move.
"""

from __future__ import annotations

__all__ = [
    "CURRENT",
    "PIPE_READ_SIZE",
    "PROFILES",
    "PROFILE_VERSIONS",
    "Profile",
    "profile",
]

from dataclasses import dataclass

from .errors import InputError

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
        Profile("default", block_size=4096, cat_when_raw=False, obs=64 << 10,
                ibs_equals_obs=False, version=1),
        # default@2: as @1, but a restore reads the largest block up to 64 KiB dividing
        # the offset, as `qmonexec restore` does.
        Profile("default", block_size=4096, cat_when_raw=False, obs=64 << 10,
                ibs_equals_obs=False, version=2, restore_max_block=64 << 10),
        # libvirt@1: libvirt's exact save string; restores read 4 KiB blocks.
        Profile("libvirt", block_size=4096, cat_when_raw=True, obs=1 << 20,
                ibs_equals_obs=True, version=1),
    )
}

#: The version an unpinned name means in this release.
CURRENT: dict[str, int] = {"default": 2, "libvirt": 1}

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

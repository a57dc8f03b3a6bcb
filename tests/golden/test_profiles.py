"""Every published profile version renders the same strings forever.

Each version's save (with and without stage status) and restore, raw, with
every named compressor and with a custom one, is pinned as a golden block in
``snapshots/golden/test_profiles/``.  A change here is a new profile version,
never an edit of these files (see CHANGELOG.md).
"""

from __future__ import annotations

import pytest

from qmonexec.errors import InputError
from qmonexec.golden.snapshot import GoldenAssertion
from qmonexec.spec import (
    COMPRESSIONS,
    CURRENT,
    PROFILE_VERSIONS,
    PROFILES,
    Compression,
    RestoreSpec,
    SaveSpec,
    compression,
    profile,
)

TARGET = "/var/lib/vm/guest.img"
CUSTOM = Compression.custom(["/usr/local/bin/pigz", "-c", "-p", "2"])
COMPRESSORS: dict[str, Compression | None] = {
    "raw": None, **{name: compression(name) for name in COMPRESSIONS}, "custom": CUSTOM,
}
VERSIONS = list(PROFILE_VERSIONS)
#: Restore offsets: 4096 (images before the 64 KiB alignment), 8192, 65536 (qmonexec save today).
RESTORE_OFFSETS = (4096, 8192, 65536)
SAVE_OFFSETS = (8192,)


def ids(version: str, kind: str, comp: str) -> str:
    return f"{version}-{kind}-{comp}"


CASES = [(v, k, c) for v in VERSIONS for k in ("save", "save-status", "restore")
         for c in COMPRESSORS]


@pytest.mark.parametrize(("version", "kind", "comp"), CASES, ids=[ids(*c) for c in CASES])
def test_every_profile_version_is_pinned(version: str, kind: str, comp: str,
                                         golden: GoldenAssertion) -> None:
    chosen = COMPRESSORS[comp]
    for offset in RESTORE_OFFSETS if kind == "restore" else SAVE_OFFSETS:
        if kind == "restore":
            spec: SaveSpec | RestoreSpec = RestoreSpec(TARGET, offset=offset, compression=chosen,
                                                       profile=version)  # type: ignore[arg-type]
        else:
            status = "/run/qmonexec/s1" if kind == "save-status" else None
            spec = SaveSpec(TARGET, offset=offset, compression=chosen,
                            profile=version, status_dir=status)  # type: ignore[arg-type]
        assert spec == golden(name=f"offset-{offset}")


def test_an_unpinned_name_means_the_current_version() -> None:
    for name, version in CURRENT.items():
        assert profile(name) is PROFILE_VERSIONS[f"{name}@{version}"] is PROFILES[name]


def test_the_current_default_is_version_2_and_libvirt_version_1() -> None:
    assert (profile("default").id, profile("libvirt").id) == ("default@2", "libvirt@1")


def test_a_pinned_name_is_looked_up_as_itself() -> None:
    for pinned, found in PROFILE_VERSIONS.items():
        assert profile(pinned) is found and found.id == pinned


def test_an_unknown_version_lists_the_pinned_ones() -> None:
    with pytest.raises(InputError, match="default@1, default@2, libvirt@1"):
        profile("default@7")


def test_default_1_renders_the_default_save_string_of_before_versions() -> None:
    from qmonexec.render import render_restore, render_save

    assert render_save(SaveSpec(TARGET, offset=8192, profile="default@1")) == (  # type: ignore[arg-type]
        "exec:{ dd bs=4096 seek=2 if=/dev/null && dd ibs=32768 obs=65536; } 1<>" + TARGET)
    assert render_restore(RestoreSpec(TARGET, offset=65536, profile="default@1")) == (  # type: ignore[arg-type]
        f"exec:dd if={TARGET} bs=4096 skip=16")


def test_default_2_restores_with_the_largest_block_up_to_64k_dividing_the_offset() -> None:
    expected = {0: 65536, 4096: 4096, 8192: 8192, 12288: 4096, 65536: 65536, 131072: 65536,
                1536: 512}
    for offset, block in expected.items():
        spec = RestoreSpec(TARGET, offset=offset, profile="default@2")  # type: ignore[arg-type]
        assert (spec.block_size, spec.skip_blocks) == (block, offset // block)


def test_the_cli_pins_default_1_to_the_default_save_string_of_before_versions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from qmonexec.cli import main

    assert main(["uri", "save", TARGET, "--offset", "8192", "--profile", "default@1"]) == 0
    assert capsys.readouterr().out == (
        f"exec:{{ dd bs=4096 seek=2 if=/dev/null && dd ibs=32768 obs=65536; }} 1<>{TARGET}\n")


def test_the_cli_names_the_pinned_versions_for_an_unknown_profile(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from qmonexec.cli import main

    assert main(["uri", "restore", TARGET, "--profile", "default@3"]) == 2
    assert "default@1, default@2, libvirt@1" in capsys.readouterr().err


def test_the_changelog_lists_every_profile_version_and_what_unpinned_names_mean() -> None:
    from ..helpers.support import ROOT

    changelog = (ROOT / "CHANGELOG.md").read_text()
    for pinned in PROFILE_VERSIONS:
        assert f"`{pinned}`" in changelog
    for name, version in CURRENT.items():
        assert f"`{name}@{version}` (current `{name}`)" in changelog

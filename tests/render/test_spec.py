"""Specs validate their inputs when built, with messages that name the fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qmonexec.errors import InputError
from qmonexec.spec import (
    BLOCK_SIZE_RANGE,
    COMPRESSIONS,
    PROFILES,
    TRANSFER_SIZE_RANGE,
    CommandSpec,
    Compression,
    Profile,
    RestoreSpec,
    SaveSpec,
    compression,
    profile,
)

# --- targets and sources -----------------------------------------------------------------------


@pytest.mark.parametrize("target", ["guest.img", "./guest.img", "vm/guest.img", "", "~/g.img"])
def test_a_relative_target_is_refused_naming_the_fix(target: str) -> None:
    with pytest.raises(InputError, match="not an absolute path") as info:
        SaveSpec(target)
    assert "give the full path" in str(info.value)


def test_a_relative_bytes_target_is_refused() -> None:
    with pytest.raises(InputError, match="not an absolute path"):
        SaveSpec(b"guest\xff.img")


def test_a_relative_source_is_refused() -> None:
    with pytest.raises(InputError, match=r"source 'g\.img' is not an absolute path"):
        RestoreSpec("g.img")


def test_a_relative_status_dir_is_refused() -> None:
    with pytest.raises(InputError, match="status directory 'st' is not an absolute path"):
        SaveSpec("/vm/g.img", status_dir="st")


def test_an_absolute_str_target_is_kept_as_is() -> None:
    assert SaveSpec("/var/lib/vm/g.img").target == "/var/lib/vm/g.img"


def test_an_absolute_bytes_target_is_kept_as_bytes() -> None:
    assert SaveSpec(b"/vm/\xff.img").target == b"/vm/\xff.img"


def test_a_pathlike_target_becomes_its_fspath() -> None:
    assert SaveSpec(Path("/vm/g.img")).target == "/vm/g.img"  # type: ignore[arg-type]
    assert RestoreSpec(Path("/vm/g.img")).source == "/vm/g.img"  # type: ignore[arg-type]


def test_a_target_with_nul_is_refused() -> None:
    with pytest.raises(InputError, match="NUL"):
        SaveSpec("/vm/g\0.img")


@pytest.mark.parametrize("target", [None, 3, ["/a"]])
def test_a_target_that_is_no_path_is_refused(target: object) -> None:
    with pytest.raises(InputError, match="must be a path"):
        SaveSpec(target)  # type: ignore[arg-type]


# --- offsets -----------------------------------------------------------------------------------


def test_offset_defaults_to_zero() -> None:
    spec = SaveSpec("/vm/g.img")
    assert spec.offset == 0 and spec.seek_blocks == 0


def test_offset_is_counted_in_blocks() -> None:
    assert SaveSpec("/vm/g.img", offset=8192).seek_blocks == 2
    assert RestoreSpec("/vm/g.img", offset=8192, block_size=4096).skip_blocks == 2
    assert SaveSpec("/vm/g.img", offset=8192, block_size=512).seek_blocks == 16


def test_a_negative_offset_is_refused_naming_zero_and_the_block_size() -> None:
    with pytest.raises(InputError, match="-4096 is negative") as info:
        SaveSpec("/vm/g.img", offset=-4096)
    assert re.search(r"\b0\b", str(info.value)) and "4096" in str(info.value)


def test_an_offset_not_a_multiple_names_the_nearest_valid_offsets() -> None:
    with pytest.raises(InputError, match="not a multiple of the block size 4096") as info:
        SaveSpec("/vm/g.img", offset=5000)
    assert "4096" in str(info.value) and "8192" in str(info.value)
    assert info.value.value == 5000


def test_an_offset_below_the_first_block_names_zero_and_the_block_size() -> None:
    with pytest.raises(InputError) as info:
        SaveSpec("/vm/g.img", offset=100)
    assert "are 0 and 4096" in str(info.value)


def test_the_nearest_offsets_follow_a_custom_block_size() -> None:
    with pytest.raises(InputError) as info:
        SaveSpec("/vm/g.img", offset=1000, block_size=512)
    assert "512" in str(info.value) and "1024" in str(info.value)


def test_a_restore_offset_not_a_multiple_names_the_nearest_valid_offsets() -> None:
    with pytest.raises(InputError) as info:
        RestoreSpec("/vm/g.img", offset=12000, block_size=4096)
    assert "8192" in str(info.value) and "12288" in str(info.value)


def test_bool_is_not_an_offset() -> None:
    with pytest.raises(InputError, match="integer"):
        SaveSpec("/vm/g.img", offset=True)


@pytest.mark.parametrize("offset", [4096.0, "4096", None])
def test_a_non_int_offset_is_refused(offset: object) -> None:
    with pytest.raises(InputError, match="integer"):
        SaveSpec("/vm/g.img", offset=offset)  # type: ignore[arg-type]


# --- block and transfer sizes ------------------------------------------------------------------


@pytest.mark.parametrize("size", [512, 4096, 65536, 1 << 20])
def test_a_power_of_two_block_size_within_bounds_is_accepted(size: int) -> None:
    assert SaveSpec("/vm/g.img", block_size=size).block_size == size
    assert RestoreSpec("/vm/g.img", block_size=size).block_size == size


@pytest.mark.parametrize("size", [0, -4096, 3000, 4097, 256, 2 << 20])
def test_a_bad_block_size_is_refused_naming_the_flag(size: int) -> None:
    with pytest.raises(InputError, match="power of two between 512 and 1048576") as info:
        SaveSpec("/vm/g.img", block_size=size)
    assert "--block-size" in str(info.value)


@pytest.mark.parametrize("size", [8192, 65536, 1 << 20, 64 << 20])
def test_a_power_of_two_transfer_size_within_bounds_is_accepted(size: int) -> None:
    spec = SaveSpec("/vm/g.img", transfer_size=size)
    assert spec.transfer_size == spec.obs == size


@pytest.mark.parametrize("size", [0, 4096, 1000000, 128 << 20, -(1 << 20)])
def test_a_bad_transfer_size_is_refused_naming_the_flag(size: int) -> None:
    with pytest.raises(InputError, match="--transfer-size"):
        SaveSpec("/vm/g.img", transfer_size=size)


def test_the_size_bounds() -> None:
    assert BLOCK_SIZE_RANGE == (512, 1 << 20)
    assert TRANSFER_SIZE_RANGE == (8 << 10, 64 << 20)


@pytest.mark.parametrize("field", ["block_size", "transfer_size"])
def test_bool_is_not_a_size(field: str) -> None:
    with pytest.raises(InputError, match="integer"):
        SaveSpec("/vm/g.img", **{field: True})


def test_bool_is_not_a_restore_block_size() -> None:
    with pytest.raises(InputError, match="integer"):
        RestoreSpec("/vm/g.img", block_size=True)


def test_the_offset_is_checked_against_the_block_size_given() -> None:
    assert SaveSpec("/vm/g.img", offset=512, block_size=512).seek_blocks == 1
    with pytest.raises(InputError):
        SaveSpec("/vm/g.img", offset=512)


# --- profiles ----------------------------------------------------------------------------------


def test_the_default_profile_reads_32k_and_writes_64k_without_cat() -> None:
    spec = SaveSpec("/vm/g.img")
    assert spec.profile.name == "default"
    assert (spec.block_size, spec.ibs, spec.obs) == (4096, 32768, 65536)
    assert spec.compress_argv is None


def test_the_libvirt_profile_reads_and_writes_1m_behind_cat() -> None:
    spec = SaveSpec("/vm/g.img", profile="libvirt")  # type: ignore[arg-type]
    assert (spec.block_size, spec.ibs, spec.obs) == (4096, 1 << 20, 1 << 20)
    assert spec.compress_argv == ("cat",)


def test_the_default_profile_keeps_ibs_distinct_from_obs_for_every_transfer_size() -> None:
    # busybox dd only collects short reads into full writes when ibs != obs
    # (docs/reference.md, section 5)
    low, high = TRANSFER_SIZE_RANGE
    size = low
    while size <= high:
        spec = SaveSpec("/vm/g.img", transfer_size=size)
        assert spec.ibs != spec.obs and spec.ibs <= 65536
        size *= 2


def test_a_profile_is_looked_up_by_name() -> None:
    assert profile("libvirt") is PROFILES["libvirt"]
    assert profile(PROFILES["default"]) is PROFILES["default"]


def test_an_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(InputError, match="known profiles: default, libvirt"):
        profile("qemu")
    with pytest.raises(InputError, match="unknown profile 'fast'"):
        SaveSpec("/vm/g.img", profile="fast")  # type: ignore[arg-type]


def test_a_custom_profile_object_is_accepted() -> None:
    mine = Profile("mine", block_size=512, cat_when_raw=True, obs=8192, ibs_equals_obs=False)
    spec = SaveSpec("/vm/g.img", offset=1024, profile=mine)
    assert (spec.block_size, spec.seek_blocks, spec.ibs, spec.obs) == (512, 2, 4096, 8192)
    assert spec.compress_argv == ("cat",)


# --- compression -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gzip", "bzip2", "xz", "lzop", "zstd"])
def test_a_named_compression_compresses_with_c_and_decompresses_with_dc(name: str) -> None:
    comp = compression(name)
    assert comp is not None
    assert comp.compress == (name, "-c") and comp.decompress == (name, "-dc")


def test_the_known_compressions() -> None:
    assert list(COMPRESSIONS) == ["gzip", "bzip2", "xz", "lzop", "zstd"]


@pytest.mark.parametrize("name", ["raw", None])
def test_raw_and_none_mean_no_compression(name: str | None) -> None:
    assert compression(name) is None


def test_an_unknown_compression_lists_the_known_ones() -> None:
    with pytest.raises(InputError) as info:
        compression("brotli")
    message = str(info.value)
    assert "'brotli'" in message
    assert "raw, gzip, bzip2, xz, lzop, zstd" in message
    assert "--compress-cmd" in message


def test_compression_names_are_case_sensitive() -> None:
    with pytest.raises(InputError, match="unknown compression"):
        compression("GZIP")


def test_a_compressed_save_starts_with_the_compressor() -> None:
    spec = SaveSpec("/vm/g.img", compression=compression("xz"))
    assert spec.compress_argv == ("xz", "-c")
    libvirt = SaveSpec("/vm/g.img", compression=compression("xz"), profile="libvirt")  # type: ignore[arg-type]
    assert libvirt.compress_argv == ("xz", "-c")


def test_a_custom_compressor_decompresses_with_the_same_program_and_dc() -> None:
    comp = Compression.custom(["/usr/bin/pigz", "-c", "-p", "2"])
    assert comp.name == "pigz"
    assert comp.compress == ("/usr/bin/pigz", "-c", "-p", "2")
    assert comp.decompress == ("/usr/bin/pigz", "-dc")


def test_a_custom_compressor_may_name_its_decompressor() -> None:
    comp = Compression.custom(("lz4", "-c"), ("lz4", "-d", "-c"))
    assert comp.decompress == ("lz4", "-d", "-c")


def test_an_empty_custom_compressor_is_refused() -> None:
    with pytest.raises(InputError, match="empty"):
        Compression.custom([])


def test_a_compressor_word_with_nul_is_refused() -> None:
    with pytest.raises(InputError, match="NUL"):
        Compression.custom(["gzip", "-c\0"])


def test_a_compressor_word_must_be_str() -> None:
    with pytest.raises(InputError, match="must be str"):
        Compression("x", compress=("gzip", 1), decompress=("gzip", "-dc"))  # type: ignore[arg-type]


def test_a_compression_given_by_name_instead_of_object_is_refused_naming_the_fix() -> None:
    with pytest.raises(InputError, match=r"qmonexec\.spec\.compression\(NAME\)"):
        SaveSpec("/vm/g.img", compression="gzip")  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"qmonexec\.spec\.compression\(NAME\)"):
        RestoreSpec("/vm/g.img", compression="gzip")  # type: ignore[arg-type]


# --- commands ----------------------------------------------------------------------------------


def test_a_command_keeps_str_bytes_and_turns_paths_into_their_fspath() -> None:
    spec = CommandSpec(("tee", b"/a\xff", Path("/b c")))  # type: ignore[arg-type]
    assert spec.argv == ("tee", b"/a\xff", "/b c")


def test_an_empty_command_is_refused_naming_the_fix() -> None:
    with pytest.raises(InputError, match="after --"):
        CommandSpec(())


def test_a_command_word_with_nul_names_its_position() -> None:
    with pytest.raises(InputError, match="argument 1"):
        CommandSpec(("tee", "/a\0"))


def test_a_command_word_that_is_no_string_is_refused() -> None:
    with pytest.raises(InputError, match="argument 1 must be str or bytes"):
        CommandSpec(("sleep", 3))  # type: ignore[arg-type]


# --- specs are values --------------------------------------------------------------------------


def test_specs_are_frozen() -> None:
    spec = SaveSpec("/vm/g.img")
    with pytest.raises(AttributeError):
        spec.offset = 4096  # type: ignore[misc]


def test_a_bare_string_is_not_an_argv() -> None:
    # CommandSpec("rm -rf /") must not become the argv ("r", "m", " ", "-", ...)
    with pytest.raises(InputError, match="argv"):
        CommandSpec("tee /tmp/x")  # type: ignore[arg-type]


def test_a_bare_string_is_not_a_custom_compressor_argv() -> None:
    # Compression.custom("pigz -c") must not become ("p", "i", "g", "z", " ", "-", "c")
    with pytest.raises(InputError, match="argv"):
        Compression.custom("pigz -c")  # type: ignore[arg-type]

"""Rendering: the exact shapes of docs/design.md and one Jinja2 environment that always quotes."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from qmonexec.errors import InputError
from qmonexec.render import (
    ShellText,
    environment,
    render_command,
    render_restore,
    render_save,
    template_dir,
)
from qmonexec.spec import (
    COMPRESSIONS,
    CommandSpec,
    Compression,
    RestoreSpec,
    SaveSpec,
    compression,
)
from tests.helpers.unquote import split_words

NAMES = list(COMPRESSIONS)


def save(target: str | bytes = "/vm/g.img", **kw: object) -> str:
    comp = kw.pop("compress", None)
    return render_save(SaveSpec(target, compression=compression(comp), **kw))  # type: ignore[arg-type]


def restore(source: str | bytes = "/vm/g.img", **kw: object) -> str:
    comp = kw.pop("compress", None)
    return render_restore(RestoreSpec(source, compression=compression(comp), **kw))  # type: ignore[arg-type]


def outside_quotes(text: str) -> str:
    """The characters of ``text`` outside single-quoted runs (the '\\'' idiom joins runs)."""
    joined = text.replace("'\\''", "")
    return "".join(part for i, part in enumerate(joined.split("'")) if i % 2 == 0)


# --- save --------------------------------------------------------------------------------------


def test_the_issue_libvirt_example_byte_for_byte() -> None:
    uri = save("/var/lib/vm/it's here.img", offset=8192, compress="gzip", profile="libvirt")
    assert uri == ("exec:gzip -c | { dd bs=4096 seek=2 if=/dev/null && dd ibs=1048576 "
                   "obs=1048576; } 1<>'/var/lib/vm/it'\\''s here.img'")


def test_default_profile_has_no_cat_and_reads_32k_writes_64k() -> None:
    assert save(offset=8192) == (
        "exec:{ dd bs=4096 seek=2 if=/dev/null && dd ibs=32768 obs=65536; } 1<>/vm/g.img"
    )


def test_libvirt_profile_uncompressed_feeds_dd_through_cat() -> None:
    assert save(offset=8192, profile="libvirt") == (
        "exec:cat | { dd bs=4096 seek=2 if=/dev/null && dd ibs=1048576 obs=1048576; } 1<>/vm/g.img"
    )


def test_offset_zero_seeks_zero_blocks() -> None:
    assert "dd bs=4096 seek=0 if=/dev/null" in save()


@pytest.mark.parametrize("name", NAMES)
def test_default_profile_compresses_with_name_c(name: str) -> None:
    assert save(compress=name, offset=4096) == (
        f"exec:{name} -c | {{ dd bs=4096 seek=1 if=/dev/null && dd ibs=32768 obs=65536; }} "
        "1<>/vm/g.img"
    )


@pytest.mark.parametrize("name", NAMES)
def test_libvirt_profile_compresses_with_name_c_and_no_cat(name: str) -> None:
    uri = save(compress=name, profile="libvirt")
    assert uri.startswith(f"exec:{name} -c | {{ dd bs=4096 seek=0 ")
    assert "cat" not in uri


def test_raw_is_no_compression() -> None:
    assert save(compress="raw") == save()


def test_custom_block_and_transfer_sizes() -> None:
    assert save(offset=8192, block_size=512, transfer_size=1 << 22) == (
        "exec:{ dd bs=512 seek=16 if=/dev/null && dd ibs=65536 obs=4194304; } 1<>/vm/g.img"
    )


def test_a_custom_compressor_argv_is_quoted_word_by_word() -> None:
    spec = SaveSpec("/vm/g.img", compression=Compression.custom(["/opt/my zip", "-c", "--level=3"]))
    assert render_save(spec).startswith(
        "exec:'/opt/my zip' -c '--level=3' | { dd bs=4096 seek=0 "
    )


def test_a_target_with_spaces_is_single_quoted() -> None:
    assert save("/vm/a b.img").endswith("1<>'/vm/a b.img'")


def test_a_bytes_target_renders_the_same_as_its_str() -> None:
    assert save(b"/vm/a b.img") == save("/vm/a b.img")


def test_a_non_utf8_target_keeps_its_bytes_as_surrogate_escapes() -> None:
    uri = save(b"/vm/\xff.img")
    assert uri.encode("utf-8", "surrogateescape").endswith(b"1<>'/vm/\xff.img'")


# --- stage status ------------------------------------------------------------------------------


def test_stage_status_form_uncompressed_has_only_the_write_stage() -> None:
    assert save(offset=8192, status_dir="/run/qs") == (
        "exec:{ { dd bs=4096 seek=2 if=/dev/null && dd ibs=32768 obs=65536; } 1<>/vm/g.img "
        "&& : >/run/qs/write.ok || : >/run/qs/write.failed; } 2>/run/qs/write.err"
    )


def test_stage_status_form_compressed_records_both_stages() -> None:
    assert save(offset=8192, compress="gzip", status_dir="/run/qs") == (
        "exec:{ gzip -c && : >/run/qs/compress.ok || : >/run/qs/compress.failed; } "
        "2>/run/qs/compress.err | "
        "{ { dd bs=4096 seek=2 if=/dev/null && dd ibs=32768 obs=65536; } 1<>/vm/g.img "
        "&& : >/run/qs/write.ok || : >/run/qs/write.failed; } 2>/run/qs/write.err"
    )


def test_stage_status_form_libvirt_raw_records_the_cat_stage() -> None:
    assert save(profile="libvirt", status_dir="/run/qs").startswith(
        "exec:{ cat && : >/run/qs/compress.ok || : >/run/qs/compress.failed; } "
        "2>/run/qs/compress.err | { { dd bs=4096 seek=0 if=/dev/null && dd ibs=1048576 obs=1048576"
    )


def test_stage_status_paths_drop_a_trailing_slash_of_the_directory() -> None:
    assert save(status_dir="/run/qs/") == save(status_dir="/run/qs")


def test_stage_status_paths_are_quoted_as_whole_words() -> None:
    uri = save(status_dir="/run/q s")
    assert ": >'/run/q s/write.ok' || : >'/run/q s/write.failed'; }" in uri
    assert uri.endswith(" 2>'/run/q s/write.err'")


def test_stage_status_with_a_bytes_directory() -> None:
    assert save(status_dir=b"/run/qs") == save(status_dir="/run/qs")


def test_stage_status_form_needs_no_expansion() -> None:
    # design.md: no $? or other expansion, so the validator never has to accept one
    uri = save(compress="xz", status_dir="/run/qs")
    assert "$" not in uri and "`" not in uri


# --- restore -----------------------------------------------------------------------------------


def test_restore_reads_the_source_skipping_the_header_in_64k_blocks() -> None:
    assert restore(offset=65536) == "exec:dd if=/vm/g.img bs=65536 skip=1"


def test_restore_reads_the_largest_block_up_to_64k_that_divides_the_offset() -> None:
    assert restore(offset=8192) == "exec:dd if=/vm/g.img bs=8192 skip=1"
    assert restore(offset=3 * 4096) == "exec:dd if=/vm/g.img bs=4096 skip=3"


def test_restore_pinned_to_default_1_reads_4k_blocks() -> None:
    assert restore(offset=65536, profile="default@1") == "exec:dd if=/vm/g.img bs=4096 skip=16"


@pytest.mark.parametrize("name", NAMES)
def test_restore_decompresses_with_name_dc(name: str) -> None:
    assert restore(offset=65536, compress=name) == (
        f"exec:dd if=/vm/g.img bs=65536 skip=1 | {name} -dc"
    )


def test_restore_quotes_the_source() -> None:
    assert restore("/vm/it's.img") == "exec:dd if='/vm/it'\\''s.img' bs=65536 skip=0"


def test_restore_with_a_custom_block_size() -> None:
    assert restore(offset=1024, block_size=512) == "exec:dd if=/vm/g.img bs=512 skip=2"


def test_restore_with_a_custom_decompressor() -> None:
    spec = RestoreSpec("/vm/g.img", compression=Compression.custom(["pigz", "-c"]))
    assert render_restore(spec) == "exec:dd if=/vm/g.img bs=65536 skip=0 | pigz -dc"


# --- command -----------------------------------------------------------------------------------


def test_command_quotes_every_word() -> None:
    spec = CommandSpec(("/usr/bin/tee", "/tmp/a b", "", "=x", "~", "it's"))
    assert render_command(spec) == "exec:/usr/bin/tee '/tmp/a b' '' '=x' '~' 'it'\\''s'"


def test_command_words_unquote_to_the_argv() -> None:
    argv = ("sh", "-c", "echo $HOME; rm -rf /", "a\nb", "\t")
    uri = render_command(CommandSpec(argv))
    assert split_words(uri.removeprefix("exec:")) == [a.encode() for a in argv]


def test_command_with_bytes_words() -> None:
    uri = render_command(CommandSpec((b"tee", b"/a\xff")))
    assert uri.encode("utf-8", "surrogateescape") == b"exec:tee '/a\xff'"


# --- the environment ---------------------------------------------------------------------------


def render_string(source: str, **context: object) -> str:
    return environment().from_string(source).render(**context)


def test_a_str_slot_is_quoted() -> None:
    assert render_string("x {{ v }}", v="a b; rm -rf /") == "x 'a b; rm -rf /'"


def test_a_safe_str_slot_stays_bare() -> None:
    assert render_string("{{ v }}", v="/vm/g.img") == "/vm/g.img"


def test_an_empty_str_slot_is_two_quotes() -> None:
    assert render_string("a{{ v }}b", v="") == "a''b"


def test_a_bytes_slot_is_quoted() -> None:
    assert render_string("{{ v }}", v=b"a b") == "'a b'"


def test_a_path_slot_is_quoted() -> None:
    assert render_string("{{ v }}", v=Path("/a b")) == "'/a b'"


def test_an_int_slot_is_written_bare() -> None:
    assert render_string("bs={{ n }} seek={{ m }}", n=4096, m=-1) == "bs=4096 seek=-1"


def test_an_int_expression_is_written_bare() -> None:
    assert render_string("{{ n * 2 }}", n=4096) == "8192"


def test_a_str_expression_is_quoted_after_it_is_built() -> None:
    assert render_string("{{ a ~ b }}", a="x", b=" y") == "'x y'"


def test_a_bool_slot_is_refused() -> None:
    with pytest.raises(InputError, match="boolean"):
        render_string("{{ v }}", v=True)


@pytest.mark.parametrize("value", [["a", "b"], ("a",), {"a": 1}, None, 1.5])
def test_a_slot_of_any_other_type_is_refused(value: object) -> None:
    with pytest.raises(InputError, match="template slot got a"):
        render_string("{{ v }}", v=value)


def test_a_list_goes_through_the_argv_filter() -> None:
    assert render_string("{{ v | argv }}", v=["gzip", "-c", "a b"]) == "gzip -c 'a b'"


def test_shelltext_is_written_as_is() -> None:
    assert render_string("{{ v }}", v=ShellText("a | b; c")) == "a | b; c"


def test_a_plain_str_that_looks_like_shell_is_not_trusted() -> None:
    assert render_string("{{ v }}", v="a | b") == "'a | b'"


def test_an_undefined_name_raises_strict_undefined_naming_it() -> None:
    with pytest.raises(jinja2.UndefinedError, match="'nope' is undefined"):
        render_string("x {{ nope }}")


def test_an_undefined_name_in_a_filter_raises() -> None:
    with pytest.raises(jinja2.UndefinedError):
        render_string("{{ nope | argv }}")


def test_an_undefined_name_in_a_condition_raises() -> None:
    with pytest.raises(jinja2.UndefinedError):
        render_string("{% if nope %}x{% endif %}")


def test_literal_template_text_is_not_quoted() -> None:
    assert render_string("{ a; } 1<>") == "{ a; } 1<>"


def test_environment_is_one_shared_instance() -> None:
    assert environment() is environment()


def test_the_templates_ship_next_to_the_package() -> None:
    names = {p.name for p in template_dir().iterdir()}
    assert {"save.j2", "restore.j2", "command.j2"} <= names


# --- one line, newlines only inside quotes ---------------------------------------------------

HOSTILE = ["/vm/a\nb", "/vm/a\rb", "/vm/\n", "/vm/x'\n'y", "/vm/\r\n;reboot\n"]


@pytest.mark.parametrize("target", HOSTILE, ids=repr)
@pytest.mark.parametrize("profile", ["default", "libvirt"])
def test_a_rendered_save_has_no_raw_newline_outside_quotes(target: str, profile: str) -> None:
    uri = save(target, compress="gzip", profile=profile, status_dir=target.replace("vm", "st"))
    outside = outside_quotes(uri)
    assert "\n" not in outside and "\r" not in outside


@pytest.mark.parametrize("source", HOSTILE, ids=repr)
def test_a_rendered_restore_has_no_raw_newline_outside_quotes(source: str) -> None:
    outside = outside_quotes(restore(source, compress="zstd"))
    assert "\n" not in outside and "\r" not in outside


def test_a_rendered_command_has_no_raw_newline_outside_quotes() -> None:
    outside = outside_quotes(render_command(CommandSpec(tuple(HOSTILE))))
    assert "\n" not in outside and "\r" not in outside


@pytest.mark.parametrize("uri", [
    save(), save(compress="gzip", profile="libvirt", status_dir="/s"), restore(compress="xz"),
    render_command(CommandSpec(("tee", "/x"))),
])
def test_a_rendered_uri_is_one_line_without_trailing_newline(uri: str) -> None:
    assert "\n" not in uri and uri.startswith("exec:") and uri == uri.strip()

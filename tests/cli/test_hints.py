"""Every hint names an option that exists: error paths of save, restore, inspect and uri.

Each case runs a failing command line in-process, takes every ``--word`` out of
what it printed and checks it against the options of the (sub)command that printed
it (plus ``--help``); QEMU's own options are written with one dash and are not
taken.  A hint that names an option another command has fails here.
"""

from __future__ import annotations

import argparse
import re
import struct
from pathlib import Path

import pytest

from qmonexec.cli import build_parser
from qmonexec.save.image import encode_header, new_header
from tests.helpers.cli import cli

OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def options_of(argv: list[str]) -> set[str]:
    """The option strings of the deepest subcommand ``argv`` names."""
    parser: argparse.ArgumentParser = build_parser(argv[0])
    for word in argv:
        sub = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not sub or word not in sub[0].choices:
            continue
        parser = sub[0].choices[word]
    return {s for action in parser._actions for s in action.option_strings}


def image(tmp_path: Path, name: str, *, complete: bool = True, compression: str = "raw",
          decompress: tuple[str, ...] | None = None, stream: bytes = b"QEVM" + bytes(60),
          source: dict[str, object] | None = None) -> str:
    header = new_header(compression=compression, decompress=decompress, alignment=65536,
                        source=source)
    from dataclasses import replace
    header = replace(header, complete=complete, stream_length=len(stream))
    path = tmp_path / name
    path.write_bytes(encode_header(header) + stream)
    return str(path)


def libvirt(tmp_path: Path) -> str:
    path = tmp_path / "dom.save"
    data = b"<domain><name>d</name></domain>\0"
    path.write_bytes(struct.pack("=16sIIIII14I", b"LibvirtQemudSave", 2, len(data), 0, 0, 0,
                                 *[0] * 14) + data + b"QEVM")
    return str(path)


def cases(tmp_path: Path) -> list[list[str]]:
    nosock = str(tmp_path / "nosock")
    bare = tmp_path / "bare.img"
    bare.write_bytes(b"QEVM" + bytes(60))
    gz = tmp_path / "x.gz"
    gz.write_bytes(b"\x1f\x8b" + bytes(60))
    partial = image(tmp_path, "partial.img", complete=False)
    custom = image(tmp_path, "custom.img", compression="pigz", decompress=("pigz", "-dc"))
    no_argv = image(tmp_path, "noargv.img", source={"argv": None, "running": False})
    good = image(tmp_path, "good.img")
    truncated = tmp_path / "truncated.img"
    truncated.write_bytes(Path(good).read_bytes()[:-10])
    target = str(tmp_path / "new.img")
    return [
        ["save", "--qmp", nosock, "relative.img"],
        ["save", "--qmp", nosock, target, "--compress", "brotli"],
        ["save", "--qmp", nosock, target, "--compress-cmd", "pigz '-c'"],
        ["save", "--qmp", nosock, target, "--metadata", "[1]"],
        ["save", "--qmp", nosock, target, "--header-file", str(tmp_path / "missing")],
        ["save", "--qmp", nosock, target, "--header-file", good, "--metadata", "{}"],
        ["save", "--qmp", nosock, str(tmp_path)],
        ["save", "--qmp", nosock, target],
        ["save", "--qmp", nosock, target, "--block-size", "3000"],
        ["restore", "--qmp", nosock, str(tmp_path / "missing.img")],
        ["restore", "--qmp", nosock, str(bare)],
        ["restore", "--qmp", nosock, str(gz)],
        ["restore", "--qmp", nosock, good, "--compress", "gzip"],
        ["restore", "--qmp", nosock, good, "--offset", "4096", "--compress", "brotli"],
        ["restore", "--qmp", nosock, partial],
        ["restore", "--qmp", nosock, partial, "--offset", "65536"],
        ["restore", "--qmp", nosock, str(truncated)],
        ["restore", "--qmp", nosock, custom],
        ["restore", "--qmp", nosock, good],
        ["inspect", str(tmp_path / "missing.img")],
        ["inspect", str(bare)],
        ["inspect", str(gz)],
        ["inspect", good, "--compress", "gzip"],
        ["inspect", str(bare), "--offset", "0", "--compress", "brotli"],
        ["inspect", str(gz), "--offset", "0"],
        ["inspect", no_argv, "--cmdline"],
        ["inspect", libvirt(tmp_path), "--cmdline"],
        ["inspect", str(truncated)],
        ["uri", "save", "/vm/g.img", "--compress", "brotli"],
        ["uri", "restore", "/vm/g.img", "--compress", "brotli"],
        ["uri", "save", "/vm/g.img", "--offset", "1000"],
    ]


def test_every_hint_names_an_option_of_the_command_that_printed_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    checked = 0
    for argv in cases(tmp_path):
        status, out, err = cli(capsys, *argv)
        assert status != 0, (argv, err)
        said = err + out  # inspect reports a problem on stdout
        assert said.strip(), argv
        named = set(OPTION.findall(said))
        missing = named - options_of(argv) - {"--help"}
        assert not missing, (argv, missing, err)
        checked += 1
    assert checked == len(cases(tmp_path))


def test_the_option_pattern_finds_long_options_only() -> None:
    assert OPTION.findall("use --offset N or -incoming defer, not a--b") == ["--offset"]

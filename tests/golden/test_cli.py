"""``qmonexec golden write|check CATALOGUE GOLDEN``: golden files without pytest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qmonexec.cli import main
from qmonexec.golden import golden_block
from qmonexec.spec import Compression, RestoreSpec, SaveSpec

CASES: dict[str, dict[str, Any]] = {
    "nightly": {"kind": "save", "target": "/var/lib/vm/web1.img", "offset": 65536,
                "compression": "zstd"},
    "pinned": {"kind": "save", "target": "/var/lib/vm/web1.img", "offset": 8192,
               "profile": "default@1", "format": "hmp"},
    "back": {"kind": "restore", "target": "/var/lib/vm/web1.img", "offset": 65536,
             "compression": "zstd", "format": "qmp"},
    "tee": {"kind": "command", "argv": ["/usr/bin/tee", "/var/lib/vm/stream"],
            "format": "virsh", "domain": "web1"},
}


def catalogue(tmp_path: Path, cases: dict[str, Any] | None = None, raw: str | None = None) -> str:
    path = tmp_path / "uris.json"
    path.write_text(raw if raw is not None else json.dumps({"cases": cases or CASES}))
    return str(path)


def golden(capsys: pytest.CaptureFixture[str], action: str, cat: str,
           gold: str) -> tuple[int, str, str]:
    status = main(["golden", action, cat, gold])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    cat, gold = catalogue(tmp_path), str(tmp_path / "uris.golden")
    assert golden(capsys, "write", cat, gold)[0] == 0
    return cat, gold


def test_write_stores_one_block_per_case_in_catalogue_order(written: tuple[str, str]) -> None:
    headers = [line for line in Path(written[1]).read_text().splitlines()
               if line.startswith("qmonexec-golden")]
    assert headers == [f"qmonexec-golden 1: {name}" for name in CASES]


def test_check_passes_on_an_unchanged_catalogue(written: tuple[str, str],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = golden(capsys, "check", *written)
    assert (status, out) == (0, "")
    assert "4 cases match" in err


def test_check_fails_with_a_unified_diff_naming_the_changed_case(
    written: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    changed = {**CASES, "pinned": {**CASES["pinned"], "target": "/var/lib/vm/web2.img"}}
    cat = catalogue(tmp_path, changed)
    status, out, err = golden(capsys, "check", cat, written[1])
    assert status == 1
    assert f"--- {written[1]} (pinned)\n+++ rendered (pinned)\n" in out
    assert "\n-uri: exec:{ dd bs=4096 seek=2 if=/dev/null && dd ibs=32768 obs=65536; } " \
           "1<>/var/lib/vm/web1.img\n" in out
    assert "\n+uri: exec:{ dd bs=4096 seek=2 if=/dev/null && dd ibs=32768 obs=65536; } " \
           "1<>/var/lib/vm/web2.img\n" in out
    assert "(nightly)" not in out
    assert "changed: case 'pinned'" in err and "qmonexec golden write" in err


def test_a_changed_profile_shows_in_the_diff(written: tuple[str, str], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    cat = catalogue(tmp_path, {**CASES, "nightly": {**CASES["nightly"], "profile": "libvirt"}})
    status, out, _ = golden(capsys, "check", cat, written[1])
    assert status == 1 and "\n-profile: default@2\n+profile: libvirt@1\n" in out


def test_a_case_removed_from_the_catalogue_is_reported(
    written: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    cat = catalogue(tmp_path, {k: v for k, v in CASES.items() if k != "tee"})
    status, out, err = golden(capsys, "check", cat, written[1])
    assert status == 1 and "(tee: no such case)" in out
    assert "in the golden file but not the catalogue: case 'tee'" in err


def test_a_new_case_is_reported_missing(written: tuple[str, str], tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    cat = catalogue(tmp_path, {**CASES, "more": {"kind": "restore", "target": "/vm/more"}})
    status, out, err = golden(capsys, "check", cat, written[1])
    assert status == 1 and "+qmonexec-golden 1: more" in out
    assert "missing from the golden file: case 'more'" in err


UNSAFE = {"kind": "restore", "target": {"hex": "2f766d2f636166e92e696d67"}}


def test_write_refuses_an_unsafe_case_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    gold = tmp_path / "uris.golden"
    gold.write_text("kept\n")
    status, _, err = golden(capsys, "write", catalogue(tmp_path, {**CASES, "latin": UNSAFE}),
                            str(gold))
    assert status == 1 and "unsafe: case 'latin': non-ascii" in err
    assert gold.read_text() == "kept\n"


def test_check_fails_on_an_unsafe_case_even_when_its_block_is_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    cat = catalogue(tmp_path, {"latin": UNSAFE})
    gold = tmp_path / "uris.golden"
    spec = RestoreSpec(bytes.fromhex(UNSAFE["target"]["hex"]))
    gold.write_text(golden_block(spec, name="latin").text)
    status, out, err = golden(capsys, "check", cat, str(gold))
    assert (status, out) == (1, "")
    assert "unsafe: case 'latin'" in err


def test_a_hex_target_is_the_same_as_the_text_target(tmp_path: Path) -> None:
    from qmonexec.golden.catalogue import load_catalogue

    hexed = {"kind": "save", "target": {"hex": b"/var/lib/vm/web1.img".hex()}}
    text = {"kind": "save", "target": "/var/lib/vm/web1.img"}
    a, b = load_catalogue(catalogue(tmp_path, {"x": hexed, "y": text}))
    assert a.block().text.replace(": x", ": y", 1) == b.block().text


def test_every_spec_field_reaches_the_spec(tmp_path: Path) -> None:
    from qmonexec.golden.catalogue import load_catalogue

    fields = {"kind": "save", "target": "/vm/x", "offset": 1024, "block_size": 512,
              "transfer_size": 131072, "compress_cmd": ["pigz", "-c"], "status_dir": "/run/s",
              "profile": "default@1", "format": "virsh", "domain": "web1"}
    (case,) = load_catalogue(catalogue(tmp_path, {"all": fields}))
    assert case.spec == SaveSpec("/vm/x", offset=1024, block_size=512, transfer_size=131072,
                                 compression=Compression.custom(["pigz", "-c"]),
                                 status_dir="/run/s", profile="default@1")  # type: ignore[arg-type]
    assert (case.form, case.domain) == ("virsh", "web1")
    restore = {"kind": "restore", "target": "/vm/x", "offset": 1024, "block_size": 512,
               "decompress_cmd": ["pigz", "-dc"], "profile": "libvirt@1"}
    (case,) = load_catalogue(catalogue(tmp_path, {"r": restore}))
    assert case.spec == RestoreSpec("/vm/x", offset=1024, block_size=512,
                                    compression=Compression.custom(["pigz", "-dc"],
                                                                   ["pigz", "-dc"]),
                                    profile="libvirt@1")  # type: ignore[arg-type]


@pytest.mark.parametrize(("case", "expected"), [
    ({"kind": "save", "target": "/x", "colour": 1}, "case 'bad', field 'colour': unknown"),
    ({"kind": "restore", "target": "/x", "transfer_size": 65536},
     "field 'transfer_size': unknown for kind restore"),
    ({"kind": "save"}, "field 'target': missing"),
    ({"kind": "copy", "target": "/x"}, "field 'kind': 'copy' is not one of save"),
    ({"kind": "save", "target": "/x", "offset": "8K"}, "field 'offset': '8K' must be an integer"),
    ({"kind": "save", "target": "/x", "offset": 100}, "field 'offset': offset 100 is not a "
     "multiple of the block size 4096"),
    ({"kind": "save", "target": "x.img"}, "field 'target': target 'x.img' is not an absolute"),
    ({"kind": "save", "target": "/x", "profile": "fast"}, "field 'profile': unknown profile"),
    ({"kind": "save", "target": "/x", "format": "json"}, "field 'format': 'json' is not one of"),
    ({"kind": "save", "target": {"hex": "zz"}}, "field 'target': 'zz' is not hex digits"),
    ({"kind": "save", "target": "/x", "compression": "gzip", "compress_cmd": ["pigz", "-c"]},
     "field 'compress_cmd': give either compression or compress_cmd"),
    ({"kind": "command", "argv": "/usr/bin/tee /x"}, "field 'argv': '/usr/bin/tee /x' must be a"),
    ({"kind": "command", "argv": ["/bin/cat"], "incoming": "yes"}, "field 'incoming'"),
])
def test_a_malformed_case_exits_2_naming_the_case_and_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: dict[str, Any], expected: str,
) -> None:
    gold = tmp_path / "uris.golden"
    for action in ("check", "write"):
        status, out, err = golden(capsys, action, catalogue(tmp_path, {"bad": case}), str(gold))
        assert (status, out) == (2, "") and expected in err, err
    assert not gold.exists()


@pytest.mark.parametrize(("raw", "expected"), [
    ("{not json", "is not valid JSON"),
    ('["a"]', '{"cases": {NAME: CASE, ...}}'),
    ('{"cases": {}, "version": 2}', "unknown top-level field 'version'"),
])
def test_a_malformed_catalogue_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      raw: str, expected: str) -> None:
    status, _, err = golden(capsys, "check", catalogue(tmp_path, raw=raw),
                            str(tmp_path / "g"))
    assert status == 2 and expected in err


def test_check_without_a_golden_file_names_the_write_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    cat = catalogue(tmp_path)
    status, _, err = golden(capsys, "check", cat, str(tmp_path / "none.golden"))
    assert status == 2 and f"qmonexec golden write {cat}" in err


def test_the_golden_command_is_registered_lazily() -> None:
    from qmonexec.cli import COMMAND_MODULES, COMMAND_OWNERS

    assert COMMAND_OWNERS["golden"] == "golden" and "golden" in COMMAND_MODULES

"""The pipeline benchmark still runs and still verifies its output (no timing is asserted)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers.support import ROOT, require_program

SIZE = 2 * 1024 * 1024 + 12345  # not a multiple of the 64 KiB chunk: the tail is exercised too


def _load() -> ModuleType:
    """Import benchmarks/pipeline.py (benchmarks/ is not a package)."""
    name = "qmonexec_benchmark_pipeline"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "pipeline.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    """The benchmark module."""
    require_program("dd", "coreutils")
    return _load()


@pytest.fixture(scope="module")
def stream(bench: ModuleType) -> object:
    """A small stream, generated once."""
    return bench.Stream(SIZE)


def test_default_candidate_one_round_gnu_dd(
    bench: ModuleType, stream: object, tmp_path: Path
) -> None:
    form = next(f for f in bench.FORMS if f.key == "c1")
    results = bench.run_benchmark(
        [form], [bench.DdImpl("gnu")], stream, tmp_path, rounds=1, sync=False
    )
    assert [(r.form, r.impl, r.verified) for r in results] == [("c1", "gnu", True)]
    assert results[0].wall > 0
    rows = bench.summarize([form], [bench.DdImpl("gnu")], results)
    assert [r.form for r in rows] == ["c1"]
    assert "c1" in bench.format_table(rows)


def test_verification_catches_a_misplaced_stream(
    bench: ModuleType, stream: object, tmp_path: Path
) -> None:
    wrong = bench.Form(
        "x", "stream one block too far", "{ dd bs=4096 seek=2 if=/dev/null && cat; } 1<>{F}"
    )
    with pytest.raises(bench.VerificationError, match="size"):
        bench.run_once(wrong, bench.DdImpl("gnu"), stream, tmp_path, sync=False)


def test_verification_catches_changed_bytes(
    bench: ModuleType, stream: object, tmp_path: Path
) -> None:
    # Right size and offset, wrong content: only the hash can tell.
    wrong = bench.Form("y", "bytes flipped", "{ dd bs=4096 seek=1 if=/dev/null && tr a b; } 1<>{F}")
    with pytest.raises(bench.VerificationError, match="differs"):
        bench.run_once(wrong, bench.DdImpl("gnu"), stream, tmp_path, sync=False)


def test_trace_counts_the_data_stage(bench: ModuleType, stream: object, tmp_path: Path) -> None:
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    form = next(f for f in bench.FORMS if f.key == "c1")
    result = bench.run_once(form, bench.DdImpl("gnu"), stream, tmp_path, strace=strace, sync=False)
    stage = result.data_stage
    assert stage is not None and stage.argv[:1] == ["dd"] and "obs=1048576" in stage.argv
    assert stage.bytes_fd1 == SIZE
    assert stage.writes_fd1 == -(-SIZE // (1024 * 1024))  # full 1 MiB writes plus the tail


def test_parse_size(bench: ModuleType) -> None:
    assert bench.parse_size("256M") == 256 << 20
    assert bench.parse_size("1GiB") == 1 << 30
    assert bench.parse_size("4096") == 4096


def test_floor_writes_a_fresh_file(bench: ModuleType, stream: object, tmp_path: Path) -> None:
    form = next(f for f in bench.FORMS if f.key == "d")
    assert form.fresh and not form.header
    assert bench.run_once(form, bench.DdImpl("gnu"), stream, tmp_path, sync=False).verified

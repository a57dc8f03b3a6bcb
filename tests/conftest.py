"""Pytest configuration: shared fixtures, and golden files in the top-level snapshots/ directory.

``snapshots/`` mirrors ``tests/``: the golden file of ``tests/render/test_golden.py`` is
``snapshots/render/test_golden.ambr``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from syrupy.extensions.amber import AmberSnapshotExtension

from .helpers.fake_qmp import fake
from .helpers.qemu_fixtures import known_data, loaded_vm, qemu, qemu_factory
from .helpers.support import ROOT

__all__ = ["fake", "known_data", "loaded_vm", "qemu", "qemu_factory", "snapshot"]

SNAPSHOT_DIR = ROOT / "snapshots"

#: pytester runs the golden-file plugin in example projects (tests/golden/).
pytest_plugins = ["pytester"]


class TopLevelAmberExtension(AmberSnapshotExtension):
    """Amber golden files stored in ``snapshots/`` at the top of the repository."""

    @classmethod
    def dirname(cls, *, test_location: Any) -> str:
        test_file = Path(test_location.filepath).resolve()
        relative = test_file.parent.relative_to(ROOT / "tests")
        return str(SNAPSHOT_DIR.joinpath(relative))


@pytest.fixture
def snapshot(snapshot: Any) -> Any:
    """The syrupy snapshot fixture, writing to and reading from ``snapshots/``."""
    return snapshot.use_extension(TopLevelAmberExtension)


# ---------------------------------------------------------------- adversarial test summary
# tests/shell/test_adversarial.py records its counts as a user property; they reach this
# process also from xdist workers, and are summed up at the end of the run.
_ADVERSARIAL: list[dict[str, Any]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collect the counts of every adversarial chunk."""
    if report.when == "call":
        _ADVERSARIAL.extend(v for k, v in report.user_properties if k == "adversarial")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the generated, rejected, accepted and run totals of the adversarial test."""
    if not _ADVERSARIAL:
        return
    counts: Counter[str] = Counter()
    pairs: Counter[str] = Counter()
    for chunk in _ADVERSARIAL:
        counts.update(chunk["counts"])
        pairs.update(chunk["pairs"])
    terminalreporter.write_sep("-", "adversarial validator test")
    terminalreporter.write_line(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    per_pair = ", ".join(f"{k} {v}" for k, v in sorted(pairs.items()))
    terminalreporter.write_line(f"shell runs per shell/locale pair: {per_pair}")

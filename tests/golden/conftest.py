"""Fixtures for the golden-file tests: pytester, and golden blocks stored in snapshots/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qmonexec.golden.snapshot import GoldenAssertion, GoldenExtension

from ..helpers.support import ROOT

__all__ = ["TopLevelGoldenExtension", "golden"]

class TopLevelGoldenExtension(GoldenExtension):
    """Golden blocks of this repository's own tests, stored under ``snapshots/``."""

    @classmethod
    def dirname(cls, *, test_location: Any) -> str:
        test_file = Path(test_location.filepath).resolve()
        relative = test_file.parent.relative_to(ROOT / "tests")
        return str(ROOT.joinpath("snapshots", relative, test_file.stem))


@pytest.fixture
def golden(snapshot: Any) -> GoldenAssertion:
    """``qmonexec_snapshot`` as users get it, writing to ``snapshots/golden/``."""
    return GoldenAssertion(snapshot.use_extension(TopLevelGoldenExtension))

"""docs/golden.md's worked example, run as written: its files, stored block and diff are real.

The example project gets only its test file; the plugin is loaded by the
``pytest11`` entry point when qmonexec is installed, else with ``-p``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ..helpers.support import ROOT
from .test_plugin import run

DOC = ROOT / "docs" / "golden.md"


def examples() -> dict[str, str]:
    """Each ``<!-- example: NAME -->`` of the doc and the fenced block after it."""
    text = DOC.read_text()
    found = re.findall(r"<!-- example: (\S+) -->\n```\w*\n(.*?)```", text, flags=re.S)
    return dict(found)


EXAMPLES = examples()


def test_the_doc_has_every_example_this_test_runs() -> None:
    assert set(EXAMPLES) == {"test_uris.py", "stored", "changed", "diff", "uris.json"}


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """The doc's project after its first ``pytest --snapshot-update``."""
    (pytester.path / "test_uris.py").write_text(EXAMPLES["test_uris.py"])
    run(pytester, "--snapshot-update").assert_outcomes(passed=1)
    return pytester


def test_the_stored_block_is_the_one_the_doc_shows(project: pytest.Pytester) -> None:
    stored = project.path / "__snapshots__" / "test_uris" / "test_nightly_save.golden"
    assert stored.read_text() == EXAMPLES["stored"]


def test_the_unchanged_test_passes(project: pytest.Pytester) -> None:
    run(project).assert_outcomes(passed=1)


def test_the_change_fails_with_the_diff_the_doc_shows(project: pytest.Pytester) -> None:
    (project.path / "test_uris.py").write_text(EXAMPLES["changed"])
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.re_match_lines([f"^E +{re.escape(line)}$"
                                  for line in EXAMPLES["diff"].splitlines()])


def test_the_update_command_accepts_the_change(project: pytest.Pytester) -> None:
    (project.path / "test_uris.py").write_text(EXAMPLES["changed"])
    run(project, "--snapshot-update").assert_outcomes(passed=1)
    run(project).assert_outcomes(passed=1)


def test_the_doc_catalogue_writes_and_checks(tmp_path: Path) -> None:
    catalogue = tmp_path / "uris.json"
    catalogue.write_text(EXAMPLES["uris.json"])
    for action in ("write", "check"):
        done = subprocess.run([sys.executable, "-m", "qmonexec", "golden", action,
                               str(catalogue), str(tmp_path / "uris.golden")],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr

"""The qmonexec_snapshot fixture in a user's project, run through pytester in a subprocess.

The project holds only a five-line test; the plugin comes from the ``pytest11``
entry point when qmonexec is installed, else from ``-p qmonexec.golden.pytest_plugin``.
"""

from __future__ import annotations

import os
from importlib.metadata import entry_points
from pathlib import Path

import pytest

USER_TEST = """\
from qmonexec.spec import SaveSpec

def test_nightly_save(qmonexec_snapshot):
    spec = SaveSpec({target!r}, offset=65536, profile={profile!r})
    assert spec == qmonexec_snapshot
"""

STORED = Path("__snapshots__", "test_nightly", "test_nightly_save.golden")


def plugin_args() -> list[str]:
    """Load the plugin through ``-p`` unless the installed entry point already loads it."""
    plugin = "qmonexec.golden.pytest_plugin"
    loaded = any(ep.value == plugin for ep in entry_points(group="pytest11"))
    return [] if loaded else ["-p", plugin]


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*plugin_args(), "-p", "no:cacheprovider", *args)


def user_project(pytester: pytest.Pytester, target: str = "/var/lib/vm/web1.img",
                 profile: str = "default") -> None:
    pytester.makepyfile(test_nightly=USER_TEST.format(target=target, profile=profile))


@pytest.fixture
def stored_project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A user project whose golden file was written with --snapshot-update."""
    user_project(pytester)
    run(pytester, "--snapshot-update").assert_outcomes(passed=1)
    return pytester


def test_the_user_test_is_five_lines() -> None:
    assert len(USER_TEST.splitlines()) == 5


def test_snapshot_update_writes_one_golden_block(stored_project: pytest.Pytester) -> None:
    text = (stored_project.path / STORED).read_text()
    assert text.startswith("qmonexec-golden 1\nkind: save\nprofile: default@2\n")
    assert ("string: exec:{ dd bs=4096 seek=16 if=/dev/null && dd ibs=32768 obs=65536; } "
            "1<>/var/lib/vm/web1.img\n") in text


def test_an_unchanged_string_passes(stored_project: pytest.Pytester) -> None:
    run(stored_project).assert_outcomes(passed=1)


def test_a_changed_target_fails_with_a_line_diff(stored_project: pytest.Pytester) -> None:
    user_project(stored_project, target="/var/lib/vm/web2.img")
    result = run(stored_project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*the golden block of test_nightly_save changed*--snapshot-update",
        "*--- stored",
        "*+++ rendered",
        "*-string: exec:*1<>/var/lib/vm/web1.img",
        "*+string: exec:*1<>/var/lib/vm/web2.img",
    ])


def test_a_changed_profile_fails_with_a_line_diff(stored_project: pytest.Pytester) -> None:
    user_project(stored_project, profile="libvirt")
    result = run(stored_project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*-profile: default@2", "*+profile: libvirt@1"])


def test_pinning_the_profile_version_is_a_visible_change(
    stored_project: pytest.Pytester,
) -> None:
    user_project(stored_project, profile="default@1")
    result = run(stored_project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*-profile: default@2", "*+profile: default@1"])


def test_snapshot_update_accepts_a_change(stored_project: pytest.Pytester) -> None:
    user_project(stored_project, target="/var/lib/vm/web2.img")
    run(stored_project, "--snapshot-update").assert_outcomes(passed=1)
    assert "1<>/var/lib/vm/web2.img" in (stored_project.path / STORED).read_text()
    run(stored_project).assert_outcomes(passed=1)


UNSAFE_TEST = """\
def test_hand_written(qmonexec_snapshot):
    assert "exec:cat >/var/lib/vm/x; reboot" == qmonexec_snapshot
"""


def test_snapshot_update_never_stores_an_unsafe_string(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_hand=UNSAFE_TEST)
    result = run(pytester, "--snapshot-update")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the string is not safe, so it is never stored*",
                                 "*command-separator*"])
    assert not (pytester.path / "__snapshots__").exists()


POLICY_TEST = """\
from qmonexec.shell import Policy
from qmonexec.spec import Compression, SaveSpec

def test_pigz(qmonexec_snapshot):
    spec = SaveSpec("/var/lib/vm/web1.img", compression=Compression.custom(["pigz", "-c"]))
    assert spec == qmonexec_snapshot(policy={policy})
"""


def test_an_unchanged_string_that_stops_being_safe_fails_and_stays_stored(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_pigz=POLICY_TEST.format(
        policy='Policy.default().allowing_commands("pigz")'))
    run(pytester, "--snapshot-update").assert_outcomes(passed=1)
    stored = pytester.path / "__snapshots__" / "test_pigz" / "test_pigz.golden"
    before = stored.read_text()
    pytester.makepyfile(test_pigz=POLICY_TEST.format(policy="Policy.default()"))
    for args in ((), ("--snapshot-update",)):
        result = run(pytester, *args)
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["*not safe*command-not-allowed*"])
        assert stored.read_text() == before


def test_without_syrupy_pytest_still_runs_and_the_fixture_names_the_extra(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # syrupy made unimportable (as if not installed) and its own plugin left out
    shadow = pytester.mkdir("no_syrupy") / "syrupy"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ImportError('syrupy is not installed')\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(shadow.parent), *filter(None, [os.environ.get("PYTHONPATH")])]))
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n",
                        test_wants=USER_TEST.format(target="/vm/x", profile="default"))
    result = run(pytester, "-p", "no:syrupy")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*needs syrupy*pip install 'qmonexec?pytest?'*"])


OWN_SNAPSHOT_CONFTEST = """\
import pytest
from syrupy.extensions.json import JSONSnapshotExtension

@pytest.fixture
def snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)
"""

BOTH_TEST = """\
from qmonexec.spec import RestoreSpec

def test_both(snapshot, qmonexec_snapshot):
    assert {"answer": 42} == snapshot
    assert RestoreSpec("/var/lib/vm/web1.img", offset=65536) == qmonexec_snapshot
"""


def test_a_project_overriding_syrupys_snapshot_fixture_keeps_it_beside_the_plugin(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(OWN_SNAPSHOT_CONFTEST)
    pytester.makepyfile(test_both=BOTH_TEST)
    run(pytester, "--snapshot-update").assert_outcomes(passed=1)
    stored = pytester.path / "__snapshots__" / "test_both"
    assert (stored / "test_both.json").read_text().strip() == '{\n  "answer": 42\n}'
    assert "string: exec:dd if=/var/lib/vm/web1.img bs=65536 skip=1\n" in (
        stored / "test_both.golden").read_text()
    run(pytester).assert_outcomes(passed=1)

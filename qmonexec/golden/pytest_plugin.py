"""pytest plugin shipped with qmonexec: the ``qmonexec_snapshot`` fixture.

Registered through the ``pytest11`` entry point, so installing
``qmonexec[pytest]`` (which brings syrupy) is all a project needs::

    from qmonexec.spec import SaveSpec

    def test_nightly_save(qmonexec_snapshot):
        assert SaveSpec("/var/lib/vm/web1.img", offset=65536) == qmonexec_snapshot

The first ``pytest --snapshot-update`` stores the golden block (see
:mod:`qmonexec.golden.block`); later runs fail with a diff when the string
changes, and whenever the string is not safe, even unchanged.  Without syrupy
the plugin stays out of the way: only a test that asks for the fixture fails,
naming the extra to install.  See docs/golden.md.
"""

from __future__ import annotations

__all__ = ["qmonexec_snapshot"]

from typing import Any

import pytest


@pytest.fixture
def qmonexec_snapshot(request: pytest.FixtureRequest) -> Any:
    """Golden blocks of rendered strings: ``assert spec == qmonexec_snapshot``."""
    if not request.config.pluginmanager.has_plugin("syrupy"):
        pytest.fail("the qmonexec_snapshot fixture needs syrupy's pytest plugin: pip install "
                    "'qmonexec[pytest]' (and do not disable it with -p no:syrupy)", pytrace=False)
    from .snapshot import GoldenAssertion, GoldenExtension

    snapshot = request.getfixturevalue("snapshot")
    return GoldenAssertion(snapshot.use_extension(GoldenExtension))


"""The syrupy side of the pytest plugin: an extension storing golden blocks, and its assertion.

Imported only when syrupy is installed (``pip install 'qmonexec[pytest]'``);
:mod:`qmonexec.golden.pytest_plugin` hands it out as the ``qmonexec_snapshot`` fixture.
"""

from __future__ import annotations

__all__ = ["GoldenAssertion", "GoldenExtension", "UnsafeGolden"]

import difflib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from .block import golden_block

if TYPE_CHECKING:
    from syrupy.assertion import SnapshotAssertion

    from ..shell import Policy


class GoldenExtension(SingleFileSnapshotExtension):
    """One ``.golden`` text file per assertion, holding one golden block.

    Files live in ``__snapshots__/TEST_MODULE/TEST_NAME.golden`` next to the
    test; subclass and override ``dirname`` to store them elsewhere.
    """

    file_extension = "golden"
    _write_mode = WriteMode.TEXT

    def diff_lines(self, serialized_data: Any, snapshot_data: Any) -> Iterator[str]:
        """A plain unified diff, stored block first (no colours, whatever the terminal)."""
        yield from difflib.unified_diff(
            str(snapshot_data).splitlines(), str(serialized_data).splitlines(),
            "stored", "rendered", lineterm="")


class UnsafeGolden(AssertionError):
    """The string is not safe: it is never stored, even with ``--snapshot-update``."""


class GoldenAssertion:
    """``assert subject == qmonexec_snapshot``: the subject's golden block must match and be safe.

    ``subject`` is a ``SaveSpec``, ``RestoreSpec``, ``CommandSpec``, an
    ``exec:`` URI, a QMP command dict or an HMP line.  Call the fixture to
    set options: ``qmonexec_snapshot(name="nightly", form="hmp",
    domain="web1", incoming=True, policy=Policy.command())``.
    """

    __hash__ = None  # type: ignore[assignment]

    def __init__(self, snapshot: SnapshotAssertion, *, form: str = "uri",
                 domain: str = "DOMAIN", incoming: bool = False,
                 policy: Policy | None = None) -> None:
        self.snapshot = snapshot
        self._options: dict[str, Any] = {"form": form, "domain": domain,
                                         "incoming": incoming, "policy": policy}

    def __call__(self, *, name: str | None = None, form: str | None = None,
                 domain: str | None = None, incoming: bool | None = None,
                 policy: Policy | None = None) -> GoldenAssertion:
        """The same fixture with other options (``name`` names the stored file)."""
        given = {"form": form, "domain": domain, "incoming": incoming, "policy": policy}
        options = {**self._options, **{k: v for k, v in given.items() if v is not None}}
        snapshot = self.snapshot(name=name) if name is not None else self.snapshot
        return GoldenAssertion(snapshot, **options)

    def __eq__(self, other: object) -> bool:
        block = golden_block(other, **self._options)  # type: ignore[arg-type]
        if not block.ok:
            __tracebackhide__ = True
            self._keep_stored()
            problems = "; ".join(block.problems)
            raise UnsafeGolden(
                "qmonexec_snapshot: the string is not safe, so it is never stored (not even "
                f"with --snapshot-update): {problems}\n{block.text}")
        if self.snapshot == block.text:
            return True
        __tracebackhide__ = True
        diff = "\n".join(str(line) for line in self.snapshot.get_assert_diff())
        raise AssertionError(
            f"the golden block of {self._test_name()} changed; review the diff, then accept it "
            f"with pytest --snapshot-update\n{diff}")

    def _keep_stored(self) -> None:
        """Count a stored block as used, unchanged, so --snapshot-update does not delete it."""
        location = self.snapshot.extension.get_location(
            test_location=self.snapshot.test_location, index=self.snapshot.index)
        try:
            stored = Path(location).read_text(encoding="utf-8")
        except OSError:
            return  # nothing stored yet: nothing to keep
        self.snapshot == stored  # noqa: B015 - equal to itself: recorded as used, never written

    def _test_name(self) -> str:
        location = getattr(self.snapshot, "test_location", None)
        return str(getattr(location, "snapshot_name", self.snapshot.name))

    def __repr__(self) -> str:
        return f"qmonexec_snapshot({self._test_name()})"

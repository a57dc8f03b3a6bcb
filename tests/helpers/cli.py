"""Running the command line in-process, as the CLI tests do."""

from __future__ import annotations

import pytest

from qmonexec.cli import main


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``qmonexec ARGV`` in-process; return (status, stdout, stderr).

    argparse's --help and --version end with SystemExit; that is taken as the status.
    """
    try:
        status = main(list(argv))
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return status, out, err

"""Golden files of rendered strings: the block format, catalogues and golden files.

:func:`golden_block` renders one block (see :mod:`.block` for the format);
:mod:`.catalogue` reads the JSON catalogues of ``qmonexec golden``;
:mod:`.goldenfile` reads, writes and compares files of blocks.  The pytest
plugin (:mod:`qmonexec.golden.pytest_plugin`) stores the same blocks.
"""

from __future__ import annotations

from .block import BLOCK_VERSION, FORMS, HEADER, Golden, golden_block

__all__ = ["BLOCK_VERSION", "FORMS", "HEADER", "Golden", "golden_block"]

"""Reviewing a code base: find the shell strings it sends to QEMU and check each.

One module per input kind (:mod:`.python`, :mod:`.jsonfile`,
:mod:`.shellscript`, :mod:`.lists`), :mod:`.suppressions` for
``# qmonexec: ignore[...]`` comments, :mod:`.formats` for text, gcc, JSON
and SARIF output, :mod:`.catalogue` for the class, example and fix of every
finding code, :mod:`.runner` to walk paths and gate, :mod:`.templates` for
``lint-templates`` and :mod:`.docs` to generate ``docs/findings.md``.
"""

__all__: list[str] = []

"""Output formats of ``review``, ``check``, ``explain`` and ``lint-templates``.

* ``text``: ``FILE:LINE:COL: SEVERITY: CODE [CLASS]: MESSAGE`` and the fix under it;
* ``gcc``: ``FILE:LINE:COL: SEVERITY: MESSAGE [CODE]`` (what editors and CI parse);
* ``json``: a list of objects with file, line, column, end, code, class,
  severity, message and fix;
* ``sarif``: SARIF 2.1.0 with one rule per code (id, short and full
  description, help text; ``helpUri`` only with a help base URL).
"""

from __future__ import annotations

__all__ = ["FORMATS", "SARIF_SCHEMA", "render", "sarif"]

import json
from typing import Any

from .. import __version__
from .catalogue import all_codes, class_of, entry, severity_of, shells_of, summary_of
from .model import ReviewFinding

FORMATS = ("text", "gcc", "json", "sarif")
#: The OASIS SARIF 2.1.0 schema (errata 01) the output follows.
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
_LEVEL = {"error": "error", "warning": "warning", "note": "note"}


def _text(findings: list[ReviewFinding], checked: int) -> str:
    lines: list[str] = []
    for f in findings:
        lines.append(f"{f.file}:{f.line}:{f.column}: {f.severity}: {f.code} [{f.cls.value}]: "
                     f"{f.message}")
        lines.append(f"    fix: {f.fix}")
    errors = sum(f.severity == "error" for f in findings)
    lines.append(f"{len(findings)} finding{'s' * (len(findings) != 1)} ({errors} error"
                 f"{'s' * (errors != 1)}) in {checked} file{'s' * (checked != 1)}")
    return "\n".join(lines) + "\n"


def _gcc(findings: list[ReviewFinding]) -> str:
    return "".join(
        f"{f.file}:{f.line}:{f.column}: {f.severity}: {f.message} [{f.code}]\n" for f in findings
    )


def _rule(code: str, help_base_url: str | None) -> dict[str, Any]:
    e = entry(code)
    shells = shells_of(code)
    full = (f"{summary_of(code)}. Class: {class_of(code).value}; default severity: "
            f"{severity_of(code).value}; shells affected: {', '.join(shells) or 'all alike'}.")
    help_text = e.advice
    if e.example is not None:
        help_text += f" Bad: {e.example}" + (f" Fixed: {e.fix}" if e.fix else "")
    rule: dict[str, Any] = {
        "id": code,
        "name": code,
        "shortDescription": {"text": summary_of(code)},
        "fullDescription": {"text": full},
        "help": {"text": help_text},
        "defaultConfiguration": {"level": _LEVEL[severity_of(code).value]},
        "properties": {"tags": [class_of(code).value]},
    }
    if help_base_url:
        rule["helpUri"] = f"{help_base_url}#{code}"
    return rule


def sarif(findings: list[ReviewFinding], help_base_url: str | None = None) -> dict[str, Any]:
    """The findings as a SARIF 2.1.0 log (one run, one rule per code)."""
    codes = all_codes()
    index = {code: k for k, code in enumerate(codes)}
    results = []
    for f in findings:
        results.append({
            "ruleId": f.code,
            "ruleIndex": index.get(f.code, 0),
            "level": _LEVEL.get(f.severity, "error"),
            "message": {"text": f.message},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": f.file.replace("\\", "/")},
                    "region": {
                        "startLine": f.line, "startColumn": f.column,
                        "endLine": f.end_line, "endColumn": f.end_column + 1,
                    },
                }
            }],
            "properties": {"class": f.cls.value, "fix": f.fix},
        })  # fmt: skip
    driver = {
        "name": "qmonexec",
        "version": __version__,
        "rules": [_rule(code, help_base_url) for code in codes],
    }
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "columnKind": "unicodeCodePoints",
                  "results": results}],
    }


def render(
    findings: list[ReviewFinding], output: str, checked: int, help_base_url: str | None = None
) -> str:
    """``findings`` in the ``output`` format (``checked`` files were read)."""
    if output == "gcc":
        return _gcc(findings)
    if output == "json":
        return json.dumps([f.to_dict() for f in findings], indent=2, ensure_ascii=False) + "\n"
    if output == "sarif":
        return json.dumps(sarif(findings, help_base_url), indent=2, ensure_ascii=False) + "\n"
    return _text(findings, checked)

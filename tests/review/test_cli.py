"""``qmonexec review``, ``lint-templates`` and the new options of ``check``/``explain``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from qmonexec.cli import main
from qmonexec.review.docs import code_entry

SCHEMA = json.loads((Path(__file__).parent / "sarif-schema-2.1.0.json").read_text("utf-8"))
DATA_LOSS = "exec:gzip -c > /tmp/vm.gz"
INJECTION = "exec:cat >/vm/x; reboot"


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "save.py").write_text(f'URI = "{DATA_LOSS}"\n')
    (tmp_path / "pkg" / "fixture.jsonl").write_text(
        json.dumps({"execute": "migrate", "arguments": {"uri": INJECTION}}) + "\n"
    )
    (tmp_path / "pkg" / "notes.txt").write_text("not read when walking a directory; reboot\n")
    return tmp_path


@pytest.mark.parametrize(("text", "status"), [(DATA_LOSS, 0), (INJECTION, 1)])
def test_check_fail_on_injection_passes_data_loss_and_fails_injection(
    capsys: pytest.CaptureFixture[str], text: str, status: int
) -> None:
    assert cli(capsys, "check", "--fail-on", "injection", text)[0] == status


def test_check_text_names_the_class(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _err = cli(capsys, "check", DATA_LOSS)
    assert status == 1 and "truncating-redirect" in out and "[data-loss]" in out
    assert "[injection]" not in out


def test_check_gcc_output_has_file_line_column_and_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _err = cli(capsys, "check", "--output", "gcc", DATA_LOSS)
    column = DATA_LOSS.index(">") + 1
    assert status == 1
    assert out.startswith(f"<argument>:1:{column}: error: ") and out.rstrip().endswith(
        "[truncating-redirect]"
    )


def test_check_json_keeps_the_verdict_schema(capsys: pytest.CaptureFixture[str]) -> None:
    _status, out, _err = cli(capsys, "check", "--json", DATA_LOSS)
    assert set(json.loads(out)) >= {"ok", "findings", "commands"}


def test_review_reads_a_directory_and_reports_each_file(
    capsys: pytest.CaptureFixture[str], tree: Path
) -> None:
    status, out, _err = cli(capsys, "review", "--output", "json", str(tree))
    rows = json.loads(out)
    assert status == 1
    assert {Path(r["file"]).name for r in rows} == {"save.py", "fixture.jsonl"}
    assert {r["class"] for r in rows if r["code"] == "command-separator"} == {"injection"}
    assert set(rows[0]) == {"file", "line", "column", "end", "code", "class", "severity",
                            "message", "fix"}


def test_review_fail_on_data_loss_only(capsys: pytest.CaptureFixture[str], tree: Path) -> None:
    py = str(tree / "pkg" / "save.py")
    assert cli(capsys, "review", "--fail-on", "injection", py)[0] == 0
    assert cli(capsys, "review", "--fail-on", "data-loss", py)[0] == 1


def test_review_reads_a_list_file_named_explicitly(
    capsys: pytest.CaptureFixture[str], tree: Path
) -> None:
    status, out, _err = cli(capsys, "review", "--output", "gcc", str(tree / "pkg" / "notes.txt"))
    assert status == 1 and "[command-separator]" in out


def test_review_of_a_missing_path_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tree: Path
) -> None:
    status, out, err = cli(capsys, "review", str(tree), str(tree / "nope.py"))
    assert status == 2 and "nope.py" in err and out == ""


def test_review_rejects_an_unknown_class(capsys: pytest.CaptureFixture[str], tree: Path) -> None:
    status, _out, err = cli(capsys, "review", "--fail-on", "bogus", str(tree))
    assert status == 2 and "--fail-on" in err


def test_review_severity_filters_what_is_printed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "u.txt"
    path.write_text("exec:cat | { dd bs=4096 seek=2 if=/dev/null && dd ibs=65536 obs=65536; }"
                    " 1<>/vm/x.img\n")
    assert "dd-block-sizes" in cli(capsys, "review", str(path))[1]
    status, out, _err = cli(capsys, "review", "--severity", "error", str(path))
    assert status == 0 and "dd-block-sizes" not in out


def test_review_reads_standard_input_as_the_type_given() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "qmonexec", "review", "--stdin-type", "python", "--output", "gcc",
         "-"], input=f'x = "{DATA_LOSS}"\n', capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 1 and done.stdout.startswith("<stdin>:1:")


def test_review_sarif_validates_against_the_sarif_2_1_0_schema(
    capsys: pytest.CaptureFixture[str], tree: Path
) -> None:
    status, out, _err = cli(capsys, "review", "--output", "sarif",
                            "--help-base-url", "https://example.org/findings", str(tree))
    log = json.loads(out)
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert status == 1 and len({r["id"] for r in rules}) == len(rules)
    assert all(r["helpUri"].startswith("https://example.org/findings#") for r in rules)
    for result in log["runs"][0]["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_sarif_has_no_help_uri_without_a_base_url(
    capsys: pytest.CaptureFixture[str], tree: Path
) -> None:
    _status, out, _err = cli(capsys, "review", "--output", "sarif", str(tree))
    log = json.loads(out)
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    assert all("helpUri" not in r for r in log["runs"][0]["tool"]["driver"]["rules"])


def test_check_and_explain_speak_sarif_too(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("check", "explain"):
        status, out, _err = cli(capsys, command, "--output", "sarif", INJECTION)
        jsonschema.Draft4Validator(SCHEMA).validate(json.loads(out))
        assert status == 1


def test_explain_code_prints_the_catalogue_entry(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _err = cli(capsys, "explain", "--code", "truncating-redirect")
    assert status == 0 and out == code_entry("truncating-redirect")


def test_explain_unknown_code_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    status, _out, err = cli(capsys, "explain", "--code", "no-such-code")
    assert status == 2 and "docs/findings.md" in err


def test_lint_templates_reports_one_finding_per_unsafe_slot(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "bad.j2").write_text('exec:cat\n  "{{ target }}"\n')
    status, out, _err = cli(capsys, "lint-templates", "--output", "gcc", str(tmp_path))
    lines = out.splitlines()
    assert status == 1 and len(lines) == 1
    assert lines[0].startswith(f"{tmp_path / 'bad.j2'}:2:4: error: ")
    assert lines[0].endswith("[template-slot-escapes]")


def test_lint_templates_passes_the_project_templates(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from qmonexec.render import template_dir

    status, out, _err = cli(capsys, "lint-templates", str(template_dir()))
    assert status == 0 and out.startswith("0 findings")

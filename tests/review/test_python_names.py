"""Python review through simple local names: trusted, checked, or unknown (fail closed)."""

from __future__ import annotations

import textwrap

import pytest

from qmonexec.review.runner import review_text
from qmonexec.shell import Policy

UNKNOWN = "unquoted-interpolation"


def _review(source: str) -> list[tuple[int, int, str]]:
    found = review_text("f.py", textwrap.dedent(source), "python", Policy.default(), False)
    return [(f.line, f.column, f.code) for f in found]


def _codes(source: str) -> list[str]:
    return [code for _line, _column, code in _review(source)]


def test_a_name_assigned_from_save_uri_is_trusted_as_the_migrate_uri() -> None:
    assert _review("""
        from qmonexec.build import save_uri
        from qmonexec.spec import SaveSpec
        def good(qmp, path):
            uri = save_uri(SaveSpec(path))
            qmp.migrate(uri)
    """) == []


def test_a_name_assigned_from_a_build_call_is_trusted_through_its_uri() -> None:
    assert _review("""
        def good(qmp, spec):
            built = build_restore(spec)
            qmp.migrate_incoming(built.uri)
    """) == []


def test_a_build_result_passed_without_its_uri_is_unknown() -> None:
    assert _codes("""
        def bad(qmp, spec):
            built = build_save(spec)
            qmp.migrate(built)
    """) == [UNKNOWN]


def test_a_name_assigned_from_quote_word_is_trusted_and_its_context_checked() -> None:
    assert _codes("""
        def f(qmp, path):
            target = quote_word(path)
            qmp.migrate_incoming(f"exec:dd if={target} bs=4096 skip=1")
            qmp.migrate(f"exec:cat >{target}")
    """) == ["truncating-redirect"]


def test_a_module_level_name_is_resolved_for_module_level_code() -> None:
    assert _review("""
        URI = restore_uri(SPEC)
        QMP.migrate_incoming(URI)
    """) == []


def test_every_assignment_being_the_same_builder_keeps_the_name_trusted() -> None:
    assert _review("""
        def f(qmp, a, b, first):
            if first:
                uri = save_uri(a)
            else:
                uri = save_uri(b)
            qmp.migrate(uri)
    """) == []


def test_a_name_assigned_a_string_is_checked_as_the_command_where_it_is_written() -> None:
    source = textwrap.dedent("""
        def f(qmp):
            uri = "exec:cat >/vm/x; reboot"
            qmp.migrate(uri)
            qmp.migrate(uri)
    """)
    line = source.split("\n")[2]
    found = _review(source)
    assert (3, line.index(";") + 1, "command-separator") in found
    assert len(found) == len(set(found))  # two uses, each finding once


def test_a_name_assigned_a_string_is_checked_in_the_string_it_is_interpolated_into() -> None:
    source = textwrap.dedent("""
        def f(qmp, path):
            head = "exec:cat >"
            qmp.migrate(f"{head}{quote_word(path)}")
    """)
    line = source.split("\n")[2]
    assert _review(source) == [(3, line.index(">") + 1, "truncating-redirect")]


def test_module_constants_joined_into_a_command_are_checked_as_one_string() -> None:
    assert _review("""
        _DD = "{ dd bs=4096 seek=2 if=/dev/null && dd ibs=32768 obs=65536; }"
        _TARGET = "/vm/x.img"
        SAVE = f"exec:gzip -c | {_DD} 1<>{_TARGET}"
    """) == []


def test_a_name_assigned_a_string_with_an_unknown_value_reports_that_value() -> None:
    source = textwrap.dedent("""
        def f(qmp, path):
            uri = "exec:dd bs=4096 skip=1 if=" + path
            qmp.migrate_incoming(uri)
    """)
    line = source.split("\n")[2]
    assert _review(source) == [(3, line.index("path") + 1, UNKNOWN)]


UNKNOWN_CASES = {
    "parameter": """
        def f(qmp, uri):
            qmp.migrate(uri)
    """,
    "attribute": """
        def f(self):
            self.qmp.migrate(self.uri)
    """,
    "attribute of a local name": """
        def f(qmp, spec):
            built = build_save(spec)
            qmp.migrate(built.shell)
    """,
    "uri of a parameter": """
        def f(qmp, built):
            qmp.migrate(built.uri)
    """,
    "different builders": """
        def f(qmp, spec, incoming):
            uri = save_uri(spec)
            if incoming:
                uri = restore_uri(spec)
            qmp.migrate(uri)
    """,
    "a builder and a string": """
        def f(qmp, spec, fast):
            uri = save_uri(spec)
            if fast:
                uri = "exec:cat"
            qmp.migrate(uri)
    """,
    "two strings": """
        def f(qmp, fast):
            uri = "exec:cat"
            if fast:
                uri = "exec:gzip -c"
            qmp.migrate(uri)
    """,
    "a call review does not know": """
        def f(qmp, spec):
            uri = make_uri(spec)
            qmp.migrate(uri)
    """,
    "augmented assignment": """
        def f(qmp, spec, more):
            uri = save_uri(spec)
            uri += more
            qmp.migrate(uri)
    """,
    "loop target": """
        def f(qmp, spec, uris):
            uri = save_uri(spec)
            for uri in uris:
                qmp.migrate(uri)
    """,
    "comprehension target": """
        def f(qmp, spec, uris):
            uri = save_uri(spec)
            qmp.migrate(uri)
            return [uri for uri in uris]
    """,
    "with target": """
        def f(qmp, spec, ctx):
            uri = save_uri(spec)
            with ctx as uri:
                qmp.migrate(uri)
    """,
    "tuple target": """
        def f(qmp, spec, pair):
            uri = save_uri(spec)
            uri, other = pair
            qmp.migrate(uri)
    """,
    "import": """
        def f(qmp, spec):
            uri = save_uri(spec)
            from elsewhere import uri
            qmp.migrate(uri)
    """,
    "global": """
        def f(qmp, spec):
            global uri
            uri = save_uri(spec)
            qmp.migrate(uri)
    """,
    "module name rebound by a function's global": """
        URI = save_uri(SPEC)
        def change(value):
            global URI
            URI = value
        QMP.migrate(URI)
    """,
    "nonlocal in a nested function": """
        def f(qmp, spec):
            uri = save_uri(spec)
            def change(value):
                nonlocal uri
                uri = value
            qmp.migrate(uri)
    """,
    "assignment in a nested function": """
        def f(qmp, spec):
            uri = save_uri(spec)
            def other():
                uri = "exec:cat"
                return uri
            qmp.migrate(uri)
    """,
    "read in a nested function": """
        def f(qmp, spec):
            uri = save_uri(spec)
            def start():
                qmp.migrate(uri)
            start()
    """,
    "read in a lambda": """
        def f(qmp, spec):
            uri = save_uri(spec)
            return lambda: qmp.migrate(uri)
    """,
    "module name read in a function": """
        URI = save_uri(SPEC)
        def f(qmp):
            qmp.migrate(URI)
    """,
    "walrus": """
        def f(qmp, spec):
            if (uri := save_uri(spec)):
                qmp.migrate(uri)
    """,
    "walrus besides an assignment": """
        def f(qmp, spec, other):
            uri = save_uri(spec)
            if (uri := other):
                qmp.migrate(uri)
    """,
    "del": """
        def f(qmp, spec):
            uri = save_uri(spec)
            del uri
            qmp.migrate(uri)
    """,
    "except name": """
        def f(qmp, spec):
            uri = save_uri(spec)
            try:
                pass
            except Exception as uri:
                pass
            qmp.migrate(uri)
    """,
    "a function of that name": """
        uri = save_uri(SPEC)
        def uri():
            pass
        QMP.migrate(uri)
    """,
    "assignments that refer to each other": """
        A = B
        B = A
        QMP.migrate(A)
    """,
    "interpolated parameter": """
        def f(qmp, path):
            qmp.migrate(f"exec:cat 1<>{path}")
    """,
}


@pytest.mark.parametrize("source", list(UNKNOWN_CASES.values()), ids=list(UNKNOWN_CASES))
def test_a_name_review_cannot_follow_stays_an_unquoted_interpolation(source: str) -> None:
    assert UNKNOWN in _codes(source)


def test_a_finding_across_a_name_and_its_use_never_ends_before_it_starts() -> None:
    source = textwrap.dedent("""
        def f(qmp):
            for _ in range(2):
                qmp.migrate(f"{head}y")
            head = "exec:cat /vm/x"
    """)
    found = review_text("f.py", source, "python", Policy.default(), False)
    assert found
    assert all((f.end_line, f.end_column) >= (f.line, f.column) for f in found)


@pytest.mark.parametrize(
    "use",
    ['f"exec:gzip -c >{target}"', '"exec:gzip -c >%s" % target',
     '"exec:gzip -c >{}".format(target)', '"exec:gzip -c >" + target'],
    ids=["f-string", "percent", "format", "plus"],
)
def test_a_name_assigned_a_string_is_checked_wherever_it_is_interpolated(use: str) -> None:
    assert _codes(f"""
        def f(qmp):
            target = "/vm/x.img"
            qmp.migrate({use})
    """) == ["truncating-redirect"]


@pytest.mark.parametrize(
    "use",
    ['f"exec:cat {target!r}"', '"exec:cat %r" % target', '"exec:cat {0.upper}".format(target)'],
    ids=["f-string conversion", "percent repr", "format attribute"],
)
def test_a_name_assigned_a_string_but_converted_stays_unknown(use: str) -> None:
    assert UNKNOWN in _codes(f"""
        def f(qmp):
            target = "/vm/x.img"
            qmp.migrate({use})
    """)

"""Differential soundness: what real shells run equals what the validator says they run.

Hypothesis builds strings the validator accepts: the save shape (with and without stage
status), the restore shape and the command shape (``Policy.command()`` allowing the stubs),
with every word written in varied but valid quoting (single quotes, double quotes with
``\\\\ \\" \\$ \\``` escapes, backslash escapes, concatenated parts, empty quotes,
extra blanks and tabs) around
hostile bytes (blanks, quotes, ``$()``, backquotes, globs, ``~``, ``{a,b}``, ``=``, ``#``,
newline, CR, non-ASCII UTF-8).  Some are then mutated (one character inserted, deleted or
replaced) and kept only if the validator still accepts them.

Every accepted string runs under dash, bash, bash --posix, busybox sh, mksh, ksh93, zsh,
zsh --emulate sh, yash and posh with ``PATH`` pointing at argv-recording stubs (a compiled
C program, or a dash script without gcc) named for every program the shapes use.  Each stub
appends its exact argv and where its fds 0, 1 and 2 point (``/proc/self/fd`` plus the access
mode from ``/proc/self/fdinfo``, which tells ``1<>`` from ``>``) to a log.  The log must
equal the verdict's decoded commands (argv, and each fd after the pipeline and the
redirections in the verdict), the shell must exit 0 with nothing on stderr, a save target
must keep its old bytes (``1<>`` never truncates), and in the stage-status form exactly the
``.ok`` markers and ``.err`` files must exist (``:`` is a builtin, so the markers stand for
it).  A shell named by a warning of the verdict (``non-ascii`` names yash) is skipped for
that string.  Zero mismatches over at least 2,000 strings.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qmonexec.shell import Policy, Severity, Verdict, check
from qmonexec.shell.words import SAFE_CHARS
from tests.helpers.support import SHELLS, shell_argv

#: Accepted strings each shell must run (the issue asks for at least 2,000).
CASES = int(os.environ.get("QMONEXEC_DIFFERENTIAL_CASES", "2000"))
LABELS = [label for label, *_rest in SHELLS if label != "sh"]  # sh is dash on Debian
COMPRESSORS = ("gzip", "bzip2", "xz", "lzop", "zstd")
COMMAND_PROGRAMS = ("prog", "tee", "ssh", "socat", "my-tool.v2")
STUB_NAMES = ("dd", "cat", *COMPRESSORS, *COMMAND_PROGRAMS)
STUB_SOURCE = Path(__file__).with_name("stub") / "argv_stub.c"
DASH_STUB = r"""#!/bin/dash
# argv-recording stub (fallback without gcc): trailing newlines of fd targets are lost
set -- "$0" "$@"
n=$#
l0=$(readlink /proc/$$/fd/0); l1=$(readlink /proc/$$/fd/1); l2=$(readlink /proc/$$/fd/2)
f0=$(sed -n 's/^flags:[[:space:]]*//p' /proc/$$/fdinfo/0)
f1=$(sed -n 's/^flags:[[:space:]]*//p' /proc/$$/fdinfo/1)
f2=$(sed -n 's/^flags:[[:space:]]*//p' /proc/$$/fdinfo/2)
printf '%s\0' "$n" "$@" "$l0" "$f0" "$l1" "$f1" "$l2" "$f2" >>"$QMX_LOG"
exit "${QMX_STATUS:-0}"
"""

O_ACCMODE = 0o3
O_APPEND = 0o2000


# ---------------------------------------------------------------------------- the stubs


@dataclass(frozen=True)
class Rig:
    """Where the stubs live and one work directory per shell label."""

    root: str
    stubs: str
    bases: dict[str, str]


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    root = os.path.realpath(tempfile.mkdtemp(prefix="qmx-diff-"))
    stubs = os.path.join(root, "bin")
    os.mkdir(stubs)
    binary = os.path.join(root, "argv-stub")
    compiler = shutil.which("gcc") or shutil.which("cc")
    built = False
    if compiler is not None:
        done = subprocess.run([compiler, "-O2", "-o", binary, str(STUB_SOURCE)],
                              capture_output=True, check=False)  # fmt: skip
        built = done.returncode == 0
    if not built:
        with open(binary, "w", encoding="ascii") as handle:
            handle.write(DASH_STUB)
        os.chmod(binary, 0o755)
    for name in STUB_NAMES:
        os.symlink(binary, os.path.join(stubs, name))
    # every base has the same length, so a string can be moved between them by replace()
    bases = {label: os.path.join(root, f"w{k:02d}") for k, label in enumerate(LABELS)}
    yield Rig(root, stubs, bases)
    shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------------------- generation

_HOSTILE = [" ", "'", '"', "$(x)", "$HOME", "${x}", "`x`", "*", "?", "[a]", "~", "{a,b}",
            "=", "#", "\n", "\t", "\r", ";", "|", "&", "<", ">", "(", ")", "!", "^", "\\",
            "%", "é", "日本", "🎉", "''", "'\\''", "-"]  # fmt: skip
_PLAIN = st.text(st.sampled_from(sorted(SAFE_CHARS)), min_size=1, max_size=6)
_PIECE = st.one_of(_PLAIN, st.sampled_from(_HOSTILE))
#: A file name: one path component with hostile bytes, never '.', '..' or containing '/'.
NAME = st.lists(_PIECE, min_size=1, max_size=6).map("".join).filter(
    lambda s: s not in (".", "..") and "/" not in s and len(s.encode()) < 200
)
BASE0 = "\0BASE\0"  # replaced by a shell's work directory before anything runs
_DQ_ESCAPE = {"\\": "\\\\", '"': '\\"', "$": "\\$", "`": "\\`"}
_SAFE_NOT_START = set(SAFE_CHARS)


def _single(chunk: str) -> str:
    return "'" + chunk.replace("'", "'\\''") + "'"


def _double(chunk: str) -> str | None:
    if not (chunk.isascii() and chunk.isprintable()):
        return None  # control characters and non-ASCII only inside single quotes
    return '"' + "".join(_DQ_ESCAPE.get(c, c) for c in chunk) + '"'


def _backslash(chunk: str) -> str | None:
    if not (chunk.isascii() and chunk.isprintable()):
        return None
    return "".join("\\" + c for c in chunk)


def _bare(chunk: str, first: bool) -> str | None:
    if not chunk or not set(chunk) <= _SAFE_NOT_START | {"="}:
        return None
    if first and chunk[0] == "=":
        return None
    return chunk


@st.composite
def quoted(draw: Any, value: str) -> str:
    """``value`` written as one shell word in a drawn mix of quoting styles."""
    if BASE0 in value:  # the work directory (safe characters only) stays one bare piece
        before, after = value.split(BASE0, 1)
        return ((draw(quoted(before)) if before else "") + BASE0
                + (draw(quoted(after)) if after else ""))  # fmt: skip
    if value and draw(st.booleans()):
        return _single(value)
    cuts = sorted(draw(st.sets(st.integers(1, max(len(value) - 1, 1)), max_size=4)))
    chunks = [value[a:b] for a, b in zip([0, *cuts], [*cuts, len(value)], strict=True)]
    out: list[str] = []
    for k, chunk in enumerate(chunks):
        if not chunk:
            continue
        style = draw(st.sampled_from(["single", "double", "backslash", "bare"]))
        rendered = {
            "single": lambda c: _single(c),
            "double": lambda c: _double(c),
            "backslash": lambda c: _backslash(c),
            "bare": lambda c: _bare(c, not out),
        }[style](chunk)
        out.append(rendered if rendered is not None else _single(chunk))
        if k < len(chunks) - 1 and draw(st.integers(0, 5)) == 0:
            out.append(draw(st.sampled_from(["''", '""'])))  # empty quotes inside a word
    return "".join(out) or "''"


BLANK = st.text(st.sampled_from([" ", "\t"]), min_size=1, max_size=3)


@st.composite
def words(draw: Any, values: list[str]) -> str:
    """``values`` as words separated by drawn runs of blanks."""
    out = draw(quoted(values[0]))
    for value in values[1:]:
        out += draw(BLANK) + draw(quoted(value))
    return out


@dataclass(frozen=True)
class Case:
    """One generated string (written for base ``BASE0``) and the policy that accepts it."""

    text: str
    policy: str  # "default" or "command"
    mutated: bool = False




def _path(*names: str) -> str:
    return BASE0 + "/" + "/".join(names)


@st.composite
def save_case(draw: Any) -> Case:
    comp = draw(st.sampled_from([None, "cat", *COMPRESSORS]))
    status = draw(st.booleans())
    target = _path("t", draw(NAME))
    bs = draw(st.sampled_from([512, 4096]))
    seek = draw(st.integers(0, 9))
    ibs, obs = draw(st.sampled_from([(65536, 1048576), (1048576, 1048576), (4096, 65536)]))
    sp = lambda: draw(BLANK)  # noqa: E731
    w = lambda *vs: draw(words(list(vs)))  # noqa: E731
    dd = (f"{w('dd', f'bs={bs}', f'seek={seek}', 'if=/dev/null')}{sp()}&&{sp()}"
          f"{w('dd', f'ibs={ibs}', f'obs={obs}')}")  # fmt: skip
    comp_argv = [comp] if comp == "cat" else [comp, "-c"] if comp else []
    if not status:
        text = f"{{{sp()}{dd};{sp()}}}{sp()}1<>{w(target)}"
        if comp_argv:
            text = f"{w(*comp_argv)}{sp()}|{sp()}{text}"
        return Case("exec:" + text, "default")
    d = _path("s", draw(NAME))

    def marker(stage: str, outcome: str) -> str:
        return f":{sp()}>{w(d + '/' + stage + '.' + outcome)}"

    text = (f"{{{sp()}{{{sp()}{dd};{sp()}}}{sp()}1<>{w(target)}{sp()}&&{sp()}"
            f"{marker('write', 'ok')}{sp()}||{sp()}{marker('write', 'failed')};{sp()}}}"
            f"{sp()}2>{w(d + '/write.err')}")  # fmt: skip
    if comp_argv:
        text = (f"{{{sp()}{w(*comp_argv)}{sp()}&&{sp()}{marker('compress', 'ok')}{sp()}||"
                f"{sp()}{marker('compress', 'failed')};{sp()}}}{sp()}2>"
                f"{w(d + '/compress.err')}{sp()}|{sp()}{text}")  # fmt: skip
    return Case("exec:" + text, "default")


@st.composite
def restore_case(draw: Any) -> Case:
    comp = draw(st.sampled_from([None, *COMPRESSORS]))
    bs = draw(st.sampled_from([512, 4096]))
    text = draw(words(["dd", "if=" + _path("r", draw(NAME)), f"bs={bs}",
                       f"skip={draw(st.integers(0, 9))}"]))  # fmt: skip
    if comp:
        text += f"{draw(BLANK)}|{draw(BLANK)}{draw(words([comp, '-dc']))}"
    return Case("exec:" + text, "default")


@st.composite
def command_case(draw: Any) -> Case:
    name = draw(st.sampled_from(COMMAND_PROGRAMS))
    program = _path("..", "bin", name) if draw(st.booleans()) else name
    args = draw(st.lists(NAME, max_size=4))
    return Case("exec:" + draw(words([program, *args])), "command")


_MUTATION_CHARS = st.sampled_from([*" \t\n'\"\\$`;|&<>(){}*?[]~=#!^%-/.:,+@_a0Z", "é"])


@st.composite
def case(draw: Any) -> Case:
    base = draw(st.one_of(save_case(), restore_case(), command_case()))
    if draw(st.integers(0, 3)) != 0:
        return base
    text = base.text
    k = draw(st.integers(5, len(text)))
    op = draw(st.sampled_from(["insert", "delete", "replace"]))
    if op == "insert":
        mutated = text[:k] + draw(_MUTATION_CHARS) + text[k:]
    elif op == "delete":
        mutated = text[: k - 1] + text[k:]
    else:
        mutated = text[: k - 1] + draw(_MUTATION_CHARS) + text[k:]
    return Case(mutated, base.policy, True)


# ---------------------------------------------------------------------------- expectations

#: The command programs are stubs the caller names (ssh and socat draw runs-code-unchecked).
POLICIES = {"default": Policy.default(),
            "command": Policy.command().allowing_commands(*COMMAND_PROGRAMS)}


def _mode(flags: int) -> str:
    acc = {0: "r", 1: "w", 2: "rw"}.get(flags & O_ACCMODE, "?")
    return acc + ("a" if flags & O_APPEND else "")


_OP_MODE = {"<": "r", ">": "w", ">|": "w", ">>": "a", "<>": "rw"}


def _b(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


Fd = tuple[str, bytes, str]  # (kind, path, mode): kind "file" or "pipe"


def expected(verdict: Verdict, io: tuple[Fd, Fd, Fd]) -> list[tuple[tuple[bytes, ...], Fd, ...]]:
    """The stub records the verdict predicts: (argv, fd0, fd1, fd2) per external command."""
    last = max((c.stage for c in verdict.commands), default=0)
    out = []
    for cmd in verdict.commands:
        if cmd.argv == (":",):
            continue  # a builtin: the marker files stand for it
        fds = list(io)
        if cmd.stage > 0:
            fds[0] = ("pipe", b"", "")
        if cmd.stage < last:
            fds[1] = ("pipe", b"", "")
        for r in cmd.redirects:
            if r.fd <= 2:
                fds[r.fd] = ("file", os.path.normpath(_b(r.target)), _OP_MODE[r.op])
        out.append((tuple(_b(a) for a in cmd.argv), *fds))
    return sorted(out)


def parse_log(data: bytes, stubs: bytes) -> list[tuple[tuple[bytes, ...], Fd, ...]]:
    fields = data.split(b"\0")
    records = []
    i = 0
    while i < len(fields) - 1:
        argc = int(fields[i])
        argv = list(fields[i + 1 : i + 1 + argc])
        if argv[0].startswith(stubs + b"/") and b"/" not in argv[0][len(stubs) + 1 :]:
            argv[0] = argv[0][len(stubs) + 1 :]  # some shells pass the path they found
        fds: list[Fd] = []
        j = i + 1 + argc
        for _fd in range(3):
            link, flags = fields[j], fields[j + 1]
            j += 2
            if link.startswith((b"pipe:", b"socket:")):  # ksh93 pipes with socketpairs
                fds.append(("pipe", b"", ""))
            else:
                fds.append(("file", link, _mode(int(flags or b"0", 8))))
        records.append((tuple(argv), *fds))
        i = j
    return sorted(records)


def _prepare(verdict: Verdict, base: str, stubs: str) -> list[str] | None:
    """Create the directories and the old target content; None when a path leaves ``base``."""
    targets: list[str] = []
    for cmd in verdict.commands:
        for r in cmd.redirects:
            path = os.path.normpath(r.target)
            if not path.startswith(base + "/"):
                return None
            targets.append(path)
        if cmd.argv and "/" in cmd.argv[0]:
            # only the stubs may run (a mutation may point elsewhere)
            program = os.path.normpath(cmd.argv[0])
            if not cmd.argv[0].startswith(base + "/") or os.path.dirname(program) != stubs \
                    or os.path.basename(program) not in COMMAND_PROGRAMS:  # fmt: skip
                return None
        elif cmd.argv and cmd.argv[0] not in STUB_NAMES and cmd.argv != (":",):
            return None
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    for path in targets:
        os.makedirs(_b(os.path.dirname(path)), exist_ok=True)
    return targets


OLD = b"OLD-HEADER-BYTES"


def run_one(label: str, verdict: Verdict, text: str, rig: Rig, locale: str) -> str | None:
    """Run ``text`` under ``label``; return a description of the mismatch, or None."""
    base = rig.bases[label]
    targets = _prepare(verdict, base, rig.stubs)
    if targets is None:
        return None
    save_target = next((r.target for c in verdict.commands for r in c.redirects
                        if r.op == "<>"), None)  # fmt: skip
    if save_target is not None:
        with open(_b(os.path.normpath(save_target)), "wb") as handle:
            handle.write(OLD)
    log = os.path.join(rig.root, f"{label}.log")
    out_path = os.path.join(rig.root, f"{label}.out")
    err_path = os.path.join(rig.root, f"{label}.err")
    if os.path.exists(log):
        os.unlink(log)
    env = {"PATH": rig.stubs, "QMX_LOG": log, "LC_ALL": locale, "HOME": "/nonexistent-home"}
    argv = [*shell_argv(label), "-c", _b(text)]
    # Every process the shell starts inherits the write end of this pipe: its end of file
    # means all of them have exited (ksh93 and yash do not wait for a pipeline's first stage).
    alive_r, alive_w = os.pipe()
    try:
        with open(os.devnull, "rb") as stdin, open(out_path, "wb") as out, \
                open(err_path, "wb") as err:  # fmt: skip
            done = subprocess.run(argv, stdin=stdin, stdout=out, stderr=err, env=env,
                                  cwd=rig.root, timeout=30, check=False,
                                  pass_fds=(alive_w,))  # fmt: skip
        os.close(alive_w)
        alive_w = -1
        ready, _w, _x = select.select([alive_r], [], [], 30)
        assert ready and os.read(alive_r, 1) == b"", "a process of the pipeline is still running"
    finally:
        os.close(alive_r)
        if alive_w >= 0:
            os.close(alive_w)
    io: tuple[Fd, Fd, Fd] = (("file", b"/dev/null", "r"), ("file", _b(out_path), "w"),
                             ("file", _b(err_path), "w"))  # fmt: skip
    want = expected(verdict, io)
    try:
        with open(log, "rb") as handle:
            got = parse_log(handle.read(), _b(rig.stubs))
    except FileNotFoundError:
        got = []
    problems = []
    shell_err = Path(err_path).read_bytes()
    if done.returncode != 0 or shell_err:
        problems.append(f"exit {done.returncode}, stderr {shell_err[:300]!r}")
    if got != want:
        problems.append(f"recorded {got!r}\n    expected {want!r}")
    if save_target is not None:
        with open(_b(os.path.normpath(save_target)), "rb") as handle:
            if handle.read() != OLD:
                problems.append("the save target lost its old bytes (truncated?)")
    for path in targets:
        exists = os.path.exists(_b(path))
        if path.endswith(".ok") or path.endswith(".err"):
            if not exists:
                problems.append(f"{path!r} was not created")
        elif path.endswith(".failed") and exists:
            problems.append(f"{path!r} was created although every stage succeeded")
    return "; ".join(problems) or None


def skipped_shells(verdict: Verdict) -> set[str]:
    return {s for f in verdict.findings if f.severity is Severity.WARNING for s in f.shells}


# ---------------------------------------------------------------------------- the test


def _accepted(case_: Case, base: str) -> tuple[str, Verdict] | None:
    text = case_.text.replace(BASE0, base)
    verdict = check(text, POLICIES[case_.policy])
    return (text, verdict) if verdict.ok else None


def test_real_shells_run_exactly_what_the_validator_decodes(rig: Rig) -> None:
    for label in LABELS:
        shell_argv(label)  # skip on a laptop, fail in CI, before any work
    stats: Counter[str] = Counter()
    mismatches: list[str] = []
    pool = ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2)))

    @settings(max_examples=CASES * 2, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case())
    def one(case_: Case) -> None:
        if stats["run"] >= CASES:
            return
        first = _accepted(case_, rig.bases[LABELS[0]])
        if first is None:
            stats["refused-mutation" if case_.mutated else "refused-by-construction"] += 1
            if not case_.mutated:
                mismatches.append(f"built to be accepted but refused: {case_.text!r}: "
                                  f"{[str(f) for f in check(first_text(case_)).errors]}")
            return
        skip = skipped_shells(first[1])
        locale = "C.UTF-8" if stats["run"] % 2 else "C"
        jobs = {}
        for label in LABELS:
            if label in skip:
                stats["skipped-shell-runs"] += 1
                continue
            accepted = _accepted(case_, rig.bases[label])
            assert accepted is not None
            assert accepted[1].shell is not None
            jobs[label] = pool.submit(run_one, label, accepted[1], accepted[1].shell, rig, locale)
        ran = False
        for label, job in jobs.items():
            problem = job.result()
            if problem is None:
                ran = True
            else:
                mismatches.append(f"{label} ({locale}): {first[0]!r}\n    {problem}")
        if ran:
            stats["run"] += 1
            stats["mutated" if case_.mutated else "built"] += 1
            stats["shell-runs"] += len(jobs)

    def first_text(case_: Case) -> str:
        return case_.text.replace(BASE0, rig.bases[LABELS[0]])

    try:
        one()
    finally:
        pool.shutdown()
    print(f"differential: {dict(stats)}")
    assert not mismatches, f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches[:20])
    assert stats["run"] >= CASES, stats
    assert stats["mutated"] >= CASES // 20, stats


# ---------------------------------------------------------------------------- regressions

#: (shell label, builtin) pairs measured to run ``cmd`` for the argument ``'a[$(cmd)]'``.
ARITHMETIC_CASES = [("bash", "let", ""), ("bash", "printf -v", " x"), ("bash-posix", "read", ""),
                    ("mksh", "typeset", ""), ("mksh", "test", " -eq 1"), ("zsh-sh", "export", ""),
                    ("posh", "unset", ""), ("posh", "getopts x", "")]  # fmt: skip


@pytest.mark.parametrize(("label", "builtin", "rest"), ARITHMETIC_CASES)
def test_a_builtin_that_evaluates_a_subscript_is_refused_because_it_runs_code(
    label: str, builtin: str, rest: str, tmp_path: Path
) -> None:
    # Found while building the differential test: Policy.command() took these for one literal
    # command, yet the shell runs the command substitution hidden in the quoted argument.
    flag = tmp_path / "ran"  # tmp_path holds only safe characters
    arg = f"'a[$(: >{flag})]'{rest}"
    shell = f"{builtin} {arg}" + (" </dev/null" if builtin == "read" else "")
    subprocess.run([*shell_argv(label), "-c", shell], capture_output=True, timeout=30,
                   check=False, cwd=tmp_path)  # fmt: skip
    assert flag.exists()
    verdict = check(f"exec:{builtin} {arg}", Policy.command())
    assert not verdict.ok and verdict.has("evaluates-code")

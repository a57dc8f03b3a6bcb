"""Adversarial differential soundness: no accepted string runs anything the verdict hides.

The generator (:mod:`tests.shell.adversarial`) takes every shape qmonexec renders and
inserts hostile fragments anywhere: separators, expansions in every quoting context, runs
of up to 400 control characters or non-ASCII text, special paths (``/dev/tcp/..``,
``/dev/fd/N``, ``/proc/self/fd/N`` and their ``//``, ``/./``, ``/../`` spellings), builtin
names, options, globs, comments, quotes; sent as ``exec:`` URIs, QMP, HMP (also after
leading blanks and newlines) and HMP inside QMP.  Each string the validator ACCEPTS runs
as ``SHELL -c STRING`` (what QEMU would run, worked out from the construction, not from
the validator) in a sandbox (:mod:`tests.shell.sandbox`): recording stubs for every
program, an empty network namespace, a pid namespace, a scratch directory, a timeout.
What ran must equal the verdict's decoded commands: argv, every open fd, the files
created, no output.  Each string runs under 3 of the 20 shell x locale pairs (round
robin, so every pair gets its share); ``QMONEXEC_ADVERSARIAL=slow`` runs every accepted
string in every pair, ``QMONEXEC_ADVERSARIAL_CASES`` sets how many, and
``QMONEXEC_ADVERSARIAL_LOG`` names a file each chunk's report is appended to as it
finishes (docs/validator-testing.md).
"""

from __future__ import annotations

import os
import random
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from qmonexec.shell import Severity, check
from qmonexec.shell.check import MAX_SHELL_BYTES
from tests.helpers.support import SHELLS, missing, require_program, shell_argv

from .adversarial import BASE0, CASES, Case, generate, hmp_argument, materialize, policy_for
from .sandbox import Pair, Sandbox, Skip, sandbox_problem, shape_problem

SLOW = os.environ.get("QMONEXEC_ADVERSARIAL") == "slow"
#: Accepted strings per run: at least 3,000 in CI, 100,000 by hand (every pair).
ACCEPTED = int(os.environ.get("QMONEXEC_ADVERSARIAL_CASES", "100000" if SLOW else "3000"))
#: Test cases xdist can spread over its workers.  A slow run uses chunks of 2,500 accepted
#: strings, so that it reports as it goes (each chunk's report is appended to
#: ``QMONEXEC_ADVERSARIAL_LOG``) and a larger count only adds chunks: chunk N holds the
#: same strings whatever the count, so a long run can be split by chunk (``...[N]``).
SLOW_CHUNK = 2500
CHUNKS = -(-ACCEPTED // SLOW_CHUNK) if SLOW else 6
LOG = os.environ.get("QMONEXEC_ADVERSARIAL_LOG")
PAIRS_PER_STRING = 20 if SLOW else 3
WORKERS = 1 if SLOW else 3
LOCALES = ("C", "C.UTF-8")
LABELS = [label for label, *_rest in SHELLS if label != "sh"]  # sh is dash on Debian


@dataclass
class Tally:
    """Counts and mismatches of one chunk."""

    counts: Counter[str] = field(default_factory=Counter)
    pairs: Counter[str] = field(default_factory=Counter)
    mismatches: list[tuple[str, str]] = field(default_factory=list)  # (class, report)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.counts[key] += n


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    compiler = require_program("gcc")
    problem = sandbox_problem()
    if problem is not None:
        missing(problem)
    locales = subprocess.run(["locale", "-a"], capture_output=True, text=True, check=False)
    if "c.utf8" not in locales.stdout.lower().replace("-", ""):
        missing("the C.UTF-8 locale is missing (Debian package libc-bin)")
    for label in LABELS:
        shell_argv(label)
    box = Sandbox.create(compiler)
    yield box
    box.close()


def _pairs() -> list[Pair]:
    return [Pair(label, tuple(shell_argv(label)), loc) for label in LABELS for loc in LOCALES]


def _accepted(case: Case, base: str) -> bool:
    return check(materialize(case, base)[0], policy_for(case.policy)).ok


def _collect(chunk: int, want: int, probe_base: str, tally: Tally) -> list[Case]:
    """Draw seeded cases until ``want`` of them are accepted."""
    accepted: list[Case] = []
    k = 0
    while len(accepted) < want:
        case = generate(random.Random(f"adversarial-{chunk}-{k}"))
        k += 1
        tally.add("generated")
        if _accepted(case, probe_base):
            accepted.append(case)
            tally.add("accepted")
            if case.tags:
                tally.add("accepted with hostile fragments")
        else:
            tally.add("rejected")
    return accepted


def _run_case(box: Sandbox, slot: int, case: Case, pairs: list[Pair], tally: Tally) -> None:
    text, truth = materialize(case, box.base(slot))
    _run_text(box, slot, text, truth, case.policy, pairs, tally)


def _run_text(box: Sandbox, slot: int, text: str, truth: str | None, policy: str,
              pairs: list[Pair], tally: Tally, must_accept: bool = True) -> None:  # fmt: skip
    """Check ``text``; when accepted, run ``truth`` (what QEMU runs) in ``pairs``."""
    verdict = check(text, policy_for(policy))
    if not verdict.ok:
        if must_accept:
            tally.mismatches.append(("base", f"accepted for one scratch path only: {text!r}"))
        return
    rules = policy_for(policy)
    wrong = shape_problem(verdict, set(rules.programs))
    if wrong is not None:
        tally.mismatches.append((f"accepted outside its shape\0{policy}", (
            f"{policy} policy: {text!r}\n  the verdict itself shows {wrong}")))
    if truth is None:
        tally.add("accepted, QEMU refuses it (not run)")
        return
    if "\0" in truth or len(truth.encode("utf-8", "surrogateescape")) > MAX_SHELL_BYTES:
        tally.add("accepted, cannot be an argv (not run)")
        return
    if verdict.shell != truth:
        tally.mismatches.append(("layer: the validator checked another string", (
            f"the validator checked another string than QEMU runs\n  text {text!r}\n"
            f"  checked {verdict.shell!r}\n  QEMU runs {truth!r}")))
    warned = {s for f in verdict.findings if f.severity is Severity.WARNING for s in f.shells}
    ran = 0
    for pair in pairs:
        if pair.label in warned:
            continue
        try:
            result = box.run(slot, pair, truth, verdict)
        except Skip as why:
            tally.add(f"not run: {why}".split(" '")[0].split(' "')[0])
            return
        ran += 1
        with tally.lock:
            tally.pairs[str(pair)] += 1
        if result is not None:
            tally.mismatches.append((f"{result[0]}\0{pair}", (
                f"{pair} ({policy} policy): {text!r}\n  runs {truth!r}\n  {result[1]}")))
    tally.add("run")
    tally.add("shell runs", ran)


def _pick(all_pairs: list[Pair], start: int) -> list[Pair]:
    n = len(all_pairs)
    return [all_pairs[(start + k) % n] for k in range(min(PAIRS_PER_STRING, n))]


def _report(chunk: int, tally: Tally) -> str:
    lines = [f"adversarial chunk {chunk}: " + ", ".join(f"{k} {v}" for k, v in
                                                        sorted(tally.counts.items()))]  # fmt: skip
    per_pair = ", ".join(f"{k} {v}" for k, v in sorted(tally.pairs.items()))
    lines.append(f"  runs per pair: {per_pair}")
    classes: dict[str, list[str]] = {}
    where: dict[str, set[str]] = {}
    for key, report in tally.mismatches:
        cls, _nul, pair = key.partition("\0")
        classes.setdefault(cls, []).append(report)
        where.setdefault(cls, set()).add(pair)
    for cls, reports in sorted(classes.items()):
        shortest = min(reports, key=len)
        lines.append(f"MISMATCH CLASS {cls}: {len(reports)} in {' '.join(sorted(where[cls]))}"
                     f"\n  {shortest}")  # fmt: skip
    return "\n".join(lines)


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_no_accepted_string_runs_anything_the_verdict_does_not_show(
    chunk: int, sandbox: Sandbox, record_property: Any
) -> None:
    tally = Tally()
    share = SLOW_CHUNK if SLOW else -(-ACCEPTED // CHUNKS)
    cases = _collect(chunk, share, sandbox.base(0), tally)
    all_pairs = _pairs()
    slots = list(range(WORKERS))
    free = threading.Semaphore(WORKERS)
    slot_lock = threading.Lock()

    def work(i: int, case: Case) -> None:
        with free:
            with slot_lock:
                slot = slots.pop()
            try:
                _run_case(sandbox, slot, case, _pick(all_pairs, (chunk * share + i) * 3), tally)
            finally:
                with slot_lock:
                    slots.append(slot)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for job in [pool.submit(work, i, c) for i, c in enumerate(cases)]:
            job.result()
    report = _report(chunk, tally)
    print(report)
    if LOG:
        with open(LOG, "a", encoding="utf-8") as log:
            log.write(report + "\n")
    record_property("adversarial", {"counts": dict(tally.counts), "pairs": dict(tally.pairs),
                                    "mismatches": len(tally.mismatches)})  # fmt: skip
    counts = tally.counts
    assert not tally.mismatches, report
    assert counts["accepted"] >= share, report
    assert counts["accepted with hostile fragments"] * 3 >= counts["accepted"], report
    assert counts["run"] * 2 >= counts["accepted"], report
    assert all(tally.pairs[str(p)] > 0 for p in all_pairs), report


def test_hypothesis_strategy_cases_run_as_the_verdict_says(sandbox: Sandbox) -> None:
    # The same generator driven by hypothesis (which can replay and shrink a failure).
    tally = Tally()
    all_pairs = _pairs()
    count = [0]

    @settings(max_examples=150, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(CASES)
    def one(case: Case) -> None:
        if not _accepted(case, sandbox.base(WORKERS)):
            return
        count[0] += 1
        _run_case(sandbox, WORKERS, case, [all_pairs[count[0] % len(all_pairs)]], tally)
        assert not tally.mismatches, _report(-1, tally)

    one()
    print(_report(-1, tally))


#: Bypasses found by this test (a class each, the string shortened by hand): every one must
#: be refused, or run exactly as its verdict says in all 20 pairs.  (text with BASE0 for
#: the scratch directory, policy, what QEMU runs)
_SAVE = "{ dd bs=4096 seek=0 if=/dev/null && dd ibs=32768 obs=65536; } 1<>"
_CTRL = "\x01" * 200
FOUND = {
    "finding cap overflowed by warnings": (f"exec:prog '{_CTRL}' ; touch pwned", "command"),
    "finding cap overflowed in a save": (
        f"exec:{_SAVE}'{BASE0}/t/{_CTRL}' ; touch pwned", "default"),
    "expansion after the cap": (f"exec:prog '{_CTRL}' $(touch pwned)", "command"),
    "dev tcp target": (f"exec:{_SAVE}/dev/tcp/127.0.0.1/9", "default"),
    "dev tcp spelled with //": (f"exec:{_SAVE}//dev//tcp/127.0.0.1/9", "default"),
    "dev stdout target": (f"exec:{_SAVE}/dev/stdout", "default"),
    "dev fd target": (f"exec:{_SAVE}/dev/fd/1", "default"),
    "proc fd target": (f"exec:{_SAVE}/proc/self/fd/1", "default"),
    "proc thread-self fd target": (f"exec:{_SAVE}/proc/thread-self/fd/1", "default"),
    "HMP after a newline": ('\nmigrate "exec:prog;touch pwned"', "command"),
    "HMP after CR LF": ('\r\nmigrate "exec:prog;touch pwned"', "command"),
    "builtin compgen": ("exec:compgen -c", "command"),
    "builtin exec eval": ("exec:exec eval touch pwned", "command"),
    "builtin emulate": ("exec:emulate sh", "command"),
    "builtin enable (bash loads a shared object with -f)": ("exec:enable -n echo", "command"),
    "builtin zmodload": ("exec:zmodload zsh/net/tcp", "command"),
    "builtin suspend (stops the shell)": ("exec:suspend", "command"),
    "builtin echo": ("exec:echo pwned", "command"),
    "builtin cd": ("exec:cd /", "command"),
    "builtin type": ("exec:type prog", "command"),
    "program name read by sh as options": ("exec:-i", "command"),
    "long option as program name": ("exec:--help", "command"),
    "custom compressor eval": (
        f"exec:eval -c | {_SAVE}{BASE0}/t/x", "custom:eval"),
    "custom compressor exec": (f"exec:exec -c | {_SAVE}{BASE0}/t/x", "custom:exec"),
}


@pytest.mark.parametrize("name", sorted(FOUND))
def test_a_string_found_by_this_test_is_refused_or_runs_as_its_verdict_says(
    name: str, sandbox: Sandbox
) -> None:
    text, policy = FOUND[name]
    tally = Tally()
    slot = WORKERS + 1
    base = sandbox.base(slot)
    text = text.replace(BASE0, base)
    truth = hmp_argument(text) if text.lstrip().startswith("migrate") else text
    truth = truth[5:] if truth is not None else None
    _run_text(sandbox, slot, text, truth, policy, _pairs(), tally, must_accept=False)
    assert not tally.mismatches, _report(-1, tally)
    accepted = check(text, policy_for(policy)).ok
    assert not accepted or tally.counts["run"] == 1, _report(-1, tally)

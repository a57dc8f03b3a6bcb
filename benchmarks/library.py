"""Library benchmarks: render rate, validation rate, CLI start-up, validator scaling.

Run by hand (never in CI):  .venv/bin/python benchmarks/library.py [--quick]
Before/after a change:      .venv/bin/python benchmarks/library.py --baseline OLD_CHECKOUT
(``git worktree add /tmp/old COMMIT`` makes one): validation rates of this tree
and the old one, measured in alternating child processes, and their ratio.

Figures go to stdout as a table and to benchmarks/results/library.json; the
method and the recorded figures are in docs/performance.md.  Ratios are taken
within one run, alternating the compared commands, because this machine is noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The tree whose qmonexec is measured: this one, or ``--tree DIR`` (used by --baseline).
TREE = Path(sys.argv[sys.argv.index("--tree") + 1]) if "--tree" in sys.argv[:-1] else ROOT
sys.path.insert(0, str(TREE))

from qmonexec.build import policy_for  # noqa: E402
from qmonexec.render import render_save  # noqa: E402
from qmonexec.shell import check  # noqa: E402
from qmonexec.spec import SaveSpec, compression  # noqa: E402

#: A typical save string of about 200 bytes (the validator target's input).
TYPICAL = (
    "exec:gzip -c | { dd bs=4096 seek=16 if=/dev/null && dd ibs=65536 obs=1048576; } "
    "1<>'/var/lib/libvirt/qemu/save/customer-east-1/guest-web-frontend-01 (nightly, "
    "before upgrade) it'\\''s.img'"
)


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn``: the best of five timed batches of about ``seconds``/5."""
    n = 1
    while True:  # find a batch size that takes ~20 ms
        start = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - start > 0.02:
            break
        n *= 2
    best = 0.0
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n * max(1, int(seconds / 5 / 0.02))):
            fn()
        elapsed = time.perf_counter() - start
        best = max(best, n * max(1, int(seconds / 5 / 0.02)) / elapsed)
    return best


def bench_render(seconds: float) -> dict[str, float]:
    """URIs per second, each with a distinct target (no caching can help)."""
    gz = compression("gzip")
    counter = iter(range(10**9))

    def one() -> str:
        i = next(counter)
        return render_save(SaveSpec(f"/var/lib/vm/guest {i}'s.img", offset=8192, compression=gz))

    def render_only() -> str:
        return render_save(spec)

    spec = SaveSpec("/var/lib/vm/guest's.img", offset=8192, compression=gz)
    return {"spec_and_render_per_s": rate(one, seconds), "render_per_s": rate(render_only, seconds)}


def bench_validate(seconds: float) -> dict[str, float]:
    """Validations per second of the typical ~200-byte save string, and bashlex if installed."""
    policy = policy_for(compression("gzip"))
    assert check(TYPICAL, policy).ok, check(TYPICAL, policy)
    shell = TYPICAL.removeprefix("exec:")
    out = {
        "bytes": float(len(TYPICAL)),
        "validate_per_s": rate(lambda: check(TYPICAL, policy), seconds),
        # form="shell" skips the canonical-shape fast path: lexer, parser, policy every time.
        "full_path_per_s": rate(lambda: check(shell, policy, form="shell"), seconds),
    }
    try:
        import bashlex  # type: ignore[import-not-found]
    except ImportError:
        out["bashlex_per_s"] = float("nan")
    else:
        out["bashlex_per_s"] = rate(lambda: bashlex.parse(shell), seconds)
        out["ratio_vs_bashlex"] = out["validate_per_s"] / out["bashlex_per_s"]
    return out


#: Input sizes for the scaling series: 1 KiB .. 1 MiB.
SIZES = (1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 17, 1 << 18, 1 << 20)


def _series(name: str, make: Callable[[int], str], policy: object) -> list[dict[str, float]]:
    rows = []
    for size in SIZES:
        text = make(size)
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            verdict = check(text, policy)  # type: ignore[arg-type]
            best = min(best, time.perf_counter() - start)
        rows.append({"series": name, "bytes": float(len(text)), "seconds": best,  # type: ignore[dict-item]
                     "ok": float(verdict.ok), "findings": float(len(verdict.findings)),
                     "us_per_kib": best / (len(text) / 1024) * 1e6})
    return rows


def bench_scaling() -> list[dict[str, float]]:
    """Validation time from 1 KiB to 1 MiB, for two kinds of input.

    ``hostile``: injections, expansions, globs and quotes repeated; refused, and
    analysis stops early once the finding cap is reached.  ``literal``: one
    command of many plain and quoted words, which must be read to the end (up to
    the 128 KiB a shell string can have in execve: past it, ``too-long``).
    """
    from qmonexec.shell import Policy

    unit = "'a b'\"$(x)\"*{a,b}~=; `y` \\\n"
    hostile = _series(
        "hostile",
        lambda n: "exec:dd if=/dev/null " + (unit * (n // len(unit) + 1))[:n],
        Policy.default(),
    )
    word = "/var/lib/vm/a 'b c' "
    literal = _series(
        "literal",
        lambda n: "exec:/usr/bin/tee " + (word * max(1, n // len(word))).rstrip(),
        Policy.command(),
    )
    return hostile + literal


def _timed_runs(argv: list[str], rounds: int, env: dict[str, str]) -> list[float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - start)
    return times


def bench_startup(rounds: int) -> dict[str, float]:
    """``qmonexec uri save ...`` wall time vs ``python3 -c 'import jinja2'``, alternated.

    Both sides read compiled bytecode, as after ``pip install`` (which compiles it):
    qmonexec's ``.pyc`` files are written first with compileall, and
    ``PYTHONDONTWRITEBYTECODE`` is removed from the children's environment.
    """
    import compileall

    compileall.compile_dir(str(ROOT / "qmonexec"), quiet=1)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    python = sys.executable
    script = Path(python).with_name("qmonexec")
    entry = [str(script)] if script.exists() else [python, "-m", "qmonexec"]
    cli = [*entry, "uri", "save", "/var/lib/vm/guest.img", "--offset", "8192", "--compress", "gzip"]
    base = [python, "-c", "import jinja2"]
    cli_t: list[float] = []
    base_t: list[float] = []
    for _ in range(rounds):
        cli_t += _timed_runs(cli, 1, env)
        base_t += _timed_runs(base, 1, env)
    c, b = statistics.median(cli_t), statistics.median(base_t)
    return {"cli_median_s": c, "import_jinja2_median_s": b, "ratio": c / b}


def bench_against(baseline: Path, rounds: int, seconds: float) -> dict[str, float]:
    """Validation rates of this tree and ``baseline``, alternating child processes."""
    here: list[float] = []
    there: list[float] = []
    here_full: list[float] = []
    there_full: list[float] = []
    for k in range(2 * rounds):
        tree = ROOT if k % 2 == 0 else baseline
        done = subprocess.run(
            [sys.executable, __file__, "--tree", str(tree), "--validate-only",
             "--seconds", str(seconds)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        result = json.loads(done.stdout)
        (here if tree == ROOT else there).append(result["validate_per_s"])
        (here_full if tree == ROOT else there_full).append(result["full_path_per_s"])
    h, t = statistics.median(here), statistics.median(there)
    hf, tf = statistics.median(here_full), statistics.median(there_full)
    return {"this_per_s": h, "baseline_per_s": t, "time_ratio": t / h,
            "this_full_per_s": hf, "baseline_full_per_s": tf, "full_time_ratio": tf / hf}


_COUNT_SNIPPET = """
import sys
sys.path.insert(0, sys.argv[1])
from qmonexec.build import policy_for
from qmonexec.shell import check
from qmonexec.spec import compression
text, form, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
policy = policy_for(compression("gzip"))
for _ in range(n):
    check(text, policy, form=form)
"""


def _instructions(tree: Path, text: str, form: str, n: int) -> int:
    """Instructions valgrind counts for ``n`` checks of ``text`` (plus start-up)."""
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
         "-c", _COUNT_SNIPPET, str(tree), text, form, str(n)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    for line in done.stderr.splitlines():
        if "refs:" in line:
            return int(line.split("refs:")[1].strip().replace(",", ""))
    raise RuntimeError(f"no instruction count in valgrind's output:\n{done.stderr}")


def count_against(baseline: Path, n: int = 2000) -> dict[str, float]:
    """Instructions per check of TYPICAL in this tree and ``baseline`` (valgrind callgrind).

    Instruction counts do not depend on the machine's load, so this ratio is
    repeatable where wall-time ratios are noisy.  Start-up is subtracted: each
    figure is (count for n + 1 checks - count for 1 check) / n.
    """
    out: dict[str, float] = {}
    for label, text, form in (("fast", TYPICAL, "auto"),
                              ("full", TYPICAL.removeprefix("exec:"), "shell")):
        for name, tree in (("this", ROOT), ("baseline", baseline)):
            many = _instructions(tree, text, form, n + 1)
            one = _instructions(tree, text, form, 1)
            out[f"{name}_{label}"] = (many - one) / n
        out[f"{label}_ratio"] = out[f"this_{label}"] / out[f"baseline_{label}"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, for a smoke test")
    parser.add_argument("--baseline", type=Path, metavar="DIR",
                        help="compare validation with the qmonexec of an older checkout DIR")
    parser.add_argument("--rounds", type=int, default=10,
                        help="alternating rounds for --baseline (default 10)")
    parser.add_argument("--instructions", action="store_true",
                        help="with --baseline: count instructions per check with valgrind "
                             "(repeatable on a loaded machine) instead of timing")
    parser.add_argument("--tree", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--validate-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.validate_only:
        print(json.dumps(bench_validate(args.seconds or 1.0)))
        return 0
    if args.baseline is not None and args.instructions:
        c = count_against(args.baseline.resolve())
        for label in ("fast", "full"):
            print(f"instructions per check ({label} path): this tree {c['this_' + label]:,.0f}, "
                  f"baseline {c['baseline_' + label]:,.0f}, ratio {c[label + '_ratio']:.3f}")
        return 0
    if args.baseline is not None:
        r = bench_against(args.baseline.resolve(), args.rounds, 0.5 if args.quick else 1.5)
        print(f"validate, this tree:     {r['this_per_s']:>10,.0f} /s "
              f"(full path {r['this_full_per_s']:,.0f} /s)")
        print(f"validate, {args.baseline}: {r['baseline_per_s']:>10,.0f} /s "
              f"(full path {r['baseline_full_per_s']:,.0f} /s)")
        print(f"time per check, this tree / baseline: {r['time_ratio']:.3f} "
              f"(full path {r['full_time_ratio']:.3f})")
        return 0
    seconds = 0.5 if args.quick else 3.0
    rounds = 5 if args.quick else 31
    results = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "render": bench_render(seconds),
        "validate": bench_validate(seconds),
        "scaling": bench_scaling(),
        "startup": bench_startup(rounds),
    }
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "library.json").write_text(json.dumps(results, indent=2))
    r, v, s = results["render"], results["validate"], results["startup"]
    print(f"render (spec + template), distinct targets: {r['spec_and_render_per_s']:>10,.0f} /s")
    print(f"render (template only):                     {r['render_per_s']:>10,.0f} /s")
    print(f"validate {v['bytes']:.0f}-byte save string:          {v['validate_per_s']:>10,.0f} /s")
    print(f"validate, full path (no fast path):         {v['full_path_per_s']:>10,.0f} /s")
    print(
        f"bashlex parse of the same string:           {v['bashlex_per_s']:>10,.0f} /s"
        + (f"  (validator is {v['ratio_vs_bashlex']:.0f}x)" if "ratio_vs_bashlex" in v else "")
    )
    for row in results["scaling"]:
        print(
            f"validate {row['bytes'] / 1024:>6.0f} KiB {row['series']:<8}: "
            f"{row['seconds'] * 1000:8.1f} ms  ({row['us_per_kib']:.1f} us/KiB, "
            f"ok={bool(row['ok'])}, {row['findings']:.0f} findings)"
        )
    print(
        f"start-up: qmonexec uri save {s['cli_median_s'] * 1000:.1f} ms, "
        f"import jinja2 {s['import_jinja2_median_s'] * 1000:.1f} ms, ratio {s['ratio']:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

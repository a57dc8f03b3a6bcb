"""Review benchmark: ``qmonexec review`` of a generated 10,000-line Python tree.

Run by hand (never in CI):  .venv/bin/python benchmarks/review.py [--lines N] [--runs N]

The tree (in a temporary directory) has 50 modules of ordinary code in which
about one line in 25 builds a migration command: literals, f-strings, ``%``
and ``.format`` templates, builder calls, QMP dicts and ``migrate(uri=...)``
calls, safe and unsafe alike.  The command is run as a user runs it (a new
process, start-up included); the median, best and worst wall times of the
runs are printed, with the CPU time the review process used (less
sensitive to other load on the machine) and the load average.  The result
is recorded in docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_FILLER = [
    "def helper_{n}(values: list[int]) -> int:",
    "    total = 0",
    "    for value in values:",
    "        if value % 3 == 0:",
    "            total += value * {n}",
    "        else:",
    "            total -= 1",
    "    return total",
    "",
    "class Thing{n}:",
    "    '''A class that has nothing to do with QEMU.'''",
    "",
    "    def __init__(self, name: str) -> None:",
    "        self.name = name",
    "        self.items: dict[str, int] = {{}}",
    "",
    "    def describe(self) -> str:",
    "        return f'{{self.name}} has {{len(self.items)}} items'",
    "",
]
_COMMANDS = [
    'URI_{n} = "exec:gzip -c | {{ dd bs=4096 seek=2 if=/dev/null && dd ibs=32768 obs=65536; }}'
    ' 1<>/var/lib/vm/guest{n}.img"',
    'BAD_{n} = "exec:gzip -c > /tmp/vm{n}.gz"',
    'F_{n} = f"exec:cat 1<>{{quote_word(path)}}"',
    'P_{n} = "exec:dd if=%s bs=4096 skip=%d" % (quote_word(path), 2)',
    'qmp.migrate(uri=save_uri(spec))',
    'qmp.execute({{"execute": "migrate", "arguments": {{"uri": "exec:cat >/vm/x; reboot"}}}})',
    'T_{n} = "exec:cat 1<>{{}}".format(path)',
]


def generate(root: Path, lines: int, files: int = 50) -> int:
    """Write ``files`` modules of about ``lines`` lines in total under ``root``; the line count."""
    per_file = lines // files
    written = 0
    for f in range(files):
        out = ["from qmonexec.quoting import quote_word", "from qmonexec.build import save_uri", ""]
        n = 0
        while len(out) < per_file:
            n += 1
            out += [line.format(n=n) for line in _FILLER]
            out.append(_COMMANDS[(f + n) % len(_COMMANDS)].format(n=n))
        out = out[:per_file]
        while out[-1].startswith(("def ", "class ", "    def ")) or out[-1].endswith(":"):
            out.pop()  # never end a module on a header without a body
        out += ["pass"] * (per_file - len(out))
        sub = root / f"pkg{f % 5}"
        sub.mkdir(exist_ok=True)
        (sub / f"module_{f}.py").write_text("\n".join(out) + "\n", encoding="utf-8")
        written += len(out)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        total = generate(Path(tmp), args.lines)
        times: list[float] = []
        cpu: list[float] = []
        findings = 0
        for _ in range(args.runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "qmonexec", "review", "--output", "gcc", tmp],
                capture_output=True, text=True, env=env, check=False,
            )  # fmt: skip
            times.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            findings = len(done.stdout.splitlines())
            if done.returncode not in (0, 1):
                print(done.stderr, file=sys.stderr)
                return 1
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus")
    print(f"tree: {total} lines of Python in 50 files, {findings} findings")
    print(f"qmonexec review, {args.runs} runs: median {statistics.median(times):.3f} s, "
          f"best {min(times):.3f} s, worst {max(times):.3f} s; CPU time median "
          f"{statistics.median(cpu):.3f} s, best {min(cpu):.3f} s")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Programs that run their arguments (or their input) as code or as another command.

The validator proves the shell string safe, but it cannot see into what a
program does with its arguments: ``env reboot``, ``xargs``, ``sh -c``,
``python3 -c``, ``find -exec``, ``sed 'e cmd'``, ``tar --to-command``, ``ssh
host cmd`` each run something the shell string only carries as text.  Such a
program is never in a default allow-list; a caller may still name it
(:meth:`~qmonexec.shell.policy.Policy.allowing_commands`), and every use then
draws a ``runs-code-unchecked`` warning saying its arguments are not checked.

The list cannot be complete (any program may run others); it is the programs
documented to run a command or code given in their arguments, options or
input, by family.  The allow-list is what protects against the rest.
Matching is on the last path component, with a version suffix removed
(``/usr/bin/python3.11`` counts as ``python``).
"""

from __future__ import annotations

__all__ = ["RUNS_CODE_PROGRAMS", "runs_code"]

import re

_FAMILIES = {
    # shells
    "shells": "sh ash dash bash rbash zsh ksh ksh93 mksh lksh pdksh oksh posh yash csh tcsh fish "
              "rc es elvish nu xonsh busybox toybox",
    # run their arguments as a command
    "wrappers": "env nohup nice ionice chrt taskset timeout setsid stdbuf unbuffer sudo su doas "
                "pkexec runuser setpriv sg newgrp chroot unshare nsenter capsh prlimit cgexec "
                "numactl firejail bwrap fakeroot fakechroot proot flock watch time xargs "
                "parallel find strace ltrace valgrind gdb perf script systemd-run run-parts "
                "start-stop-daemon daemonize dbus-launch xvfb-run catchsegv ld.so",
    # interpreters and tools with a command language
    "interpreters": "python pypy perl ruby irb node nodejs deno bun php lua luajit tclsh wish "
                    "expect guile racket sbcl clisp ocaml R Rscript julia java jshell groovy "
                    "scala osascript pwsh awk gawk mawk nawk busybox-awk m4 sed ed ex vi vim "
                    "nvim emacs nano less more man make cmake dc sqlite3 psql mysql gpg",
    # run commands on other hosts, or through options (wget --use-askpass, zip -TT, tar
    # --to-command, git -c core.pager)
    "remote": "ssh rsh scp sftp rsync socat nc ncat netcat wget git tar zip docker "
              "podman kubectl lxc",
}

#: Every program name (last path component, version suffix removed) known to run code.
RUNS_CODE_PROGRAMS = frozenset(" ".join(_FAMILIES.values()).split())

_VERSION = re.compile(r"[0-9][0-9.]*$|-[0-9][0-9.]*$")


def runs_code(name: str) -> bool:
    """Whether the program ``name`` (bare or a path) is known to run its arguments as code."""
    base = name.rsplit("/", 1)[-1]
    if base in RUNS_CODE_PROGRAMS:
        return True
    stripped = _VERSION.sub("", base)
    return stripped != base and stripped in RUNS_CODE_PROGRAMS

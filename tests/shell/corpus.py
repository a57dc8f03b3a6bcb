"""Corpus of shell strings with the finding each must produce (safe ones: none).

``UNSAFE`` entries are ``(text, code, policy)``: ``check(text, POLICIES[policy])``
must fail and report ``code`` among its findings.  ``SAFE`` entries are
``(text, policy)``: the verdict must be ok with no error finding.
"""

from __future__ import annotations

import json

from qmonexec.shell import Policy

POLICIES: dict[str, Policy] = {
    "default": Policy.default(),
    "command": Policy.command(),
    "offset8192": Policy.default().expecting_offset(8192),
    "pigz": Policy.default().allowing_commands("pigz"),
    "redirect": Policy.command().allowing_redirects(">"),
    "ssh": Policy.command().allowing_commands("ssh"),
    "printf": Policy.command().allowing_commands("/usr/bin/printf", "/usr/bin/test"),
    "strict": Policy.default().strict_text(),
    "strict-command": Policy.command().strict_text(),
}

T = "/var/lib/vm/guest.img"
GROUP = "{ dd bs=4096 seek=2 if=/dev/null && dd ibs=65536 obs=1048576; }"
RAW = f"exec:{GROUP} 1<>{T}"
SAVE = f"exec:gzip -c | {GROUP} 1<>{T}"
LIBVIRT = (
    f"exec:cat | {{ dd bs=4096 seek=2 if=/dev/null && dd ibs=1048576 obs=1048576; }} 1<>{T}"
)
REST = f"exec:dd if={T} bs=4096 skip=2 | gzip -dc"
D = "/run/qmonexec/1"
STATUS = (
    f"exec:{{ gzip -c && : >{D}/compress.ok || : >{D}/compress.failed; }} 2>{D}/compress.err | "
    f"{{ {{ dd bs=4096 seek=2 if=/dev/null && dd ibs=65536 obs=1048576; }} 1<>{T} && "
    f": >{D}/write.ok || : >{D}/write.failed; }} 2>{D}/write.err"
)
#: The stage-status form before the fix: 1<>T on the outer group, so a target that cannot
#: be opened skipped the whole group and recorded neither write.ok nor write.failed.
OLD_STATUS = (
    f"exec:{{ gzip -c && : >{D}/compress.ok || : >{D}/compress.failed; }} 2>{D}/compress.err | "
    f"{{ dd bs=4096 seek=2 if=/dev/null && dd ibs=65536 obs=1048576 && : >{D}/write.ok || "
    f": >{D}/write.failed; }} 1<>{T} 2>{D}/write.err"
)


def target(t: str, base: str = SAVE) -> str:
    """``base`` with its target replaced by the raw text ``t``."""
    return base.replace("1<>" + T, "1<>" + t)


def qmp(uri: object, execute: str = "migrate", **extra: object) -> str:
    """A compact QMP command carrying ``uri``."""
    return json.dumps({"execute": execute, "arguments": {"uri": uri, **extra}},
                      separators=(",", ":"))  # fmt: skip


UNSAFE: list[tuple[str, str, str]] = []


def bad(text: str, code: str, policy: str = "default") -> None:
    UNSAFE.append((text, code, policy))


# -- injections after separators, on every shape
for base in (RAW, SAVE, LIBVIRT, REST, STATUS):
    bad(base + "; reboot", "command-separator")
    bad(base + ";reboot", "command-separator")
    bad(base + "\nreboot", "command-separator")
    bad(base + " & reboot", "background")
    bad(base + " && reboot", "command-not-allowed")
    bad(base + " || reboot", "command-not-allowed")
    bad(base + " | reboot", "command-not-allowed")
bad(SAVE + ";", "command-separator")
bad(SAVE + " &", "background")
bad(SAVE + "\n", "command-separator")
bad("exec:cat; reboot", "command-separator", "command")
# -- program names under the command policy: builtins, option-like and relative names
for text, code in [
    ("exec:compgen -W '$(touch F)' x", "evaluates-code"),
    ("exec:compgen -C 'touch F' x", "evaluates-code"),
    ("exec:exec eval 'touch F'", "evaluates-code"),
    ("exec:exec -a x eval 'touch F'", "evaluates-code"),
    ("exec:emulate sh -c 'touch F'", "evaluates-code"),
    ("exec:noglob eval 'touch F'", "evaluates-code"),
    ("exec:getln 'a[$(touch F)]'", "evaluates-code"),
    ("exec:zparseopts x='a[$(touch F)]'", "evaluates-code"),
    ("exec:private 'a[$(touch F)]'", "evaluates-code"),
    ("exec:/opt/ast/bin/cat /x", "evaluates-code"),
    ("exec:-i", "command-not-allowed"),
    ("exec:+x /x", "command-not-allowed"),
    ("exec:./x", "relative-path"),
    ("exec:a/b", "relative-path"),
    ("exec:ssh host 'cat > /x'", "program-runs-code"),
    ("exec:/usr/bin/env gzip -c", "program-runs-code"),
    ("exec:/usr/bin/printf x", "command-not-allowed"),
    ("exec:pigz -c", "command-not-allowed"),
]:
    bad(text, code, "command")
bad("exec:/usr/bin/tee /tmp/x && reboot", "unexpected-shape", "command")
bad("exec:/usr/bin/tee /tmp/x | sh", "unexpected-shape", "command")
bad("exec:/usr/bin/tee /tmp/x &", "background", "command")
bad("exec:/usr/bin/tee /tmp/x\nsh", "command-separator", "command")
bad(SAVE.replace("&& dd", "; dd"), "command-separator")
bad(SAVE.replace("&& dd", "& dd"), "background")
bad(SAVE.replace("gzip -c |", "gzip -c; reboot |"), "command-separator")

# -- expansions in every quoting context
for t, code in [
    ("/x$(reboot)", "command-substitution"),
    ("/x`reboot`", "command-substitution"),
    ('"/x$(reboot)"', "command-substitution"),
    ('"/x`reboot`"', "command-substitution"),
    ("/x${HOME}", "parameter-expansion"),
    ("$HOME/x", "parameter-expansion"),
    ('"$HOME/x"', "parameter-expansion"),
    ("/x$1", "parameter-expansion"),
    ("/x$?", "parameter-expansion"),
    ('"/x${IFS}y"', "parameter-expansion"),
    ("/x$((1+1))", "arithmetic-expansion"),
    ('"/x$((1+1))"', "arithmetic-expansion"),
    ("/x$[1+1]", "arithmetic-expansion"),
    ("$'/x\\n'", "dollar-single-quote"),
    ("/x$'y'", "dollar-single-quote"),
    ('$"/x"', "dollar-double-quote"),
    ("/x$", "dollar-sign"),
    ('"/x$"', "dollar-sign"),
    ("'/x'$(reboot)", "command-substitution"),
    ("\"/x'$(reboot)'\"", "command-substitution"),
]:
    bad(target(t), code)
bad("exec:dd if=/x$(reboot) bs=4096 skip=2", "command-substitution")
bad("exec:dd if=/x bs=$((4096)) skip=2", "arithmetic-expansion")
bad("exec:$(echo gzip) -c", "command-substitution")
bad("exec:`reboot`", "command-substitution", "command")
bad("exec:/usr/bin/tee \"$(reboot)\"", "command-substitution", "command")
bad("exec:/usr/bin/tee ${x:-$(reboot)}", "parameter-expansion", "command")

# -- globs, tilde, braces, = and other specials
for t, code in [
    ("/x*", "unquoted-glob"),
    ("/x?", "unquoted-glob"),
    ("/x[ab]", "unquoted-glob"),
    ("~/x", "tilde-expansion"),
    ("~root/x", "tilde-expansion"),
    ("/x{a,b}", "brace-expansion"),
    ("/x{1..3}", "brace-expansion"),
    ("/x}", "unquoted-brace"),
    ("/x{", "unquoted-brace"),
    ("=x", "equals-expansion"),
    ("''=x", "empty-quote-trap"),
    ("''~/x", "empty-quote-trap"),
    ("/x^y", "bourne-pipe"),
    ("/x!y", "unquoted-special"),
    ("/x#y", "unquoted-special"),
    ("/x]", "unquoted-special"),
    ("/x~y", "unquoted-special"),
]:
    bad(target(t), code)
bad("exec:dd if=~/x bs=4096 skip=2", "tilde-expansion")
bad("exec:dd if=/x:~/y bs=4096 skip=2", "tilde-expansion")
bad("exec:/usr/bin/tee =ls", "equals-expansion", "command")
bad("exec:/usr/bin/tee *", "unquoted-glob", "command")
bad("exec:/usr/bin/tee {a,b}", "brace-expansion", "command")
bad("exec:/usr/bin/tee }", "unquoted-brace", "command")
bad("exec:/usr/bin/tee !", "unquoted-special", "command")
bad("exec:/usr/bin/tee a^b", "bourne-pipe", "command")

# -- characters: unquoted, in double quotes or after a backslash they are errors; NUL and
#    bytes that are not UTF-8 are errors even inside single quotes
for t, code in [
    ("/vm/gäst.img", "non-ascii"),
    ('"/vm/gäst.img"', "non-ascii"),
    ("/vm/g\\äst.img", "non-ascii"),
    ("/vm/日本.img", "non-ascii"),
    ("/vm/\udce9.img", "non-ascii"),
    ("'/vm/\udce9.img'", "non-ascii"),
    ("'/vm/\ud800.img'", "non-ascii"),
    ('"/x\ty"', "control-character"),
    ('"/x\ny"', "control-character"),
    ("/x\\\ty", "control-character"),
    ("/x\ry", "control-character"),
    ('"/x\ry"', "control-character"),
    ("/x\x1by", "control-character"),
    ("/x\x7fy", "control-character"),
    ("/x\x0by", "control-character"),
    ("/x\x00y", "nul-character"),
    ("'/x\x00y'", "nul-character"),
]:
    bad(target(t), code)
bad(target("/x\ty"), "syntax-error")  # the tab splits the word
bad("exec:gzip\u00a0-c", "non-ascii")
bad("exec:/usr/bin/tee $'/x\\n'", "dollar-single-quote", "command")
# under the strict text option, the same characters are refused even inside single quotes
for t, code in [
    ("'/vm/gäst.img'", "non-ascii"),
    ("'/vm/日本-🎉.img'", "non-ascii"),
    ("'/x\ty'", "control-character"),
    ("'/x\ny'", "control-character"),
    ("'/x\ry'", "control-character"),
    ("'/x\x1by'", "control-character"),
    ("'/x\u202ey'", "control-character"),
]:
    bad(target(t), code, "strict")
bad("exec:/usr/bin/tee 'naïve'", "non-ascii", "strict-command")

# -- quoting mistakes
for t, code in [
    ("'/x", "unterminated-quote"),
    ('"/x', "unterminated-quote"),
    ("/x'", "unterminated-quote"),
    ("/x$(reboot", "unterminated-expansion"),
    ("/x`reboot", "unterminated-expansion"),
    ("/x${HOME", "unterminated-expansion"),
    ("/x$((1", "unterminated-expansion"),
]:
    bad(target(t), code)
bad("exec:/usr/bin/tee 'it's'", "unterminated-quote", "command")
bad("exec:/usr/bin/tee \\", "unquoted-special", "command")

# -- redirections
for redirect, code in [
    (f">{T}", "truncating-redirect"),
    (f"> {T}", "truncating-redirect"),
    (f"1>{T}", "truncating-redirect"),
    (f">|{T}", "truncating-redirect"),
    (f">>{T}", "appending-redirect"),
    (f"1>>{T}", "appending-redirect"),
    (f"<>{T}", "redirect-not-allowed"),
    (f"0<>{T}", "redirect-not-allowed"),
    (f"2<>{T}", "redirect-not-allowed"),
    (f"1<>{T} 1<>/y", "duplicate-redirect"),
    (f"1<>{T} >/y", "duplicate-redirect"),
    (f"1<>{T} 2>&1", "redirect-not-allowed"),
    (f"1<>{T} >&/y", "redirect-not-allowed"),
    (f"1<>{T} 2>/tmp/err", "redirect-not-allowed"),
    (f"1<>{T} </etc/passwd", "redirect-not-allowed"),
    (f"10<>{T}", "fd-number"),
    ("1<>guest.img", "relative-path"),
    ("1<>./guest.img", "relative-path"),
    ("1<>../guest.img", "relative-path"),
    ("1<>'guest image.img'", "relative-path"),
    ("1<>''", "relative-path"),
]:
    bad(SAVE.replace("1<>" + T, redirect), code)
bad(SAVE.replace(" 1<>" + T, ""), "unexpected-shape")
bad(SAVE.replace("gzip -c |", "gzip -c >/x |"), "truncating-redirect")
bad(SAVE.replace("dd ibs=65536 obs=1048576", "dd ibs=65536 obs=1048576 >/x"), "truncating-redirect")
bad(SAVE.replace("gzip -c |", "gzip -c 2>/x |"), "redirect-not-allowed")
bad(REST + " >/x", "truncating-redirect")
bad(REST + " 2>/x", "redirect-not-allowed")
bad("exec:cat >/tmp/x", "truncating-redirect", "command")
bad("exec:cat >x", "relative-path", "redirect")
bad("exec:cat <x", "relative-path", "command")
bad("exec:cat </etc/shadow", "redirect-not-allowed", "command")
bad(f"exec:>{T}", "unexpected-shape", "command")

# -- dd operands and offsets
for old, new, code in [
    ("if=/dev/null", "if=/etc/passwd", "dd-operand"),
    ("if=/dev/null", "if=/dev/zero", "dd-operand"),
    ("bs=4096", "bs=4095", "dd-operand"),
    ("bs=4096", "bs=4k", "dd-operand"),
    ("bs=4096", "bs=2x2048", "dd-operand"),
    ("bs=4096", "bs=0", "dd-operand"),
    ("seek=2", "seek=x", "dd-operand"),
    ("seek=2", "seek=02", "dd-operand"),
    ("seek=2", "seek=-1", "dd-operand"),
    ("seek=2", "seek=2 seek=3", "dd-operand"),
    ("seek=2", "", "dd-operand"),
    ("if=/dev/null", "if=/dev/null of=/x", "dd-operand"),
    ("if=/dev/null", "if=/dev/null count=1", "dd-operand"),
    ("bs=4096", "ibs=4096", "dd-operand"),
    ("ibs=65536 obs=1048576", "bs=1048576", "dd-operand"),
    ("ibs=65536 obs=1048576", "ibs=65536", "dd-operand"),
    ("obs=1048576", "obs=1048576 conv=notrunc", "dd-operand"),
    ("obs=1048576", "obs=1000000", "dd-operand"),
    ("obs=1048576", "obs=2147483648", "dd-operand"),
    ("obs=1048576", "obs=1048576 of=/x", "dd-operand"),
    ("obs=1048576", "obs=1048576 status=none", "dd-operand"),
    ("dd ibs", "cat ibs", "unexpected-shape"),
]:
    bad(SAVE.replace(old, new, 1), code)
bad(SAVE.replace("seek=2", "seek=3"), "offset-mismatch", "offset8192")
bad(REST.replace("skip=2", "skip=1"), "offset-mismatch", "offset8192")
bad(SAVE.replace("seek=2", "seek=3").replace("bs=4096", "bs=2048"), "offset-mismatch", "offset8192")
for old, new, code in [
    ("if=" + T, "if=guest.img", "relative-path"),
    ("if=" + T, "if=" + T + " of=/x", "dd-operand"),
    ("skip=2", "", "dd-operand"),
    ("bs=4096", "ibs=4096", "dd-operand"),
    ("bs=4096", "bs=4096k", "dd-operand"),
    ("skip=2", "skip=2 count=1", "dd-operand"),
    ("gzip -dc", "gzip -c", "option-not-allowed"),
    ("gzip -dc", "gzip -d", "option-not-allowed"),
    ("gzip -dc", "cat", "unexpected-shape"),
    ("gzip -dc", "gzip -dc | sh", "program-runs-code"),
    ("gzip -dc", "sh", "program-runs-code"),
]:
    bad(REST.replace(old, new, 1), code)

# -- programs and options
for old, new, code in [
    ("gzip -c", "bash -c reboot", "program-runs-code"),
    ("gzip -c", "sh", "program-runs-code"),
    ("gzip -c", "./gzip -c", "relative-path"),
    ("gzip -c", "bin/gzip -c", "relative-path"),
    ("gzip -c", "/opt/ast/bin/cat", "evaluates-code"),
    ("gzip -c", "-gzip -c", "command-not-allowed"),
    ("gzip -c", "+gzip -c", "command-not-allowed"),
    ("gzip -c", "pigz -c", "command-not-allowed"),
    ("gzip -c", "'gzip' -x", "option-not-allowed"),
    ("gzip -c", "gzip -c /etc/shadow", "unexpected-argument"),
    ("gzip -c", "gzip -dc", "option-not-allowed"),
    ("gzip -c", "gzip", "option-not-allowed"),
    ("gzip -c", "gzip -c -S .x", "option-not-allowed"),
    ("gzip -c", "gzip -c -10", "option-not-allowed"),
    ("gzip -c", "gzip -c --suffix=x", "option-not-allowed"),
    ("gzip -c", "zstd -c -o/x", "option-not-allowed"),
    ("gzip -c", "zstd -c --rm", "option-not-allowed"),
    ("gzip -c", "xz -c -T", "option-not-allowed"),
    ("gzip -c", "cat -v", "option-not-allowed"),
    ("gzip -c", "cat /etc/shadow", "unexpected-argument"),
    ("gzip -c", "gzip -c -", "unexpected-argument"),
    ("gzip -c", "FOO=1 gzip -c", "assignment"),
    ("gzip -c", "! gzip -c", "negation"),
    ("gzip -c", "(gzip -c)", "subshell"),
    ("gzip -c", "gzip -c | gzip -c", "unexpected-shape"),
    ("gzip -c", "dd", "unexpected-shape"),
]:
    bad(SAVE.replace(old, new, 1), code)
bad(SAVE.replace("gzip -c", "pigz -c -o /x"), "command-not-allowed")
bad("exec:eval reboot", "evaluates-code", "command")
bad("exec:. /tmp/x", "evaluates-code", "command")
bad("exec:trap reboot EXIT", "evaluates-code", "command")
# builtins that evaluate 'a[$(cmd)]' in an argument (measured in bash, mksh, zsh, posh)
for builtin in ("let", "declare", "typeset", "export", "readonly", "unset", "read", "printf",
                "test", "[", "getopts", "shift", "integer", "ulimit", "local"):
    name = "'['" if builtin == "[" else builtin
    bad(f"exec:{name} 'a[$(reboot)]'", "evaluates-code", "command")
bad("exec:'let' x", "evaluates-code", "command")
bad("exec:le\\t x", "evaluates-code", "command")
bad("exec:./run", "relative-path", "command")
bad("exec:bin/run", "relative-path", "command")
bad("exec:reboot", "command-not-allowed")
bad("exec:gzip -c /etc/shadow", "unexpected-argument")
bad("exec:FOO=bar /usr/bin/tee /x", "assignment", "command")
bad("exec:PATH=/tmp gzip -c", "assignment")

# -- syntax, reserved words, comments, continuations
bad("exec:", "empty-command")
bad("exec:   ", "empty-command")
bad("exec:;", "syntax-error")
bad("exec:| gzip -c", "syntax-error")
bad("exec:gzip -c |", "syntax-error")
bad(SAVE.replace("; }", " }"), "syntax-error")
bad(SAVE.replace("; }", ";"), "syntax-error")
bad("exec:{ }", "syntax-error")
bad("exec:}", "syntax-error")
bad("exec:gzip -c )", "syntax-error")
bad("exec:gzip -c 1<>", "syntax-error")
bad("exec:gzip -c ;;", "syntax-error")
bad("exec:if true; then reboot; fi", "reserved-word", "command")
bad("exec:while :; do reboot; done", "reserved-word", "command")
bad("exec:time /usr/bin/tee /x", "reserved-word", "command")
bad("exec:[[ -e /x ]]", "reserved-word", "command")
bad("exec:gzip -c <<EOF\nx\nEOF", "here-document")
bad("exec:/usr/bin/tee /x &> /y", "non-posix-operator", "command")
bad("exec:/usr/bin/tee /x |& /bin/cat", "non-posix-operator", "command")
bad("exec:/bin/cat <<< x", "non-posix-operator", "command")
bad("exec:/bin/cat <(ls)", "non-posix-operator", "command")
bad("exec:/bin/cat >(ls)", "non-posix-operator", "command")
bad("exec:((1))", "non-posix-operator", "command")
bad("exec:/bin/cat >! /x", "non-posix-operator", "redirect")
bad("exec:" + "( " * 60 + "/bin/true" + " )" * 60, "too-deep", "command")
bad(SAVE + " # comment", "comment")
bad("exec:gzip -c # ; reboot", "comment")
bad("exec:gzip -c #\nreboot", "comment")
bad(target("/x #.img"), "comment")
bad("exec:gzip -c \\\n| reboot", "line-continuation")
bad("exec:reb\\\noot", "line-continuation")
bad(SAVE.replace("&&", "&\\\n&"), "line-continuation")
bad("exec:/usr/bin/tee /x\\\n", "line-continuation", "command")
bad("exec:/usr/bin/tee " + "a" * 140000, "too-long", "command")

# -- stage-status form
for old, new, code in [
    (f"{D}/write.ok", "/other/write.ok", "status-file"),
    (f"{D}/write.ok", f"{D}/write.okay", "status-file"),
    (f"{D}/compress.failed", f"{D}/compress.ok", "status-file"),
    (f"2>{D}/compress.err", f"2>>{D}/compress.err", "appending-redirect"),
    (f" 2>{D}/write.err", "", "status-file"),
    (f" 2>{D}/write.err", f" 2>{D}/write.err 1<>{T}", "status-file"),
    (f"}} 1<>{T} &&", "} &&", "unexpected-shape"),
    (f"}} 1<>{T} &&", f"}} >{T} &&", "truncating-redirect"),
    (f"}} 1<>{T} &&", f"}} 1<>{T} 2>/tmp/e &&", "redirect-not-allowed"),
    (f"}} 2>{D}/write.err", f"}} 1<>{T} 2>{D}/write.err", "status-file"),
    (f": >{D}/write.ok", f": >>{D}/write.ok", "appending-redirect"),
    (f": >{D}/write.ok", f"reboot >{D}/write.ok", "command-not-allowed"),
    (f": >{D}/write.ok", f": >{D}/write.ok; reboot", "command-separator"),
    (f"{D}/write.err", "write.err", "relative-path"),
    ("&& : >", "; : >", "command-separator"),
    ("|| : >", "&& : >", "unexpected-shape"),
]:
    bad(STATUS.replace(old, new, 1), code)

bad(OLD_STATUS, "status-file")
bad(OLD_STATUS.split(" | ", 1)[1], "status-file")

# -- monitor layers
bad('{"execute":"migrate","arguments":{"uri":"exec:cat","uri":"exec:reboot"}}',
    "json-duplicate-key")  # fmt: skip
bad('{"execute":"migrate","execute":"quit","arguments":{"uri":"exec:cat"}}', "json-duplicate-key")
bad(qmp(5), "qmp-type")
bad(qmp(None), "qmp-type")
bad(qmp(["exec:cat"]), "qmp-type")
bad('{"execute":"quit"}', "qmp-command-not-allowed")
bad('{"execute":"human-monitor-command","arguments":{"command-line":"quit"}}',
    "hmp-command-not-allowed")  # fmt: skip
bad(qmp("tcp:10.0.0.1:4444"), "not-exec-uri")
bad(qmp(" " + RAW), "not-exec-uri")
bad(qmp("EXEC:cat"), "not-exec-uri")
bad(qmp(RAW + "\u0000; reboot"), "qmp-text")
bad(qmp(RAW + "\ud800"), "qmp-text")
bad(qmp(RAW + "\ufffe"), "qmp-text")
bad('{"execute":"migrate","arguments":{"uri":"exec:cat \\u0024(reboot)"}}', "command-substitution")
bad('{"execute":"migrate","arguments":{"uri":"exec:cat\\u003b reboot"}}', "command-separator")
bad('{"execute":"migrate","arguments":{"uri":"exec:cat\\nreboot"}}', "command-separator")
bad("{'execute':'migrate','arguments':{'uri':'exec:cat'}}", "json-syntax")
bad('{"execute":"migrate","arguments":{"uri":"exec:cat"}} {"execute":"quit"}', "json-syntax")
bad('{"execute":"migrate","arguments":{"uri":"exec:cat"},"id":NaN}', "json-syntax")
bad('{"execute":"migrate","arguments":{"uri":"exec:cat"', "json-syntax")
bad('{"execute":"migrate","arguments":{"uri":"exec:cat"},"extra":1}', "qmp-unexpected-key")
bad(qmp(RAW, channels=[]), "qmp-unexpected-key")
bad(qmp(RAW, detach=True), "qmp-unexpected-key")
bad('{"execute":"migrate","arguments":{}}', "qmp-missing-uri")
bad('{"execute":"migrate"}', "qmp-missing-uri")
bad('{"execute":"migrate","arguments":"exec:cat"}', "qmp-type")
bad(qmp(SAVE, "migrate-incoming"), "direction-mismatch")
bad(qmp(REST), "direction-mismatch")
bad(json.dumps({"execute": "human-monitor-command",
                "arguments": {"command-line": 'migrate -d "exec:cat; reboot"'}}),
    "command-separator")  # fmt: skip
bad('migrate -d "exec:cat; reboot"', "command-separator")
bad(f"migrate -d {RAW}", "hmp-trailing-text")
bad('migrate -d "exec:cat \\$x"', "hmp-syntax")
bad('migrate -d "exec:cat', "hmp-syntax")
bad("migrate -d", "hmp-syntax")
bad(f'migrate -b "{RAW}"', "hmp-unexpected-flag")
bad(f'migrate -d "{RAW}" extra', "hmp-trailing-text")
bad(f'migrate -d "{RAW}\\nreboot"', "command-separator")
bad(f'migrate -d "{RAW}\\rreboot"', "control-character")
bad('migrate -d "exec:/usr/bin/tee /' + "x" * 1100 + '"', "hmp-truncation", "command")
bad(f'migrate_incoming "{SAVE}"', "direction-mismatch")
bad(f'migrate "{REST}"', "direction-mismatch")
bad('migrate "tcp:10.0.0.1:4444"', "not-exec-uri")
bad("info migrate", "command-not-allowed")


SAFE: list[tuple[str, str]] = []
#: Safe strings that must carry warnings: ``(text, policy, {code: affected shells})``.
WARNED: list[tuple[str, str, dict[str, tuple[str, ...]]]] = []


def warned(text: str, codes: dict[str, tuple[str, ...]], policy: str = "default") -> None:
    WARNED.append((text, policy, codes))


def good(text: str, policy: str = "default") -> None:
    SAFE.append((text, policy))


for comp in ("gzip", "bzip2", "xz", "lzop", "zstd"):
    good(SAVE.replace("gzip -c", f"{comp} -c"))
    good(REST.replace("gzip -dc", f"{comp} -dc"))
    good(LIBVIRT.replace("cat |", f"{comp} -c |"))
    good(STATUS.replace("gzip -c", f"{comp} -c"))
good(RAW)
good(LIBVIRT)
good(STATUS.replace("gzip -c", "cat"))
good(REST.replace(" | gzip -dc", ""))
good("exec:" + STATUS.split(" | ", 1)[1])
good(target("'/var/lib/vm/guest image.img'"))
good(target("'/var/lib/vm/it'\\''s.img'"))
good(target("'/var/lib/vm/$(touch PWNED).img'"))
good(target("'/var/lib/vm/`x`;|&<>*?[]{a,b}~#=^!.img'"))
good(target("'/var/lib/vm/'\\'''\\'''\\''.img'"))
good(target("/var/lib/vm/a=b.img"))
good(target("/var/lib/vm/-rf.img"))
good(target("/var/lib/vm/%@+,:.img"))
good(target("'/'"))
good(REST.replace("if=" + T, "if='/var/lib/vm/guest image.img'"))
good(REST.replace("if=" + T, "'if=/var/lib/vm/guest image.img'"))
good(SAVE.replace("gzip -c", "xz -c -T0"))
good(SAVE.replace("gzip -c", "zstd -c -19 -T2"))
good(SAVE.replace("gzip -c", "zstd --stdout --long=27 -T0"))
good(SAVE.replace("gzip -c", "gzip -9 -c --rsyncable"))
good(SAVE.replace("gzip -c", "gzip -c9n"))
good(SAVE.replace("gzip -c", "xz -c -0"))
good(SAVE.replace("gzip -c", "pigz -c -p 2"), "pigz")
good(SAVE.replace("seek=2", "seek=0"))
good(SAVE.replace("seek=2 ", "seek=2  "))
good(SAVE.replace("bs=4096", "bs=512").replace("seek=2", "seek=16"), "offset8192")
good(RAW.replace("seek=2", "seek=2"))
good(SAVE.replace("seek=2", "seek=2"), "default")
good(REST.replace("skip=2", "skip=2"))
good(SAVE.replace("dd bs=4096 seek=2 if=/dev/null", "dd if=/dev/null seek=2 bs=4096"))
good(SAVE.replace("seek=2", "seek=2").replace("bs=4096", "bs=4096"), "default")
good(SAVE.replace("seek=2", "seek=4").replace("bs=4096", "bs=2048"), "offset8192")
good(REST.replace("skip=2", "skip=2"), "offset8192")
good(SAVE.replace("exec:", "", 1))
good(REST.replace("exec:", "", 1))
good("  " + SAVE.replace("exec:", "", 1) + "  ")
good(SAVE.replace("; }", ";\n}"))
good(qmp(SAVE))
good(qmp(RAW, "migrate"))
good(qmp(REST, "migrate-incoming"))
good(qmp(STATUS))
good(json.dumps({"id": 7, "execute": "migrate", "arguments": {"uri": SAVE}}, indent=2))
good('{"execute":"migrate","arguments":{"uri":"exec:gzip\\u0020-c | ' + SAVE[15:] + '"}}')
good(f'migrate -d "{SAVE}"')
good(f'migrate "{RAW}"')
good(f'migrate_incoming "{REST}"')
good('migrate -d "' + target("'/vm/say \\\"hi\\\"'") + '"')
good(json.dumps({"execute": "human-monitor-command",
                 "arguments": {"command-line": f'migrate -d "{SAVE}"'}}))  # fmt: skip
good("exec:/usr/bin/tee /var/lib/vm/stream", "command")
good("exec:/bin/cat /var/lib/vm/stream", "command")
good("exec:/usr/bin/tee 'guest image.img'", "command")
good("exec:/usr/bin/tee 'it'\\''s.img'", "command")
good("exec:/usr/bin/tee '$(touch PWNED).img' '' -rf.img a=b.img", "command")
good(SAVE.replace("gzip -c", "/bin/gzip -c"))
good("exec:cat", "command")
good("exec:/usr/bin/test -e /x", "printf")
good("exec:/usr/bin/printf '%d' 'a[$(x)]'", "printf")
good("exec:dd of=/x", "command")
good("exec:cat >/var/lib/vm/stream", "redirect")
good(qmp("exec:/usr/bin/tee /var/lib/vm/stream"), "command")
good("exec:gzip -c")
good("exec:cat")
good("exec:zstd -c -T0")

# -- text inside single quotes: accepted with a warning (docs/reference.md, shell quoting:
#    single quotes round-trip every byte 0x01-0xFF in every common shell)
_NA = {"non-ascii": ("yash",)}
_CC: dict[str, tuple[str, ...]] = {"control-character": ()}
for t, codes in [
    ("'/vm/gäst.img'", _NA),
    ("'/vm/naïve-日本-🎉.img'", _NA),
    ("'/x\ty'", _CC),
    ("'/x\ny'", _CC),
    ("'/x\ry'", _CC),
    ("'/x\x1by'", _CC),
    ("'/x\x7fy'", _CC),
    ("'/x\x01y'", _CC),
    ("'/x\u202ey'", {**_NA, **_CC}),
    ("'/x\u0085y'", {**_NA, **_CC}),
    ("'/vm/t\tä\n.img'", {**_NA, **_CC}),
]:
    warned(target(t), codes)
warned(REST.replace("if=" + T, "if='/vm/gäst.img'"), _NA)
warned(STATUS.replace("/run/qmonexec/1/", "'/run/é/'"), _NA)
warned("exec:/usr/bin/tee 'naïve' 'a\nb'", {**_NA, **_CC}, "command")
warned(qmp(target("'/vm/gäst.img'")), _NA)
warned(qmp(target("'/x\ry'")), _CC)
warned(f'migrate -d "{target(chr(39) + "/x" + chr(92) + "ny" + chr(39))}"', _CC)

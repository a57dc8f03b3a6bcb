"""The adversarial generator: accepted shapes with hostile fragments inserted anywhere.

:func:`generate` draws one :class:`Case` from a :class:`random.Random`; :data:`CASES` is
the same generator as a hypothesis strategy (``st.randoms`` drives it, so hypothesis can
replay and shrink).  A case starts from a shape qmonexec renders (docs/design.md): a save
(default or libvirt profile, with or without stage status, raw or compressed, with a custom
compressor under ``Policy.default().allowing_commands(...)``), a restore, or one command
under ``Policy.command()``.  Every word is written in a drawn quoting style (the renderer's
own ``quote_word``, single quotes, double quotes, backslashes, or a mix), then hostile
fragments are inserted at drawn positions: between tokens, inside words, inside quotes,
each fragment raw or itself quoted.  Some words are replaced whole (special paths as the
target, builtin names as the program, option-like words as arguments).  Finally the URI is
sent as an ``exec:`` URI, a QMP ``migrate``, an HMP line (with leading blanks or newlines)
or an HMP line inside QMP's ``human-monitor-command``.

Targets live under the placeholder :data:`BASE0`, replaced by an absolute scratch
directory (safe characters only, always the same length) before anything is checked.
:func:`materialize` writes the monitor text for one scratch directory and returns what
QEMU would hand to ``/bin/sh -c``, computed from the construction and QEMU's own layer
rules (HMP's escapes and 1023-byte cut), never from the validator.
"""

from __future__ import annotations

__all__ = [
    "BASE0",
    "CASES",
    "FORMS",
    "STUB_NAMES",
    "Case",
    "generate",
    "hmp_argument",
    "materialize",
    "policy_for",
]

import json
import random
from dataclasses import dataclass

from hypothesis import strategies as st

from qmonexec.quoting import quote_word
from qmonexec.shell import Policy
from qmonexec.shell.policy import program_problem

BASE0 = "/QMXBASE"  # replaced by a scratch directory of the same character class

COMPRESSORS = ("gzip", "bzip2", "xz", "lzop", "zstd")
COMMAND_PROGRAMS = ("prog", "tee", "ssh", "socat", "my-tool.v2", "pigz")
#: Builtins of some shell (or words that look like one) drawn as program names or prefixes.
BUILTINS = ("eval", "exec", "compgen", "emulate", "command", "builtin", ".", "source", "trap",
            "let", "alias", "read", "printf", "echo", "print", "test", "[", "export", "set",
            "typeset", "declare", "local", "readonly", "unset", "getopts", "shift", "fc",
            "hash", "type", "whence", "noglob", "nocorrect", "time", "exit", "return", "cd",
            "umask", "ulimit", "kill", "wait", "jobs", "bg", "fg", "enable", "autoload",
            "zmodload", "sched", "coproc", "select", "function", "sleep", "times", "mapfile",
            "readarray", "bind", "complete", "compopt", "history", "disown", "suspend",
            "shopt", "caller", "dirs", "pushd", "popd", "logout", "false", "true", ":",
            "[[", "!", "{", "}", "if", "for", "while", "case", "until", "do", "then")  # fmt: skip
#: Custom compressor names a policy may be asked to allow.
CUSTOM = ("pigz", "./pigz", "eval", "exec", "command", "builtin", "compgen", "emulate",
          "source", "trap", "let", "nice", "env", "sh")  # fmt: skip
#: Every program name that gets a recording stub on PATH (builtins too: where a shell has
#: no such builtin, the stub runs, exactly as the verdict predicts).
STUB_NAMES = tuple(sorted({"dd", "cat", "c", "x", "touch", "pwned", "id", "nice", "env", "sh",
                           *COMPRESSORS, *COMMAND_PROGRAMS,
                           *(b for b in BUILTINS if b not in (".", ":") and "/" not in b)}))

SPECIAL = ("/dev/tcp/127.0.0.1/9", "/dev/udp/127.0.0.1/9", "/dev/tcp/localhost/80",
           "/dev/fd/3", "/dev/fd/1", "/dev/fd/0", "/dev/stdin", "/dev/stdout", "/dev/stderr",
           "/proc/self/fd/1", "/proc/self/fd/0", "/proc/1/task/1/fd/0", "/proc/1/fd/1",
           "/proc/thread-self/fd/1", "/proc/self/root/dev/stdout", "/dev//tcp/127.0.0.1/9",
           "/dev/./tcp/127.0.0.1/9", "/dev/../dev/tcp/127.0.0.1/9", "//dev/tcp/127.0.0.1/9",
           "/proc//self/fd/1", "/proc/./self/fd/1", "/proc/self/../self/fd/1",
           "/dev/null", "/dev/zero", "/dev/tty", "/dev/fd/255")  # fmt: skip
SEPARATORS = (";", "&", "|", "&&", "||", "\n", "\r", ";;", "|&", "&|", "&!", "\r\n", ")", "(")
EXPANSIONS = ("$x", "${x}", "$(c)", "`c`", "$((1))", "$'a'", '$"a"', "${x:-c}", "$(touch pwned)",
              "${x#y}", "$*", "$@", "$#", "$?", "$$", "$!", "$-", "$0", "$1", "${#x}",
              "$((x[$(c)]))", "${x[$(c)]}", "$[1]", "<(c)", ">(c)", "=(c)", "$IFS",
              "${IFS}", "$PATH", "~", "~root", "~+", "=c", "=cat")  # fmt: skip
OTHERS = ("*", "?", "[a]", "[!a]", "{a,b}", "{1..3}", "#", " #c", "\\", "'", '"', "\\\n",
          "-c", "-e", "--", "-", "-dc", "--help", "-i", "-o", "of=x", "if=/dev/zero",
          "conv=notrunc", "bs=1", "seek=1", "count=1", "a=b", "x=1 ", "2>x", ">x", "<x",
          "1<>x", "3>x", "<&3", ">&2", "<<x", "<<<x", ">|x", "&>x", ">>x", "9<>x", "!", "^",
          "%1", "@(a)", "+(a)", "*(a)", "?(a)", "!(a)", "(a)", "((1))", "[[ -e x ]]", "{",
          "}", " ", "\t", "\x0b", "\x0c", "\x00", "\x7f", "\xa0", "\u2028", "\u200b",
          "\u202e", "\ufeff", "é", "日本", "🎉", "\udcff")  # fmt: skip
_NAME_SAFE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:@%+,-"
_DQ_ESCAPE = {"\\": "\\\\", '"': '\\"', "$": "\\$", "`": "\\`"}

FORMS = ("uri", "qmp", "hmp", "hmp-in-qmp")
LEAD = ("", "", "", " ", "\n", "\t", "\r\n", "\n\n", " \n ", "\x0b", "\x0c", "\r")


@dataclass(frozen=True)
class Case:
    """One generated shell string and how it travels (:func:`materialize` builds the text)."""

    shell: str  # the string after exec:, paths under BASE0
    policy: str  # a key of policy_for(); "custom:NAME" allows NAME
    form: str  # one of FORMS
    wrap_seed: int  # drives the layer encoding (see materialize)
    kind: str  # the base shape
    tags: tuple[str, ...]  # the hostile fragments used (for grouping mismatches)


def policy_for(name: str) -> Policy:
    """The policy a case is checked under."""
    if name == "default":
        return Policy.default()
    if name == "command":  # the caller names its own (stub) programs, as a user would
        return Policy.command().allowing_commands(*COMMAND_PROGRAMS)
    program = name.split(":", 1)[1]
    if program_problem(program) is not None:
        return Policy.default()  # allowing_commands() refuses it: the string goes without it
    return Policy.default().allowing_commands(program)


# ---------------------------------------------------------------------------- words


def _control_run(rng: random.Random) -> str:
    n = rng.choice((1, 2, 5, 50, 199, 200, 201, 255, 256, 300, 400))
    local = random.Random(rng.getrandbits(32))  # bulk text from one draw
    pool = [chr(c) for c in (*range(1, 32), 127)] if rng.random() < 0.6 else \
        ["é", "日", "🎉", "\u202e", "\xa0", "\u200b", "ß", "\x85"]  # fmt: skip
    return "".join(local.choice(pool) for _ in range(n))


def _fragment(rng: random.Random) -> tuple[str, str]:
    """A hostile fragment and its tag."""
    kind = rng.choice(("sep", "exp", "exp", "other", "special", "builtin", "run", "combo"))
    if kind == "sep":
        frag = rng.choice(SEPARATORS)
        if rng.random() < 0.5:
            frag += rng.choice(("", " ")) + rng.choice(("touch pwned", "c", "x", "prog a"))
    elif kind == "exp":
        frag = rng.choice(EXPANSIONS)
    elif kind == "other":
        frag = rng.choice(OTHERS)
    elif kind == "special":
        frag = rng.choice(SPECIAL)
    elif kind == "builtin":
        frag = rng.choice(BUILTINS) + rng.choice(("", " ", " c", " x;"))
    elif kind == "run":
        frag = _control_run(rng)
    else:  # a long run of refusable bytes hiding what follows (finding caps)
        frag = _control_run(rng) + rng.choice(("; touch pwned", "$(c)", "\nc", "&c", "|c"))
    return frag, kind


def _single(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _double(text: str) -> str:
    return '"' + "".join(_DQ_ESCAPE.get(c, c) for c in text) + '"'


def _backslash(text: str) -> str:
    return "".join("\\" + c if c not in "\n" else "'\n'" for c in text)


def quoted(rng: random.Random, value: str) -> str:
    """``value`` as one shell word in a drawn quoting style (it reads back as ``value``)."""
    if BASE0 in value:  # the scratch directory stays one bare piece, replaced later
        before, _base, after = value.partition(BASE0)
        return ((quoted(rng, before) if before else "") + BASE0
                + (quoted(rng, after) if after else ""))  # fmt: skip
    style = rng.choice(("render", "render", "single", "double", "backslash", "mixed"))
    if "\0" in value and style in ("render", "mixed"):
        style = "single"  # the renderer refuses NUL; the validator must too
    if style == "render" or not value:
        return quote_word(value)
    if style == "single":
        return _single(value)
    if style == "double":
        return _double(value)
    if style == "backslash":
        return _backslash(value)
    cuts = sorted(rng.sample(range(1, len(value)), min(3, len(value) - 1))) if len(value) > 1 \
        else []  # fmt: skip
    out = ""
    for a, b in zip([0, *cuts], [*cuts, len(value)], strict=True):
        out += rng.choice((quote_word, _single, _double, _backslash))(value[a:b])
    return out


def _name(rng: random.Random) -> str:
    """A file name: safe characters, sometimes with bytes that need quoting."""
    out = "".join(rng.choice(_NAME_SAFE) for _ in range(rng.randint(1, 8)))
    if rng.random() < 0.5:
        k = rng.randint(0, len(out))
        out = out[:k] + rng.choice((" ", "'", '"', "$x", "*", "é", "\t", "a b", "!", ";")) \
            + out[k:]  # fmt: skip
    return out if out not in (".", "..") else "n"


# ---------------------------------------------------------------------------- shapes

Token = tuple[str, bool]  # (text, is_word): words are quoted, syntax is written as is


def _path(*parts: str) -> str:
    return BASE0 + "/" + "/".join(parts)


def _save(rng: random.Random, comp: list[str] | None, libvirt: bool) -> list[Token]:
    bs = 4096 if rng.random() < 0.8 else 512
    seek = rng.choice((0, 1, 2, 16))
    ibs, obs = (1048576, 1048576) if libvirt else (32768, 65536)
    target = rng.choice(SPECIAL) if rng.random() < 0.08 else _path("t", _name(rng))
    if comp is None and libvirt:
        comp = ["cat"]
    dd = [("dd", True), (f"bs={bs}", True), (f"seek={seek}", True), ("if=/dev/null", True),
          ("&&", False), ("dd", True), (f"ibs={ibs}", True), (f"obs={obs}", True)]  # fmt: skip
    if rng.random() < 0.5:  # plain form
        tokens = [("{", False), *dd, (";", False), ("}", False), ("1<>", False), (target, True)]
        if comp:
            tokens = [*((w, True) for w in comp), ("|", False), *tokens]
        return tokens
    d = _path("s", _name(rng))

    def marker(stage: str) -> list[Token]:
        return [(":", True), (">", False), (f"{d}/{stage}.ok", True), ("||", False), (":", True),
                (">", False), (f"{d}/{stage}.failed", True)]  # fmt: skip

    tokens = [("{", False), ("{", False), *dd, (";", False), ("}", False), ("1<>", False),
              (target, True), ("&&", False), *marker("write"), (";", False), ("}", False),
              ("2>", False), (f"{d}/write.err", True)]  # fmt: skip
    if comp:
        tokens = [("{", False), *((w, True) for w in comp), ("&&", False), *marker("compress"),
                  (";", False), ("}", False), ("2>", False), (f"{d}/compress.err", True),
                  ("|", False), *tokens]  # fmt: skip
    return tokens


def _restore(rng: random.Random, comp: str | None) -> list[Token]:
    source = rng.choice(SPECIAL) if rng.random() < 0.08 else _path("r", _name(rng))
    tokens: list[Token] = [("dd", True), ("if=" + source, True),
                           (f"bs={rng.choice((512, 4096))}", True),
                           (f"skip={rng.choice((0, 1, 16))}", True)]  # fmt: skip
    if comp:
        tokens += [("|", False), (comp, True), ("-dc", True)]
    return tokens


def _command(rng: random.Random) -> list[Token]:
    roll = rng.random()
    if roll < 0.15:
        program = rng.choice(BUILTINS)
    elif roll < 0.3:
        program = _path("bin", rng.choice(COMMAND_PROGRAMS))
    elif roll < 0.35:
        program = "./" + rng.choice(COMMAND_PROGRAMS)
    else:
        program = rng.choice(COMMAND_PROGRAMS)
    words = [program]
    if rng.random() < 0.15:  # a builtin prefix: exec eval prog ...
        words.insert(0, rng.choice(BUILTINS))
    for _ in range(rng.randint(0, 4)):
        roll = rng.random()
        if roll < 0.4:
            words.append(_name(rng))
        elif roll < 0.6:
            words.append(rng.choice(OTHERS + EXPANSIONS))
        elif roll < 0.7:
            words.append(rng.choice(SPECIAL))
        else:
            words.append(_path("a", _name(rng)))
    return [(w, True) for w in words]


def _shape(rng: random.Random) -> tuple[list[Token], str, str]:
    """(tokens, policy name, kind) of one accepted shape."""
    roll = rng.random()
    if roll < 0.45:
        comp_name = rng.choice((None, None, *COMPRESSORS))
        libvirt = rng.random() < 0.4
        comp = [comp_name, "-c"] if comp_name else None
        return _save(rng, comp, libvirt), "default", "save-libvirt" if libvirt else "save"
    if roll < 0.55:
        name = rng.choice(CUSTOM)
        comp = [name] + (["-c"] if rng.random() < 0.7 else [])
        if rng.random() < 0.5:
            return _save(rng, comp, False), f"custom:{name}", "save-custom"
        return _restore(rng, name), f"custom:{name}", "restore-custom"
    if roll < 0.7:
        return _restore(rng, rng.choice((None, *COMPRESSORS))), "default", "restore"
    return _command(rng), "command", "command"


def _blank(rng: random.Random) -> str:
    return rng.choice((" ", " ", " ", "  ", "\t", " \t"))


def _assemble(rng: random.Random, tokens: list[Token]) -> tuple[str, list[int]]:
    """The shell text and the offsets between tokens."""
    out = ""
    gaps = [0]
    for k, (text, is_word) in enumerate(tokens):
        if k:
            out += _blank(rng)
            gaps.append(len(out))
        out += quoted(rng, text) if is_word else text
    gaps.append(len(out))
    return out, gaps


def _insert(rng: random.Random, shell: str, gaps: list[int]) -> tuple[str, list[str]]:
    tags: list[str] = []
    # One case in 13 without a fragment: with program names on an allow-list a fragment
    # glued to the program name is always refused, so fragment-free cases would else
    # crowd the accepted ones.
    for _ in range(rng.choice((0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3))):
        frag, tag = _fragment(rng)
        wrap = rng.choice(("raw", "raw", "single", "double", "backslash"))
        if wrap == "single":
            frag = _single(frag)
        elif wrap == "double":
            frag = _double(frag)
        elif wrap == "backslash":
            frag = _backslash(frag)
        at = rng.choice(gaps) if rng.random() < 0.3 else rng.randint(0, len(shell))
        k = shell.find(BASE0, max(0, at - len(BASE0) + 1))
        if 0 <= k < at:  # never inside the placeholder: the path must stay in the scratch dir
            at = k
        if at in gaps and rng.random() < 0.5:
            frag = rng.choice(("", " ")) + frag + rng.choice(("", " "))
        shell = shell[:at] + frag + shell[at:]
        gaps = [g + len(frag) if g > at else g for g in gaps]
        tags.append(f"{tag}/{wrap}")
    return shell, tags


# ---------------------------------------------------------------------------- layers


def _hmp_string(rng: random.Random, uri: str) -> str:
    if rng.random() < 0.1 and uri and not any(c in uri for c in ' \t\n\r"\\'):
        return uri  # an unquoted HMP string argument
    esc = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"}
    return '"' + "".join(esc.get(c, "\\'" if c == "'" and rng.random() < 0.3 else c)
                         for c in uri) + '"'  # fmt: skip


def hmp_argument(line: str) -> str | None:
    """The ``exec:`` URI QEMU's HMP would migrate to for ``line``, or ``None`` (an error).

    QEMU skips leading white space, reads the command name, the flags ``-d``/``-r``
    (migrate only), then one string argument (double-quoted with the escapes
    ``\\n \\r \\\\ \\' \\"``, or one token up to white space), keeps at most 1023
    bytes of it and refuses anything but white space after it.
    """
    i = 0
    space = " \t\n\r\x0b\x0c"
    n = len(line)
    while i < n and line[i] in space:
        i += 1
    j = i
    while j < n and line[j] not in space:
        j += 1
    name = line[i:j]
    if name not in ("migrate", "migrate_incoming"):
        return None
    i = j
    while True:
        while i < n and line[i] in space:
            i += 1
        if name == "migrate" and line.startswith(("-d", "-r"), i) and (
                i + 2 == n or line[i + 2] in space):  # fmt: skip
            i += 2
            continue
        break
    if i < n and line[i] == '"':
        out = []
        i += 1
        while i < n and line[i] != '"':
            if line[i] == "\\":
                code = {"n": "\n", "r": "\r", "\\": "\\", "'": "'", '"': '"'}.get(
                    line[i + 1] if i + 1 < n else "")
                if code is None:
                    return None
                out.append(code)
                i += 2
            else:
                out.append(line[i])
                i += 1
        if i >= n:
            return None
        value = "".join(out)
        i += 1
    else:
        j = i
        while j < n and line[j] not in space:
            j += 1
        value, i = line[i:j], j
    if line[i:].strip(space):
        return None
    data = value.encode("utf-8", "surrogateescape")[:1023]
    return data.decode("utf-8", "surrogateescape")


def _json_string(rng: random.Random, value: str) -> str:
    """``value`` as a JSON string, some characters written as ``\\uXXXX`` escapes."""
    ascii_only = rng.random() < 0.5
    escape_share = rng.choice((0.0, 0.0, 0.2, 1.0))
    out = []
    for c in value:
        if rng.random() < escape_share and ord(c) < 0x10000:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(json.dumps(c, ensure_ascii=ascii_only)[1:-1])
    return '"' + "".join(out) + '"'


def materialize(case: Case, base: str) -> tuple[str, str | None]:
    """The monitor text and what QEMU runs (``None``: nothing), for scratch dir ``base``."""
    rng = random.Random(case.wrap_seed)
    shell = case.shell.replace(BASE0, base)
    uri = "exec:" + shell
    lead = rng.choice(LEAD)
    outgoing = not case.kind.startswith("restore")
    if case.form == "uri":
        return uri, shell
    if case.form == "qmp":
        cmd = "migrate" if outgoing else "migrate-incoming"
        return (f'{lead}{{"execute": "{cmd}", "arguments": {{"uri": '
                f"{_json_string(rng, uri)}}}}}", shell)  # fmt: skip
    cmd = ("migrate" + rng.choice(("", "", " -d"))) if outgoing else "migrate_incoming"
    line = f"{lead}{cmd}{rng.choice((' ', '  ', chr(9)))}{_hmp_string(rng, uri)}"
    arg = hmp_argument(line)
    truth = arg[5:] if arg is not None and arg.startswith("exec:") else None
    if case.form == "hmp":
        return line, truth
    return ('{"execute": "human-monitor-command", "arguments": {"command-line": '
            f"{_json_string(rng, line)}}}}}", truth)  # fmt: skip


def generate(rng: random.Random) -> Case:
    """One adversarial case."""
    tokens, policy, kind = _shape(rng)
    shell, gaps = _assemble(rng, tokens)
    shell, tags = _insert(rng, shell, gaps)
    if rng.random() < 0.1:
        shell = rng.choice(LEAD) + shell
    form = rng.choices(FORMS, weights=(55, 20, 15, 10))[0]
    return Case(shell, policy, form, rng.getrandbits(32), kind, tuple(tags))


#: The generator as a hypothesis strategy.
CASES = st.randoms(use_true_random=False).map(generate)

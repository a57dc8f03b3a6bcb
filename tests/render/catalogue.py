"""The catalogue of rendered cases shared by the golden, gate and real-shell tests.

``HOSTILE`` holds target names that break naive quoting, as paths relative to
some base directory (``/var/lib/vm`` in the golden files, ``tmp_path`` in the
real-shell round trips).  Long names are split into directories so that each
component stays under NAME_MAX (255) and the files can really be created.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from qmonexec import monitor
from qmonexec.errors import InputError
from qmonexec.render import render_command, render_restore, render_save
from qmonexec.spec import COMPRESSIONS, CommandSpec, Compression, RestoreSpec, SaveSpec, compression


def _long(total: int, part: int = 200) -> str:
    """A relative path of about ``total`` characters made of ``part``-character components."""
    parts: list[str] = []
    length = 0
    i = 0
    while length < total:
        size = min(part, total - length)
        parts.append((f"{i}" + "long name " * 30)[:size].rstrip() or "x")
        length += len(parts[-1]) + 1
        i += 1
    return "/".join(parts)


#: id -> name relative to the base directory.  ``bytes`` for names that are not UTF-8.
HOSTILE: dict[str, str | bytes] = {
    "space": "guest image.img",
    "single-quote": "it's.img",
    "quote-run": "'''.img",
    "double-quote": 'say "hi".img',
    "dollar-paren": "$(touch PWNED).img",
    "dollar-var": "$HOME${IFS}x.img",
    "backquote": "`touch PWNED`.img",
    "newline": "line\nbreak.img",
    "carriage-return": "carriage\rreturn.img",
    "tab": "tab\there.img",
    "star": "*.img",
    "glob": "what?[ab].img",
    "tilde": "~root:~.img",
    "braces": "{a,b}.img",
    "leading-dash": "-rf.img",
    "equals": "=ls.img",
    "inner-equals": "a=b.img",
    "operators": "a;b|c&d>e<f.img",
    "hash": "#comment.img",
    "backslash": "back\\slash\\'.img",
    "caret-bang": "^caret!bang.img",
    "utf8": "naïve-日本-🎉.img",
    "non-utf8": b"latin1-caf\xe9-\xff.img",
    "long-300": _long(300),
    "over-1023-bytes": _long(1100),
}

GOLDEN_BASE = "/var/lib/vm/"


def golden_target(name: str | bytes) -> str | bytes:
    """``name`` under :data:`GOLDEN_BASE`, keeping bytes as bytes."""
    if isinstance(name, bytes):
        return GOLDEN_BASE.encode() + name
    return GOLDEN_BASE + name


FORMATS = ("uri", "qmp", "hmp", "virsh")
COMPRESSION_NAMES = ("raw", *COMPRESSIONS)


@dataclass(frozen=True)
class Case:
    """One rendered string: how to build its URI and in which monitor form to show it."""

    id: str
    kind: str  # save | restore | command
    uri: Callable[[], str]
    form: str = "uri"
    compression: Compression | None = None

    @property
    def incoming(self) -> bool:
        return self.kind == "restore" or self.id.endswith("incoming")

    def output(self) -> str:
        """The text a user would see: the string in its form, or the error refusing it."""
        try:
            return show(self.uri(), self.form, incoming=self.incoming)
        except InputError as exc:
            return f"InputError: {exc}"


def show(uri: str, form: str, *, incoming: bool) -> str:
    """``uri`` in a monitor form, as ``qmonexec uri --format FORM`` prints it."""
    if form == "uri":
        return uri
    if form == "hmp":
        return monitor.hmp_migrate_incoming(uri) if incoming else monitor.hmp_migrate(uri)
    command = monitor.migrate_incoming(uri) if incoming else monitor.migrate(uri)
    if form == "qmp":
        return monitor.to_json(command)
    return monitor.virsh_line("guest1", command)


def _save(target: str | bytes, comp: str, profile: str, **kw: object) -> Callable[[], str]:
    return lambda: render_save(SaveSpec(target, compression=compression(comp),
                                        profile=profile, **kw))  # type: ignore[arg-type]


def _restore(source: str | bytes, comp: str, **kw: object) -> Callable[[], str]:
    return lambda: render_restore(RestoreSpec(source, compression=compression(comp),
                                              **kw))  # type: ignore[arg-type]


def _command(*argv: str | bytes) -> Callable[[], str]:
    return lambda: render_command(CommandSpec(argv))


def cases() -> list[Case]:
    """Every golden case, in a stable order."""
    out: list[Case] = []
    plain = "/var/lib/vm/guest.img"
    # every template x profile x compression x format
    for profile in ("default", "libvirt"):
        for comp in COMPRESSION_NAMES:
            for form in FORMATS:
                out.append(Case(f"save-{profile}-{comp}-{form}", "save",
                                _save(plain, comp, profile, offset=8192), form,
                                compression(comp)))
    for comp in COMPRESSION_NAMES:
        for form in FORMATS:
            out.append(Case(f"restore-{comp}-{form}", "restore",
                            _restore(plain, comp, offset=8192), form, compression(comp)))
    for form in FORMATS:
        out.append(Case(f"command-{form}", "command",
                        _command("/usr/bin/tee", "/var/lib/vm/stream"), form))
        out.append(Case(f"command-{form}-incoming", "command",
                        _command("/bin/cat", "/var/lib/vm/stream"), form))
    # stage-status form, both profiles, raw and compressed
    for profile in ("default", "libvirt"):
        for comp in ("raw", "zstd"):
            out.append(Case(f"save-status-{profile}-{comp}-uri", "save",
                            _save(plain, comp, profile, offset=8192, status_dir="/run/qmonexec/1"),
                            "uri", compression(comp)))
    out.append(Case("save-status-hostile-dir-uri", "save",
                    _save(plain, "gzip", "default", status_dir="/run/it's $(x)"), "uri",
                    compression("gzip")))
    # sizes and custom compressors
    out.append(Case("save-default-sizes-uri", "save",
                    _save(plain, "raw", "default", offset=1536, block_size=512,
                          transfer_size=4 << 20), "uri"))
    custom = Compression.custom(["/opt/zip tools/pigz", "-c", "-p", "2"])
    out.append(Case("save-custom-compressor-uri", "save",
                    lambda: render_save(SaveSpec(plain, compression=custom)), "uri", custom))
    out.append(Case("restore-custom-decompressor-uri", "restore",
                    lambda: render_restore(RestoreSpec(plain, compression=custom)), "uri", custom))
    # hostile names
    for name_id, name in HOSTILE.items():
        target = golden_target(name)
        out.append(Case(f"hostile-{name_id}-save-default-uri", "save",
                        _save(target, "raw", "default", offset=8192), "uri"))
        out.append(Case(f"hostile-{name_id}-save-libvirt-gzip-uri", "save",
                        _save(target, "gzip", "libvirt", offset=8192), "uri",
                        compression("gzip")))
        out.append(Case(f"hostile-{name_id}-restore-gzip-uri", "restore",
                        _restore(target, "gzip", offset=8192), "uri", compression("gzip")))
        out.append(Case(f"hostile-{name_id}-save-default-hmp", "save",
                        _save(target, "raw", "default", offset=8192), "hmp"))
        out.append(Case(f"hostile-{name_id}-save-default-qmp", "save",
                        _save(target, "raw", "default", offset=8192), "qmp"))
        out.append(Case(f"hostile-{name_id}-save-default-virsh", "save",
                        _save(target, "raw", "default", offset=8192), "virsh"))
        word = name.rsplit(b"/", 1)[-1] if isinstance(name, bytes) else name.rsplit("/", 1)[-1]
        out.append(Case(f"hostile-{name_id}-command-uri", "command",
                        _command("/usr/bin/tee", word), "uri"))
    return out

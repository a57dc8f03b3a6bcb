"""The source's argv: secrets redacted when recorded, turned into a destination's on demand."""

from __future__ import annotations

import json

from qmonexec.save.cmdline import REDACTED, destination_argv, redact

QEMU = "/usr/bin/qemu-system-x86_64"


def test_secret_object_data_is_redacted() -> None:
    argv = [QEMU, "-object", "secret,id=s0,data=hunter2,format=raw", "-m", "64"]
    assert redact(argv) == [QEMU, "-object", f"secret,id=s0,data={REDACTED},format=raw",
                            "-m", "64"]


def test_password_keys_are_redacted_also_when_dotted() -> None:
    argv = [QEMU, "-drive", "file.driver=ssh,file.password=pw,,with,,commas,if=none",
            "-spice", "port=5900,password=x"]
    assert redact(argv) == [QEMU, "-drive", f"file.driver=ssh,file.password={REDACTED},if=none",
                            "-spice", f"port=5900,password={REDACTED}"]


def test_json_options_are_redacted() -> None:
    argv = [QEMU, "-object", '{"qom-type":"secret","id":"s0","data":"hunter2"}']
    redacted = json.loads(redact(argv)[2])
    assert redacted == {"qom-type": "secret", "id": "s0", "data": REDACTED}


def test_values_that_look_like_options_are_not_options() -> None:
    # "-name" takes a value; a value is never read as an option, flags take none.
    argv = [QEMU, "-S", "-name", "password=x", "-nodefaults"]
    assert redact(argv) == [QEMU, "-S", "-name", f"password={REDACTED}", "-nodefaults"]


def test_destination_drops_monitors_incoming_daemonize_pidfile() -> None:
    argv = [QEMU, "-machine", "pc,accel=kvm", "-m", "2048", "-S",
            "-qmp", "unix:/run/a.sock,server=on,wait=off", "-monitor", "stdio",
            "-chardev", "socket,id=mon0,path=/run/m.sock,server=on,wait=off",
            "-mon", "chardev=mon0,mode=control", "-chardev", "pty,id=serial0",
            "-serial", "chardev:serial0", "--incoming", "tcp:0:4444", "-daemonize",
            "-pidfile", "/run/vm.pid", "-drive", "file=/vm.qcow2,if=virtio"]
    assert destination_argv(argv) == [
        QEMU, "-machine", "pc,accel=kvm", "-m", "2048", "-chardev", "pty,id=serial0",
        "-serial", "chardev:serial0", "-drive", "file=/vm.qcow2,if=virtio",
        "-S", "-incoming", "defer"]

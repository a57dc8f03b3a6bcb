"""``qmonexec qmp``: exit codes against the fake server and a real QEMU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from qmonexec.cli import main
from qmonexec.cli.qmp import parse_arguments
from qmonexec.errors import InputError
from tests.helpers.fake_qmp import FakeQMPServer, Peer
from tests.helpers.qemu import QemuVM
from tests.helpers.support import ROOT

Fake = Callable[..., FakeQMPServer]


def answering(handler: Callable[[Peer, dict[str, Any]], bool | None]) -> Callable[[Peer], None]:
    def script(peer: Peer) -> None:
        peer.negotiate()
        peer.serve(handler)

    return script


def test_parse_arguments() -> None:
    assert parse_arguments([]) is None
    assert parse_arguments(['{"a": [1, {"b": true}]}']) == {"a": [1, {"b": True}]}
    assert parse_arguments(["n=5", "flag=true", 'obj={"x": 1}', "s=hello", 'q="5"', "e="]) == {
        "n": 5,
        "flag": True,
        "obj": {"x": 1},
        "s": "hello",
        "q": "5",
        "e": "",
    }
    assert parse_arguments(["uri=exec:cat >/x"]) == {"uri": "exec:cat >/x"}
    for bad in (["novalue"], ["=x"], ["a=1", "a=2"], ["{not json"], ["[1]"], ["{}", "a=1"]):
        with pytest.raises(InputError):
            parse_arguments(bad)


def test_success_prints_the_return_value(fake: Fake, capsys: pytest.CaptureFixture[str]) -> None:
    def handler(peer: Peer, command: dict[str, Any]) -> bool:
        peer.reply(command, {"echo": command.get("arguments"), "name": command["execute"]})
        return True

    server = fake(answering(handler))
    status = main(["qmp", "--qmp", server.address, "--timeout", "2", "x-echo", "a=1", "b=text"])
    out = capsys.readouterr()
    assert status == 0, out.err
    assert json.loads(out.out) == {"echo": {"a": 1, "b": "text"}, "name": "x-echo"}


def test_qemu_error_is_exit_1_with_class_and_desc(
    fake: Fake, capsys: pytest.CaptureFixture[str]
) -> None:
    def handler(peer: Peer, command: dict[str, Any]) -> bool:
        peer.error(command, "CommandNotFound", "The command nope has not been found")
        return True

    server = fake(answering(handler))
    assert main(["qmp", "--qmp", server.address, "nope"]) == 1
    err = capsys.readouterr().err
    assert "CommandNotFound" in err and "The command nope has not been found" in err


@pytest.mark.parametrize(
    "extra",
    [["query-status", "not-key-value"], ["--timeout", "0", "query-status"], ["cmd", "{bad"]],
)
def test_bad_input_is_exit_2(
    fake: Fake, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    server = fake(answering(lambda peer, command: None))
    assert main(["qmp", "--qmp", server.address, *extra]) == 2
    assert capsys.readouterr().err


def test_non_utf8_argument_is_exit_2_and_not_sent(
    fake: Fake, capsys: pytest.CaptureFixture[str]
) -> None:
    server = fake(answering(lambda peer, command: None))
    assert main(["qmp", "--qmp", server.address, "x", "path=/tmp/\udcff"]) == 2
    assert "not valid UTF-8" in capsys.readouterr().err
    assert [m["execute"] for m in server.received_messages()] == ["qmp_capabilities"]


def test_unsafe_exec_uri_is_exit_1_and_not_sent(
    fake: Fake, capsys: pytest.CaptureFixture[str]
) -> None:
    server = fake(answering(lambda peer, command: None))
    assert main(["qmp", "--qmp", server.address, "migrate", "uri=exec:cat >/x; reboot"]) == 1
    assert "validator" in capsys.readouterr().err
    assert [m["execute"] for m in server.received_messages()] == ["qmp_capabilities"]


def test_allow_program_widens_the_policy(fake: Fake, capsys: pytest.CaptureFixture[str]) -> None:
    uri = "uri=exec:sponge /var/lib/vm/out"
    refused = fake(answering(lambda peer, command: None))
    assert main(["qmp", "--qmp", refused.address, "--timeout", "2", "migrate", uri]) == 1
    assert "command-not-allowed" in capsys.readouterr().err
    assert [m["execute"] for m in refused.received_messages()] == ["qmp_capabilities"]
    server = fake(answering(lambda peer, command: None))
    argv = ["qmp", "--qmp", server.address, "--timeout", "2", "--allow-program", "sponge"]
    assert main([*argv, "migrate", uri]) == 0
    assert [m["execute"] for m in server.received_messages()] == ["qmp_capabilities", "migrate"]


def test_connection_failures_are_exit_3(
    fake: Fake, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["qmp", "--qmp", str(tmp_path / "absent.sock"), "query-status"]) == 3

    def silent(peer: Peer) -> None:
        peer.negotiate()
        peer.wait_closed()

    server = fake(silent)
    assert main(["qmp", "--qmp", server.address, "--timeout", "0.3", "query-status"]) == 3

    def garbage(peer: Peer) -> None:
        peer.send(b"\xff\xfe\r\n")
        peer.wait_closed()

    assert main(["qmp", "--qmp", fake(garbage).address, "--timeout", "1", "query-status"]) == 3
    err = capsys.readouterr().err
    assert err.count("qmonexec: error:") == 3


@pytest.mark.system
def test_query_status_against_real_qemu(qemu: QemuVM) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-m", "qmonexec", "qmp", "--qmp", str(qemu.qmp_path), "query-status"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "prelaunch"


@pytest.mark.system
def test_error_against_real_qemu(qemu: QemuVM, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qmp", "--qmp", str(qemu.qmp_path), "no-such-command"]) == 1
    assert "CommandNotFound" in capsys.readouterr().err

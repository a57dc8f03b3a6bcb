"""Unit tests of framing, message encoding/decoding and the argument checks."""

from __future__ import annotations

import json

import pytest

from qmonexec.errors import InputError
from qmonexec.monitor import check_arguments
from qmonexec.qmp import Event, Greeting, ProtocolError
from qmonexec.qmp.framing import FrameBuffer
from qmonexec.qmp.message import IdGenerator, decode, encode, encode_command


def test_frames_split_across_one_byte_feeds() -> None:
    frames = FrameBuffer()
    data = b'{"return": {}, "id": 1}\r\n'
    out: list[bytes] = []
    for i in range(len(data)):
        out += frames.feed(data[i : i + 1])
    assert out == [b'{"return": {}, "id": 1}']
    assert frames.pending == 0


def test_several_frames_in_one_feed_and_blank_lines_skipped() -> None:
    frames = FrameBuffer()
    assert frames.feed(b'{"a": 1}\r\n\r\n{"b": 2}\n{"c"') == [b'{"a": 1}', b'{"b": 2}']
    assert frames.pending == 4
    assert frames.feed(b": 3}\r\n") == [b'{"c": 3}']


def test_oversized_message_is_a_protocol_error() -> None:
    frames = FrameBuffer(max_size=100)
    frames.feed(b"x" * 60)
    with pytest.raises(ProtocolError, match="limit is 100"):
        frames.feed(b"y" * 60)
    assert frames.pending == 0
    with pytest.raises(ProtocolError):
        FrameBuffer(max_size=10).feed(b"z" * 11 + b"\n")


def test_large_message_in_chunks_is_linear_and_exact() -> None:
    frames = FrameBuffer()
    body = b'{"return": "' + b"a" * (10 * 1024 * 1024) + b'", "id": 7}\r\n'
    out: list[bytes] = []
    for i in range(0, len(body), 65536):
        out += frames.feed(body[i : i + 65536])
    assert len(out) == 1 and out[0] == body[:-2]


@pytest.mark.parametrize(
    "line",
    [b"\xff\xfe garbage", b"not json", b"[1, 2]", b'"text"', b"NaN", b'{"a": NaN}', b"{" * 5000],
)
def test_decode_rejects_garbage_with_protocol_error(line: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode(line)


def test_encode_is_compact_utf8_with_newline() -> None:
    data = encode_command("migrate", {"uri": "exec:cat >/tmp/é"}, "x-1")
    assert data.endswith(b"\n")
    assert json.loads(data) == {
        "execute": "migrate",
        "arguments": {"uri": "exec:cat >/tmp/é"},
        "id": "x-1",
    }
    with pytest.raises(InputError):
        encode({"a": float("nan")})


def test_ids_are_unique_across_generators() -> None:
    first, second = IdGenerator(), IdGenerator()
    ids = {first() for _ in range(100)} | {second() for _ in range(100)}
    assert len(ids) == 200


@pytest.mark.parametrize(
    "arguments",
    [
        {"path": "/tmp/\udcff"},  # a non-UTF-8 byte, as os.fsdecode gives it
        {"path": "a\0b"},
        {"path": "\ud800"},
        {"path": "\ufffe"},
        {"\udc80": 1},  # keys are checked too
        {"list": [{"deep": ["ok", "\udcc3"]}]},
        {"x": float("inf")},
        {"x": object()},
        {1: "non-string key"},
    ],
)
def test_check_arguments_refuses_what_qmp_cannot_carry(arguments: dict[object, object]) -> None:
    with pytest.raises(InputError):
        check_arguments("x", arguments)  # type: ignore[arg-type]


def test_check_arguments_refuses_too_deep_nesting() -> None:
    value: object = "leaf"
    for _ in range(1100):
        value = [value]
    with pytest.raises(InputError, match="deeper"):
        check_arguments("x", {"v": value})


def test_check_arguments_accepts_ordinary_values() -> None:
    check_arguments("x", {"a": [1, 2.5, True, None, {"b": "ünïcode ✓ 😀"}]})


def test_greeting_and_event_parsing_tolerates_odd_content() -> None:
    greeting = Greeting.from_message({"QMP": {"version": {}, "capabilities": ["oob", 3]}})
    assert greeting.version == (0, 0, 0) and greeting.capabilities == ("oob",)
    with pytest.raises(ProtocolError):
        Greeting.from_message({"return": {}})
    event = Event.from_message(
        {"event": "STOP", "timestamp": {"seconds": 10, "microseconds": 500000}}
    )
    assert event.name == "STOP" and event.data == {} and event.timestamp == 10.5

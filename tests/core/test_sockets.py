"""The WebSocket unmasking ``wsgi.py`` installs in eventlet, against RFC 6455's definition; the
server packet's binary check against python-socketio's own, and its JSON against the stdlib's."""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone

import pytest

from socketio.packet import Packet

from helpdesk.core.sockets import GuardedPacket, apply_websocket_mask


def byte_by_byte(data: bytes, mask: tuple[int, ...], offset: int = 0) -> bytes:
    """RFC 6455, section 5.3: octet i is XORed with octet i MOD 4 of the masking key."""
    return bytes(octet ^ mask[(offset + i) % 4] for i, octet in enumerate(data))


def test_the_rfc_example_unmasks_to_hello() -> None:
    # Section 5.7: a masked text frame 0x81 0x85 0x37 0xfa 0x21 0x3d, then the payload
    assert apply_websocket_mask(bytes([0x7F, 0x9F, 0x4D, 0x51, 0x58]), (0x37, 0xFA, 0x21, 0x3D)) == b"Hello"


@pytest.mark.parametrize("length", [0, 1, 3, 4, 5, 125, 126, 4097])
def test_any_length_matches_the_definition(length: int) -> None:
    rng = random.Random(length)
    data, mask = rng.randbytes(length), tuple(rng.randbytes(4))
    assert apply_websocket_mask(data, mask) == byte_by_byte(data, mask)
    assert apply_websocket_mask(apply_websocket_mask(data, mask), mask) == data


def test_a_payload_read_in_pieces_continues_the_key_where_the_last_piece_ended() -> None:
    rng = random.Random(7)
    payload, mask = rng.randbytes(300), tuple(rng.randbytes(4))
    masked = byte_by_byte(payload, mask)
    pieces, start = [], 0
    for size in (1, 2, 5, 100, 192):  # as the socket hands them over (eventlet passes length and offset)
        piece = masked[start:start + size]
        pieces.append(apply_websocket_mask(piece, mask, length=len(piece), offset=start))
        start += size
    assert b"".join(pieces) == payload


@pytest.mark.parametrize("data", [
    None, "text", 7, b"raw", bytearray(b"x"), [], {}, ["message", {"id": 1, "data": {}, "author": {"name": "Pat"}}],
    ["message", {"deep": [[{"k": [1, 2, {"z": b"!"}]}]]}], [[[[]]], {"a": {"b": {"c": None}}}], {"k": [bytearray()]},
])
def test_the_binary_check_answers_as_python_socketios_own(data: object) -> None:
    assert GuardedPacket.data_is_binary(data) is Packet.data_is_binary(data)
    packet = GuardedPacket(data=["event", data])
    assert packet.packet_type == (5 if Packet.data_is_binary(data) else 2)  # BINARY_EVENT, or EVENT


@pytest.mark.parametrize("data", [
    ["message", {"id": 1, "body": "Zoë's 🦷 appointment", "data": {}, "author": {"name": "<b>Pat</b>"}}],
    [{"message": {"seq": 2**63 - 1, "ratio": 0.1, "tiny": 1e-7, "none": None, "yes": True}}],
    ["queue", {1: "an int key", "nested": [[], {}, [1, [2, [3]]]]}],
    ["text", "a line\nand a tab\t, a quote \" and a backslash \\ and \u2028"],
])
def test_a_packet_the_server_sends_reads_back_as_the_stdlibs_would(data: object) -> None:
    encoded = GuardedPacket(data=data, namespace="/chat", id=7).encode()
    reference = Packet(data=data, namespace="/chat", id=7).encode()
    assert isinstance(encoded, str)
    assert encoded.split("[", 1)[0] == reference.split("[", 1)[0] == "2/chat,7"
    assert json.loads(encoded[len("2/chat,7"):]) == json.loads(reference[len("2/chat,7"):])


def test_a_moment_left_in_a_payload_is_sent_as_iso_8601_not_a_crash() -> None:
    moment = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)
    assert GuardedPacket(data=["at", {"at": moment}]).encode() == '2["at",{"at":"2026-12-03T12:00:00+00:00"}]'

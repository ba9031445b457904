#!/usr/bin/env python3
"""Regenerates the seed corpus of the fuzz targets: fuzz/corpus/<target>/seed-*.

Seeds come from the committed wire captures (mqtt-proto/tests/data/captures/*.bin) and
from hand-made vectors for every packet type in MQTT 3.1, 3.1.1 and 5.0, built below.

* decode_packet: one packet per file, after the version selector byte
  (mqtt_proto::fuzz::version_for: byte % 3, 0 => 3.1, 1 => 3.1.1, 2 => 5.0; bit 7 asks
  for strict strings).
* roundtrip: one bare packet per file (the target tries every version itself).
* decode_stream: a whole capture (or a hand-made stream) after two bytes, the version
  selector and the maximum packet size in units of 16 bytes.
* server_connection: the client side of each capture, for mqtt_session::fuzz: an options
  byte, then chunks of received bytes each after its length control byte, with some
  passing of time, messages to the client and acknowledgements between them.

Identical seeds are written once. Old seed-* files are deleted first; other files in the
corpus directories (what fuzzing added, ignored by git) are left alone.

Usage: python3 fuzz/make-seeds.py   (python3 stdlib only; run from anywhere)
"""

import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
CAPTURES = HERE.parent / "mqtt-proto" / "tests" / "data" / "captures"
CORPUS = HERE / "corpus"

V3_1, V3_1_1, V5 = 0, 1, 2  # version selector bytes
STRICT = 0x80  # selector bit: strict strings (decode_packet only)
STREAM_LIMIT = 0xFF  # decode_stream: maximum packet size 255 * 16 bytes

TYPES = [
    "reserved", "connect", "connack", "publish", "puback", "pubrec", "pubrel", "pubcomp",
    "subscribe", "suback", "unsubscribe", "unsuback", "pingreq", "pingresp", "disconnect",
    "auth",
]  # fmt: skip
VERSION_NAMES = {V3_1: "v31", V3_1_1: "v311", V5: "v5"}


# --- encoding helpers -------------------------------------------------------------------


def var_int(n):
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def u16(n):
    return n.to_bytes(2, "big")


def u32(n):
    return n.to_bytes(4, "big")


def binary(b):
    return u16(len(b)) + b


def string(text):
    return binary(text.encode("utf-8"))


def packet(first_byte, *fields):
    body = b"".join(fields)
    return bytes([first_byte]) + var_int(len(body)) + body


def props(*items):
    body = b"".join(items)
    return var_int(len(body)) + body


def p_byte(ident, v):
    return bytes([ident, v])


def p_u16(ident, v):
    return bytes([ident]) + u16(v)


def p_u32(ident, v):
    return bytes([ident]) + u32(v)


def p_var(ident, v):
    return bytes([ident]) + var_int(v)


def p_str(ident, text):
    return bytes([ident]) + string(text)


def p_bin(ident, b):
    return bytes([ident]) + binary(b)


def p_user(key, value):
    return bytes([0x26]) + string(key) + string(value)


# --- hand-made vectors ------------------------------------------------------------------


def hand_vectors():
    """(name, version selector, packet bytes): every packet type, every version."""
    v = []
    # MQTT 3.1.1
    v += [
        ("connect-min", V3_1_1, packet(0x10, string("MQTT"), b"\x04\x02", u16(60), string("c"))),
        ("connect-full", V3_1_1, packet(
            0x10, string("MQTT"), b"\x04", bytes([0x80 | 0x40 | 0x20 | 0x10 | 0x04]), u16(5),
            string("client-1"), string("will/topic"), binary(b"bye"), string("user"),
            binary(b"\x00pass\xff"))),
        ("connect-empty-id", V3_1_1, packet(0x10, string("MQTT"), b"\x04\x00", u16(0), string(""))),
        ("connack-session", V3_1_1, packet(0x20, b"\x01\x00")),
        ("connack-refused", V3_1_1, packet(0x20, b"\x00\x05")),
        ("publish-q0", V3_1_1, packet(0x30, string("a/b"), b"hi")),
        ("publish-q1-dup-retain", V3_1_1, packet(0x3B, string("a/b"), u16(7), b"\x00\x01")),
        ("publish-q2-empty", V3_1_1, packet(0x34, string("\u00e9t\u00e9/\U0002a6d4"), u16(0xFFFF))),
        ("puback", V3_1_1, packet(0x40, u16(0x1234))),
        ("pubrec", V3_1_1, packet(0x50, u16(1))),
        ("pubrel", V3_1_1, packet(0x62, u16(2))),
        ("pubcomp", V3_1_1, packet(0x70, u16(3))),
        ("subscribe", V3_1_1, packet(
            0x82, u16(10), string("a/+/c"), b"\x01", string("$share/g/x/#"), b"\x02",
            string("#"), b"\x00")),
        ("suback", V3_1_1, packet(0x90, u16(10), b"\x00\x01\x02\x80")),
        ("unsubscribe", V3_1_1, packet(0xA2, u16(11), string("a/+/c"), string("#"))),
        ("unsuback", V3_1_1, packet(0xB0, u16(11))),
        ("pingreq", V3_1_1, packet(0xC0)),
        ("pingresp", V3_1_1, packet(0xD0)),
        ("disconnect", V3_1_1, packet(0xE0)),
        # A non-minimal remaining length, which 3.1.1 does not forbid.
        ("pingreq-long-length", V3_1_1, b"\xC0\x80\x00"),
    ]
    # MQTT 3.1
    v += [
        ("connect", V3_1, packet(
            0x10, string("MQIsdp"), b"\x03", bytes([0x80 | 0x40 | 0x08 | 0x04 | 0x02]),
            u16(30), string("c31"), string("w"), binary(b"x"), string("u"), binary(b"p"))),
        ("connack", V3_1, packet(0x20, b"\x00\x02")),
        ("pubrel-dup", V3_1, packet(0x6A, u16(9))),
        ("subscribe-dup", V3_1, packet(0x8A, u16(9), string("a/#"), b"\x01")),
        ("unsubscribe-dup", V3_1, packet(0xAA, u16(9), string("a/#"))),
    ]
    # MQTT 5.0
    connect_props = props(
        p_u32(0x11, 120), p_u16(0x21, 10), p_u32(0x27, 65536), p_u16(0x22, 5),
        p_byte(0x19, 1), p_byte(0x17, 0), p_user("a", "b"), p_user("a", "c"),
        p_str(0x15, "SCRAM-SHA-1"), p_bin(0x16, b"\x01\x02"))
    will_props = props(
        p_u32(0x18, 5), p_byte(0x01, 1), p_u32(0x02, 3600), p_str(0x03, "text/plain"),
        p_str(0x08, "reply/to"), p_bin(0x09, b"corr"), p_user("wk", "wv"))
    connack_props = props(
        p_u32(0x11, 30), p_u16(0x21, 20), p_byte(0x24, 1), p_byte(0x25, 0),
        p_u32(0x27, 1 << 20), p_str(0x12, "auto-1"), p_u16(0x22, 10), p_str(0x1F, "ok"),
        p_user("k", "v"), p_byte(0x28, 1), p_byte(0x29, 0), p_byte(0x2A, 1), p_u16(0x13, 30),
        p_str(0x1A, "resp/"), p_str(0x1C, "other:1883"), p_str(0x15, "SCRAM-SHA-1"),
        p_bin(0x16, b"srv"))
    publish_props = props(
        p_byte(0x01, 1), p_u32(0x02, 60), p_u16(0x23, 3), p_str(0x08, "reply/here"),
        p_bin(0x09, b"\x00corr\xff"), p_user("k", "v"), p_user("k", "v2"), p_var(0x0B, 7),
        p_var(0x0B, 268435455), p_str(0x03, "text/plain"))
    ack_props = props(p_str(0x1F, "why"), p_user("k", "v"))
    v += [
        ("connect-min", V5, packet(0x10, string("MQTT"), b"\x05\x02", u16(60), props(), string("c5"))),
        ("connect-full", V5, packet(
            0x10, string("MQTT"), b"\x05", bytes([0x80 | 0x40 | 0x20 | 0x10 | 0x04 | 0x02]),
            u16(10), connect_props, string("client-5"), will_props, string("will/5"),
            binary(b"gone"), string("user"), binary(b"secret"))),
        ("connect-password-only", V5, packet(
            0x10, string("MQTT"), b"\x05\x40", u16(0), props(), string(""), binary(b"pw"))),
        ("connack-min", V5, packet(0x20, b"\x01\x00", props())),
        ("connack-full", V5, packet(0x20, b"\x00\x00", connack_props)),
        ("connack-refused", V5, packet(0x20, b"\x00\x87", props(p_str(0x1F, "no")))),
        ("publish-q0", V5, packet(0x30, string("a/b"), props(), b"hi")),
        ("publish-q1-props", V5, packet(0x33, string("a/b"), u16(1), publish_props, b"22.0")),
        ("publish-alias-only", V5, packet(0x3C, string(""), u16(5), props(p_u16(0x23, 1)), b"x")),
        ("puback-short", V5, packet(0x40, u16(1))),
        ("puback-code", V5, packet(0x40, u16(1), b"\x10")),
        ("pubrec-props", V5, packet(0x50, u16(2), b"\x80", ack_props)),
        ("pubrel-code", V5, packet(0x62, u16(3), b"\x92")),
        ("pubcomp-props", V5, packet(0x70, u16(4), b"\x00", ack_props)),
        ("subscribe-props", V5, packet(
            0x82, u16(5), props(p_var(0x0B, 42), p_user("s", "y")),
            string("a/+"), b"\x2D", string("$share/g/b/#"), b"\x1A", string("c"), b"\x00")),
        ("suback-props", V5, packet(0x90, u16(5), ack_props, b"\x00\x01\x02\x80\x87\x8F\x91\x9E\xA1\xA2")),
        ("unsubscribe-props", V5, packet(0xA2, u16(6), props(p_user("u", "y")), string("a/+"), string("c"))),
        ("unsuback-codes", V5, packet(0xB0, u16(6), props(), b"\x00\x11\x80")),
        ("disconnect-empty", V5, packet(0xE0)),
        ("disconnect-will", V5, packet(0xE0, b"\x04")),
        ("disconnect-props", V5, packet(
            0xE0, b"\x9C", props(p_u32(0x11, 0), p_str(0x1F, "moving"), p_user("b", "n"),
                                 p_str(0x1C, "other")))),
        ("auth-empty", V5, packet(0xF0)),
        ("auth-continue", V5, packet(0xF0, b"\x18", props(p_str(0x15, "SCRAM-SHA-1"), p_bin(0x16, b"\x00\x01")))),
        ("auth-reauth", V5, packet(0xF0, b"\x19", props(p_str(0x15, "SCRAM-SHA-1"), p_str(0x1F, "again"), p_user("a", "b")))),
        ("pingreq", V5, packet(0xC0)),
    ]
    return v


# --- captures ---------------------------------------------------------------------------


def fixed_header(data, i):
    """(remaining length, start of the body) of the packet at data[i]."""
    length, shift, j = 0, 0, i + 1
    while True:
        b = data[j]
        length |= (b & 0x7F) << shift
        shift += 7
        j += 1
        if not b & 0x80:
            return length, j


def split_packets(data):
    """Splits a capture into whole packets by their fixed headers."""
    out, i = [], 0
    while i < len(data):
        length, body = fixed_header(data, i)
        out.append(data[i : body + length])
        i = body + length
    if i != len(data):
        sys.exit(f"capture does not end on a packet boundary ({i} != {len(data)})")
    return out


def connect_version(pkt):
    """The version selector for a CONNECT packet's protocol level."""
    _, body = fixed_header(pkt, 0)
    name_len = int.from_bytes(pkt[body : body + 2], "big")
    level = pkt[body + 2 + name_len]
    return {3: V3_1, 4: V3_1_1, 5: V5}[level]


def captures():
    """(stem, version selector, stream bytes) for each capture file."""
    versions, files = {}, sorted(CAPTURES.glob("*.bin"))
    for f in files:
        if f.name.endswith(".c2s.bin"):
            first = split_packets(f.read_bytes())[0]
            if first[0] >> 4 != 1:
                sys.exit(f"{f.name}: does not start with CONNECT")
            versions[f.name[: -len(".c2s.bin")]] = connect_version(first)
    out = []
    for f in files:
        scenario, direction = f.name[: -len(".bin")].rsplit(".", 1)
        out.append((f"{scenario}-{direction}", versions[scenario], f.read_bytes()))
    return out


# --- writing ----------------------------------------------------------------------------


def main():
    caps = captures()
    if len(caps) < 30:
        sys.exit(f"expected at least 30 captures in {CAPTURES}, found {len(caps)}")
    seeds = {"decode_packet": {}, "roundtrip": {}, "decode_stream": {}, "server_connection": {}}

    def add(target, name, data):
        seeds[target].setdefault(bytes(data), name)  # the first name for identical bytes

    for name, version, pkt in hand_vectors():
        vname = VERSION_NAMES[version]
        add("decode_packet", f"{vname}-{name}", bytes([version]) + pkt)
        add("roundtrip", f"{vname}-{name}", pkt)
    # Hand-made vectors once more with strict strings, and as streams per version.
    for version in (V3_1, V3_1_1, V5):
        pkts = [p for _, ver, p in hand_vectors() if ver == version]
        vname = VERSION_NAMES[version]
        add("decode_packet", f"{vname}-strict-connect", bytes([STRICT | version]) + pkts[0])
        add("decode_stream", f"{vname}-hand-made", bytes([version, STREAM_LIMIT]) + b"".join(pkts))
    # A limit of 32 bytes that the second packet exceeds.
    add("decode_stream", "v5-too-large", bytes([V5, 2]) + packet(0xC0) + packet(0x30, string("t"), props(), bytes(40)))

    # Both directions of a scenario as one stream (the decoder does not check who sends
    # what); single packets: of each version and first byte (type and flags), the
    # longest one seen.
    streams, longest = {}, {}
    for stem, version, data in caps:
        scenario = stem.rsplit("-", 1)[0]
        streams.setdefault(scenario, [version, b""])[1] += data
        for i, pkt in enumerate(split_packets(data)):
            key = (version, pkt[0])
            if key not in longest or len(pkt) > len(longest[key][1]):
                longest[key] = (f"{stem}-{i:02}-{TYPES[pkt[0] >> 4]}", pkt)
    for scenario, (version, data) in streams.items():
        add("decode_stream", f"capture-{scenario}", bytes([version, STREAM_LIMIT]) + data)
    # server_connection: what each client sent, in chunks of up to 64 bytes (control byte
    # n < 0xF0 feeds n % 64 + 1 bytes), with actions between them: 0xF1 one second passes,
    # 0xF8 0x01 a QoS 1 message to the client, 0xF9 acknowledge one incoming publication.
    for stem, version, data in caps:
        if not stem.endswith("-c2s"):
            continue
        for options in (0x00, 0x01 | 0x04 | 0x20):
            seed = bytearray([options])
            for i in range(0, len(data), 64):
                chunk = data[i : i + 64]
                seed += bytes([len(chunk) - 1]) + chunk + bytes([0xF1, 0xF8, 0x01, 0xF9])
            add("server_connection", f"capture-{stem}-{options:02x}", seed)
    for (version, _), (name, pkt) in sorted(longest.items()):
        add("decode_packet", f"capture-{name}", bytes([version]) + pkt)
        add("roundtrip", f"capture-{name}", pkt)

    total_files = total_bytes = 0
    for target, by_bytes in seeds.items():
        d = CORPUS / target
        d.mkdir(parents=True, exist_ok=True)
        for old in d.glob("seed-*"):
            old.unlink()
        for data, name in by_bytes.items():
            (d / f"seed-{name}").write_bytes(data)
            total_bytes += len(data)
        total_files += len(by_bytes)
        print(f"{target}: {len(by_bytes)} seeds")
    print(f"total: {total_files} files, {total_bytes} bytes")
    if total_files >= 250 or total_bytes >= 1 << 20:
        sys.exit("seed corpus too large: keep it under 250 files and 1 MB")


if __name__ == "__main__":
    main()

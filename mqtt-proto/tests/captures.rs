//! Byte streams recorded from real peers (Debian mosquitto 2.0.11 and its clients, PyPI
//! paho-mqtt 2.1.0; see `tests/data/captures/README.md`) decode completely, and every
//! packet re-encodes to the same bytes.

use std::path::Path;

use bytes::BytesMut;
use mqtt_proto::{DecodeOptions, Packet, ProtocolVersion, decode};

/// Decodes a whole capture, returning each packet with its original bytes.
fn decode_capture(name: &str, version: ProtocolVersion) -> Vec<(Packet, Vec<u8>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/captures")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut buf = BytesMut::from(&bytes[..]);
    let opts = DecodeOptions {
        strict_strings: true,
        ..DecodeOptions::default()
    };
    let mut out = Vec::new();
    loop {
        let before = buf.len();
        match decode(&mut buf, version, &opts) {
            Ok(Some(p)) => {
                let start = bytes.len() - before;
                let end = bytes.len() - buf.len();
                out.push((p, bytes[start..end].to_vec()));
            }
            Ok(None) => break,
            Err(e) => panic!("{name}: packet {} failed to decode: {e}", out.len()),
        }
    }
    assert!(
        buf.is_empty(),
        "{name}: {} undecoded bytes at the end",
        buf.len()
    );
    out
}

fn types(packets: &[(Packet, Vec<u8>)]) -> Vec<String> {
    packets
        .iter()
        .map(|(p, _)| p.packet_type().to_string())
        .collect()
}

/// Every capture file, with the protocol version of its connection.
fn all_captures() -> Vec<(String, ProtocolVersion)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/captures");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !name.ends_with(".bin") {
            continue;
        }
        let version = if name.contains("-v5") {
            ProtocolVersion::V5
        } else if name.contains("-v31-") {
            ProtocolVersion::V3_1
        } else {
            ProtocolVersion::V3_1_1
        };
        out.push((name, version));
    }
    out.sort();
    assert!(out.len() >= 30, "captures missing: found {}", out.len());
    out
}

#[test]
fn every_capture_decodes_and_reencodes_byte_for_byte() {
    for (name, version) in all_captures() {
        for (i, (packet, original)) in decode_capture(&name, version).into_iter().enumerate() {
            let mut again = Vec::new();
            packet
                .encode(version, &mut again)
                .unwrap_or_else(|e| panic!("{name}#{i}: {e}"));
            assert_eq!(
                packet.encoded_len(version).unwrap(),
                again.len(),
                "{name}#{i}"
            );
            if version.is_v5() {
                // Property order is the sender's choice (mosquitto writes them as given on its
                // command line), so a 5.0 packet may differ only by the order of its
                // properties: same bytes as a multiset, and the same packet when decoded.
                let mut a = again.clone();
                let mut b = original.clone();
                a.sort_unstable();
                b.sort_unstable();
                assert_eq!(a, b, "{name}#{i}: {packet:?} re-encodes to other bytes");
                let redecoded =
                    mqtt_proto::decode_exact(&again, version, &DecodeOptions::default());
                assert_eq!(redecoded.as_ref(), Ok(&packet), "{name}#{i}");
            } else {
                assert_eq!(
                    again, original,
                    "{name}#{i}: {packet:?} re-encodes differently"
                );
            }
        }
    }
}

#[test]
fn paho_v311_session_has_the_expected_packets() {
    let c2s = decode_capture("paho-v311.c2s.bin", ProtocolVersion::V3_1_1);
    assert_eq!(
        types(&c2s),
        [
            "CONNECT",
            "SUBSCRIBE",
            "PUBLISH",
            "PUBLISH",
            "PUBACK",
            "PUBLISH",
            "PUBREL",
            "PUBREC",
            "PUBCOMP",
            "PINGREQ",
            "UNSUBSCRIBE",
            "DISCONNECT"
        ]
    );
    let Packet::Connect(c) = &c2s[0].0 else {
        panic!("first packet is not CONNECT")
    };
    assert_eq!(c.protocol, ProtocolVersion::V3_1_1);
    assert!(c.will.is_some());
    assert_eq!(c.username.as_deref(), Some("alice"));
    assert_eq!(c.password.as_deref(), Some(&b"secret"[..]));
}

// The check of the `roundtrip` fuzz target. It is `include!`d both by
// `fuzz_targets/roundtrip.rs` and by `mqtt-proto/tests/fuzz_regressions.rs`, so that the
// regression test runs exactly what was fuzzed. Public API of `mqtt-proto` only.

/// The whole input as one packet, decoded as each protocol version in turn, leniently and
/// with strict strings:
/// * strict decoding differs from lenient decoding only by rejecting a discouraged code
///   point (same packet, same error otherwise);
/// * whatever decodes round-trips (`mqtt_proto::fuzz::roundtrip`);
/// * a maximum packet size of exactly the packet's length accepts it, one less rejects it
///   as too large (the limit counts the fixed header);
/// * every proper prefix of the packet is "need more bytes", never an error or a packet.
fn roundtrip_all_versions(data: &[u8]) {
    use mqtt_proto::{DecodeError as E, DecodeOptions, ProtocolVersion, StringError as S};
    use mqtt_proto::{TopicError as T, decode, decode_exact};

    let lenient = DecodeOptions::default();
    let strict = DecodeOptions {
        strict_strings: true,
        ..lenient
    };
    for version in [
        ProtocolVersion::V3_1,
        ProtocolVersion::V3_1_1,
        ProtocolVersion::V5,
    ] {
        let packet = decode_exact(data, version, &lenient);
        let strict_packet = decode_exact(data, version, &strict);
        let discouraged = matches!(
            strict_packet,
            Err(E::InvalidString(S::DiscouragedCodePoint(_))
                | E::InvalidTopicName(T::String(S::DiscouragedCodePoint(_)))
                | E::InvalidTopicFilter(T::String(S::DiscouragedCodePoint(_))))
        );
        if !discouraged {
            assert_eq!(
                strict_packet, packet,
                "strict strings change more than strings"
            );
        }
        let Ok(packet) = packet else { continue };
        mqtt_proto::fuzz::roundtrip(&packet, version);

        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let at_limit = DecodeOptions {
            max_packet_size: len,
            ..lenient
        };
        assert_eq!(decode_exact(data, version, &at_limit).as_ref(), Ok(&packet));
        let over_limit = DecodeOptions {
            max_packet_size: len - 1,
            ..lenient
        };
        let too_large = decode_exact(data, version, &over_limit);
        assert!(
            matches!(too_large, Err(E::PacketTooLarge { .. })),
            "{version}: limit {} gives {too_large:?}",
            len - 1
        );

        for end in 0..data.len() {
            let mut buf = data[..end].into();
            let got = decode(&mut buf, version, &lenient);
            assert_eq!(got, Ok(None), "{version}: prefix of {end} bytes");
        }
    }
}

//! Names and shared inputs: the codecs' names, the packets' fields, and conversions.

use mqtt_proto as mp;
use mqtt_protocol_core::mqtt::packet::{self as mpc};

pub(crate) const MQTT_PROTO: &str = "mqtt-proto";
pub(crate) const MQTTBYTES: &str = "mqttbytes";
pub(crate) const MPC: &str = "mqtt-protocol-core";

pub(crate) const TOPIC: &str = "sensors/building-7/floor-3/room-42/temperature";
pub(crate) const PACKET_ID: u16 = 4242;
pub(crate) const MESSAGE_EXPIRY: u32 = 3600;
pub(crate) const CONTENT_TYPE: &str = "application/json";
pub(crate) const USER_KEY: &str = "trace-id";
pub(crate) const USER_VALUE: &str = "4bf92f3577b34da6";

pub(crate) const CLIENT_ID: &str = "bench-client-0001";
pub(crate) const WILL_TOPIC: &str = "clients/bench-client-0001/status";
pub(crate) const WILL_PAYLOAD: &[u8] = b"offline";
pub(crate) const USERNAME: &str = "bench-user";
pub(crate) const PASSWORD: &str = "bench-password";
pub(crate) const KEEP_ALIVE: u16 = 30;
pub(crate) const SESSION_EXPIRY: u32 = 3600;
pub(crate) const RECEIVE_MAXIMUM: u16 = 100;
pub(crate) const WILL_DELAY: u32 = 10;

pub(crate) const SUBSCRIPTION_ID: u32 = 42;
/// The 10 filters of the SUBSCRIBE: literal, `+` and `#`, with their maximum QoS.
pub(crate) const FILTERS: [(&str, u8); 10] = [
    ("sensors/+/temperature", 0),
    ("sensors/building-7/#", 1),
    ("alerts/critical", 2),
    ("devices/+/status", 1),
    ("devices/+/config/+", 1),
    ("home/kitchen/light", 0),
    ("#", 0),
    ("+/+/+", 1),
    ("metrics/cpu/+", 0),
    ("fleet/+/gps/#", 2),
];
/// Topics matched against every filter of [`FILTERS`]. No topic starts with `$`:
/// `mqttbytes::matches` refuses every such topic, even for a literal filter, where MQTT
/// (and `mqtt-proto`) only keeps wildcards in the first level from matching them.
pub(crate) const TOPICS: [&str; 10] = [
    "sensors/building-7/temperature",
    "sensors/building-7/floor-3/room-42/temperature",
    "alerts/critical",
    "alerts/warning",
    "devices/dev-0042/status",
    "devices/dev-0042/config/network",
    "home/kitchen/light",
    "fleet/truck-17/gps",
    "metrics/cpu/core-1",
    "a/b",
];

/// Large enough for the remaining length of any packet here.
pub(crate) const MAX_PACKET: usize = 1 << 28;

pub(crate) fn version(v5: bool) -> mp::ProtocolVersion {
    if v5 {
        mp::ProtocolVersion::V5
    } else {
        mp::ProtocolVersion::V3_1_1
    }
}

pub(crate) fn version_label(v5: bool) -> &'static str {
    if v5 { "v5.0" } else { "v3.1.1" }
}

pub(crate) fn mp_qos(q: u8) -> mp::QoS {
    mp::QoS::from_u8(q).expect("QoS 0, 1 or 2")
}

pub(crate) fn mb_qos(q: u8) -> mqttbytes::QoS {
    mqttbytes::qos(q).expect("QoS 0, 1 or 2")
}

pub(crate) fn mpc_qos(q: u8) -> mpc::Qos {
    match q {
        0 => mpc::Qos::AtMostOnce,
        1 => mpc::Qos::AtLeastOnce,
        _ => mpc::Qos::ExactlyOnce,
    }
}

pub(crate) fn mp_str(s: &'static str) -> mp::MqttString {
    mp::MqttString::from_static(s)
}

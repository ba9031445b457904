//! Scenarios: the clients and the operation sequence, as proptest strategies.

use mqtt_proto::QoS;
use proptest::prelude::*;

use crate::{AVOID_BUG_QUEUED_QOS0, AVOID_BUG_VERSION_SWITCH};

pub(crate) const TOPICS: &[&str] = &["a", "b", "a/a", "a/b", "b/a", "a/b/a", "/a", "a/"];
pub(crate) const FILTERS: &[&str] = &[
    "#", "+", "a", "a/#", "a/+", "+/a", "+/+", "+/#", "a/b", "b/#", "/+", "+/b/#", "a/b/a",
    "+/+/+", "a/",
];

#[derive(Debug, Clone)]
pub(crate) struct ClientSpec {
    pub(crate) v5: bool,
    /// Whether `Op::Connect { flip: true }` switches the protocol version. Such a client
    /// publishes without properties: a 5.0 message queued in its own session state cannot
    /// be sent on a 3.1.1 connection, which is the client library's business, not the
    /// broker's.
    pub(crate) flips: bool,
    /// Keep alive in seconds (0: none).
    pub(crate) keep_alive: u16,
    /// Receive Maximum of a 5.0 client.
    pub(crate) receive_maximum: Option<u16>,
}

/// Session Expiry Interval of a 5.0 CONNECT.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Expiry {
    Zero,
    Short,
    Long,
    Never,
}

impl Expiry {
    pub(crate) fn secs(self) -> Option<u32> {
        match self {
            Self::Zero => None,
            Self::Short => Some(10),
            Self::Long => Some(300),
            Self::Never => Some(u32::MAX),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// (Re)connect; a connection the client still has is abandoned half-open first. With
    /// `flip` the client uses the other protocol version this time.
    Connect {
        client: usize,
        clean: bool,
        expiry: Expiry,
        flip: bool,
    },
    /// SUBSCRIBE, with a Subscription Identifier and the 5.0 options on a 5.0 connection.
    Subscribe {
        client: usize,
        filters: Vec<Filter>,
        id: Option<u32>,
    },
    Unsubscribe {
        client: usize,
        filter: usize,
    },
    Publish {
        client: usize,
        topic: usize,
        qos: QoS,
        retain: bool,
        empty: bool,
    },
    /// Delivers up to `bytes` bytes on one wire that has bytes in transit (`pick` chooses).
    Deliver {
        pick: usize,
        bytes: usize,
    },
    /// Everything in transit is delivered, until nothing changes.
    Settle,
    /// The transport of the client's newest connection breaks.
    Cut {
        client: usize,
    },
    /// Normal DISCONNECT (0x00).
    Disconnect {
        client: usize,
    },
    Advance {
        secs: u64,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Scenario {
    pub(crate) broker_seed: u64,
    pub(crate) clients: Vec<ClientSpec>,
    /// Per client, before the operations: a `Connect` and a `Subscribe`, each followed by
    /// `Settle`.
    pub(crate) setup: Vec<[Op; 2]>,
    /// `BrokerConfig::queue_qos0_offline`.
    pub(crate) queue_qos0_offline: bool,
    pub(crate) ops: Vec<Op>,
}

pub(crate) fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

pub(crate) fn client_spec() -> impl Strategy<Value = ClientSpec> {
    (
        any::<bool>(),
        prop::bool::weighted(if AVOID_BUG_VERSION_SWITCH { 0.0 } else { 0.3 }),
        prop::sample::select(vec![0_u16, 10, 60]),
        prop::option::weighted(0.3, 1_u16..=3),
    )
        .prop_map(|(v5, flips, keep_alive, receive_maximum)| ClientSpec {
            v5,
            flips,
            keep_alive,
            receive_maximum,
        })
}

pub(crate) fn expiry() -> impl Strategy<Value = Expiry> {
    prop_oneof![
        1 => Just(Expiry::Zero),
        1 => Just(Expiry::Short),
        2 => Just(Expiry::Long),
        2 => Just(Expiry::Never)
    ]
}

/// One filter of a SUBSCRIBE: an index into `FILTERS`, the maximum QoS and the 5.0 options
/// (left at their 3.1.1 defaults on a 3.1.1 connection).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Filter {
    pub(crate) filter: usize,
    pub(crate) qos: QoS,
    pub(crate) no_local: bool,
    pub(crate) retain_as_published: bool,
    /// Retain Handling 0, 1 or 2.
    pub(crate) retain_handling: u8,
}

pub(crate) fn filters() -> impl Strategy<Value = Vec<Filter>> {
    let filter = (
        0..FILTERS.len(),
        qos(),
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.25),
        prop_oneof![6 => Just(0_u8), 1 => Just(1), 1 => Just(2)],
    )
        .prop_map(
            |(filter, qos, no_local, retain_as_published, retain_handling)| Filter {
                filter,
                qos,
                no_local,
                retain_as_published,
                retain_handling,
            },
        );
    prop::collection::vec(filter, 1..=2)
}

pub(crate) fn subscription_id() -> impl Strategy<Value = Option<u32>> {
    prop::option::weighted(0.5, 1_u32..=3)
}

pub(crate) fn op() -> impl Strategy<Value = Op> {
    let client = 0_usize..5;
    prop_oneof![
        2 => (client.clone(), prop::bool::weighted(0.3), expiry(), prop::bool::weighted(0.1))
            .prop_map(|(client, clean, expiry, flip)| Op::Connect { client, clean, expiry, flip }),
        3 => (client.clone(), filters(), subscription_id())
            .prop_map(|(client, filters, id)| Op::Subscribe { client, filters, id }),
        1 => (client.clone(), 0..FILTERS.len())
            .prop_map(|(client, filter)| Op::Unsubscribe { client, filter }),
        8 => (
            client.clone(),
            0..TOPICS.len(),
            qos(),
            prop::bool::weighted(0.3),
            prop::bool::weighted(0.15),
        )
            .prop_map(|(client, topic, qos, retain, empty)| Op::Publish {
                client,
                topic,
                qos,
                retain,
                empty,
            }),
        10 => (any::<usize>(), 1_usize..=120).prop_map(|(pick, bytes)| Op::Deliver { pick, bytes }),
        2 => Just(Op::Settle),
        1 => client.clone().prop_map(|client| Op::Cut { client }),
        1 => client.prop_map(|client| Op::Disconnect { client }),
        1 => prop::sample::select(vec![1_u64, 3, 11, 45, 95]).prop_map(|secs| Op::Advance { secs }),
    ]
}

pub(crate) fn scenario() -> impl Strategy<Value = Scenario> {
    (
        any::<u64>(),
        prop::collection::vec(
            (
                client_spec(),
                (
                    prop::bool::weighted(0.3),
                    expiry(),
                    filters(),
                    subscription_id(),
                ),
            ),
            3..=5,
        ),
        prop::bool::weighted(if AVOID_BUG_QUEUED_QOS0 { 0.0 } else { 0.25 }),
        prop::collection::vec(op(), 10..=200),
    )
        .prop_map(|(broker_seed, clients, queue_qos0_offline, ops)| {
            let (clients, setup): (Vec<ClientSpec>, Vec<_>) = clients.into_iter().unzip();
            let setup = setup
                .into_iter()
                .enumerate()
                .map(|(client, (clean, expiry, filters, id))| {
                    [
                        Op::Connect {
                            client,
                            clean,
                            expiry,
                            flip: false,
                        },
                        Op::Subscribe {
                            client,
                            filters,
                            id,
                        },
                    ]
                })
                .collect();
            Scenario {
                broker_seed,
                clients,
                setup,
                queue_qos0_offline,
                ops,
            }
        })
}

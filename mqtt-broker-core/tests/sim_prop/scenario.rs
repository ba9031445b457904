//! Scenarios: the clients, the broker's queue bound and the operation sequence, as proptest
//! strategies; `scenario` for 3 to 5 clients, `crowd_scenario` for 200 to 300.

use mqtt_proto::QoS;
use proptest::prelude::*;

use crate::{
    AVOID_BUG_QUEUED_QOS0, AVOID_BUG_RESEND_OVER_RECEIVE_MAXIMUM, AVOID_BUG_VERSION_SWITCH,
};

pub(crate) const TOPICS: &[&str] = &["a", "b", "a/a", "a/b", "b/a", "a/b/a", "/a", "a/"];
/// Filters of the generated subscriptions; the last ones are shared subscriptions (5.0
/// section 4.8.2: `$share/{ShareName}/{filter}`), used on 5.0 connections only. Two of them
/// share a name but not a filter: they are different groups.
pub(crate) const FILTERS: &[&str] = &[
    "#",
    "+",
    "a",
    "a/#",
    "a/+",
    "+/a",
    "+/+",
    "+/#",
    "a/b",
    "b/#",
    "/+",
    "+/b/#",
    "a/b/a",
    "+/+/+",
    "a/",
    "$share/g/#",
    "$share/g/a/+",
    "$share/h/+/#",
    "$share/h/a",
];

/// Whether `FILTERS[i]` is a shared subscription.
pub(crate) fn is_shared(filter: &str) -> bool {
    filter.starts_with("$share/")
}

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
        will: Option<WillSpec>,
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
    /// DISCONNECT: normal (0x00), or on 5.0 with `with_will` 0x04 (Disconnect with Will
    /// Message).
    Disconnect {
        client: usize,
        with_will: bool,
    },
    Advance {
        secs: u64,
    },
    /// The broker shuts down and a new one, seeded with `seed`, restarts from its store.
    Restart {
        seed: u64,
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
    /// `BrokerConfig::max_queued_messages`, when small (else the default).
    pub(crate) max_queued: Option<usize>,
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
            receive_maximum: receive_maximum
                .filter(|_| !(AVOID_BUG_RESEND_OVER_RECEIVE_MAXIMUM && flips)),
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

/// The will of a CONNECT: topic (index into `TOPICS`), QoS, RETAIN and, on 5.0, the Will
/// Delay Interval in seconds (against session expiries of 0, 10, 300 and never).
#[derive(Debug, Clone, Copy)]
pub(crate) struct WillSpec {
    pub(crate) topic: usize,
    pub(crate) qos: QoS,
    pub(crate) retain: bool,
    pub(crate) delay: u32,
}

pub(crate) fn will() -> impl Strategy<Value = Option<WillSpec>> {
    prop::option::weighted(
        0.4,
        (
            0..TOPICS.len(),
            qos(),
            prop::bool::weighted(0.25),
            prop::sample::select(vec![0_u32, 0, 5, 20, 400]),
        )
            .prop_map(|(topic, qos, retain, delay)| WillSpec {
                topic,
                qos,
                retain,
                delay,
            }),
    )
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

/// An operation on one of `clients` clients; `settle` weighs `Op::Settle` (a crowd needs
/// its wires emptied more often).
pub(crate) fn op(clients: usize, settle: u32) -> impl Strategy<Value = Op> {
    let client = 0_usize..clients;
    prop_oneof![
        2 => (client.clone(), prop::bool::weighted(0.3), expiry(), prop::bool::weighted(0.1), will())
            .prop_map(|(client, clean, expiry, flip, will)| Op::Connect { client, clean, expiry, flip, will }),
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
        settle => Just(Op::Settle),
        1 => client.clone().prop_map(|client| Op::Cut { client }),
        1 => (client, prop::bool::weighted(0.3))
            .prop_map(|(client, with_will)| Op::Disconnect { client, with_will }),
        1 => prop::sample::select(vec![1_u64, 3, 11, 45, 95]).prop_map(|secs| Op::Advance { secs }),
        1 => any::<u64>().prop_map(|seed| Op::Restart { seed }),
    ]
}

/// `max_queued_messages`: small in a quarter of the scenarios.
fn max_queued() -> impl Strategy<Value = Option<usize>> {
    prop::option::weighted(0.25, prop::sample::select(vec![2_usize, 3]))
}

/// Clients `count` and operations `ops`, with `settle` weighing `Op::Settle`.
fn scenario_of(
    count: std::ops::RangeInclusive<usize>,
    ops: std::ops::RangeInclusive<usize>,
    settle: u32,
) -> impl Strategy<Value = Scenario> {
    let max_clients = *count.end();
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
                    will(),
                ),
            ),
            count,
        ),
        prop::bool::weighted(if AVOID_BUG_QUEUED_QOS0 { 0.0 } else { 0.25 }),
        max_queued(),
        prop::collection::vec(op(max_clients, settle), ops),
    )
        .prop_map(
            |(broker_seed, clients, queue_qos0_offline, max_queued, ops)| {
                let (clients, setup): (Vec<ClientSpec>, Vec<_>) = clients.into_iter().unzip();
                let setup = setup
                    .into_iter()
                    .enumerate()
                    .map(|(client, (clean, expiry, filters, id, will))| {
                        [
                            Op::Connect {
                                client,
                                clean,
                                expiry,
                                flip: false,
                                will,
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
                    max_queued,
                    ops,
                }
            },
        )
}

/// 3 to 5 clients, 10 to 200 operations.
pub(crate) fn scenario() -> impl Strategy<Value = Scenario> {
    scenario_of(3..=5, 10..=200, 2)
}

/// A crowd: `CROWD_CLIENTS` clients, `CROWD_OPS` operations.
pub(crate) fn crowd_scenario() -> impl Strategy<Value = Scenario> {
    scenario_of(CROWD_CLIENTS, CROWD_OPS, 6)
}

/// Clients of a crowd scenario.
pub(crate) const CROWD_CLIENTS: std::ops::RangeInclusive<usize> = 200..=300;
/// Operations of a crowd scenario.
pub(crate) const CROWD_OPS: std::ops::RangeInclusive<usize> = 1500..=2000;

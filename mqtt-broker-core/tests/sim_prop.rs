//! Property-based deterministic simulation of one broker and 3 to 5 clients, or a crowd of
//! 200 to 300 (STYLE.md, Tests item 4). The harness is `common::Sim`; the scenarios are in
//! `sim_prop/scenario.rs`, the model in `sim_prop/model.rs` (sessions and wills),
//! `sim_prop/route.rs` (copies owed) and `sim_prop/check.rs`, the driver in
//! `sim_prop/run.rs`, the reproducers of broker bugs in `sim_prop/reproducers.rs`.
//!
//! A scenario is a broker seed, the clients (MQTT 3.1.1 or 5.0, keep alive, a 5.0 Receive
//! Maximum of 1 to 3 or none), the broker's `max_queued_messages` (2 or 3 in a quarter of
//! the scenarios, else the default), a setup (each client connects, with Clean Start or not,
//! a session expiry and maybe a will, and subscribes) and a sequence of operations: connect
//! and reconnect (with or without a will: any QoS, retained or not, on 5.0 a Will Delay
//! Interval of 0, 5, 20 or 400 s against session expiries of 0, 10, 300 s and never),
//! subscribe (filters over a small alphabet with `+` and `#`, and on 5.0 shared
//! subscriptions `$share/{g}/{filter}` in four groups; on 5.0 Subscription Identifiers,
//! No Local, Retain As Published, Retain Handling) and unsubscribe, publish
//! (QoS 0/1/2, retained or not, empty payloads that delete a retained message; 5.0
//! publishers add Correlation Data), delivery of up to N bytes in transit on one wire (a
//! chunk may be split anywhere), delivery of everything, a transport cut with the bytes in
//! transit lost, a reconnection that leaves the old connection half-open (the client end
//! vanishes, the server does not notice until keep alive or take-over), DISCONNECT 0x00 and
//! (5.0) 0x04 Disconnect with Will Message, time passing (keep alive, PINGREQ, will
//! delays, session expiry), and a restart of the broker from its store (a graceful
//! shutdown, then a broker with a new seed restored from the records its persistence
//! operations left; the broker runs with `Persistence::Durable`, the harness confirming
//! each operation at once). Connection tasks are scheduled in a seeded order.
//!
//! The model is told nothing of a restart but the connections it closes: every session
//! that lives on keeps its subscriptions, queued and in-flight messages, pending will and
//! expiry, and the retained messages stay, so every check below holds across restarts.
//!
//! A naive model follows what the broker was told, in the order it was told (`Trace`), and
//! after every operation:
//!
//! - a message reaches a client only if one of its subscriptions matched when the broker
//!   received it (5.0 [MQTT-3.3.2-3]), or as a retained message present when a matching
//!   non-shared SUBSCRIBE was handled, per Retain Handling ([MQTT-3.3.1-9] to
//!   [MQTT-3.3.1-11]; none for a shared subscription, 5.0 section 4.8.2); never to the
//!   publisher through a No Local subscription ([MQTT-3.8.3-3]);
//! - a message matching a shared subscription goes to one member of each matching group
//!   (5.0 section 4.8.2, [MQTT-4.8.2-5]): no two members get it through the group (more
//!   members than the broker received it), and the member is one the broker's policy
//!   allows (`pick_member`: a member with a connection, an offline one only if no member
//!   has a connection); which member is left open, so a session's copy has alternatives
//!   (the groups that picked it, with their QoS and identifiers merged into the one copy
//!   [MQTT-3.3.4-2]);
//! - a will is published as if its client had published it when the connection closes
//!   without DISCONNECT 0x00 ([MQTT-3.1.2-8], [MQTT-3.1.2-10]: a cut, keep alive, a
//!   take-over, 0x04), after the Will Delay Interval or when the session ends, whichever is
//!   first (5.0 section 3.1.3.2.2: expiry, Clean Start), and not if a connection resumes the
//!   session first ([MQTT-3.1.3-9]); a will delivered at any other time is unexplained, a
//!   retained will sets the retained message, and a QoS 1/2 will owed to a living session
//!   must arrive;
//! - when the broker hands a session's state to a returning connection, its offline queue
//!   holds at most `max_queued_messages` (see `AVOID_BUG_QUEUE_BOUND_HANDED_BACK`);
//! - RETAIN is 1 only for those retained messages or with Retain As Published
//!   ([MQTT-3.3.1-12], [MQTT-3.3.1-13]);
//! - the delivered QoS is the minimum of the published QoS and the highest QoS granted to the
//!   matching subscriptions (5.0 [MQTT-3.8.4-8], [MQTT-3.3.4-2]); on 5.0 the Correlation
//!   Data is forwarded unaltered ([MQTT-3.3.2-16]) and the Subscription Identifiers are those
//!   of the matching subscriptions ([MQTT-3.3.4-3], [MQTT-3.3.4-4]);
//! - a client gets no more first transmissions (DUP 0) of a message than the broker owed it
//!   copies (overlapping subscriptions give one copy, [MQTT-3.3.4-2]), and a QoS 2 message no
//!   more often than it was owed (exactly once, section 4.3.3); the broker never gets a QoS 2
//!   PUBLISH twice within one session;
//! - Session Present is what the model expects (5.0 [MQTT-3.2.2-2], [MQTT-3.2.2-3]);
//! - the broker's retained and session counts are the model's (sessions end with Clean
//!   Start, with a connection of expiry 0, or when their expiry passes: [MQTT-4.1.0-2]);
//! - no end of any connection reports a protocol violation or drops a message, and every
//!   broker instruction can be carried out.
//!
//! At the end every client reconnects without Clean Start, the wires settle without loss,
//! and:
//!
//! - every QoS 1/2 copy owed to a session that still exists (never ended by Clean Start,
//!   expiry or a disconnection with expiry 0) was delivered at least once (section 4.3,
//!   session state [MQTT-4.1.0-1]; 3.1.1 [MQTT-3.1.2-4]), retained messages sent on
//!   SUBSCRIBE and wills included, unless the bounded offline queue may have dropped it:
//!   the broker drops the oldest queued message when one more is queued for a session
//!   without a connection, so a copy is excused only if at least `max_queued_messages`
//!   copies were made for the session after it, one of them while it had no connection;
//! - a QoS 1/2 message matching a shared group whose possible members all live on reached
//!   one of them ([MQTT-4.8.2-4]);
//! - per publisher, topic and QoS, first deliveries (RETAIN 0) follow the order in which
//!   the broker received the messages (5.0 [MQTT-4.6.0-6]);
//! - a new subscriber to `#` finds exactly the model's retained messages (last non-empty
//!   retained payload per topic, at its QoS: [MQTT-3.3.1-5] to [MQTT-3.3.1-7]);
//! - nothing is left in flight or queued on either side of any connection.
//!
//! The crowd (`crowd`, `CROWD_SEEDS` scenarios of 200 to 300 clients and 1,500 to 2,000
//! operations) runs every check after every operation, as the small one does: they are
//! incremental (each delivery is checked once, against the receipts of its message found
//! through an index; counts are compared, not contents), and the end checks run once.
//!
//! What the standard does not promise is not checked: QoS 0 messages may be lost; copies
//! owed to a session that ended may be lost; a message the broker received before a
//! SUBSCRIBE is not owed to it; whether a take-over resumes a session of expiry 0 is open;
//! and a client that discarded its state (Clean Start) or whose session ended with a QoS 2
//! message in flight may see that message again, which no broker can prevent.
//!
//! # Seeds and replay
//!
//! Each case is generated by proptest from a `u64` seed (`RngSeed::Fixed`). `fixed_seeds`
//! runs seeds 1 to `FIXED_SEEDS` (CI), `random_seeds` runs `RANDOM_SEEDS` fresh ones, and
//! `soak` (ignored) as many as `MQTT_SIM_SOAK` says. A failure is shrunk; the panic message
//! gives the seed, the violation, the minimal scenario and a log of it (operations, what the
//! broker was told, what each client received). To run that seed again (generation,
//! shrinking and all; a crowd seed with `MQTT_SIM_CROWD=1` too, as the message says):
//!
//! ```text
//! MQTT_SIM_SEED=<seed> cargo test -p mqtt-broker-core --test sim_prop replay_seed_from_env -- --nocapture
//! ```
//!
//! The broker bugs found this way are kept as plain reproducer tests in
//! `sim_prop/reproducers.rs` (two still failing: see `AVOID_BUG_QUEUE_BOUND_HANDED_BACK`
//! and `AVOID_BUG_RESEND_OVER_RECEIVE_MAXIMUM`);
//! see the `AVOID_BUG_*` switches.

#[path = "sim_prop/check.rs"]
mod check;
mod common;
#[path = "sim_prop/model.rs"]
mod model;
#[path = "sim_prop/reproducers.rs"]
mod reproducers;
#[path = "sim_prop/route.rs"]
mod route;
#[path = "sim_prop/run.rs"]
mod run;
#[path = "sim_prop/scenario.rs"]
mod scenario;

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use run::check_seeds;

/// Seeds run by `fixed_seeds`: 1 to this.
pub(crate) const FIXED_SEEDS: u64 = 192;
/// Fresh seeds run by `random_seeds`.
pub(crate) const RANDOM_SEEDS: usize = 64;

/// Bugs the simulation found, kept as reproducer tests in `sim_prop/reproducers.rs` (all
/// fixed but `AVOID_BUG_QUEUE_BOUND_HANDED_BACK` and
/// `AVOID_BUG_RESEND_OVER_RECEIVE_MAXIMUM`). A switch set to true keeps its pattern out of the generated scenarios.
///
/// `queue_qos0_offline`: a QoS 0 message queued for an offline session took a packet
/// identifier and a window slot (`queued_qos0_message_takes_no_packet_id_or_window_slot`).
pub(crate) const AVOID_BUG_QUEUED_QOS0: bool = false;
/// Protocol version switches (`ClientSpec::flips`): a 5.0 session resumed on a 3.1.1
/// connection failed to send the messages it held with 5.0 properties
/// (`session_resumed_on_3_1_1_sends_its_5_0_messages_without_properties`).
pub(crate) const AVOID_BUG_VERSION_SWITCH: bool = false;
/// A waiting 5.0 CONNECT overtaken by a third connection was refused with 0x8E, which a
/// CONNACK cannot carry (`overtaken_waiting_connect_is_refused_with_a_connack_code`).
pub(crate) const AVOID_BUG_OVERTAKEN_CONNACK: bool = false;
/// A connection closing while its CONNECT waits for a take-over was accepted afterwards
/// (`take_over_by_a_connection_that_closed_while_waiting_leaves_the_session_free`). Fixed
/// in the broker; the reference model does not yet follow a waiting connection that
/// closes, so the harness still holds such a close back until the CONNECT is answered
/// (`Sim::defer_unanswered_close`).
pub(crate) const AVOID_BUG_TAKEOVER_ONTO_CLOSED: bool = true;
/// A connection handed its session back (`handle_closed`) with more messages queued than
/// `BrokerConfig::max_queued_messages`, and the broker kept them all
/// (`session_handed_back_over_the_queue_bound_is_trimmed`; fixed: trimmed to the bound).
/// With the switch, the model checks the offline queue against the larger of the bound and
/// what was handed back.
pub(crate) const AVOID_BUG_QUEUE_BOUND_HANDED_BACK: bool = false;
/// A session resumed by a 5.0 connection with a smaller Receive Maximum than the messages
/// it had in flight resent them all (`resumed_session_resends_no_more_than_the_receive_maximum`;
/// fixed in mqtt-session: the rest wait for room in the window). With the switch, a client
/// that switches versions sets no Receive Maximum.
pub(crate) const AVOID_BUG_RESEND_OVER_RECEIVE_MAXIMUM: bool = false;

/// Seeds run by `crowd`: 1 to this.
pub(crate) const CROWD_SEEDS: u64 = 3;

// ---------------------------------------------------------------------------------------
// Seeds

#[test]
fn fixed_seeds() {
    check_seeds(1..=FIXED_SEEDS, false);
}

/// 200 to 300 clients in one scenario, with the same checks after every operation (they
/// are incremental: each delivery is checked once, against the receipts of its message).
#[test]
fn crowd() {
    check_seeds(1..=CROWD_SEEDS, true);
}

#[test]
fn random_seeds() {
    let mut entropy = TestRunner::new(Config::default());
    let seeds: Vec<u64> = (0..RANDOM_SEEDS)
        .map(|_| entropy.rng().next_u64())
        .collect();
    println!("random simulation seeds: {seeds:?}");
    check_seeds(seeds, false);
}

/// A longer search: `MQTT_SIM_SOAK=<n> cargo test -p mqtt-broker-core --test sim_prop
/// soak -- --ignored` runs `n` random seeds (in release mode, thousands a minute; crowd
/// scenarios with `MQTT_SIM_CROWD=1`, a few a second).
#[test]
#[ignore]
fn soak() {
    let n: usize = std::env::var("MQTT_SIM_SOAK")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(1000);
    let mut entropy = TestRunner::new(Config::default());
    let seeds: Vec<u64> = (0..n).map(|_| entropy.rng().next_u64()).collect();
    check_seeds(seeds, crowd_from_env());
}

/// Replays the seed in `MQTT_SIM_SEED`, if set (a crowd seed with `MQTT_SIM_CROWD=1`).
#[test]
fn replay_seed_from_env() {
    let Ok(seed) = std::env::var("MQTT_SIM_SEED") else {
        return;
    };
    let seed: u64 = seed.trim().parse().expect("MQTT_SIM_SEED is a u64");
    check_seeds([seed], crowd_from_env());
}

/// Whether `MQTT_SIM_CROWD` asks for crowd scenarios.
fn crowd_from_env() -> bool {
    std::env::var("MQTT_SIM_CROWD").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// What the fixed seeds exercise, summed: `cargo test -p mqtt-broker-core --test sim_prop
/// coverage -- --ignored --nocapture`.
#[test]
#[ignore]
fn coverage() {
    let mut total: BTreeMap<&str, usize> = BTreeMap::new();
    for seed in 1..=FIXED_SEEDS {
        for (k, v) in run::coverage(seed, false) {
            *total.entry(k).or_default() += v;
        }
    }
    println!("{total:#?}");
    let mut crowd: BTreeMap<&str, usize> = BTreeMap::new();
    for seed in 1..=CROWD_SEEDS {
        for (k, v) in run::coverage(seed, true) {
            *crowd.entry(k).or_default() += v;
        }
    }
    println!("crowd: {crowd:#?}");
}

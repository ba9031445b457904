//! Running a scenario: operations on the simulation, the model following it, and the
//! seeds.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use mqtt_broker_core::{BrokerConfig, ConnId, Persistence};
use mqtt_proto::{
    Disconnect, ProtocolVersion, QoS, ReasonCode, RetainHandling, SubscribeProperties,
    SubscriptionId, SubscriptionOptions, TopicFilter, TopicName, UnsubscribeProperties, Will,
    WillProperties,
};
use mqtt_session::OutgoingMessage;
use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};

use crate::common::{Dir, Opts, Sim, Trace};
use crate::model::{Model, MsgId, message_id};
use crate::scenario::{
    ClientSpec, Expiry, FILTERS, Op, Scenario, TOPICS, WillSpec, crowd_scenario, is_shared,
    scenario,
};
use crate::{AVOID_BUG_OVERTAKEN_CONNACK, AVOID_BUG_TAKEOVER_ONTO_CLOSED};

pub(crate) struct Run {
    /// The retained-message probe (a client the model does not know) is connected.
    pub(crate) probing: bool,
    /// Operations and broker traces, when asked for (to explain a minimal failing case).
    pub(crate) log: Option<Vec<String>>,
    pub(crate) sim: Sim,
    pub(crate) model: Model,
    pub(crate) specs: Vec<ClientSpec>,
    pub(crate) names: Vec<String>,
    pub(crate) next_msg: MsgId,
}

impl Run {
    pub(crate) fn new(sc: &Scenario) -> Self {
        let mut sim = Sim::with_seed(
            BrokerConfig {
                sys_interval: None,
                persistence: Persistence::Durable,
                queue_qos0_offline: sc.queue_qos0_offline,
                max_queued_messages: sc
                    .max_queued
                    .unwrap_or(BrokerConfig::default().max_queued_messages),
                ..BrokerConfig::default()
            },
            sc.broker_seed,
        );
        sim.tracing = true;
        sim.schedule = Some(sc.broker_seed | 1);
        sim.defer_unanswered_close = AVOID_BUG_TAKEOVER_ONTO_CLOSED;
        let names: Vec<String> = (0..sc.clients.len()).map(|i| format!("c{i}")).collect();
        let mut model = Model::new(names.clone());
        model.max_queued = sc.max_queued;
        Self {
            probing: false,
            log: None,
            sim,
            model,
            specs: sc.clients.clone(),
            names,
            next_msg: 0,
        }
    }

    /// The options of a CONNECT; a will gets the next message id.
    pub(crate) fn opts(
        &mut self,
        c: usize,
        clean: bool,
        expiry: Expiry,
        flip: bool,
        will: Option<WillSpec>,
    ) -> Opts {
        let spec = &self.specs[c];
        let v5 = spec.v5 != (flip && spec.flips);
        let will = will.map(|w| {
            self.next_msg += 1;
            let mut properties = WillProperties::default();
            if v5 && w.delay > 0 {
                properties.will_delay_interval = Some(w.delay);
            }
            Will {
                topic: TopicName::try_from(TOPICS[w.topic]).unwrap(),
                payload: Bytes::from(format!("m{}", self.next_msg)),
                qos: w.qos,
                retain: w.retain,
                properties,
            }
        });
        let spec = &self.specs[c];
        Opts {
            version: if v5 {
                ProtocolVersion::V5
            } else {
                ProtocolVersion::V3_1_1
            },
            clean,
            session_expiry: if v5 { expiry.secs() } else { None },
            will,
            keep_alive: Some(spec.keep_alive),
            receive_maximum: if v5 { spec.receive_maximum } else { None },
            ..Opts::default()
        }
    }

    /// Client `c`'s newest connection, if its client end is still open.
    pub(crate) fn live(&self, c: usize) -> Option<ConnId> {
        let conn = self.sim.current(&self.names[c])?;
        (!self.sim.links[&conn].client.is_closed()).then_some(conn)
    }

    pub(crate) fn exec(&mut self, op: &Op) {
        let n = self.names.len();
        let now = self.sim.now;
        match *op {
            Op::Connect {
                client,
                clean,
                expiry,
                flip,
                will,
            } => {
                let c = client % n;
                if let Some(conn) = self.live(c) {
                    self.sim.kill_client(conn);
                }
                if clean {
                    self.model.resets[c] += 1;
                }
                let opts = self.opts(c, clean, expiry, flip, will);
                let name = self.names[c].clone();
                self.sim.open(&name, opts);
            }
            Op::Subscribe {
                client,
                ref filters,
                id,
            } => {
                let Some(conn) = self.live(client % n) else {
                    return;
                };
                let v5 = self.sim.links[&conn].client.version().is_v5();
                let properties = SubscribeProperties {
                    subscription_identifier: id.filter(|_| v5).and_then(SubscriptionId::new),
                    ..SubscribeProperties::default()
                };
                // Shared subscriptions are a 5.0 feature; No Local on one is a Protocol
                // Error [MQTT-3.8.3-4].
                let filters: Vec<_> = filters
                    .iter()
                    .filter(|f| v5 || !is_shared(FILTERS[f.filter]))
                    .map(|f| {
                        let mut options = SubscriptionOptions::new(f.qos);
                        if v5 {
                            options.no_local = f.no_local && !is_shared(FILTERS[f.filter]);
                            options.retain_as_published = f.retain_as_published;
                            options.retain_handling = match f.retain_handling {
                                0 => RetainHandling::SendAtSubscribe,
                                1 => RetainHandling::SendAtSubscribeIfNew,
                                _ => RetainHandling::DoNotSend,
                            };
                        }
                        (TopicFilter::try_from(FILTERS[f.filter]).unwrap(), options)
                    })
                    .collect();
                if filters.is_empty() {
                    return;
                }
                let link = self.sim.links.get_mut(&conn).unwrap();
                let _ = link.client.subscribe(now, filters, properties);
                self.sim.process();
            }
            Op::Unsubscribe { client, filter } => {
                let Some(conn) = self.live(client % n) else {
                    return;
                };
                let f = TopicFilter::try_from(FILTERS[filter]).unwrap();
                let link = self.sim.links.get_mut(&conn).unwrap();
                let _ = link
                    .client
                    .unsubscribe(now, vec![f], UnsubscribeProperties::default());
                self.sim.process();
            }
            Op::Publish {
                client,
                topic,
                qos,
                retain,
                empty,
            } => {
                let c = client % n;
                let Some(conn) = self.live(c) else {
                    return;
                };
                self.next_msg += 1;
                let payload = if empty {
                    Bytes::new()
                } else {
                    Bytes::from(format!("m{}", self.next_msg))
                };
                let topic = TopicName::try_from(TOPICS[topic]).unwrap();
                let mut m = OutgoingMessage::new(topic, qos, payload);
                m.retain = retain;
                let link = self.sim.links.get_mut(&conn).unwrap();
                if link.client.version().is_v5() && !self.specs[c].flips {
                    // To be forwarded unaltered [MQTT-3.3.2-16].
                    m.properties.correlation_data =
                        Some(Bytes::from(format!("c{}", self.next_msg)));
                }
                let _ = link.client.publish(now, m);
                self.sim.process();
            }
            Op::Deliver { pick, bytes } => {
                let wires: Vec<(ConnId, Dir)> = self
                    .sim
                    .links
                    .iter()
                    .flat_map(|(&conn, l)| {
                        [Dir::ToServer, Dir::ToClient]
                            .into_iter()
                            .filter(|&d| l.in_transit(d) > 0)
                            .map(move |d| (conn, d))
                    })
                    .collect();
                if !wires.is_empty() {
                    let (conn, dir) = wires[pick % wires.len()];
                    self.sim.deliver(conn, dir, bytes);
                }
            }
            Op::Settle => self.sim.run(),
            Op::Cut { client } => {
                if let Some(conn) = self.sim.current(&self.names[client % n]) {
                    let l = &self.sim.links[&conn];
                    if !l.client.is_closed() || !l.server.is_closed() {
                        self.sim.cut_conn(conn);
                    }
                }
            }
            Op::Disconnect { client, with_will } => {
                if let Some(conn) = self.live(client % n) {
                    let link = self.sim.links.get_mut(&conn).unwrap();
                    let code = if with_will && link.client.version().is_v5() {
                        ReasonCode::DisconnectWithWill
                    } else {
                        ReasonCode::Success
                    };
                    let _ = link.client.disconnect(now, Disconnect::new(code));
                    self.sim.process();
                }
            }
            Op::Advance { secs } => self.sim.tick(Duration::from_secs(secs)),
            Op::Restart { seed } => self.sim.restart(seed),
        }
    }

    /// Feeds the model what the broker saw, then checks what the clients saw.
    pub(crate) fn observe(&mut self) {
        for t in std::mem::take(&mut self.sim.trace) {
            if let Some(log) = &mut self.log {
                log.push(format!("    {}", brief(&t)));
            }
            self.model.apply(t);
        }
        if let Some(log) = &mut self.log {
            for (c, name) in self.names.iter().enumerate() {
                let received = self.sim.received.get(name).map_or(&[][..], Vec::as_slice);
                for p in received.get(self.model.cursor[c]..).unwrap_or_default() {
                    log.push(format!(
                        "    {name} got {:?} on {} qos={} retain={} dup={}",
                        message_id(p),
                        p.topic.as_ref().map_or("", |t| t.as_str()),
                        p.qos() as u8,
                        p.retain,
                        p.dup
                    ));
                }
            }
        }
        self.model.check_deliveries(&self.sim);
        for a in std::mem::take(&mut self.sim.anomalies) {
            if AVOID_BUG_OVERTAKEN_CONNACK
                && a.contains("Session taken over (0x8E) is not valid in CONNACK")
            {
                continue;
            }
            self.model.fail(a);
        }
        let count = self.sim.broker.retained_count();
        if count != self.model.retained.len() {
            let expected = self.model.retained.len();
            self.model.fail(format!(
                "the broker holds {count} retained messages, the model {expected} \
                 ([MQTT-3.3.1-5] [MQTT-3.3.1-6])"
            ));
        }
        // Sessions end with Clean Start, with their connection when their expiry is 0,
        // and when their expiry passes offline (5.0 [MQTT-4.1.0-2]); no other ones exist.
        let sessions = self.sim.broker.session_count();
        let expected = self.model.sessions.iter().flatten().count();
        if sessions != expected && !self.probing {
            self.model.fail(format!(
                "the broker holds {sessions} sessions, the model {expected}: {:?}",
                self.model.sessions
            ));
        }
    }

    pub(crate) fn result(&mut self, at: &str) -> Result<(), String> {
        if self.model.violations.is_empty() {
            return Ok(());
        }
        Err(format!(
            "{at}:\n  {}",
            std::mem::take(&mut self.model.violations).join("\n  ")
        ))
    }

    /// Reconnects every client without Clean Start, lets everything settle without loss,
    /// then runs the final checks.
    pub(crate) fn finish(&mut self) -> Result<(), String> {
        self.sim.run();
        self.observe();
        for _round in 0..4 {
            let mut all = true;
            for c in 0..self.names.len() {
                let name = self.names[c].clone();
                let connected = self
                    .sim
                    .current(&name)
                    .is_some_and(|conn| self.sim.links[&conn].client.is_connected());
                if connected {
                    continue;
                }
                all = false;
                if let Some(conn) = self.live(c) {
                    self.sim.kill_client(conn);
                }
                let opts = self.opts(c, false, Expiry::Never, false, None);
                self.sim.open(&name, opts);
                // One client at a time in a small scenario; a crowd reconnects together.
                if self.names.len() <= 8 {
                    self.sim.run();
                    self.observe();
                }
            }
            self.sim.run();
            self.observe();
            if all {
                break;
            }
        }
        self.result("while reconnecting at the end")?;
        for c in 0..self.names.len() {
            let name = &self.names[c];
            let Some(conn) = self.sim.current(name) else {
                continue;
            };
            let link = &self.sim.links[&conn];
            if !link.client.is_connected() {
                self.model
                    .fail(format!("{name} could not reconnect at the end"));
                continue;
            }
            let server = link.server.session_state();
            let client = link.client.session_state();
            if server.inflight().next().is_some() || server.queued_len() > 0 {
                self.model.fail(format!(
                    "the server side of {name} still has messages in flight or queued after \
                     everything settled: {server:?}"
                ));
            }
            if client.inflight().next().is_some() || client.queued_len() > 0 {
                self.model.fail(format!(
                    "{name} still has messages in flight or queued after everything \
                     settled: {client:?}"
                ));
            }
        }
        self.model.final_checks();
        self.result("after everything settled")?;
        self.check_retained()
    }

    /// A fresh subscriber to `#` finds exactly the model's retained messages.
    pub(crate) fn check_retained(&mut self) -> Result<(), String> {
        let probe = "retained-probe";
        self.probing = true;
        self.sim.connect(probe, Opts::default());
        self.sim.subscribe(probe, "#", QoS::ExactlyOnce);
        self.observe();
        let mut found = BTreeMap::new();
        for p in self.sim.received.get(probe).into_iter().flatten() {
            let topic = p.topic.as_ref().unwrap().as_str().to_owned();
            if !p.retain {
                continue;
            }
            let id = message_id(p);
            if let Some(id) = id
                && let Some(m) = self.model.msgs.get(&id)
                && m.qos != p.qos()
            {
                self.model.fail(format!(
                    "retained m{id} on {topic} came at QoS {}, it was published at QoS {}",
                    p.qos() as u8,
                    m.qos as u8
                ));
            }
            if found.insert(topic.clone(), id).is_some() {
                self.model
                    .fail(format!("two retained messages for {topic} [MQTT-3.3.1-5]"));
            }
        }
        let expected: BTreeMap<String, Option<MsgId>> = self
            .model
            .retained
            .iter()
            .map(|(t, &id)| (t.clone(), Some(id)))
            .collect();
        if found != expected {
            self.model.fail(format!(
                "retained messages found by a new subscriber to #: {found:?}, model: \
                 {expected:?} (last non-empty retained message per topic, [MQTT-3.3.1-5] \
                 [MQTT-3.3.1-6])"
            ));
        }
        self.result("checking retained messages")
    }
}

/// One line for a trace entry.
pub(crate) fn brief(t: &Trace) -> String {
    match t {
        Trace::Connect { conn, connect } => format!(
            "conn {}: CONNECT {} {:?} clean={} expiry={:?} will={:?}",
            conn.get(),
            connect.client_id.as_str(),
            connect.protocol,
            connect.clean_start,
            connect.properties.session_expiry_interval,
            connect.will.as_ref().map(|w| (
                String::from_utf8_lossy(&w.payload).into_owned(),
                w.topic.as_str(),
                w.qos as u8,
                w.retain,
                w.properties.will_delay_interval
            ))
        ),
        Trace::Accepted {
            conn,
            session_present,
            queued,
        } => format!(
            "conn {}: accepted, session present {session_present}, {queued} queued",
            conn.get()
        ),
        Trace::Refused { conn, reason_code } => {
            format!("conn {}: refused {reason_code:?}", conn.get())
        }
        Trace::Publish {
            conn,
            name,
            publish,
        } => format!(
            "conn {} ({name}): PUBLISH {:?} {} qos={} retain={} dup={}",
            conn.get(),
            message_id(publish),
            publish.topic.as_ref().map_or("", |t| t.as_str()),
            publish.qos() as u8,
            publish.retain,
            publish.dup
        ),
        Trace::Subscribe { conn, subscribe } => format!(
            "conn {}: SUBSCRIBE {:?}",
            conn.get(),
            subscribe
                .filters
                .iter()
                .map(|(f, o)| (f.as_str(), o.qos as u8))
                .collect::<Vec<_>>()
        ),
        Trace::Unsubscribe { conn, unsubscribe } => format!(
            "conn {}: UNSUBSCRIBE {:?}",
            conn.get(),
            unsubscribe
                .filters
                .iter()
                .map(TopicFilter::as_str)
                .collect::<Vec<_>>()
        ),
        Trace::Closed { conn, reason, .. } => format!("conn {}: closed {reason:?}", conn.get()),
        Trace::Timeout { .. } => "timeout".to_owned(),
        Trace::Restart { .. } => "broker restarted from its store".to_owned(),
    }
}

pub(crate) fn run_scenario(sc: &Scenario) -> Result<(), String> {
    run_logged(sc, &mut None)
}

/// Runs a scenario; with `log`, records every operation, what the broker saw and what
/// each client received.
pub(crate) fn run_logged(sc: &Scenario, log: &mut Option<Vec<String>>) -> Result<(), String> {
    let mut run = Run::new(sc);
    run.log = log.take();
    let result = run_ops(&mut run, sc);
    *log = run.log.take();
    result
}

pub(crate) fn run_ops(run: &mut Run, sc: &Scenario) -> Result<(), String> {
    for (c, setup) in sc.setup.iter().enumerate() {
        for op in setup {
            run.exec(op);
            run.exec(&Op::Settle);
            run.observe();
        }
        run.result(&format!("setting up client {c}"))?;
    }
    for (i, op) in sc.ops.iter().enumerate() {
        if let Some(log) = &mut run.log {
            log.push(format!("op {i}: {op:?}"));
        }
        run.exec(op);
        run.observe();
        run.result(&format!("after op {i} ({op:?})"))?;
    }
    run.finish()
}

/// The scenarios of `crowd` (200 to 300 clients) or of the small simulation (3 to 5).
pub(crate) fn strategy(crowd: bool) -> BoxedStrategy<Scenario> {
    if crowd {
        crowd_scenario().boxed()
    } else {
        scenario().boxed()
    }
}

/// Generates the scenario of `seed`, runs it and, if it fails, shrinks it.
pub(crate) fn check_seed(seed: u64, crowd: bool) -> Result<(), String> {
    let config = Config {
        cases: 1,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        // A crowd scenario takes seconds: it shrinks less.
        max_shrink_iters: if crowd { 64 } else { 2048 },
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy(crowd), |sc| {
        run_scenario(&sc).map_err(TestCaseError::fail)
    });
    match result {
        Ok(()) => Ok(()),
        Err(TestError::Fail(reason, minimal)) => {
            let mut log = Some(Vec::new());
            let _ = run_logged(&minimal, &mut log);
            let log = log.unwrap_or_default().join("\n");
            let env = if crowd { " MQTT_SIM_CROWD=1" } else { "" };
            let which = if crowd { "crowd " } else { "" };
            Err(format!(
                "{which}simulation seed {seed} failed.\n{reason}\nminimal case: {minimal:#?}\n\
                 log of the minimal case:\n{log}\nreplay: MQTT_SIM_SEED={seed}{env} cargo test \
                 -p mqtt-broker-core --test sim_prop replay_seed_from_env -- --nocapture"
            ))
        }
        Err(TestError::Abort(reason)) => Err(format!("simulation seed {seed} aborted: {reason}")),
    }
}

pub(crate) fn check_seeds(seeds: impl IntoIterator<Item = u64>, crowd: bool) {
    for seed in seeds {
        if let Err(e) = check_seed(seed, crowd) {
            panic!("{e}");
        }
    }
}

/// Counts of what the scenario of `seed` exercised (not shrunk, not checked).
pub(crate) fn coverage(seed: u64, crowd: bool) -> BTreeMap<&'static str, usize> {
    let mut runner = TestRunner::new(Config {
        rng_seed: RngSeed::Fixed(seed),
        ..Config::default()
    });
    let sc = strategy(crowd).new_tree(&mut runner).unwrap().current();
    let mut log = Some(Vec::new());
    let mut run = Run::new(&sc);
    run.log = log.take();
    let _ = run_ops(&mut run, &sc);
    let log = run.log.take().unwrap_or_default();
    let m = &run.model;
    let lines = |what: &str| log.iter().filter(|l| l.contains(what)).count();
    let targets = || m.receipts.iter().flat_map(|r| &r.targets);
    let deliveries = || m.deliveries.iter().flatten();
    BTreeMap::from([
        ("operations", sc.ops.len()),
        ("CONNECTs accepted", lines("accepted")),
        (
            "CONNECTs with Session Present 1",
            lines("session present true"),
        ),
        ("sessions (epochs)", m.next_epoch as usize - 1),
        (
            "take-overs (0x8E)",
            lines("LocalDisconnect(SessionTakenOver)"),
        ),
        ("keep alive timeouts", lines("KeepAliveTimeout")),
        ("broker restarts", lines("broker restarted")),
        (
            "CONNECTs with Session Present 1 after the first restart",
            log.iter()
                .skip_while(|l| !l.contains("broker restarted"))
                .filter(|l| l.contains("session present true"))
                .count(),
        ),
        ("transport closed", lines("closed TransportClosed")),
        ("PUBLISH received by the broker", m.receipts.len()),
        (
            "PUBLISH received with DUP 1",
            lines("dup=true").saturating_sub(deliveries().filter(|d| d.dup).count()),
        ),
        (
            "QoS 1/2 copies routed",
            targets().filter(|t| t.qos != QoS::AtMostOnce).count(),
        ),
        (
            "QoS 1/2 copies to sessions alive at the end",
            targets()
                .filter(|t| t.qos != QoS::AtMostOnce && m.epoch_alive(t))
                .count(),
        ),
        ("retained messages offered on SUBSCRIBE", m.offers.len()),
        ("deliveries", deliveries().count()),
        (
            "deliveries with DUP 1",
            deliveries().filter(|d| d.dup).count(),
        ),
        (
            "deliveries with RETAIN 1",
            deliveries().filter(|d| d.retain).count(),
        ),
        ("retained topics at the end", m.retained.len()),
        ("clients", sc.clients.len()),
        ("wills published", m.wills_published),
        (
            "receipts matching a shared group",
            m.receipts.iter().filter(|r| !r.shared.is_empty()).count(),
        ),
        (
            "deliveries needing a shared group",
            m.group_picks.values().map(|p| p.len()).sum(),
        ),
        (
            "scenarios with a small offline queue",
            usize::from(sc.max_queued.is_some()),
        ),
        (
            "copies excused by the queue bound",
            targets().filter(|t| m.droppable(t)).count(),
        ),
    ])
}

//! [`ClientBuilder`]: the options of a client, checked when it starts.

use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::marker::PhantomData;
use std::num::NonZeroU16;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_channel::{mpsc, oneshot};
use mqtt_proto::{
    Connect, ConnectProperties, MqttString, Packet, ProtocolVersion, QoS, TopicName, Will,
    WillProperties,
};
use mqtt_session::ClientConfig;

use super::driver::{ClientDriver, Options};
use super::task::{self, ClientRuntime, SpawnClient};
use super::{Backoff, Client, ConnectError, Events, ReconnectPolicy, Transport};

/// The client's connection task, for the caller to spawn on its executor (see
/// [`ClientBuilder::connect_with`]). It ends when the client has stopped.
pub type ClientTask = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The options of a [`Client`]; [`connect`](Self::connect) or [`spawn`](Self::spawn)
/// starts it (on runtimes that spawn tasks themselves), or
/// [`connect_with`](Self::connect_with) and [`spawn_with`](Self::spawn_with) with the
/// caller's spawner. Strings are checked then, so the setters cannot fail.
pub struct ClientBuilder<R> {
    runtime: PhantomData<fn() -> R>,
    transport: Transport,
    version: ProtocolVersion,
    client_id: String,
    clean_start: bool,
    session_expiry: Option<u32>,
    keep_alive: Duration,
    username: Option<String>,
    password: Option<Bytes>,
    will: Option<(String, Bytes, QoS, bool)>,
    will_properties: WillProperties,
    receive_maximum: Option<u16>,
    topic_alias_maximum: Option<u16>,
    user_properties: Vec<(String, String)>,
    session: ClientConfig,
    reconnect: Option<ReconnectPolicy>,
    manual_ack: bool,
    connect_timeout: Duration,
    command_capacity: usize,
    event_capacity: usize,
    max_pending: usize,
}

impl<R> Clone for ClientBuilder<R> {
    fn clone(&self) -> Self {
        Self {
            runtime: PhantomData,
            transport: self.transport.clone(),
            version: self.version,
            client_id: self.client_id.clone(),
            clean_start: self.clean_start,
            session_expiry: self.session_expiry,
            keep_alive: self.keep_alive,
            username: self.username.clone(),
            password: self.password.clone(),
            will: self.will.clone(),
            will_properties: self.will_properties.clone(),
            receive_maximum: self.receive_maximum,
            topic_alias_maximum: self.topic_alias_maximum,
            user_properties: self.user_properties.clone(),
            session: self.session.clone(),
            reconnect: self.reconnect,
            manual_ack: self.manual_ack,
            connect_timeout: self.connect_timeout,
            command_capacity: self.command_capacity,
            event_capacity: self.event_capacity,
            max_pending: self.max_pending,
        }
    }
}

impl<R> std::fmt::Debug for ClientBuilder<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("transport", &self.transport)
            .field("version", &self.version)
            .field("client_id", &self.client_id)
            .field("clean_start", &self.clean_start)
            .field("keep_alive", &self.keep_alive)
            .field("reconnect", &self.reconnect)
            .finish_non_exhaustive()
    }
}

impl<R: SpawnClient> ClientBuilder<R> {
    /// Starts the client on the runtime and waits for the first connection. The first
    /// attempt is not retried: its failure is returned, so wrong addresses and credentials
    /// show at once. Later losses are handled by the reconnection policy.
    ///
    /// # Errors
    /// [`ConnectError`] for invalid options or a failed first connection.
    ///
    /// # Panics
    /// Where the runtime cannot spawn (for tokio: outside a tokio runtime).
    pub async fn connect(self) -> Result<(Client<R>, Events), ConnectError> {
        self.connect_with(R::spawn).await
    }

    /// Starts the client without waiting: it connects in the background, retrying by the
    /// reconnection policy, and holds requests until it is connected.
    ///
    /// # Errors
    /// [`ConnectError::InvalidOptions`] for invalid options.
    ///
    /// # Panics
    /// As [`connect`](Self::connect).
    pub fn spawn(self) -> Result<(Client<R>, Events), ConnectError> {
        self.spawn_with(R::spawn)
    }
}

impl<R: ClientRuntime> ClientBuilder<R> {
    pub(crate) fn new(transport: Transport) -> Self {
        Self {
            runtime: PhantomData,
            transport,
            version: ProtocolVersion::V3_1_1,
            client_id: String::new(),
            clean_start: true,
            session_expiry: None,
            keep_alive: Duration::from_secs(60),
            username: None,
            password: None,
            will: None,
            will_properties: WillProperties::default(),
            receive_maximum: None,
            topic_alias_maximum: None,
            user_properties: Vec::new(),
            session: ClientConfig::default(),
            reconnect: Some(ReconnectPolicy::default()),
            manual_ack: false,
            connect_timeout: Duration::from_secs(10),
            command_capacity: 1024,
            event_capacity: 1024,
            max_pending: 10_000,
        }
    }

    /// The protocol version: 3.1, 3.1.1 (the default) or 5.0.
    #[must_use]
    pub fn protocol(mut self, version: ProtocolVersion) -> Self {
        self.version = version;
        self
    }

    /// The client identifier (default empty: a 5.0 server assigns one, a 3.1.1 server
    /// accepts it only with a clean session).
    #[must_use]
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = id.into();
        self
    }

    /// Clean Start (5.0) or Clean Session (3.x); default true. With 5.0 it applies to the
    /// first connection only: reconnections resume whatever the session expiry kept.
    #[must_use]
    pub fn clean_start(mut self, clean: bool) -> Self {
        self.clean_start = clean;
        self
    }

    /// The Session Expiry Interval in seconds (5.0; `u32::MAX` never expires). Without it
    /// a 5.0 session ends with its connection.
    #[must_use]
    pub fn session_expiry(mut self, secs: u32) -> Self {
        self.session_expiry = Some(secs);
        self
    }

    /// The keep alive (rounded up to whole seconds, at most 65,535; zero disables it).
    /// Default 60 s.
    #[must_use]
    pub fn keep_alive(mut self, keep_alive: Duration) -> Self {
        self.keep_alive = keep_alive;
        self
    }

    /// The user name.
    #[must_use]
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// The password (3.x needs a user name with it).
    #[must_use]
    pub fn password(mut self, password: impl Into<Bytes>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// The will message, published by the server if the connection ends without a
    /// normal DISCONNECT.
    #[must_use]
    pub fn will(
        mut self,
        topic: impl Into<String>,
        payload: impl Into<Bytes>,
        qos: QoS,
        retain: bool,
    ) -> Self {
        self.will = Some((topic.into(), payload.into(), qos, retain));
        self
    }

    /// The will's properties (5.0), for example its Will Delay Interval.
    #[must_use]
    pub fn will_properties(mut self, properties: WillProperties) -> Self {
        self.will_properties = properties;
        self
    }

    /// The Receive Maximum sent in CONNECT (5.0): how many QoS 1/2 messages the server may
    /// have unacknowledged towards this client.
    #[must_use]
    pub fn receive_maximum(mut self, max: u16) -> Self {
        self.receive_maximum = Some(max);
        self
    }

    /// The largest packet accepted from the server (sent in CONNECT with 5.0).
    #[must_use]
    pub fn max_packet_size(mut self, bytes: u32) -> Self {
        self.session.max_packet_size = bytes;
        self
    }

    /// The Topic Alias Maximum sent in CONNECT (5.0): how many aliases the server may use.
    #[must_use]
    pub fn topic_alias_maximum(mut self, max: u16) -> Self {
        self.topic_alias_maximum = Some(max);
        self
    }

    /// Adds a User Property to CONNECT (5.0).
    #[must_use]
    pub fn user_property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.user_properties.push((name.into(), value.into()));
        self
    }

    /// Limits of the connection: in-flight window, queue sizes, ping and CONNACK
    /// timeouts. Its `auto_ack` is replaced by [`manual_ack`](Self::manual_ack).
    #[must_use]
    pub fn connection_config(mut self, config: ClientConfig) -> Self {
        self.session = config;
        self
    }

    /// Reconnection after a lost connection: `Some` policy (the default is
    /// [`ReconnectPolicy::default`]) or `None` to stop the client instead.
    #[must_use]
    pub fn reconnect(mut self, policy: Option<ReconnectPolicy>) -> Self {
        self.reconnect = policy;
        self
    }

    /// Whether received QoS 1/2 messages are acknowledged only by
    /// [`Message::ack`](super::Message::ack) (default false: when received).
    #[must_use]
    pub fn manual_ack(mut self, manual: bool) -> Self {
        self.manual_ack = manual;
        self
    }

    /// How long opening the transport (TCP, TLS, WebSocket) may take. The CONNACK timeout
    /// is in [`connection_config`](Self::connection_config).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Size of the command queue from the handles to the connection task (default 1024).
    #[must_use]
    pub fn command_capacity(mut self, capacity: usize) -> Self {
        self.command_capacity = capacity;
        self
    }

    /// Size of the event channel (default 1024); when it is full the client stops reading
    /// from the server.
    #[must_use]
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity;
        self
    }

    /// Most publish, subscribe and unsubscribe requests held while disconnected (default
    /// 10,000); beyond it they fail with [`ClientError::QueueFull`](super::ClientError).
    #[must_use]
    pub fn offline_queue(mut self, max: usize) -> Self {
        self.max_pending = max;
        self
    }

    /// Starts the client, handing its connection task to `spawn` (which must run it to
    /// completion on some executor: `|task| smol::spawn(task).detach()`,
    /// `|task| drop(async_std::task::spawn(task))`, ...), and waits for the first
    /// connection. The first attempt is not retried: its failure is returned, so wrong
    /// addresses and credentials show at once. Later losses are handled by the
    /// reconnection policy.
    ///
    /// # Errors
    /// [`ConnectError`] for invalid options or a failed first connection.
    pub async fn connect_with(
        self,
        spawn: impl FnOnce(ClientTask),
    ) -> Result<(Client<R>, Events), ConnectError> {
        let (first, connected) = oneshot::channel();
        let (client, events) = self.start(spawn, Some(first))?;
        connected.await.unwrap_or(Err(ConnectError::ClientClosed))?;
        Ok((client, events))
    }

    /// As [`connect_with`](Self::connect_with), without waiting: the client connects in
    /// the background, retrying by the reconnection policy, and holds requests until it is
    /// connected.
    ///
    /// # Errors
    /// [`ConnectError::InvalidOptions`] for invalid options.
    pub fn spawn_with(
        self,
        spawn: impl FnOnce(ClientTask),
    ) -> Result<(Client<R>, Events), ConnectError> {
        self.start(spawn, None)
    }

    fn start(
        self,
        spawn: impl FnOnce(ClientTask),
        first: task::FirstAttempt,
    ) -> Result<(Client<R>, Events), ConnectError> {
        let connect = self.connect_packet()?;
        let seed = jitter_seed(&self.client_id, R::now());
        let mut session = self.session;
        session.auto_ack = !self.manual_ack;
        let opts = Options {
            session,
            backoff: self.reconnect.map(|policy| Backoff::new(policy, seed)),
            connect_timeout: self.connect_timeout,
            manual_ack: self.manual_ack,
            max_pending: self.max_pending,
        };
        // A `futures-channel` queue holds its buffer plus one message per sender.
        let (commands, command_rx) = mpsc::channel(self.command_capacity.max(1) - 1);
        let (event_tx, event_rx) = mpsc::channel(self.event_capacity.max(1) - 1);
        let driver = ClientDriver::new(opts, connect, command_rx, event_tx, first);
        spawn(task::boxed::<R>(driver, self.transport));
        let client = Client::new(commands, self.version);
        Ok((client, Events::new(event_rx)))
    }

    /// The CONNECT of the first connection, checked by encoding it.
    fn connect_packet(&self) -> Result<Connect, ConnectError> {
        let invalid = |what: &str, e: &dyn std::fmt::Display| {
            ConnectError::InvalidOptions(format!("{what}: {e}"))
        };
        let string = |what: &str, s: &str| MqttString::try_from(s).map_err(|e| invalid(what, &e));
        let v5 = self.version.is_v5();
        let mut connect = Connect::new(self.version, string("client id", &self.client_id)?);
        connect.clean_start = self.clean_start;
        // Rounded up: a keep alive under a second must not turn into "disabled".
        let keep_alive = self.keep_alive.as_secs() + u64::from(self.keep_alive.subsec_nanos() > 0);
        connect.keep_alive = u16::try_from(keep_alive)
            .map_err(|_| ConnectError::InvalidOptions("keep alive above 65,535 s".into()))?;
        connect.username = self
            .username
            .as_deref()
            .map(|u| string("user name", u))
            .transpose()?;
        connect.password.clone_from(&self.password);
        if let Some((topic, payload, qos, retain)) = &self.will {
            let topic = TopicName::new(string("will topic", topic)?)
                .map_err(|e| invalid("will topic", &e))?;
            connect.will = Some(Will {
                topic,
                payload: payload.clone(),
                qos: *qos,
                retain: *retain,
                properties: self.will_properties.clone(),
            });
        }
        let mut properties = ConnectProperties {
            session_expiry_interval: self.session_expiry,
            topic_alias_maximum: self.topic_alias_maximum,
            ..ConnectProperties::default()
        };
        if let Some(max) = self.receive_maximum {
            let max = NonZeroU16::new(max)
                .ok_or_else(|| ConnectError::InvalidOptions("receive maximum of 0".into()))?;
            properties.receive_maximum = Some(max);
        }
        for (name, value) in &self.user_properties {
            let pair = (
                string("user property", name)?,
                string("user property", value)?,
            );
            properties.user_properties.push(pair);
        }
        if !v5 && !properties.is_empty() {
            return Err(ConnectError::InvalidOptions(format!(
                "session expiry, receive maximum, topic alias maximum and user properties \
                 need MQTT 5.0, not {}",
                self.version
            )));
        }
        connect.properties = properties;
        Packet::from(connect.clone())
            .encoded_len(self.version)
            .map_err(|e| invalid("CONNECT", &e))?;
        Ok(connect)
    }
}

/// A seed for the reconnection jitter, so that clients cut off together do not reconnect
/// together: from the client identifier, the start time on the runtime's clock, and a count
/// of the clients started by this process (jitter needs no OS randomness).
fn jitter_seed(id: &str, now: Instant) -> u64 {
    static STARTED: AtomicU64 = AtomicU64::new(0);
    let mut hasher = DefaultHasher::new();
    (id, now, STARTED.fetch_add(1, Ordering::Relaxed)).hash(&mut hasher);
    hasher.finish()
}

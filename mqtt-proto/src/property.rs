//! MQTT 5.0 properties: identifiers, the one generic property-list reader, and the typed
//! property set of each packet.
//!
//! Each packet's property struct is declared once in [`properties!`]; the declaration
//! yields the struct, its decoder (which rejects properties the packet may not carry and
//! duplicates of properties that may appear only once) and its encoder.

use core::num::{NonZeroU16, NonZeroU32};

use bytes::Bytes;

use crate::codec::{Counter, Reader, Sink};
use crate::optbox::{EmptySet, OptBox};
use crate::{DecodeError, EncodeError, MqttString, QoS, TopicName};

macro_rules! property_ids {
    ($( $(#[$doc:meta])* $name:ident = $value:literal, )*) => {
        /// An MQTT 5.0 property identifier (MQTT 5.0 Table 2-4).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum PropertyId {
            $( $(#[$doc])* $name = $value, )*
        }

        impl PropertyId {
            /// The property for an identifier byte, if the specification defines one.
            #[must_use]
            pub const fn from_u8(v: u8) -> Option<Self> {
                match v {
                    $( $value => Some(Self::$name), )*
                    _ => None,
                }
            }
        }
    };
}

property_ids! {
    /// 0x01, Byte: the payload is UTF-8 (1) or unspecified bytes (0).
    PayloadFormatIndicator = 0x01,
    /// 0x02, Four Byte Integer: lifetime of the message in seconds.
    MessageExpiryInterval = 0x02,
    /// 0x03, UTF-8 String: content type of the payload.
    ContentType = 0x03,
    /// 0x08, UTF-8 String: topic name for a response.
    ResponseTopic = 0x08,
    /// 0x09, Binary Data: correlation data of a request/response.
    CorrelationData = 0x09,
    /// 0x0B, Variable Byte Integer: subscription identifier.
    SubscriptionIdentifier = 0x0B,
    /// 0x11, Four Byte Integer: session expiry interval in seconds.
    SessionExpiryInterval = 0x11,
    /// 0x12, UTF-8 String: client identifier assigned by the server.
    AssignedClientIdentifier = 0x12,
    /// 0x13, Two Byte Integer: keep alive the server requires.
    ServerKeepAlive = 0x13,
    /// 0x15, UTF-8 String: enhanced authentication method.
    AuthenticationMethod = 0x15,
    /// 0x16, Binary Data: enhanced authentication data.
    AuthenticationData = 0x16,
    /// 0x17, Byte: whether reason strings and user properties may be sent on failures.
    RequestProblemInformation = 0x17,
    /// 0x18, Four Byte Integer: delay before the will is published, in seconds.
    WillDelayInterval = 0x18,
    /// 0x19, Byte: whether the client wants Response Information in the CONNACK.
    RequestResponseInformation = 0x19,
    /// 0x1A, UTF-8 String: basis for response topics.
    ResponseInformation = 0x1A,
    /// 0x1C, UTF-8 String: another server to use.
    ServerReference = 0x1C,
    /// 0x1F, UTF-8 String: human-readable reason.
    ReasonString = 0x1F,
    /// 0x21, Two Byte Integer: how many QoS 1 and 2 publications may be in flight.
    ReceiveMaximum = 0x21,
    /// 0x22, Two Byte Integer: highest topic alias accepted.
    TopicAliasMaximum = 0x22,
    /// 0x23, Two Byte Integer: topic alias of a PUBLISH.
    TopicAlias = 0x23,
    /// 0x24, Byte: highest QoS the server supports.
    MaximumQoS = 0x24,
    /// 0x25, Byte: whether the server supports retained messages.
    RetainAvailable = 0x25,
    /// 0x26, UTF-8 String Pair: application-defined name and value.
    UserProperty = 0x26,
    /// 0x27, Four Byte Integer: largest packet the sender will accept.
    MaximumPacketSize = 0x27,
    /// 0x28, Byte: whether the server supports wildcard subscriptions.
    WildcardSubscriptionAvailable = 0x28,
    /// 0x29, Byte: whether the server supports subscription identifiers.
    SubscriptionIdentifierAvailable = 0x29,
    /// 0x2A, Byte: whether the server supports shared subscriptions.
    SharedSubscriptionAvailable = 0x2A,
}

/// A subscription identifier: 1 to 268,435,455 (MQTT 5.0 section 3.8.2.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionId(NonZeroU32);

impl SubscriptionId {
    /// The largest subscription identifier.
    pub const MAX: u32 = crate::codec::MAX_VAR_INT;

    /// The identifier for a value; `None` for 0 or above [`SubscriptionId::MAX`].
    #[must_use]
    pub const fn new(v: u32) -> Option<Self> {
        if v > Self::MAX {
            return None;
        }
        match NonZeroU32::new(v) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// The value.
    #[must_use]
    pub const fn get(self) -> u32 {
        self.0.get()
    }
}

/// A User Property: a name and value pair, in the order received.
pub type UserProperty = (MqttString, MqttString);

/// How one field type of a property struct is read and written.
pub(crate) trait PropField {
    /// Whether the property may appear more than once in one list.
    const REPEATABLE: bool = false;
    /// The field's value when the property is absent.
    const UNSET: Self;
    fn read(&mut self, id: PropertyId, r: &mut Reader) -> Result<(), DecodeError>;
    fn write<S: Sink>(&self, id: PropertyId, s: &mut S) -> Result<(), EncodeError>;
    fn is_unset(&self) -> bool;
}

// Every identifier is below 128, so its variable byte integer is one byte: the identifier
// and a fixed-size value go out as one slice.

#[inline]
fn put_id<S: Sink>(s: &mut S, id: PropertyId) {
    s.put_u8(id as u8);
}

/// The identifier and the two-byte length of a string of at most 65,535 bytes.
#[inline]
fn put_id_and_len<S: Sink>(s: &mut S, id: PropertyId, len: usize) {
    let [a, b] = (len as u16).to_be_bytes();
    s.put_slice(&[id as u8, a, b]);
}

/// Byte properties that are booleans: any value but 0 or 1 is a Protocol Error.
impl PropField for Option<bool> {
    const UNSET: Self = None;
    #[inline]
    fn read(&mut self, id: PropertyId, r: &mut Reader) -> Result<(), DecodeError> {
        *self = Some(match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(DecodeError::InvalidPropertyValue(id)),
        });
        Ok(())
    }
    #[inline]
    fn write<S: Sink>(&self, id: PropertyId, s: &mut S) -> Result<(), EncodeError> {
        if let Some(v) = *self {
            s.put_slice(&[id as u8, u8::from(v)]);
        }
        Ok(())
    }
    fn is_unset(&self) -> bool {
        self.is_none()
    }
}

/// Maximum QoS: 0 or 1; 2 is expressed by leaving the property out [MQTT-3.2.2-9].
impl PropField for Option<QoS> {
    const UNSET: Self = None;
    #[inline]
    fn read(&mut self, id: PropertyId, r: &mut Reader) -> Result<(), DecodeError> {
        *self = Some(match r.u8()? {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            _ => return Err(DecodeError::InvalidPropertyValue(id)),
        });
        Ok(())
    }
    #[inline]
    fn write<S: Sink>(&self, id: PropertyId, s: &mut S) -> Result<(), EncodeError> {
        match *self {
            None => Ok(()),
            Some(QoS::ExactlyOnce) => Err(EncodeError::InvalidValue("Maximum QoS 2")),
            Some(q) => {
                s.put_slice(&[id as u8, q.as_u8()]);
                Ok(())
            }
        }
    }
    fn is_unset(&self) -> bool {
        self.is_none()
    }
}

impl PropField for Option<u16> {
    const UNSET: Self = None;
    #[inline]
    fn read(&mut self, _: PropertyId, r: &mut Reader) -> Result<(), DecodeError> {
        *self = Some(r.u16()?);
        Ok(())
    }
    #[inline]
    fn write<S: Sink>(&self, id: PropertyId, s: &mut S) -> Result<(), EncodeError> {
        if let Some(v) = *self {
            let [a, b] = v.to_be_bytes();
            s.put_slice(&[id as u8, a, b]);
        }
        Ok(())
    }
    fn is_unset(&self) -> bool {
        self.is_none()
    }
}

/// Receive Maximum and Topic Alias may not be 0.
impl PropField for Option<NonZeroU16> {
    const UNSET: Self = None;
    #[inline]
    fn read(&mut self, id: PropertyId, r: &mut Reader) -> Result<(), DecodeError> {
        let v = NonZeroU16::new(r.u16()?).ok_or(match id {
            PropertyId::TopicAlias => DecodeError::TopicAliasZero,
            _ => DecodeError::InvalidPropertyValue(id),
        })?;
        *self = Some(v);
        Ok(())
    }
    #[inline]
    fn write<S: Sink>(&self, id: PropertyId, s: &mut S) -> Result<(), EncodeError> {
        if let Some(v) = *self {
            let [a, b] = v.get().to_be_bytes();
            s.put_slice(&[id as u8, a, b]);
        }
        Ok(())
    }
    fn is_unset(&self) -> bool {
        self.is_none()
    }
}

impl PropField for Option<u32> {
    const UNSET: Self = None;
    #[inline]
    fn read(&mut self, _: PropertyId, r: &mut Reader) -> Result<(), DecodeError> {
        *self = Some(r.u32()?);
        Ok(())
    }
    #[inline]
    fn write<S: Sink>(&self, id: PropertyId, s: &mut S) -> Result<(), EncodeError> {
        if let Some(v) = *self {
            let [a, b, c, d] = v.to_be_bytes();
            s.put_slice(&[id as u8, a, b, c, d]);
        }
        Ok(())
    }
    fn is_unset(&self) -> bool {
        self.is_none()
    }
}

/// Maximum Packet Size may not be 0.
impl PropField for Option<NonZeroU32> {
    const UNSET: Self = None;
    #[inline]
    fn read(&mut self, id: PropertyId, r: &mut Reader) -> Result<(), DecodeError> {
        *self = Some(NonZeroU32::new(r.u32()?).ok_or(DecodeError::InvalidPropertyValue(id))?);
        Ok(())
    }
    #[inline]
    fn write<S: Sink>(&self, id: PropertyId, s: &mut S) -> Result<(), EncodeError> {
        if let Some(v) = *self {
            let [a, b, c, d] = v.get().to_be_bytes();
            s.put_slice(&[id as u8, a, b, c, d]);
        }
        Ok(())
    }
    fn is_unset(&self) -> bool {
        self.is_none()
    }
}

impl PropField for Option<MqttString> {
    const UNSET: Self = None;
    #[inline]
    fn read(&mut self, _: PropertyId, r: &mut Reader) -> Result<(), DecodeError> {
        *self = Some(r.string()?);
        Ok(())
    }
    #[inline]
    fn write<S: Sink>(&self, id: PropertyId, s: &mut S) -> Result<(), EncodeError> {
        if let Some(v) = self {
            put_id_and_len(s, id, v.len());
            s.put_slice(v.as_bytes());
        }
        Ok(())
    }
    fn is_unset(&self) -> bool {
        self.is_none()
    }
}

/// Response Topic is a Topic Name: no wildcards [MQTT-3.3.2-14].
impl PropField for Option<TopicName> {
    const UNSET: Self = None;
    #[inline]
    fn read(&mut self, _: PropertyId, r: &mut Reader) -> Result<(), DecodeError> {
        let s = r.string()?;
        *self = Some(TopicName::new(s).map_err(DecodeError::InvalidTopicName)?);
        Ok(())
    }
    #[inline]
    fn write<S: Sink>(&self, id: PropertyId, s: &mut S) -> Result<(), EncodeError> {
        if let Some(v) = self {
            put_id_and_len(s, id, v.len());
            s.put_slice(v.as_mqtt_str().as_bytes());
        }
        Ok(())
    }
    fn is_unset(&self) -> bool {
        self.is_none()
    }
}

impl PropField for Option<Bytes> {
    const UNSET: Self = None;
    #[inline]
    fn read(&mut self, _: PropertyId, r: &mut Reader) -> Result<(), DecodeError> {
        *self = Some(r.binary()?);
        Ok(())
    }
    #[inline]
    fn write<S: Sink>(&self, id: PropertyId, s: &mut S) -> Result<(), EncodeError> {
        if let Some(v) = self {
            put_id(s, id);
            s.put_binary("binary property", v)?;
        }
        Ok(())
    }
    fn is_unset(&self) -> bool {
        self.is_none()
    }
}

fn read_subscription_id(id: PropertyId, r: &mut Reader) -> Result<SubscriptionId, DecodeError> {
    SubscriptionId::new(r.var_int()?).ok_or(DecodeError::InvalidPropertyValue(id))
}

/// A Subscription Identifier in SUBSCRIBE: at most one (MQTT 5.0 section 3.8.2.1.2).
impl PropField for Option<SubscriptionId> {
    const UNSET: Self = None;
    #[inline]
    fn read(&mut self, id: PropertyId, r: &mut Reader) -> Result<(), DecodeError> {
        *self = Some(read_subscription_id(id, r)?);
        Ok(())
    }
    #[inline]
    fn write<S: Sink>(&self, id: PropertyId, s: &mut S) -> Result<(), EncodeError> {
        if let Some(v) = *self {
            put_id(s, id);
            s.put_var_int(v.get())?;
        }
        Ok(())
    }
    fn is_unset(&self) -> bool {
        self.is_none()
    }
}

/// Subscription Identifiers in PUBLISH: one per matching subscription [MQTT-3.3.4-3].
impl PropField for Vec<SubscriptionId> {
    const UNSET: Self = Self::new();
    const REPEATABLE: bool = true;
    #[inline]
    fn read(&mut self, id: PropertyId, r: &mut Reader) -> Result<(), DecodeError> {
        self.push(read_subscription_id(id, r)?);
        Ok(())
    }
    #[inline]
    fn write<S: Sink>(&self, id: PropertyId, s: &mut S) -> Result<(), EncodeError> {
        for v in self {
            put_id(s, id);
            s.put_var_int(v.get())?;
        }
        Ok(())
    }
    fn is_unset(&self) -> bool {
        self.is_empty()
    }
}

/// User Properties may repeat, and keep their order [MQTT-3.1.3-10] [MQTT-3.3.2-18].
impl PropField for Vec<UserProperty> {
    const UNSET: Self = Self::new();
    const REPEATABLE: bool = true;
    #[inline]
    fn read(&mut self, _: PropertyId, r: &mut Reader) -> Result<(), DecodeError> {
        let k = r.string()?;
        let v = r.string()?;
        self.push((k, v));
        Ok(())
    }
    #[inline]
    fn write<S: Sink>(&self, id: PropertyId, s: &mut S) -> Result<(), EncodeError> {
        for (k, v) in self {
            put_id_and_len(s, id, k.len());
            s.put_slice(k.as_bytes());
            s.put_string(v);
        }
        Ok(())
    }
    fn is_unset(&self) -> bool {
        self.is_empty()
    }
}

/// Reads the property length; a length beyond the packet is caught by
/// [`Reader::with_limit`] before anything is read.
fn list_len(r: &mut Reader) -> Result<usize, DecodeError> {
    Ok(r.var_int()? as usize)
}

#[inline]
fn read_id(r: &mut Reader) -> Result<PropertyId, DecodeError> {
    let raw = r.var_int()?;
    u8::try_from(raw)
        .ok()
        .and_then(PropertyId::from_u8)
        .ok_or(DecodeError::UnknownProperty(raw))
}

#[inline]
fn read_field<F: PropField>(
    field: &mut F,
    id: PropertyId,
    r: &mut Reader,
    seen: &mut u64,
) -> Result<(), DecodeError> {
    let bit = 1u64 << (id as u8);
    if *seen & bit != 0 && !F::REPEATABLE {
        return Err(DecodeError::DuplicateProperty(id));
    }
    *seen |= bit;
    field.read(id, r)
}

/// A packet's property set, written by the code its [`properties!`] declaration generates.
pub(crate) trait PropertyList {
    fn write_fields<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError>;
}

/// Writes a property list: its length, then its properties. The length comes from the
/// same `write_fields` counting instead of writing.
#[inline]
pub(crate) fn write_list<S: Sink, P: PropertyList>(s: &mut S, p: &P) -> Result<(), EncodeError> {
    let mut c = Counter::default();
    p.write_fields(&mut c)?;
    s.put_var_int(u32::try_from(c.0).map_err(|_| EncodeError::PacketTooLarge)?)?;
    if S::COUNTS_ONLY {
        s.add_len(c.0);
        return Ok(());
    }
    p.write_fields(s)
}

/// Declares a packet's property struct: each field names the property it holds. The
/// declaration is the table of which properties the packet may carry (MQTT 5.0 Table 2-4).
macro_rules! properties {
    ($(#[$doc:meta])* $name:ident, $context:literal {
        $( $(#[$fdoc:meta])* $field:ident: $ty:ty = $id:ident, )*
    }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            $( $(#[$fdoc])* pub $field: $ty, )*
        }

        impl $name {
            /// Whether no property is set (the list encodes as a single zero byte).
            #[must_use]
            pub fn is_empty(&self) -> bool {
                true $( && PropField::is_unset(&self.$field) )*
            }

            #[allow(dead_code, reason = "each packet reads its list boxed or inline")]
            pub(crate) fn read(r: &mut Reader) -> Result<Self, DecodeError> {
                let mut this = Self::default();
                let len = list_len(r)?;
                r.with_limit(len, |p| this.read_fields(p))?;
                Ok(this)
            }

            /// Reads a property list, boxing it only when it is not empty.
            #[allow(dead_code, reason = "each packet reads its list boxed or inline")]
            pub(crate) fn read_boxed(r: &mut Reader) -> Result<OptBox<Self>, DecodeError> {
                let len = list_len(r)?;
                if len == 0 {
                    return Ok(OptBox::none());
                }
                let mut this = Box::<Self>::default();
                r.with_limit(len, |p| this.read_fields(p))?;
                Ok(OptBox::from_box(this))
            }

            fn read_fields(&mut self, p: &mut Reader) -> Result<(), DecodeError> {
                let mut seen = 0u64;
                while !p.is_empty() {
                    let id = read_id(p)?;
                    match id {
                        $( PropertyId::$id => read_field(&mut self.$field, id, p, &mut seen)?, )*
                        #[allow(unreachable_patterns)]
                        _ => return Err(DecodeError::PropertyNotAllowed { id, context: $context }),
                    }
                }
                Ok(())
            }
        }

        impl EmptySet for $name {
            fn empty() -> &'static Self {
                static EMPTY: $name = $name { $( $field: <$ty as PropField>::UNSET, )* };
                &EMPTY
            }
            fn is_empty_set(&self) -> bool {
                self.is_empty()
            }
        }

        impl PropertyList for $name {
            #[inline]
            fn write_fields<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
                $( PropField::write(&self.$field, PropertyId::$id, s)?; )*
                Ok(())
            }
        }
    };
}

properties! {
    /// CONNECT properties (MQTT 5.0 section 3.1.2.11).
    ConnectProperties, "CONNECT" {
        /// Seconds the session lives after the connection closes; absent means 0.
        session_expiry_interval: Option<u32> = SessionExpiryInterval,
        /// QoS 1 and 2 publications the client will process concurrently.
        receive_maximum: Option<NonZeroU16> = ReceiveMaximum,
        /// Largest packet the client accepts.
        maximum_packet_size: Option<NonZeroU32> = MaximumPacketSize,
        /// Highest topic alias the client accepts from the server.
        topic_alias_maximum: Option<u16> = TopicAliasMaximum,
        /// Whether the client asks for Response Information.
        request_response_information: Option<bool> = RequestResponseInformation,
        /// Whether the server may send reason strings and user properties on failures.
        request_problem_information: Option<bool> = RequestProblemInformation,
        /// User properties.
        user_properties: Vec<UserProperty> = UserProperty,
        /// Enhanced authentication method.
        authentication_method: Option<MqttString> = AuthenticationMethod,
        /// Enhanced authentication data.
        authentication_data: Option<Bytes> = AuthenticationData,
    }
}

properties! {
    /// Will properties (MQTT 5.0 section 3.1.3.2).
    WillProperties, "will properties" {
        /// Seconds to wait before publishing the will.
        will_delay_interval: Option<u32> = WillDelayInterval,
        /// Whether the will payload is UTF-8.
        payload_format_indicator: Option<bool> = PayloadFormatIndicator,
        /// Lifetime of the will message in seconds.
        message_expiry_interval: Option<u32> = MessageExpiryInterval,
        /// Content type of the will payload.
        content_type: Option<MqttString> = ContentType,
        /// Response topic of the will message.
        response_topic: Option<TopicName> = ResponseTopic,
        /// Correlation data of the will message.
        correlation_data: Option<Bytes> = CorrelationData,
        /// User properties.
        user_properties: Vec<UserProperty> = UserProperty,
    }
}

properties! {
    /// CONNACK properties (MQTT 5.0 section 3.2.2.3).
    ConnAckProperties, "CONNACK" {
        /// Session expiry interval the server uses, if it differs from the client's.
        session_expiry_interval: Option<u32> = SessionExpiryInterval,
        /// QoS 1 and 2 publications the server will process concurrently.
        receive_maximum: Option<NonZeroU16> = ReceiveMaximum,
        /// Highest QoS the server supports (absent means 2).
        maximum_qos: Option<QoS> = MaximumQoS,
        /// Whether the server supports retained messages (absent means yes).
        retain_available: Option<bool> = RetainAvailable,
        /// Largest packet the server accepts.
        maximum_packet_size: Option<NonZeroU32> = MaximumPacketSize,
        /// Client identifier assigned by the server for an empty one.
        assigned_client_identifier: Option<MqttString> = AssignedClientIdentifier,
        /// Highest topic alias the server accepts from the client.
        topic_alias_maximum: Option<u16> = TopicAliasMaximum,
        /// Human-readable reason.
        reason_string: Option<MqttString> = ReasonString,
        /// User properties.
        user_properties: Vec<UserProperty> = UserProperty,
        /// Whether wildcard subscriptions are supported (absent means yes).
        wildcard_subscription_available: Option<bool> = WildcardSubscriptionAvailable,
        /// Whether subscription identifiers are supported (absent means yes).
        subscription_identifiers_available: Option<bool> = SubscriptionIdentifierAvailable,
        /// Whether shared subscriptions are supported (absent means yes).
        shared_subscription_available: Option<bool> = SharedSubscriptionAvailable,
        /// Keep alive the client must use instead of its own.
        server_keep_alive: Option<u16> = ServerKeepAlive,
        /// Basis for creating response topics.
        response_information: Option<MqttString> = ResponseInformation,
        /// Another server the client should use.
        server_reference: Option<MqttString> = ServerReference,
        /// Enhanced authentication method.
        authentication_method: Option<MqttString> = AuthenticationMethod,
        /// Enhanced authentication data.
        authentication_data: Option<Bytes> = AuthenticationData,
    }
}

properties! {
    /// PUBLISH properties (MQTT 5.0 section 3.3.2.3).
    PublishProperties, "PUBLISH" {
        /// Whether the payload is UTF-8.
        payload_format_indicator: Option<bool> = PayloadFormatIndicator,
        /// Lifetime of the message in seconds.
        message_expiry_interval: Option<u32> = MessageExpiryInterval,
        /// Topic alias standing for (or being set to) the topic name.
        topic_alias: Option<NonZeroU16> = TopicAlias,
        /// Topic name for a response.
        response_topic: Option<TopicName> = ResponseTopic,
        /// Correlation data of a request/response.
        correlation_data: Option<Bytes> = CorrelationData,
        /// User properties, in order.
        user_properties: Vec<UserProperty> = UserProperty,
        /// Identifiers of the subscriptions this delivery matched (server to client).
        subscription_identifiers: Vec<SubscriptionId> = SubscriptionIdentifier,
        /// Content type of the payload.
        content_type: Option<MqttString> = ContentType,
    }
}

properties! {
    /// Properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK: a reason string
    /// and user properties.
    AckProperties, "acknowledgement" {
        /// Human-readable reason.
        reason_string: Option<MqttString> = ReasonString,
        /// User properties.
        user_properties: Vec<UserProperty> = UserProperty,
    }
}

properties! {
    /// SUBSCRIBE properties (MQTT 5.0 section 3.8.2.1).
    SubscribeProperties, "SUBSCRIBE" {
        /// Identifier sent back with every message this subscription delivers.
        subscription_identifier: Option<SubscriptionId> = SubscriptionIdentifier,
        /// User properties.
        user_properties: Vec<UserProperty> = UserProperty,
    }
}

properties! {
    /// UNSUBSCRIBE properties (MQTT 5.0 section 3.10.2.1).
    UnsubscribeProperties, "UNSUBSCRIBE" {
        /// User properties.
        user_properties: Vec<UserProperty> = UserProperty,
    }
}

properties! {
    /// DISCONNECT properties (MQTT 5.0 section 3.14.2.2).
    DisconnectProperties, "DISCONNECT" {
        /// New session expiry interval (client to server only).
        session_expiry_interval: Option<u32> = SessionExpiryInterval,
        /// Human-readable reason.
        reason_string: Option<MqttString> = ReasonString,
        /// User properties.
        user_properties: Vec<UserProperty> = UserProperty,
        /// Another server the client should use.
        server_reference: Option<MqttString> = ServerReference,
    }
}

properties! {
    /// AUTH properties (MQTT 5.0 section 3.15.2.2).
    AuthProperties, "AUTH" {
        /// Enhanced authentication method.
        authentication_method: Option<MqttString> = AuthenticationMethod,
        /// Enhanced authentication data.
        authentication_data: Option<Bytes> = AuthenticationData,
        /// Human-readable reason.
        reason_string: Option<MqttString> = ReasonString,
        /// User properties.
        user_properties: Vec<UserProperty> = UserProperty,
    }
}

#[cfg(test)]
mod tests;

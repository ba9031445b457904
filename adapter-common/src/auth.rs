//! Authentication of CONNECT packets, answered in the connection's own task so that a slow
//! lookup never holds up other clients.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use mqtt_proto::{Connect, ReasonCode};

use crate::config::ListenerKind;

/// What is known of a client when its CONNECT arrives.
#[derive(Debug, Clone)]
pub struct ClientInfo<'a> {
    /// The CONNECT (client identifier, user name, password, will, properties).
    pub connect: &'a Connect,
    /// The peer's address.
    pub peer: SocketAddr,
    /// The listener it came through.
    pub listener: ListenerKind,
    /// The subject Common Name of its verified TLS client certificate, if any.
    pub certificate_name: Option<&'a str>,
}

/// A boxed future answering an authentication request.
pub type AuthFuture<'a> = Pin<Box<dyn Future<Output = Result<(), ReasonCode>> + Send + 'a>>;

/// Decides whether a client may connect. `Err` carries the reason code of the refusal
/// (5.0 codes; 3.x clients get the matching CONNACK return code, e.g. 0x86 Bad User Name or
/// Password becomes 4 and 0x87 Not Authorized becomes 5).
pub trait Authenticator: Send + Sync + 'static {
    /// Answers one CONNECT. It may take its time: only this client waits.
    fn authenticate<'a>(&'a self, client: ClientInfo<'a>) -> AuthFuture<'a>;
}

/// Anonymous clients when allowed, and a fixed table of user names and passwords.
#[derive(Debug, Clone, Default)]
pub struct StaticUsers {
    allow_anonymous: bool,
    users: BTreeMap<String, String>,
}

impl StaticUsers {
    /// Allows anonymous clients or not, and `users` with their passwords.
    #[must_use]
    pub fn new(allow_anonymous: bool, users: BTreeMap<String, String>) -> Self {
        Self {
            allow_anonymous,
            users,
        }
    }

    /// Whether every client is accepted (the default configuration), so no lookup is needed.
    #[must_use]
    pub fn allows_everyone(&self) -> bool {
        self.allow_anonymous && self.users.is_empty()
    }

    fn check(&self, connect: &Connect) -> Result<(), ReasonCode> {
        match &connect.username {
            None if self.allow_anonymous => Ok(()),
            None => Err(ReasonCode::NotAuthorized),
            Some(name) => match self.users.get(&**name) {
                Some(password)
                    if connect
                        .password
                        .as_deref()
                        .is_some_and(|p| constant_time_eq(p, password.as_bytes())) =>
                {
                    Ok(())
                }
                // Unknown users are anonymous when anonymous clients are allowed.
                None if self.allow_anonymous && self.users.is_empty() => Ok(()),
                _ => Err(ReasonCode::BadUserNameOrPassword),
            },
        }
    }
}

impl Authenticator for StaticUsers {
    fn authenticate<'a>(&'a self, client: ClientInfo<'a>) -> AuthFuture<'a> {
        let answer = self.check(client.connect);
        Box::pin(async move { answer })
    }
}

/// Compares without stopping at the first difference, so the time taken does not tell how
/// much of a guessed password was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use mqtt_proto::MqttString;

    fn connect(user: Option<&str>, password: Option<&str>) -> Connect {
        let mut c = Connect::new(mqtt_proto::ProtocolVersion::V5, MqttString::default());
        c.username = user.map(|u| MqttString::try_from(u.to_owned()).unwrap());
        c.password = password.map(|p| Bytes::copy_from_slice(p.as_bytes()));
        c
    }

    #[test]
    fn users_need_their_password_and_anonymous_follows_the_switch() {
        let users = BTreeMap::from([("ann".to_owned(), "s3cret".to_owned())]);
        let open = StaticUsers::new(true, users.clone());
        assert_eq!(open.check(&connect(None, None)), Ok(()));
        assert_eq!(open.check(&connect(Some("ann"), Some("s3cret"))), Ok(()));
        assert_eq!(
            open.check(&connect(Some("ann"), Some("s3cres"))),
            Err(ReasonCode::BadUserNameOrPassword)
        );
        assert_eq!(
            open.check(&connect(Some("bob"), Some("x"))),
            Err(ReasonCode::BadUserNameOrPassword)
        );
        let closed = StaticUsers::new(false, users);
        assert_eq!(
            closed.check(&connect(None, None)),
            Err(ReasonCode::NotAuthorized)
        );
        assert!(StaticUsers::new(true, BTreeMap::new()).allows_everyone());
    }
}

//! TLS configuration from PEM files (rustls, ring provider): [`server_config`],
//! [`client_config`], and [`peer_identity`] for the client certificate and its Common Name.
//!
//! The same runtime-free code serves both adapters: this is `adapter_common::tls`, used here
//! with `futures-rustls`.

pub use adapter_common::tls::*;

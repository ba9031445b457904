//! TLS configuration from PEM files (rustls, ring provider).

//! The broker on tokio.

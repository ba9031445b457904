//! The broker's configuration.

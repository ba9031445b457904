//! The MQTT broker as a pure state machine.
//!
//! This crate will hold the broker: subscriptions (with wildcards and shared
//! subscriptions), retained messages, sessions and their offline queues, wills, `$SYS`
//! statistics, authorization decisions and persistence operations. It is driven by
//! `handle_*` inputs and drained through `poll_*` outputs, with time passed in, so it can be
//! embedded into any server and tested with a virtual clock.
#![forbid(unsafe_code)]

//! The loopback fixture server (being built).

//! The standard workloads (being built).

//! The compare program (being built).
fn main() {}

//! Criterion benchmarks of the ledger (filled in below).

fn main() {}

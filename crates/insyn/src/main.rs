//! The `insyn` command line.

fn main() {}

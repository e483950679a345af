//! Insyn's HTTP API for providers and inspectors.

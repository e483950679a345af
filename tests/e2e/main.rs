//! End-to-end tests that start the real `insyn` binary on 127.0.0.1 and use it as people would.

// The modules of a test binary are private to it; `pub` only shares helpers between them.
#![allow(unreachable_pub)]
// Helpers of a test binary fail the test by panicking when set-up goes wrong; that is their job.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod concurrency;
mod crash;
mod faults;
mod harness;
mod hostile;
mod payloads;
mod portal_keys;
mod ratelimit;
mod shutdown;
mod submissions;
mod tamper;
mod witness_push;

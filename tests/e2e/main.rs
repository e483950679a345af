//! End-to-end tests that start the real `insyn` binary.

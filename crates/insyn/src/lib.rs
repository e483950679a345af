//! The `insyn` command line and the composition of the server: configuration, start-up, and the
//! commands for operators, providers and inspectors. Logic that the library crates own stays there.

pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
pub mod inspect;
pub mod keyfile;
pub mod ops;
pub mod provider;

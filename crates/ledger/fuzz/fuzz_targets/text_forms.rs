//! Fuzz target: `insyn_ledger::fuzz::text_forms` (see that module for what it checks).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| insyn_ledger::fuzz::text_forms(data));

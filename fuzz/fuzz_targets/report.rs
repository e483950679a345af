//! Fuzz target: a provider's report JSON, as the API validates it: alone
//! (`validate_report`) and against a statement that names this payload (`validate_report_for`).
//! Neither may panic, and the two must agree on what is a valid report.

#![no_main]

use std::sync::OnceLock;

use insyn_domain::report::{validate_report, validate_report_for};
use insyn_ledger::entry::{Actor, Body, ContractRef, Statement};
use insyn_ledger::hash::sha256;
use insyn_ledger::keys::{KeyId, SigningKey};
use libfuzzer_sys::fuzz_target;

/// The statement's fixed parts: the example report's provider, contract and period.
fn parts() -> &'static (Actor, KeyId, ContractRef) {
    static P: OnceLock<(Actor, KeyId, ContractRef)> = OnceLock::new();
    P.get_or_init(|| {
        let provider = "5560360793".parse().expect("org number");
        let contract = ContractRef {
            municipality: "0180".parse().expect("municipality"),
            reference: "SOC-2025-017".parse().expect("reference"),
        };
        let key = SigningKey::from_seed(&[3; 32]).key_id();
        (Actor::Provider(provider), key, contract)
    })
}

fuzz_target!(|data: &[u8]| {
    let alone = validate_report(data);
    let (actor, key, contract) = parts();
    let period = alone
        .as_ref()
        .map_or_else(|_| "2026-03".parse(), |r| Ok(r.period));
    let Ok(period) = period else { return };
    let Ok(statement) = Statement::new(
        actor.clone(),
        *key,
        Body::ReportSubmitted {
            contract: contract.clone(),
            period,
        },
        Some(sha256(data)),
    ) else {
        return;
    };
    let against = validate_report_for(data, &statement);
    if against.is_ok() {
        assert!(alone.is_ok(), "valid for a statement but not on its own");
    }
});

//! What a submission's report costs the API before the sequencer sees it: `validate_report` on
//! the published example report (JSON parse, personal-number scan, JSON Schema, typed read,
//! business rules). Run with `cargo bench -p insyn-domain --bench report`.

use criterion::{Criterion, criterion_main};
use insyn_domain::report::{example_report_json, validate_report};

fn validate(c: &mut Criterion) {
    let bytes = example_report_json().as_bytes();
    assert!(
        validate_report(bytes).is_ok(),
        "the example report is valid"
    );
    c.bench_function("validate_report (example report)", |b| {
        b.iter(|| validate_report(std::hint::black_box(bytes)))
    });
}

/// The group, in a module of its own: `criterion_group!` makes an undocumented public function.
mod group {
    #![allow(missing_docs)]
    use super::validate;
    criterion::criterion_group!(benches, validate);
}

criterion_main!(group::benches);

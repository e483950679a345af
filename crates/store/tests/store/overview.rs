//! The overview's reads: a page of contracts' report versions, many payloads read and recorded at
//! once, and a municipality's monthly sums from `report_figures` (written at admission, filled
//! for older logs by the migration, gone with an erased payload).

use std::collections::BTreeMap;

use insyn_ledger::entry::{Actor, Body, ContractRef};
use insyn_ledger::id::Period;
use insyn_migrations::{Migrator, MigratorTrait};
use insyn_store::{
    Candidate, MAX_CONTRACTS, MonthFigures, Page, PayloadContent, PayloadReader, ReportFigures,
    Sequencer, Store, StoreError,
};

use crate::fixtures::{TestPolicy, World, period, registered, signed};
use crate::harness::{TestDb, down_through, on_each_db, sqlite_plan};

/// A report in the shape the migration reads (`costs_sek.total_invoiced`, `caseload.active`).
fn report(
    world: &World,
    contract: ContractRef,
    period: Period,
    supersedes: Option<u64>,
    figures: ReportFigures,
) -> Candidate {
    let payload = format!(
        r#"{{"contract":"{}","period":"{period}","costs_sek":{{"total_invoiced":{}}},"caseload":{{"active":{}}}}}"#,
        contract.reference.as_str(),
        figures.invoiced_sek,
        figures.active
    )
    .into_bytes();
    let body = match supersedes {
        None => Body::ReportSubmitted { contract, period },
        Some(s) => Body::ReportCorrected {
            contract,
            period,
            supersedes: s,
        },
    };
    signed(
        &Actor::Provider(world.provider),
        &world.provider_key,
        body,
        Some(payload),
    )
}

/// Three contracts over 2026-01..06 (figures from contract and month), then a correction of
/// contract 0's March. Returns the leaf indices by (contract, month) of the originals, and the
/// correction's.
async fn history(
    world: &World,
    seq: &Sequencer<TestPolicy>,
    with_figures: bool,
) -> (BTreeMap<(u32, u8), u64>, u64) {
    let mut leaves = BTreeMap::new();
    for c in 0..3u32 {
        for month in 1..=6u8 {
            let f = ReportFigures {
                invoiced_sek: u64::from(c) * 1000 + u64::from(month) * 10,
                active: c + u32::from(month),
            };
            let mut candidate = report(world, world.contract(c), period(2026, month), None, f);
            if with_figures {
                candidate = candidate.with_figures(f);
            }
            let receipt = seq.submit(candidate).await.expect("report").receipt;
            leaves.insert((c, month), receipt.index);
        }
    }
    let f = ReportFigures {
        invoiced_sek: 5,
        active: 100,
    };
    let mut candidate = report(
        world,
        world.contract(0),
        period(2026, 3),
        Some(leaves[&(0, 3)]),
        f,
    );
    if with_figures {
        candidate = candidate.with_figures(f);
    }
    let correction = seq
        .submit(candidate)
        .await
        .expect("correction")
        .receipt
        .index;
    (leaves, correction)
}

/// The sums the history above gives for 2026-02..05, the latest version of each month counted.
fn expected(skip_corrected_march: bool) -> Vec<(Period, MonthFigures)> {
    (2..=5u8)
        .map(|month| {
            let mut sum = MonthFigures::default();
            for c in 0..3u32 {
                let (invoiced, active) = if c == 0 && month == 3 {
                    if skip_corrected_march {
                        continue;
                    }
                    (5, 100)
                } else {
                    (
                        i64::from(c) * 1000 + i64::from(month) * 10,
                        i64::from(c + u32::from(month)),
                    )
                };
                sum.reports += 1;
                sum.invoiced_sek += invoiced;
                sum.active += active;
            }
            (period(2026, month), sum)
        })
        .collect()
}

#[tokio::test]
async fn monthly_figures_sum_each_months_latest_version_and_go_with_an_erased_payload() {
    on_each_db("figures", |t: TestDb| async move {
        let (world, store, seq) = registered(&t.url).await;
        let (_, correction) = history(&world, &seq, true).await;
        let m = world.municipality;
        let sums = store
            .monthly_figures(m, period(2026, 2), period(2026, 5))
            .await
            .expect("figures");
        assert_eq!(sums, expected(false), "{}", t.label);
        let other = "1480".parse().expect("Göteborg");
        assert!(
            store
                .monthly_figures(other, period(2026, 1), period(2026, 12))
                .await
                .expect("figures")
                .is_empty(),
            "{}: another municipality has none",
            t.label
        );

        // Erasing the correction's payload removes its figures; the month's latest version is
        // still the correction, so contract 0's March is no longer summed (as when its payload
        // cannot be read).
        let sha = store
            .entry(correction)
            .await
            .expect("entry")
            .expect("exists")
            .entry
            .statement()
            .payload_sha256()
            .expect("payload");
        assert!(
            store
                .erase_payload(&sha, "account:1", "court order")
                .await
                .expect("erase")
        );
        let sums = store
            .monthly_figures(m, period(2026, 2), period(2026, 5))
            .await
            .expect("figures");
        assert_eq!(sums, expected(true), "{}", t.label);
    })
    .await;
}

#[tokio::test]
async fn the_migration_fills_the_figures_of_reports_stored_before_it() {
    on_each_db("figures_backfill", |t: TestDb| async move {
        let (world, store, seq) = registered(&t.url).await;
        // Reports stored without figures, as before the migration.
        history(&world, &seq, false).await;
        let m = world.municipality;
        let window = (period(2026, 2), period(2026, 5));
        assert!(
            store
                .monthly_figures(m, window.0, window.1)
                .await
                .expect("figures")
                .is_empty()
        );
        // Undo the figures migration (and every one after it) and run them again over the stored
        // reports.
        down_through(store.connection(), "m20261202_000005_report_figures").await;
        Migrator::up(store.connection(), None).await.expect("up");
        let sums = store
            .monthly_figures(m, window.0, window.1)
            .await
            .expect("figures");
        assert_eq!(sums, expected(false), "{}", t.label);
    })
    .await;
}

#[tokio::test]
async fn a_page_of_contracts_gets_every_version_with_its_time_and_payload() {
    on_each_db("versions_in", |t: TestDb| async move {
        let (world, store, seq) = registered(&t.url).await;
        let (leaves, correction) = history(&world, &seq, true).await;
        let got = store
            .report_versions_in(
                &[world.contract(0), world.contract(2)],
                period(2026, 3),
                period(2026, 4),
            )
            .await
            .expect("versions");
        let mut want: Vec<u64> = vec![
            leaves[&(0, 3)],
            leaves[&(0, 4)],
            leaves[&(2, 3)],
            leaves[&(2, 4)],
            correction,
        ];
        want.sort_unstable();
        assert_eq!(
            got.iter().map(|v| v.record.index).collect::<Vec<_>>(),
            want,
            "{}: contract 1 and the months outside are left out",
            t.label
        );
        for v in &got {
            let entry = store
                .entry(v.record.index)
                .await
                .expect("entry")
                .expect("exists");
            assert_eq!(v.integrated_at_ms, entry.entry.integrated_at_ms());
            assert_eq!(v.payload, entry.entry.statement().payload_sha256());
        }
        let corrected = got
            .iter()
            .find(|v| v.record.index == correction)
            .expect("the correction");
        assert_eq!(corrected.record.supersedes, Some(leaves[&(0, 3)]));

        let too_many: Vec<ContractRef> = (0..=u32::try_from(MAX_CONTRACTS).expect("small"))
            .map(|n| world.contract(n))
            .collect();
        assert!(matches!(
            store
                .report_versions_in(&too_many, period(2026, 1), period(2026, 6))
                .await,
            Err(StoreError::InvalidInput(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn many_payloads_are_read_at_once_and_every_read_is_recorded() {
    on_each_db("read_payloads", |t: TestDb| async move {
        let (world, store, seq) = registered(&t.url).await;
        let (leaves, _) = history(&world, &seq, true).await;
        let mut hashes = Vec::new();
        let mut asked = Vec::new();
        for month in 1..=3u8 {
            let e = store
                .entry(leaves[&(1, month)])
                .await
                .expect("entry")
                .expect("exists");
            let sha = e.entry.statement().payload_sha256().expect("payload");
            hashes.push(sha);
            asked.push((e.index, sha));
        }
        let unknown = [9u8; 32];
        // Unknown; asked twice; and named by an entry that did not store it (found by hash).
        asked.push((asked[0].0, unknown));
        asked.push(asked[0]);
        asked.push((asked[1].0, hashes[2]));
        let reader = PayloadReader {
            who: "account:7".to_owned(),
            role: "auditor".to_owned(),
        };
        let got = store.read_payloads(&asked, &reader).await.expect("read");
        assert_eq!(got.len(), 3, "{}", t.label);
        assert!(!got.contains_key(&unknown));
        for h in &hashes {
            assert!(matches!(got.get(h), Some(PayloadContent::Present(b)) if !b.is_empty()));
            let reads = store
                .payload_reads(h, Page::first(10))
                .await
                .expect("reads");
            assert_eq!(reads.len(), 1, "{}: one recorded read per payload", t.label);
            assert_eq!(reads[0].reader, reader);
        }
        assert!(
            store
                .payload_reads(&unknown, Page::first(10))
                .await
                .expect("reads")
                .is_empty()
        );
    })
    .await;
}

/// Regression: with `report_index_version` replacing the index on (contract, period, idx),
/// SQLite answered "the latest version" (`MAX(idx)`) and "the versions in log order" (`ORDER BY
/// idx`) through the index on municipality and period, reading every report of the month for
/// each one: the monthly sums grew with the square of a municipality's contracts. Each lookup
/// must find one contract's versions by an index that names them.
#[tokio::test]
async fn report_lookups_by_contract_read_only_that_contracts_versions() {
    on_each_db("by_contract_plans", |t: TestDb| async move {
        let (world, store, seq) = registered(&t.url).await;
        let (_, correction) = history(&world, &seq, true).await;
        let db = store.connection();
        let backend = db.get_database_backend();
        // The answers, on both databases.
        let versions = store
            .report_versions(&world.contract(0), period(2026, 3))
            .await
            .expect("versions");
        assert_eq!(versions.len(), 2, "{}", t.label);
        assert_eq!(versions[1].index, correction, "{}: log order", t.label);
        if t.label == "postgres" {
            return;
        }
        let figures = Store::monthly_figures_statement(
            backend,
            world.municipality,
            period(2026, 1),
            period(2026, 6),
        );
        let plan = sqlite_plan(db, figures).await;
        // The line after each subquery's heading is its access path.
        let correlated: Vec<&String> = plan
            .windows(2)
            .filter(|w| w[0].starts_with("CORRELATED"))
            .map(|w| &w[1])
            .collect();
        assert!(!correlated.is_empty(), "a correlated lookup:\n{plan:#?}");
        for line in correlated {
            assert!(
                line.contains("report_index_supersedes (supersedes=?)"),
                "the latest version is not found by the version that supersedes it:\n{plan:#?}"
            );
        }
        let plan = sqlite_plan(
            db,
            Store::report_versions_statement(backend, &world.contract(0), period(2026, 3)),
        )
        .await;
        assert!(
            plan.iter().any(|l| l
                .contains("report_index_version (municipality=? AND period=? AND contract_ref=?)")),
            "the versions are not read by contract and period:\n{plan:#?}"
        );
        assert!(
            !plan.iter().any(|l| l.contains("TEMP B-TREE")),
            "the versions are sorted apart from the index:\n{plan:#?}"
        );
    })
    .await;
}

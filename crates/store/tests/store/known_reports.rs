//! `KnownReports`: the report versions the admission policy's report rules are answered from,
//! read from the database per batch. Correct on both databases, and on PostgreSQL an index lookup
//! per key even before the planner has statistics (a fresh, fast-growing log).

use insyn_ledger::entry::{Actor, Body};
use insyn_store::{KnownReports, Sequencer};
use sea_orm::{ConnectionTrait, Statement};
use tokio::task::JoinSet;

use crate::fixtures::{TestPolicy, World, period, registered, signed};
use crate::harness::{TestDb, on_each_db, pg_plan, sqlite_plan};

/// Reports 0..n, submitted concurrently so that they integrate in batches, as under load.
async fn submit_reports(world: &World, seq: &Sequencer<TestPolicy>, n: u32) {
    let mut tasks = JoinSet::new();
    for i in 0..n {
        let (seq, candidate) = (seq.clone(), world.report(i));
        tasks.spawn(async move { seq.submit(candidate).await.map(|_| ()) });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task").expect("accepted");
    }
}

#[tokio::test]
async fn report_versions_and_leaves_come_from_the_database() {
    on_each_db("known_reports", |t: TestDb| async move {
        let (world, store, seq) = registered(&t.url).await;
        // Contract 0 has periods 2020-01 .. 2029-12 (120 reports), contract 1 the first 80.
        submit_reports(&world, &seq, 200).await;
        let size = store.size().await.expect("size");
        let original = store
            .entries(0..size)
            .await
            .expect("entries")
            .into_iter()
            .find(|e| {
                matches!(e.entry.statement().body(),
                    Body::ReportSubmitted { contract, period: p }
                        if *contract == world.contract(1) && *p == period(2021, 3))
            })
            .expect("contract 1, 2021-03 was reported")
            .index;
        let correction = signed(
            &Actor::Provider(world.provider),
            &world.provider_key,
            Body::ReportCorrected {
                contract: world.contract(1),
                period: period(2021, 3),
                supersedes: original,
            },
            Some(br#"{"schema":1,"corrected":true}"#.to_vec()),
        );
        let corrected = seq
            .submit(correction)
            .await
            .expect("correction")
            .receipt
            .index;

        let asked = [
            Body::ReportSubmitted {
                contract: world.contract(0),
                period: period(2020, 1),
            },
            Body::ReportSubmitted {
                contract: world.contract(1),
                period: period(2021, 3),
            },
            Body::ReportSubmitted {
                contract: world.contract(1),
                period: period(2028, 1),
            },
            Body::ReportSubmitted {
                contract: world.contract(7),
                period: period(2020, 1),
            },
            Body::ReportCorrected {
                contract: world.contract(0),
                period: period(2020, 2),
                supersedes: corrected,
            },
            Body::ReportCorrected {
                contract: world.contract(0),
                period: period(2020, 2),
                supersedes: 0,
            },
        ];
        let known = KnownReports::load(store.connection(), asked.iter())
            .await
            .expect("load");
        let l = t.label;
        let v00 = known
            .versions(&world.contract(0), period(2020, 1))
            .expect("reported");
        assert_eq!(v00.0, v00.1, "{l}: an uncorrected report is its own latest");
        assert_eq!(
            known.versions(&world.contract(1), period(2021, 3)),
            Some((original, corrected)),
            "{l}: the original and the latest version"
        );
        assert_eq!(
            known.versions(&world.contract(1), period(2028, 1)),
            None,
            "{l}: contract 1 has no report for 2028-01"
        );
        assert_eq!(
            known.versions(&world.contract(7), period(2020, 1)),
            None,
            "{l}: no such contract"
        );
        assert_eq!(
            known.report_leaf(corrected),
            Some(&(world.contract(1), period(2021, 3))),
            "{l}: a correction is a report leaf"
        );
        assert_eq!(
            known.report_leaf(0),
            None,
            "{l}: entry 0 is the municipality's registration, not a report"
        );
    })
    .await;
}

/// Regression: written as a row-value `IN (…)`, PostgreSQL planned this query as a filter over
/// every report of the municipality while the table had no statistics yet, so each batch's
/// admission cost grew with the log (a 100-report batch took 63 ms to admit at 30,000 reports).
#[tokio::test]
async fn the_versions_query_reads_only_the_keys_it_asks_for() {
    on_each_db("versions_plan", |t: TestDb| async move {
        let (world, store, seq) = registered(&t.url).await;
        submit_reports(&world, &seq, 600).await;
        let keys: Vec<_> = (0..5u8)
            .map(|c| (world.contract(u32::from(c)), period(2024, c + 1)))
            .collect();
        let db = store.connection();
        let backend = db.get_database_backend();
        let built = KnownReports::versions_statement(backend, &keys).expect("keys");
        if t.label != "postgres" {
            // SQLite: each key is looked up in `report_index_version`. Regression: without being
            // told, SQLite's MIN/MAX optimisation chose the index on municipality and period and
            // read every report of the period (93 µs of admission per report at 300,000).
            let plan = sqlite_plan(db, built.clone()).await;
            let searches: Vec<&String> = plan.iter().filter(|l| l.contains(" r ")).collect();
            assert_eq!(searches.len(), 2, "two lookups per key:\n{plan:#?}");
            for line in searches {
                assert!(
                    line.contains(
                        "report_index_version (municipality=? AND period=? AND contract_ref=?"
                    ),
                    "a lookup does not use the version index by contract and period:\n{plan:#?}"
                );
            }
            // The same answer through the same statement.
            let rows = db.query_all_raw(built).await.expect("query");
            assert_eq!(rows.len(), keys.len(), "one row per key");
            for r in rows {
                let original: Option<i64> = r.try_get("", "original").expect("original");
                let latest: Option<i64> = r.try_get("", "latest").expect("latest");
                assert!(
                    original.is_some() && latest == original,
                    "every key was reported once"
                );
            }
            return;
        }
        let text = pg_plan(db, "ANALYZE, COSTS OFF", built).await;
        // Each key is found through an index on its municipality and period at least: what is
        // read for it is bounded by the reports of that period, never by the log. (The old
        // query filtered all 600 reports.)
        assert!(
            !text.contains("Seq Scan on report_index"),
            "the plan scans the whole report index:\n{text}"
        );
        for line in text.lines() {
            if let Some(n) = line.trim().strip_prefix("Rows Removed by Filter: ") {
                let n: u32 = n.trim().parse().expect("a count");
                assert!(
                    n < 10,
                    "the plan reads more reports than the keys' periods hold:\n{text}"
                );
            }
        }
    })
    .await;
}

/// On PostgreSQL the sequencer refreshes the planner's statistics as the log doubles, so a fresh
/// log under load does not run for a minute on plans made for an empty table (autovacuum's
/// round). Checked through `pg_stat_user_tables.last_analyze`, which only a manual `ANALYZE` sets.
#[tokio::test]
async fn postgres_statistics_are_refreshed_as_the_log_grows() {
    on_each_db("statistics", |t: TestDb| async move {
        let (world, store, seq) = registered(&t.url).await;
        submit_reports(&world, &seq, 1100).await;
        if t.label != "postgres" {
            return;
        }
        let db = store.connection();
        let analyzed = || async {
            db.query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT last_analyze IS NOT NULL AS done FROM pg_stat_user_tables \
                 WHERE relname = 'report_index'",
            ))
            .await
            .expect("statistics view")
            .map(|r| r.try_get::<bool>("", "done").expect("done"))
            .unwrap_or(false)
        };
        for _ in 0..100 {
            if analyzed().await {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("report_index was never analysed after the log passed 1,024 entries");
    })
    .await;
}

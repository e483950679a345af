//! Two `insyn serve` processes on one database, many concurrent submitters: indices must be
//! unique and contiguous, and every receipt must verify against the final checkpoint.

use std::collections::BTreeSet;

use insyn_ledger::entry::{Actor, Body, ContractRef};
use insyn_ledger::id::{Period, Sek};
use insyn_ledger::merkle::verify_inclusion;
use insyn_ledger::receipt::Receipt;

use crate::harness::{Db, Server, databases};
use crate::submissions::{Client, World, sign};

#[tokio::test]
async fn two_servers_on_one_database_never_share_an_index_nor_leave_a_gap() {
    for db in databases("two_servers") {
        let a = Client::start(&db).await;
        let w = World::register(&a).await;
        // A long contract, so there are enough distinct periods to report on concurrently.
        let contract = ContractRef {
            municipality: w.municipality,
            reference: "LONG-2010".parse().unwrap(),
        };
        a.must_submit(
            &sign(
                &w.municipality_key,
                Actor::Municipality(w.municipality),
                Body::ContractRegistered {
                    contract: contract.clone(),
                    provider: w.provider,
                    first: "2010-01".parse().unwrap(),
                    last: "2026-12".parse().unwrap(),
                    budget: Sek(50_000_000),
                },
                None,
            ),
            None,
        )
        .await;
        let before = a.size().await;

        // The second server: the same log key (copied data directory) and the same database.
        let dir_b = tempfile::tempdir().unwrap();
        std::fs::copy(
            a.server.data_dir.join("log.key"),
            dir_b.path().join("log.key"),
        )
        .unwrap();
        let b = match &db {
            Db::Sqlite => {
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    a.server.data_dir.join("insyn.sqlite3").display()
                );
                Server::start_in(dir_b.path(), &Db::Sqlite, &["--database-url", &url])
            }
            Db::Postgres(_) => Server::start_in(dir_b.path(), &db, &[]),
        };
        let b = Client::attach(b, a.log.clone());

        let periods: Vec<Period> = "2010-01"
            .parse::<Period>()
            .unwrap()
            .through("2026-10".parse().unwrap())
            .take(120)
            .collect();
        let mut tasks = Vec::new();
        for (i, period) in periods.iter().enumerate() {
            let mut v: serde_json::Value =
                serde_json::from_slice(&w.report(&period.to_string())).unwrap();
            v["contract"]["reference"] = serde_json::json!("LONG-2010");
            let report = serde_json::to_vec(&v).unwrap();
            let st = sign(
                &w.provider_key,
                Actor::Provider(w.provider),
                Body::ReportSubmitted {
                    contract: contract.clone(),
                    period: *period,
                },
                Some(&report),
            );
            let target = if i % 2 == 0 { a.handle() } else { b.handle() };
            tasks.push(tokio::spawn(async move {
                target.submit(&st, Some(&report)).await
            }));
        }
        let mut indices = BTreeSet::new();
        let mut receipts = Vec::new();
        for t in tasks {
            let (status, body) = t.await.unwrap();
            assert_eq!(status, 201, "{body:#}");
            let r = Receipt::from_json(&body.to_string()).unwrap();
            r.verify(&a.log).unwrap();
            assert!(indices.insert(r.index), "index {} was given twice", r.index);
            receipts.push(r);
        }
        let size = a.size().await;
        assert_eq!(size, before + periods.len() as u64, "{db:?}");
        assert_eq!(b.size().await, size, "both servers see the same log");
        let expected: BTreeSet<u64> = (before..size).collect();
        assert_eq!(
            indices, expected,
            "indices are contiguous: no gap, no duplicate"
        );

        // Every receipt's entry is in the final tree, at its index.
        let checkpoint = a
            .log
            .verify_checkpoint(a.checkpoint().await.as_bytes())
            .unwrap();
        assert_eq!(checkpoint.size(), size);
        for r in &receipts {
            let proof = a.inclusion(r.index, size).await;
            verify_inclusion(
                &proof,
                size,
                checkpoint.root(),
                r.index,
                r.entry.leaf_hash(),
            )
            .unwrap_or_else(|e| panic!("receipt {} is not in the final tree: {e}", r.index));
        }
    }
}

//! The append path: contiguous indices, receipts that verify, duplicates, refusals, catch-up,
//! two stores on one database, recovery after a failed transaction.

use std::collections::BTreeMap;

use insyn_ledger::entry::{Actor, Body};
use insyn_ledger::keys::SigningKey;
use insyn_ledger::merkle::verify_inclusion;
use insyn_ledger::receipt::Receipt;
use insyn_store::{
    Accepted, LEAF_LOOKUP, PAYLOAD_LOOKUP, Page, PayloadReader, ReportQuery, RunIndex, RunShape,
    Sequencer, SequencerConfig, Store, SubmitError,
};
use sea_orm::ConnectionTrait;

use crate::fixtures::{TestPolicy, World, signed, store};
use crate::harness::{TestDb, count, on_each_db, pg_plan, sqlite_plan};

async fn submit_all(
    seq: &Sequencer<TestPolicy>,
    candidates: Vec<insyn_store::Candidate>,
) -> Vec<Accepted> {
    let mut out = Vec::new();
    for c in candidates {
        out.push(seq.submit(c).await.expect("accepted"));
    }
    out
}

/// The paths of the stored full tiles, in order.
async fn full_tile_paths(store: &Store) -> Vec<String> {
    let db = store.connection();
    db.query_all_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        "SELECT path FROM full_tiles ORDER BY path",
    ))
    .await
    .expect("full tiles")
    .iter()
    .map(|r| r.try_get::<String>("", "path").expect("path"))
    .collect()
}

/// Every receipt verifies on its own, and against the final tree through the store's proofs.
async fn check_receipts(world: &World, store: &Store, receipts: &[Receipt], label: &str) {
    let size = store.size().await.expect("size");
    let latest = store
        .latest_checkpoint()
        .await
        .expect("checkpoint")
        .expect("some");
    assert_eq!(
        latest.size, size,
        "{label}: the latest checkpoint covers the whole log"
    );
    let cp = world
        .signer
        .verifier()
        .verify_checkpoint(latest.note.as_bytes())
        .expect("signed checkpoint");
    assert_eq!(store.root(size).await.expect("root"), cp.root(), "{label}");
    for r in receipts {
        r.verify(world.signer.verifier())
            .unwrap_or_else(|e| panic!("{label}: receipt {}: {e}", r.index));
        let proof = store.inclusion_proof(r.index, size).await.expect("proof");
        verify_inclusion(&proof, size, cp.root(), r.index, r.entry.leaf_hash())
            .expect("verifies against the final tree");
        let stored = store.entry(r.index).await.expect("read").expect("present");
        assert_eq!(
            stored.entry, r.entry,
            "{label}: the log holds the receipted entry at its index"
        );
        // The same proof when asked for by leaf hash.
        let by_hash = store
            .inclusion_proof_by_leaf_hash(&r.entry.leaf_hash(), size)
            .await
            .expect("lookup by leaf hash");
        assert_eq!(
            by_hash,
            Some((r.index, proof)),
            "{label}: entry {} found by its leaf hash",
            r.index
        );
        // Among the entries naming its payload, if it names one.
        if let Some(sha) = r.entry.statement().payload_sha256() {
            let naming = store.entries_with_payload(&sha).await.expect("naming");
            assert!(
                naming.iter().any(|e| e.index == r.index),
                "{label}: entry {} found by its payload's hash",
                r.index
            );
        }
    }
}

#[tokio::test]
async fn appends_are_contiguous_receipts_verify_tiles_and_proofs_match_memory() {
    on_each_db("contiguous", |t: TestDb| async move {
        let world = World::new();
        let (store, _clock) = store(&t.url).await;
        let seq = world.sequencer(&store).await;
        let mut receipts: Vec<Receipt> = submit_all(&seq, world.setup())
            .await
            .into_iter()
            .map(|a| a.receipt)
            .collect();
        // Many concurrent submitters, so batches really form.
        let mut tasks = Vec::new();
        for task in 0..8u32 {
            let seq = seq.clone();
            let reports: Vec<_> = (0..40).map(|i| world.report(task * 40 + i)).collect();
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::new();
                for r in reports {
                    out.push(seq.submit(r).await.expect("accepted").receipt);
                }
                out
            }));
        }
        for task in tasks {
            receipts.extend(task.await.expect("task"));
        }
        let mut indices: Vec<u64> = receipts.iter().map(|r| r.index).collect();
        indices.sort_unstable();
        assert_eq!(
            indices,
            (0..324).collect::<Vec<u64>>(),
            "{}: contiguous and unique",
            t.label
        );
        assert_eq!(store.size().await.expect("size"), 324);
        check_receipts(&world, &store, &receipts, t.label).await;

        // The report index and payloads came with the entries.
        let reports = store
            .reports(
                &ReportQuery {
                    provider: Some(world.provider),
                    ..Default::default()
                },
                Page::first(1000),
            )
            .await
            .expect("reports");
        assert_eq!(reports.len(), 320, "{}", t.label);
        let first = &receipts[4];
        let hash = first
            .entry
            .statement()
            .payload_sha256()
            .expect("payload hash");
        assert!(store.has_payload(&hash).await.expect("has"));
        // Entries' integration times never decrease.
        let entries = store.entries(0..324).await.expect("entries");
        assert!(
            entries
                .windows(2)
                .all(|w| w[0].entry.integrated_at_ms() <= w[1].entry.integrated_at_ms())
        );

        // The same log, read back: tiles equal an in-memory recomputation, proofs verify.
        crate::reads::check_tiles(&store, t.label).await;
        // The full tiles were stored by the appends that completed them (and `check_tiles` just
        // compared what is served, from those rows, with the tiles computed in memory).
        assert_eq!(
            full_tile_paths(&store).await,
            ["tile/0/000", "tile/entries/000"],
            "{}",
            t.label
        );
        crate::reads::check_proofs(&store, t.label).await;
        crate::reads::check_cosignatures(&store, t.label).await;
        crate::reads::check_reports(&store, &world, t.label).await;
    })
    .await;
}

#[tokio::test]
async fn a_duplicate_gets_the_same_receipt() {
    on_each_db("duplicate", |t: TestDb| async move {
        let world = World::new();
        let (store, _clock) = store(&t.url).await;
        let seq = world.sequencer(&store).await;
        submit_all(&seq, world.setup()).await;
        let first = seq.submit(world.report(0)).await.expect("first");
        assert!(!first.duplicate);
        let again = seq.submit(world.report(0)).await.expect("again");
        assert!(again.duplicate, "{}", t.label);
        assert_eq!(again.receipt.index, first.receipt.index);
        assert_eq!(
            again.receipt.entry, first.receipt.entry,
            "same integration time: the same entry"
        );
        again
            .receipt
            .verify(world.signer.verifier())
            .expect("verifies");
        // Twice in one batch: one entry.
        let (a, b) = tokio::join!(seq.submit(world.report(1)), seq.submit(world.report(1)));
        let (a, b) = (a.expect("a"), b.expect("b"));
        assert_eq!(a.receipt.index, b.receipt.index, "{}", t.label);
        assert!(a.duplicate != b.duplicate, "exactly one of them is new");
        assert_eq!(store.size().await.expect("size"), 6);
    })
    .await;
}

/// Reports and corrections are found by their place in the report index, every other kind by
/// its dedupe hash: each kind resubmitted gets its first receipt, and nothing is appended.
#[tokio::test]
async fn every_kind_resubmitted_gets_its_first_receipt() {
    on_each_db("resubmit_kinds", |t: TestDb| async move {
        let world = World::new();
        let (store, _clock) = store(&t.url).await;
        let seq = world.sequencer(&store).await;
        let setup = submit_all(&seq, world.setup()).await;
        let report = seq.submit(world.report(0)).await.expect("report");
        let correction = |supersedes: u64, n: u32| {
            signed(
                &Actor::Provider(world.provider),
                &world.provider_key,
                Body::ReportCorrected {
                    contract: world.contract(0),
                    period: crate::fixtures::period(2020, 1),
                    supersedes,
                },
                Some(format!(r#"{{"schema":1,"n":{n},"corrected":true}}"#).into_bytes()),
            )
        };
        let first = seq
            .submit(correction(report.receipt.index, 1))
            .await
            .expect("correction");
        let second = seq
            .submit(correction(first.receipt.index, 2))
            .await
            .expect("correction of the correction");
        assert!(!first.duplicate && !second.duplicate, "{}", t.label);
        let size = store.size().await.expect("size");

        let mut again = submit_all(&seq, world.setup()).await;
        again.push(seq.submit(world.report(0)).await.expect("report again"));
        again.push(
            seq.submit(correction(report.receipt.index, 1))
                .await
                .expect("correction again"),
        );
        again.push(
            seq.submit(correction(first.receipt.index, 2))
                .await
                .expect("second correction again"),
        );
        let before: Vec<&Accepted> = setup.iter().chain([&report, &first, &second]).collect();
        assert_eq!(again.len(), before.len());
        for (a, b) in again.iter().zip(before) {
            assert!(
                a.duplicate,
                "{}: entry {} resubmitted",
                t.label, b.receipt.index
            );
            assert_eq!(a.receipt.index, b.receipt.index, "{}", t.label);
            assert_eq!(a.receipt.entry, b.receipt.entry, "{}", t.label);
        }
        assert_eq!(store.size().await.expect("size"), size, "{}", t.label);

        // The same place with other bytes is no resubmission: the policy refuses it.
        let other = signed(
            &Actor::Provider(world.provider),
            &world.provider_key,
            Body::ReportSubmitted {
                contract: world.contract(0),
                period: crate::fixtures::period(2020, 1),
            },
            Some(br#"{"schema":1,"n":0,"other":true}"#.to_vec()),
        );
        match seq.submit(other).await {
            Err(SubmitError::Rejected(problems)) => {
                assert!(
                    problems.iter().any(|p| p.contains("already has a report")),
                    "{problems:?}"
                );
            }
            other => panic!("{}: a second original was not refused: {other:?}", t.label),
        }
        assert_eq!(store.size().await.expect("size"), size, "{}", t.label);
    })
    .await;
}

#[tokio::test]
async fn refused_candidates_store_nothing() {
    on_each_db("refused", |t: TestDb| async move {
        let world = World::new();
        let (store, _clock) = store(&t.url).await;
        let seq = world.sequencer(&store).await;
        submit_all(&seq, world.setup()).await;
        let before = store.size().await.expect("size");

        // A key the log never saw.
        let stranger = SigningKey::from_seed(&[9; 32]);
        let forged = signed(
            &Actor::Provider(world.provider),
            &stranger,
            Body::ReportSubmitted {
                contract: world.contract(0),
                period: "2020-01".parse().expect("period"),
            },
            Some(b"{\"forged\":true}".to_vec()),
        );
        let forged_hash = forged.signed().statement().payload_sha256().expect("hash");
        match seq.submit(forged).await {
            Err(SubmitError::Rejected(problems)) => assert!(!problems.is_empty(), "{}", t.label),
            other => panic!("{}: a forged report was not refused: {other:?}", t.label),
        }
        // The right key but a signature over different bytes.
        let good = world.report(7);
        let other = world.report(8);
        let tampered = insyn_store::Candidate::new(
            insyn_ledger::entry::SignedStatement::new(
                good.signed().statement().clone(),
                *other.signed().signature(),
            ),
            Some(format!(r#"{{"schema":1,"n":{},"active":12}}"#, 7).into_bytes()),
        )
        .expect("candidate");
        match seq.submit(tampered).await {
            Err(SubmitError::Rejected(problems)) => {
                assert!(
                    problems.iter().any(|p| p.contains("signature")),
                    "{}: {problems:?}",
                    t.label
                );
            }
            other => panic!("{}: a bad signature was not refused: {other:?}", t.label),
        }
        // A second original report for the same period (the policy's rule).
        seq.submit(world.report(3)).await.expect("first report");
        let dup_period = {
            let contract = world.contract(0);
            signed(
                &Actor::Provider(world.provider),
                &world.provider_key,
                Body::ReportSubmitted {
                    contract,
                    period: "2020-04".parse().expect("period"),
                },
                Some(b"{\"another\":1}".to_vec()),
            )
        };
        let dup_hash = dup_period
            .signed()
            .statement()
            .payload_sha256()
            .expect("hash");
        assert!(
            matches!(seq.submit(dup_period).await, Err(SubmitError::Rejected(_))),
            "{}",
            t.label
        );

        assert_eq!(
            store.size().await.expect("size"),
            before + 1,
            "{}: only the good report",
            t.label
        );
        assert!(
            !store.has_payload(&forged_hash).await.expect("has"),
            "{}",
            t.label
        );
        assert!(
            !store.has_payload(&dup_hash).await.expect("has"),
            "{}",
            t.label
        );
        let reports = store
            .reports(&ReportQuery::default(), Page::first(100))
            .await
            .expect("reports");
        assert_eq!(reports.len(), 1, "{}", t.label);
    })
    .await;
}

#[tokio::test]
async fn a_second_store_catches_up_with_the_first() {
    on_each_db("catch_up", |t: TestDb| async move {
        let world = World::new();
        let (a, _) = store(&t.url).await;
        let (b, _) = store(&t.url).await;
        let seq_a = world.sequencer(&a).await;
        let seq_b = world.sequencer(&b).await;
        // A registers everyone; B has never seen the provider's key.
        submit_all(&seq_a, world.setup()).await;
        let r = seq_b
            .submit(world.report(0))
            .await
            .expect("B caught up and admitted the report");
        assert_eq!(r.receipt.index, 4, "{}", t.label);
        let r = seq_a
            .submit(world.report(1))
            .await
            .expect("A caught up with B");
        assert_eq!(r.receipt.index, 5, "{}", t.label);
        // A learnt of B's report: resubmitting it through A is a duplicate, not a second entry.
        assert!(matches!(
            seq_a.submit(world.report(0)).await,
            Ok(Accepted {
                duplicate: true,
                ..
            })
        ));
        check_receipts(&world, &a, &[r.receipt], t.label).await;
    })
    .await;
}

#[tokio::test]
async fn two_stores_append_concurrently_without_gaps() {
    on_each_db("two_stores", |t: TestDb| async move {
        let world = World::new();
        let (a, _) = store(&t.url).await;
        let (b, _) = store(&t.url).await;
        let seq_a = world.sequencer(&a).await;
        let seq_b = world.sequencer(&b).await;
        submit_all(&seq_a, world.setup()).await;
        let mut tasks = Vec::new();
        for task in 0..16u32 {
            let seq = if task % 2 == 0 {
                seq_a.clone()
            } else {
                seq_b.clone()
            };
            let reports: Vec<_> = (0..10).map(|i| world.report(task * 10 + i)).collect();
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::new();
                for r in reports {
                    out.push(seq.submit(r).await.expect("accepted").receipt);
                }
                out
            }));
        }
        let mut receipts = Vec::new();
        for task in tasks {
            receipts.extend(task.await.expect("task"));
        }
        let by_index: BTreeMap<u64, &Receipt> = receipts.iter().map(|r| (r.index, r)).collect();
        assert_eq!(
            by_index.len(),
            receipts.len(),
            "{}: indices are unique",
            t.label
        );
        assert_eq!(
            by_index.keys().copied().collect::<Vec<_>>(),
            (4..164).collect::<Vec<u64>>(),
            "{}: no gap",
            t.label
        );
        check_receipts(&world, &a, &receipts, t.label).await;
        check_receipts(&world, &b, &receipts, t.label).await;
    })
    .await;
}

#[tokio::test]
async fn a_failed_transaction_stores_nothing_and_the_sequencer_recovers() {
    on_each_db("recovery", |t: TestDb| async move {
        let world = World::new();
        let (store, _) = store(&t.url).await;
        let seq = world.sequencer(&store).await;
        submit_all(&seq, world.setup()).await;
        let db = store.connection();
        // Simulate a failing disk: the checkpoint insert, the last write of the batch, fails.
        let (install, remove) = if t.label == "postgres" {
            (
                "CREATE FUNCTION fail_cp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'simulated disk full'; END $$; \
                 CREATE TRIGGER fail_cp BEFORE INSERT ON checkpoints FOR EACH ROW EXECUTE FUNCTION fail_cp();",
                "DROP TRIGGER fail_cp ON checkpoints",
            )
        } else {
            (
                "CREATE TRIGGER fail_cp BEFORE INSERT ON checkpoints BEGIN SELECT RAISE(ABORT, 'simulated disk full'); END",
                "DROP TRIGGER fail_cp",
            )
        };
        db.execute_unprepared(install).await.expect("install failure");
        match seq.submit(world.report(0)).await {
            Err(SubmitError::Unavailable(msg)) => assert!(msg.contains("simulated"), "{}: {msg}", t.label),
            other => panic!("{}: expected unavailable, got {other:?}", t.label),
        }
        assert_eq!(store.size().await.expect("size"), 4, "{}: nothing of the batch was stored", t.label);
        assert_eq!(store.latest_checkpoint().await.expect("cp").expect("some").size, 4);
        db.execute_unprepared(remove).await.expect("remove failure");
        let r = seq.submit(world.report(0)).await.expect("recovered");
        assert_eq!(r.receipt.index, 4, "{}: no gap after the failure", t.label);
        let r2 = seq.submit(world.report(1)).await.expect("still fine");
        assert_eq!(r2.receipt.index, 5);
        check_receipts(&world, &store, &[r.receipt, r2.receipt], t.label).await;
    })
    .await;
}

#[tokio::test]
async fn payload_reads_are_recorded_and_erasure_leaves_a_tombstone() {
    on_each_db("payloads", |t: TestDb| async move {
        let world = World::new();
        let (store, clock) = store(&t.url).await;
        let seq = world.sequencer(&store).await;
        submit_all(&seq, world.setup()).await;
        let r = seq.submit(world.report(0)).await.expect("report");
        let hash = r.receipt.entry.statement().payload_sha256().expect("hash");
        let reader = PayloadReader { who: "account:7".to_owned(), role: "auditor".to_owned() };
        let content = store.read_payload(&hash, &reader).await.expect("read").expect("present");
        assert!(matches!(content, insyn_store::PayloadContent::Present(ref b) if b.starts_with(b"{\"schema\":1")));
        clock.advance(1000);
        assert!(store.erase_payload(&hash, "account:1", "court order 2026:17").await.expect("erase"));
        assert!(!store.erase_payload(&hash, "account:1", "again").await.expect("erase twice"));
        let content = store.read_payload(&hash, &reader).await.expect("read").expect("tombstone");
        assert!(matches!(content, insyn_store::PayloadContent::Erased { ref reason, .. } if reason == "court order 2026:17"), "{}", t.label);
        let reads = store.payload_reads(&hash, Page::first(10)).await.expect("reads");
        assert_eq!(reads.len(), 2, "{}: both reads recorded", t.label);
        assert_eq!(reads[0].reader, reader);
        assert!(reads[0].at_ms < reads[1].at_ms);
        // The entry still verifies after erasure.
        r.receipt.verify(world.signer.verifier()).expect("verifies");
        assert!(store.read_payload(&[0; 32], &reader).await.expect("read").is_none());
    })
    .await;
}

/// Full tiles are stored by whichever sequencer completes them, from memory or, after a restart
/// or another writer's appends, from the database, and are the same bytes as the tiles computed
/// from the leaves alone.
#[tokio::test]
async fn full_tiles_are_stored_by_whoever_completes_them() {
    on_each_db("full_tiles", |t: TestDb| async move {
        let world = World::new();
        let (a, _) = store(&t.url).await;
        let (b, _) = store(&t.url).await;
        let seq_a = world.sequencer(&a).await;
        submit_all(&seq_a, world.setup()).await;
        let batch = |seq: &Sequencer<TestPolicy>, from: u32, n: u32| {
            let seq = seq.clone();
            let reports: Vec<_> = (from..from + n).map(|i| world.report(i)).collect();
            async move {
                let mut tasks = Vec::new();
                for chunk in reports.chunks(25) {
                    let seq = seq.clone();
                    let chunk = chunk.to_vec();
                    tasks.push(tokio::spawn(async move {
                        for r in chunk {
                            seq.submit(r).await.expect("accepted");
                        }
                    }));
                }
                for task in tasks {
                    task.await.expect("task");
                }
            }
        };
        // A appends into the first tile; B, started afterwards, knows none of its entries in
        // memory and completes tiles 0 and 1; A, after B's appends, completes tile 2.
        batch(&seq_a, 0, 200).await;
        let seq_b = world.sequencer(&b).await;
        batch(&seq_b, 200, 300).await;
        batch(&seq_a, 500, 300).await;
        assert_eq!(a.size().await.expect("size"), 804, "{}", t.label);
        crate::reads::check_tiles(&a, t.label).await;
        assert_eq!(
            full_tile_paths(&a).await,
            [
                "tile/0/000",
                "tile/0/001",
                "tile/0/002",
                "tile/entries/000",
                "tile/entries/001",
                "tile/entries/002"
            ],
            "{}",
            t.label
        );
    })
    .await;
}

/// A report for contract `c` and `period` naming `bytes` as its payload, with or without sending
/// them, carrying figures.
fn naming(
    world: &World,
    c: u32,
    period: insyn_ledger::id::Period,
    bytes: &[u8],
    send: bool,
) -> insyn_store::Candidate {
    let st = insyn_ledger::entry::Statement::build_and_sign(
        Actor::Provider(world.provider),
        Body::ReportSubmitted {
            contract: world.contract(c),
            period,
        },
        Some(insyn_ledger::hash::sha256(bytes)),
        &world.provider_key,
    )
    .expect("statement");
    insyn_store::Candidate::new(st, send.then(|| bytes.to_vec()))
        .expect("candidate")
        .with_figures(insyn_store::ReportFigures {
            invoiced_sek: 1000,
            active: 3,
        })
}

#[tokio::test]
async fn every_entry_naming_a_payload_is_found_and_erasure_reaches_them_all() {
    on_each_db("payload_carriers", |t: TestDb| async move {
        let world = World::new();
        let (store, _clock) = store(&t.url).await;
        let seq = world.sequencer(&store).await;
        submit_all(&seq, world.setup()).await;
        let p = |m| crate::fixtures::period(2024, m);
        let same = br#"{"schema":1,"identical":true}"#;
        let first = seq
            .submit(naming(&world, 0, p(1), same, true))
            .await
            .expect("first")
            .receipt
            .index;
        // The same bytes again, in one batch with a report that names them without sending them.
        let (again, unsent) = tokio::join!(
            seq.submit(naming(&world, 1, p(1), same, true)),
            seq.submit(naming(&world, 2, p(1), same, false)),
        );
        let (again, unsent) = (
            again.expect("again").receipt.index,
            unsent.expect("unsent").receipt.index,
        );
        // A payload named before its bytes arrive.
        let later = br#"{"schema":1,"later":true}"#;
        let before = seq
            .submit(naming(&world, 0, p(2), later, false))
            .await
            .expect("before")
            .receipt
            .index;
        let with = seq
            .submit(naming(&world, 1, p(2), later, true))
            .await
            .expect("with")
            .receipt
            .index;

        let hash = insyn_ledger::hash::sha256(same);
        let found: Vec<u64> = store
            .entries_with_payload(&hash)
            .await
            .expect("naming")
            .iter()
            .map(|e| e.index)
            .collect();
        let mut expected = vec![first, again, unsent];
        expected.sort_unstable();
        assert_eq!(found, expected, "{}", t.label);
        let found: Vec<u64> = store
            .entries_with_payload(&insyn_ledger::hash::sha256(later))
            .await
            .expect("naming")
            .iter()
            .map(|e| e.index)
            .collect();
        assert_eq!(found, vec![before, with], "{}", t.label);
        if t.label == "sqlite" {
            // Found by keys, never by reading the entries: there is no index of them by payload.
            let db = store.connection();
            let st = Store::entries_with_payload_statement(db.get_database_backend(), &hash);
            let plan = sqlite_plan(db, st).await;
            for wanted in [
                "SEARCH entries USING INTEGER PRIMARY KEY (rowid=?)",
                "SEARCH payload_lookup USING PRIMARY KEY (run=? AND sha256=?)",
                "SEARCH payload_carriers USING COVERING INDEX payload_carriers_hash (payload_hash=?)",
            ] {
                assert!(plan.iter().any(|l| l.contains(wanted)), "{wanted}:\n{plan:#?}");
            }
            assert!(
                !plan.iter().any(|l| l.starts_with("SCAN") && !l.contains("payload_runs")),
                "a scan of anything but the runs:\n{plan:#?}"
            );
        }

        // Every entry that brought the bytes stored a copy of its own (no lookup by hash on the
        // append path); the ones that named them without bringing them are carriers.
        let db = store.connection();
        for i in [first, again, with] {
            assert_eq!(count(db, "payloads", &format!("idx = {i}")).await, 1, "{}: {i}", t.label);
        }
        for i in [unsent, before] {
            assert_eq!(count(db, "payloads", &format!("idx = {i}")).await, 0, "{}: {i}", t.label);
            assert_eq!(
                count(db, "payload_carriers", &format!("idx = {i}")).await,
                1,
                "{}: {i}",
                t.label
            );
        }
        assert_eq!(
            count(db, "payloads", "1 = 1").await,
            1 + 3,
            "{}: the setup's profile and the three",
            t.label
        );
        let reader = PayloadReader {
            who: "account:7".to_owned(),
            role: "inspector".to_owned(),
        };
        let content = store
            .read_payload(&hash, &reader)
            .await
            .expect("read")
            .expect("stored");
        assert!(matches!(content, insyn_store::PayloadContent::Present(ref b) if b == same));

        // Erasing the payload takes the figures of every report that named it.
        let figures = |i: u64| format!("idx = {i}");
        for i in [first, again, unsent, before, with] {
            assert_eq!(
                count(db, "report_figures", &figures(i)).await,
                1,
                "{}",
                t.label
            );
        }
        assert!(
            store
                .erase_payload(&hash, "account:1", "court order")
                .await
                .expect("erase")
        );
        for i in [first, again, unsent] {
            assert_eq!(
                count(db, "report_figures", &figures(i)).await,
                0,
                "{}: {i}",
                t.label
            );
        }
        for i in [before, with] {
            assert_eq!(
                count(db, "report_figures", &figures(i)).await,
                1,
                "{}: {i}",
                t.label
            );
        }
        // Both copies are erased, and the other payload's copy is not.
        let erased = "erased_at IS NOT NULL AND bytes IS NULL";
        for i in [first, again] {
            let row = format!("idx = {i} AND {erased}");
            assert_eq!(count(db, "payloads", &row).await, 1, "{}: {i}", t.label);
        }
        assert_eq!(count(db, "payloads", erased).await, 2, "{}", t.label);

        // The erased bytes brought again are not stored again: the entry is a carrier, and the
        // payload reads as erased.
        let after = seq
            .submit(naming(&world, 0, p(3), same, true))
            .await
            .expect("after")
            .receipt
            .index;
        assert_eq!(count(db, "payloads", &format!("idx = {after}")).await, 0, "{}", t.label);
        assert_eq!(
            count(db, "payload_carriers", &format!("idx = {after}")).await,
            1,
            "{}",
            t.label
        );
        let content = store
            .read_payload(&hash, &reader)
            .await
            .expect("read")
            .expect("tombstone");
        assert!(
            matches!(content, insyn_store::PayloadContent::Erased { ref reason, .. } if reason == "court order"),
            "{}",
            t.label
        );
        let named = store.entries_with_payload(&hash).await.expect("naming");
        assert!(named.iter().any(|e| e.index == after), "{}", t.label);
        assert!(
            !store
                .erase_payload(&hash, "account:1", "again")
                .await
                .expect("erase again"),
            "{}: nothing left to erase",
            t.label
        );
    })
    .await;
}

/// Receipts of `candidates` submitted by `tasks` concurrent submitters (bigger batches).
async fn submit_concurrently(
    seq: &Sequencer<TestPolicy>,
    candidates: Vec<insyn_store::Candidate>,
    tasks: usize,
) -> Vec<Receipt> {
    let mut shares: Vec<Vec<insyn_store::Candidate>> = (0..tasks).map(|_| Vec::new()).collect();
    for (i, c) in candidates.into_iter().enumerate() {
        shares[i % tasks].push(c);
    }
    let handles: Vec<_> = shares
        .into_iter()
        .map(|share| {
            let seq = seq.clone();
            tokio::spawn(async move { submit_all(&seq, share).await })
        })
        .collect();
    let mut out = Vec::new();
    for h in handles {
        out.extend(h.await.expect("task").into_iter().map(|a| a.receipt));
    }
    out
}

#[tokio::test]
async fn lookups_by_leaf_hash_find_every_entry_through_merged_runs() {
    on_each_db("leaf_runs", |t: TestDb| async move {
        let world = World::new();
        let (store, _) = store(&t.url).await;
        // Fanout 2: runs merge at every doubling, so a few dozen entries reach the final level.
        let shape = RunShape {
            fanout: 2,
            final_level: 3,
        };
        let config = SequencerConfig {
            runs: shape,
            ..SequencerConfig::default()
        };
        let seq = world.sequencer_with(&store, config).await;
        let mut receipts: Vec<Receipt> = submit_all(&seq, world.setup())
            .await
            .into_iter()
            .map(|a| a.receipt)
            .collect();
        // One at a time (runs of one entry), then concurrently (runs of several).
        let one_by_one = (0..20).map(|i| world.report(i)).collect();
        receipts.extend(
            submit_all(&seq, one_by_one)
                .await
                .into_iter()
                .map(|a| a.receipt),
        );
        let together = (20..60).map(|i| world.report(i)).collect();
        receipts.extend(submit_concurrently(&seq, together, 8).await);
        assert_eq!(receipts.len(), 64, "{}", t.label);
        check_receipts(&world, &store, &receipts, t.label).await;
        for r in &receipts {
            let found = store
                .entry_by_leaf_hash(&r.entry.leaf_hash())
                .await
                .expect("lookup")
                .expect("found");
            assert_eq!(found.index, r.index, "{}", t.label);
        }
        let unknown = insyn_ledger::hash::Hash([7; 32]);
        assert!(
            store
                .entry_by_leaf_hash(&unknown)
                .await
                .expect("lookup")
                .is_none()
        );

        // Every entry is in exactly one run of the leaf-hash lookup, every stored payload in
        // one of the payload-hash lookup; no open level holds `fanout` runs; runs were merged up
        // to the final level.
        let db = store.connection();
        let payloads = count(db, "payloads", "1 = 1").await;
        assert_eq!(
            payloads, 61,
            "{}: the setup's profile and 60 reports",
            t.label
        );
        assert_runs(db, LEAF_LOOKUP, 64, t.label).await;
        assert_runs(db, PAYLOAD_LOOKUP, payloads, t.label).await;
        // A restarted sequencer reads the runs back and goes on merging them.
        drop(seq);
        let seq = world.sequencer_with(&store, config).await;
        let more = submit_concurrently(&seq, (60..70).map(|i| world.report(i)).collect(), 4).await;
        check_receipts(&world, &store, &more, t.label).await;
        check_receipts(&world, &store, &receipts, t.label).await;
        assert_eq!(count(db, "leaf_lookup", "1 = 1").await, 74, "{}", t.label);
        assert_eq!(
            count(db, "payload_lookup", "1 = 1").await,
            71,
            "{}",
            t.label
        );
    })
    .await;
}

/// `rows` rows in `index`'s lookup, each source row in exactly one run, every run's size right,
/// fewer than two runs (the test's fanout) on each open level, and some run at the final level.
async fn assert_runs(db: &impl ConnectionTrait, index: RunIndex, rows: i64, label: &str) {
    let (lookup, runs) = (index.lookup_table(), index.runs_table());
    assert_eq!(count(db, lookup, "1 = 1").await, rows, "{label}: {lookup}");
    assert_eq!(
        count(
            db,
            &format!("(SELECT DISTINCT idx FROM {lookup}) AS d"),
            "1 = 1"
        )
        .await,
        rows,
        "{label}: {lookup}"
    );
    let sizes = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!("SELECT CAST(SUM(size) AS BIGINT) AS n FROM {runs}"),
        ))
        .await
        .expect("sum")
        .expect("row");
    assert_eq!(
        sizes.try_get::<i64>("", "n").expect("n"),
        rows,
        "{label}: {runs}"
    );
    for level in 0..3 {
        let open = count(db, runs, &format!("level = {level}")).await;
        assert!(open < 2, "{label}: {open} runs at level {level} of {runs}");
    }
    assert!(
        count(db, runs, "level = 3").await >= 1,
        "{label}: the runs of {runs} reached the final level"
    );
}

#[tokio::test]
async fn a_lookup_by_hash_seeks_each_run_by_its_key() {
    on_each_db("runs_plan", |t: TestDb| async move {
        let (store, _) = store(&t.url).await;
        let db = store.connection();
        let backend = db.get_database_backend();
        for index in [LEAF_LOOKUP, PAYLOAD_LOOKUP] {
            let (lookup, runs, key) = (index.lookup_table(), index.runs_table(), index.key_column());
            // Fifty runs of 1,000 hashes, as a long log leaves them.
            let fill = match backend {
                sea_orm::DbBackend::Postgres => format!(
                    "INSERT INTO {lookup} (run, {key}, idx) \
                     SELECT g / 1000 + 1, sha256(int8send(g)), g FROM generate_series(0, 49999) g"
                ),
                _ => format!(
                    "WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < 49999) \
                     INSERT INTO {lookup} (run, {key}, idx) \
                     SELECT n / 1000 + 1, randomblob(32), n FROM g"
                ),
            };
            db.execute_unprepared(&fill).await.expect("hashes");
            db.execute_unprepared(&format!(
                "INSERT INTO {runs} (id, level, size) SELECT DISTINCT run, 3, 1000 FROM {lookup}"
            ))
            .await
            .expect("runs");
            db.execute_unprepared("ANALYZE").await.expect("analyze");
            let statement = insyn_store::run_lookup_statement(backend, index, &[1; 32]);
            match backend {
                sea_orm::DbBackend::Postgres => {
                    let plan = pg_plan(db, "", statement).await;
                    assert!(plan.contains("Nested Loop"), "{plan}");
                    assert!(plan.contains("Index"), "{plan}");
                    assert!(!plan.contains(&format!("Seq Scan on {lookup}")), "{plan}");
                }
                _ => {
                    let plan = sqlite_plan(db, statement).await;
                    // The runs outside (SQLite writes "SCAN r" or "SEARCH r" for its rowid table).
                    assert_eq!(plan.len(), 2, "{plan:?}");
                    assert!(plan[0].ends_with(" r"), "the runs outside: {plan:?}");
                    assert_eq!(
                        plan[1],
                        format!("SEARCH l USING PRIMARY KEY (run=? AND {key}=?)"),
                        "one seek of the key per run"
                    );
                }
            }
        }
    })
    .await;
}

/// The append path asks only the erased payloads whether a batch brings their bytes again:
/// through the partial index `payloads_erased`, never the whole table.
#[tokio::test]
async fn the_append_path_finds_erased_payloads_through_their_partial_index() {
    on_each_db("erased_plan", |t: TestDb| async move {
        let (store, _) = store(&t.url).await;
        let db = store.connection();
        let backend = db.get_database_backend();
        // 20,000 stored payloads, one in a thousand erased.
        let fill = match backend {
            sea_orm::DbBackend::Postgres => {
                "INSERT INTO payloads (idx, sha256, bytes, size, stored_at, erased_at, erased_by, erasure_reason) \
                 SELECT g, sha256(int8send(g)), CASE WHEN g % 1000 = 0 THEN NULL ELSE '\\x7b7d'::bytea END, 2, 1000, \
                        CASE WHEN g % 1000 = 0 THEN 2000 END, CASE WHEN g % 1000 = 0 THEN 'a' END, \
                        CASE WHEN g % 1000 = 0 THEN 'r' END \
                 FROM generate_series(0, 19999) g"
            }
            _ => {
                "WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < 19999) \
                 INSERT INTO payloads (idx, sha256, bytes, size, stored_at, erased_at, erased_by, erasure_reason) \
                 SELECT n, randomblob(32), CASE WHEN n % 1000 = 0 THEN NULL ELSE x'7b7d' END, 2, 1000, \
                        CASE WHEN n % 1000 = 0 THEN 2000 END, CASE WHEN n % 1000 = 0 THEN 'a' END, \
                        CASE WHEN n % 1000 = 0 THEN 'r' END \
                 FROM g"
            }
        };
        db.execute_unprepared(fill).await.expect("payloads");
        db.execute_unprepared("ANALYZE").await.expect("analyze");
        let hashes: Vec<[u8; 32]> = (0..300u16)
            .map(|i| {
                let mut h = [0u8; 32];
                h[..2].copy_from_slice(&i.to_be_bytes());
                h
            })
            .collect();
        let statement = insyn_store::erased_payloads_statement(backend, &hashes);
        match backend {
            sea_orm::DbBackend::Postgres => {
                let plan = pg_plan(db, "", statement).await;
                assert!(plan.contains("payloads_erased"), "{plan}");
                assert!(!plan.contains("Seq Scan on payloads"), "{plan}");
            }
            _ => {
                let plan = sqlite_plan(db, statement).await;
                assert!(
                    plan.iter()
                        .any(|l| l.starts_with("SEARCH payloads USING") && l.contains("INDEX payloads_erased (sha256=?)")),
                    "{plan:?}"
                );
                assert!(!plan.iter().any(|l| l.starts_with("SCAN payloads")), "{plan:?}");
            }
        }
    })
    .await;
}

//! An attacker with access to the database changes the ledger underneath a stopped server (after
//! dropping the append-only triggers, as such an attacker would), the server restarts, and
//! `insyn verify` must notice and name the first bad entry.

use insyn_ledger::checkpoint::Checkpoint;
use insyn_ledger::entry::Entry;
use insyn_ledger::hash::{leaf_hash, to_hex};
use insyn_ledger::keys::SigningKey;
use insyn_ledger::merkle::MemoryHashes;
use insyn_ledger::note::LogSigner;
use insyn_store::Store;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::cli::{data_args, field, s};
use crate::harness::{Db, Server, databases, insyn};
use crate::submissions::{Client, World};

/// A log of a registered world and eleven monthly reports; returns the checkpoint size after the
/// sixth report too (a size the log really published, for the rollback).
async fn build(c: &Client) -> (World, u64) {
    let w = World::register(c).await;
    let mut mid = 0;
    for m in 1..=11u32 {
        let p = format!("2026-{m:02}");
        let r = w.report(&p);
        let receipt = c.must_submit(&w.report_statement(&p, &r), Some(&r)).await;
        if m == 6 {
            mid = c.log.verify_checkpoint(&receipt.checkpoint).unwrap().size();
        }
    }
    (w, mid)
}

fn database_url(c: &Client) -> String {
    c.server.database_url().unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            c.server.data_dir.join("insyn.sqlite3").display()
        )
    })
}

fn blob(backend: DbBackend, bytes: &[u8]) -> String {
    match backend {
        DbBackend::Postgres => format!("'\\x{}'::bytea", hex::encode(bytes)),
        _ => format!("X'{}'", hex::encode(bytes)),
    }
}

/// Opens the database as the attacker and drops every trigger.
async fn attacker(c: &Client) -> Store {
    let store = Store::connect(&database_url(c)).await.unwrap();
    let db = store.connection();
    let backend = db.get_database_backend();
    let list = match backend {
        DbBackend::Postgres => {
            "SELECT t.tgname AS name, c.relname AS tbl FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal"
        }
        _ => "SELECT name, tbl_name AS tbl FROM sqlite_master WHERE type = 'trigger'",
    };
    let rows = db
        .query_all_raw(Statement::from_string(backend, list))
        .await
        .unwrap();
    assert!(!rows.is_empty(), "the append-only triggers exist");
    for r in rows {
        let name: String = r.try_get("", "name").unwrap();
        let table: String = r.try_get("", "tbl").unwrap();
        let sql = match backend {
            DbBackend::Postgres => format!("DROP TRIGGER {name} ON {table}"),
            _ => format!("DROP TRIGGER {name}"),
        };
        db.execute_unprepared(&sql).await.unwrap();
    }
    // The report index and cosignatures point at entries and checkpoints by key; an attacker
    // who moves those rows simply clears them.
    db.execute_unprepared("DELETE FROM report_index")
        .await
        .unwrap();
    db.execute_unprepared("DELETE FROM cosignatures")
        .await
        .unwrap();
    // Full tiles are stored once and served as stored: an attacker who rewrites entries or hashes
    // drops them too, so that what the server serves is built from the rewritten rows.
    db.execute_unprepared("DELETE FROM full_tiles")
        .await
        .unwrap();
    store
}

async fn exec(store: &Store, sql: &str) {
    store
        .connection()
        .execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Stops the server, lets `tamper` change the database, and starts a new server on it.
async fn tampered<F, Fut>(c: &mut Client, db: &Db, tamper: F) -> Server
where
    F: FnOnce(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    c.server.kill();
    let store = attacker(c).await;
    tamper(store.clone()).await;
    store.close().await.unwrap();
    Server::start_in(&c.server.data_dir, db, &[])
}

/// Runs `insyn verify` against `server` and insists it fails naming `first_bad`.
fn verify_fails_at(
    server: &Server,
    c: &Client,
    state: Option<&std::path::Path>,
    first_bad: u64,
) -> String {
    let vk = c.log.verifier_key();
    let mut args = vec![
        "verify",
        "--server",
        &server.url,
        "--log-key",
        &vk,
        "--quiet",
    ];
    let st;
    match state {
        Some(p) => {
            st = s(p);
            args.extend(["--state", &st]);
        }
        None => args.push("--no-state"),
    }
    let (ok, out, err) = insyn(&args);
    assert!(!ok, "verify should fail:\n{out}\n{err}");
    assert_eq!(
        field(&out, "first bad entry:"),
        first_bad.to_string(),
        "{out}\n{err}"
    );
    out
}

fn verify_ok(url: &str, c: &Client, state: Option<&std::path::Path>) -> String {
    let vk = c.log.verifier_key();
    let mut args = vec!["verify", "--server", url, "--log-key", &vk, "--quiet"];
    let st;
    match state {
        Some(p) => {
            st = s(p);
            args.extend(["--state", &st]);
        }
        None => args.push("--no-state"),
    }
    let (ok, out, err) = insyn(&args);
    assert!(ok, "verify should pass:\n{out}\n{err}");
    out
}

async fn entry_bytes(store: &Store, index: u64) -> Vec<u8> {
    store.entry(index).await.unwrap().unwrap().bytes
}

/// Changes the integration time inside entry `index` (it still decodes, its signature still
/// verifies: only the tree can tell).
async fn rewrite_time(store: &Store, index: u64) -> Vec<u8> {
    let mut bytes = entry_bytes(store, index).await;
    let n = bytes.len();
    bytes[n - 2] ^= 0x01;
    let backend = store.connection().get_database_backend();
    exec(
        store,
        &format!(
            "UPDATE entries SET entry = {} WHERE idx = {index}",
            blob(backend, &bytes)
        ),
    )
    .await;
    bytes
}

#[tokio::test]
async fn changed_entry_bytes_are_found_at_their_index() {
    for db in databases("tamper_bytes") {
        let mut c = Client::start(&db).await;
        build(&c).await;
        verify_ok(&c.server.url, &c, None);
        let server = tampered(&mut c, &db, |store| async move {
            rewrite_time(&store, 9).await;
        })
        .await;
        let out = verify_fails_at(&server, &c, None, 9);
        assert!(out.contains("leaf hash"), "{out}");
    }
}

#[tokio::test]
async fn a_removed_entry_is_found_at_its_index() {
    for db in databases("tamper_removed") {
        let mut c = Client::start(&db).await;
        build(&c).await;
        let server = tampered(&mut c, &db, |store| async move {
            exec(&store, "DELETE FROM entries WHERE idx = 7").await;
            exec(&store, "UPDATE entries SET idx = -idx WHERE idx > 7").await;
            exec(&store, "UPDATE entries SET idx = -idx - 1 WHERE idx < 0").await;
        })
        .await;
        verify_fails_at(&server, &c, None, 7);
    }
}

#[tokio::test]
async fn swapped_entries_are_found_at_the_first() {
    for db in databases("tamper_swapped") {
        let mut c = Client::start(&db).await;
        build(&c).await;
        let server = tampered(&mut c, &db, |store| async move {
            exec(&store, "UPDATE entries SET idx = -1 WHERE idx = 10").await;
            exec(&store, "UPDATE entries SET idx = 10 WHERE idx = 11").await;
            exec(&store, "UPDATE entries SET idx = 11 WHERE idx = -1").await;
        })
        .await;
        verify_fails_at(&server, &c, None, 10);
    }
}

#[tokio::test]
async fn a_changed_payload_is_found_by_the_payload_check() {
    for db in databases("tamper_payload") {
        let mut c = Client::start(&db).await;
        build(&c).await;
        let target = 8u64;
        let server = tampered(&mut c, &db, |store| async move {
            let bytes = entry_bytes(&store, target).await;
            let hash = Entry::decode(&bytes)
                .unwrap()
                .statement()
                .payload_sha256()
                .unwrap();
            let backend = store.connection().get_database_backend();
            let fake = br#"{"schema_version":1,"tampered":true}"#;
            exec(
                &store,
                &format!(
                    "UPDATE payloads SET bytes = {} WHERE sha256 = {}",
                    blob(backend, fake),
                    blob(backend, &hash)
                ),
            )
            .await;
        })
        .await;
        // The tree cannot see it: payloads live beside it.
        verify_ok(&server.url, &c, None);
        // An inspector with access to the database can.
        let mut args = vec![
            "verify".to_owned(),
            "--payloads".into(),
            "--log-key".into(),
            c.log.verifier_key(),
        ];
        args.extend(data_args(&c));
        let v: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, out, err) = insyn(&v);
        assert!(!ok, "{out}\n{err}");
        assert_eq!(field(&out, "first bad entry:"), target.to_string(), "{out}");
        assert!(out.contains("the payload was changed"), "{out}");
    }
}

#[tokio::test]
async fn a_rollback_is_found_against_the_inspectors_earlier_state() {
    for db in databases("tamper_rollback") {
        let mut c = Client::start(&db).await;
        let (_, mid) = build(&c).await;
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("inspector");
        verify_ok(&c.server.url, &c, Some(&state));
        let server = tampered(&mut c, &db, |store| async move {
            let stored = insyn_ledger::merkle::stored_hash_count(mid);
            exec(&store, &format!("DELETE FROM entries WHERE idx >= {mid}")).await;
            exec(
                &store,
                &format!("DELETE FROM stored_hashes WHERE idx >= {stored}"),
            )
            .await;
            exec(
                &store,
                &format!("DELETE FROM checkpoints WHERE size > {mid}"),
            )
            .await;
        })
        .await;
        // A newcomer sees a consistent, smaller log; this inspector knows better.
        verify_ok(&server.url, &c, None);
        let out = verify_fails_at(&server, &c, Some(&state), mid);
        assert!(out.contains("rolled back"), "{out}");
    }
}

#[tokio::test]
async fn a_checkpoint_re_signed_over_a_rewritten_history_is_found_and_the_witness_refuses_it() {
    for db in databases("tamper_resigned") {
        let mut c = Client::start(&db).await;
        build(&c).await;
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("inspector");
        verify_ok(&c.server.url, &c, Some(&state));
        // A witness cosigned the honest log.
        let wkey = tmp.path().join("witness.key");
        let (ok, out, err) = insyn(&[
            "witness",
            "keygen",
            "--out",
            &s(&wkey),
            "--name",
            "w.example/one",
        ]);
        assert!(ok, "{out}{err}");
        let wstate = s(&tmp.path().join("witness.json"));
        let vk = c.log.verifier_key();
        let cosign = |url: &str| {
            insyn(&[
                "witness",
                "cosign",
                "--key",
                &s(&wkey),
                "--name",
                "w.example/one",
                "--log-key",
                &vk,
                "--state",
                &wstate,
                "--server",
                url,
            ])
        };
        let (ok, out, err) = cosign(&c.server.url);
        assert!(ok, "{out}{err}");

        let log_key_text = std::fs::read_to_string(c.server.data_dir.join("log.key")).unwrap();
        let server = tampered(&mut c, &db, |store| async move {
            let size = store.latest_checkpoint().await.unwrap().unwrap().size;
            let bytes = rewrite_time(&store, 11).await;
            let backend = store.connection().get_database_backend();
            exec(
                &store,
                &format!(
                    "UPDATE entries SET leaf_hash = {} WHERE idx = 11",
                    blob(backend, &leaf_hash(&bytes).0)
                ),
            )
            .await;
            // Recompute every stored hash and sign a checkpoint over the rewritten history.
            let rows = store.entries(0..size).await.unwrap();
            let mem = MemoryHashes::from_leaves(rows.iter().map(|e| leaf_hash(&e.bytes)));
            exec(&store, "DELETE FROM stored_hashes").await;
            for (i, h) in mem.stored().iter().enumerate() {
                exec(
                    &store,
                    &format!(
                        "INSERT INTO stored_hashes (idx, hash) VALUES ({i}, {})",
                        blob(backend, &h.0)
                    ),
                )
                .await;
            }
            let signer = LogSigner::new(
                "localhost/insyn",
                SigningKey::from_text(log_key_text.trim()).unwrap(),
            )
            .unwrap();
            let note = signer
                .sign_checkpoint(&Checkpoint::new("localhost/insyn", size, mem.root()).unwrap())
                .unwrap();
            let note = String::from_utf8(note).unwrap().replace('\'', "''");
            exec(&store, "DELETE FROM checkpoints").await;
            exec(
                &store,
                &format!(
                    "INSERT INTO checkpoints (size, note, created_at) VALUES ({size}, '{note}', 1)"
                ),
            )
            .await;
            assert_ne!(to_hex(&mem.root()), "");
        })
        .await;
        // The rewritten log is internally consistent: a newcomer cannot tell.
        verify_ok(&server.url, &c, None);
        // The inspector that verified the honest log names the rewritten entry.
        let out = verify_fails_at(&server, &c, Some(&state), 11);
        assert!(out.contains("history rewritten"), "{out}");
        // The witness refuses to cosign the forked view.
        let (ok, out, err) = cosign(&server.url);
        assert!(!ok, "{out}{err}");
        assert!(err.contains("not consistent"), "{out}{err}");
    }
}

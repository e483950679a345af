//! The schema: migrations run (twice is a no-op), and the database refuses UPDATE and DELETE on
//! ledger tables whatever the client.

use insyn_migrations::{Migrator, MigratorTrait};
use insyn_store::{Store, is_append_only_refusal};
use sea_orm::{ConnectionTrait, DbErr};

use crate::harness::{TestDb, count, down_through, on_each_db};

/// Inserts one row in every append-only table with plain SQL (no store logic involved).
async fn seed_rows(db: &impl ConnectionTrait) {
    for sql in [
        "INSERT INTO entries (idx, entry, leaf_hash, dedupe_hash, kind, actor, key_id, payload_hash, integrated_at) \
         VALUES (0, x'01', x'02', x'03', 6, 'provider:5560360793', x'04', x'05', 1000)",
        "INSERT INTO stored_hashes (idx, hash) VALUES (0, x'02')",
        "INSERT INTO checkpoints (size, note, created_at) VALUES (1, 'note', 1000)",
        "INSERT INTO report_index (idx, municipality, contract_ref, period, provider, kind, supersedes) \
         VALUES (0, '0180', 'c-1', '2026-01', '5560360793', 6, NULL)",
        "INSERT INTO payload_reads (payload_hash, reader, role, read_at) VALUES (x'05', 'acct:1', 'auditor', 1000)",
        "INSERT INTO cosignatures (witness, checkpoint_size, signature, received_at) VALUES ('w', 1, 'sig', 1000)",
        "INSERT INTO log_meta (id, origin, verifier_key, created_at) VALUES (1, 'o', 'k', 1000)",
        "INSERT INTO payloads (idx, sha256, bytes, size, stored_at) VALUES (0, x'05', x'7b7d', 2, 1000)",
        "INSERT INTO payload_carriers (idx, payload_hash) VALUES (0, x'05')",
        "INSERT INTO full_tiles (path, data) VALUES ('tile/0/000', x'06')",
    ] {
        db.execute_unprepared(&pg_hex(db, sql))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// SQLite writes blobs as `x'..'`; PostgreSQL as `'\x..'::bytea`.
fn pg_hex(db: &impl ConnectionTrait, sql: &str) -> String {
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return sql.to_owned();
    }
    let mut out = String::new();
    let mut rest = sql;
    while let Some(i) = rest.find("x'") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after.find('\'').expect("closing quote");
        out.push_str(&format!("'\\x{}'::bytea", &after[..end]));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

fn assert_refused(label: &str, sql: &str, result: Result<sea_orm::ExecResult, DbErr>) {
    match result {
        Ok(_) => panic!("{label}: `{sql}` was accepted"),
        Err(e) => assert!(
            is_append_only_refusal(&e),
            "{label}: `{sql}` failed for another reason: {e}"
        ),
    }
}

#[tokio::test]
async fn migrations_run_and_rerun() {
    on_each_db("migrations_rerun", |t: TestDb| async move {
        let store = Store::connect(&t.url).await.expect("first connect");
        store.close().await.expect("close");
        // A second start finds the schema up to date.
        let store = Store::connect(&t.url).await.expect("second connect");
        store.close().await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn triggers_refuse_update_and_delete_on_ledger_tables() {
    on_each_db("triggers", |t: TestDb| async move {
        let store = Store::connect(&t.url).await.expect("connect");
        let db = store.connection();
        seed_rows(db).await;
        for (table, set) in [
            ("entries", "kind = 7"),
            ("stored_hashes", "hash = hash"),
            ("checkpoints", "note = 'forged'"),
            ("report_index", "period = '2026-02'"),
            ("payload_reads", "reader = 'nobody'"),
            ("cosignatures", "signature = 'x'"),
            ("log_meta", "origin = 'evil'"),
            ("full_tiles", "data = data"),
            ("payload_carriers", "payload_hash = payload_hash"),
        ] {
            let update = format!("UPDATE {table} SET {set}");
            assert_refused(t.label, &update, db.execute_unprepared(&update).await);
        }
        // Delete children before parents, so only the trigger can be what refuses.
        for table in [
            "payload_carriers",
            "cosignatures",
            "report_index",
            "payload_reads",
            "stored_hashes",
            "checkpoints",
            "entries",
            "log_meta",
            "payloads",
            "full_tiles",
        ] {
            let delete = format!("DELETE FROM {table}");
            assert_refused(t.label, &delete, db.execute_unprepared(&delete).await);
            if t.label == "postgres" {
                let truncate = format!("TRUNCATE {table} CASCADE");
                assert_refused(t.label, &truncate, db.execute_unprepared(&truncate).await);
            }
        }
        // Payloads change only by erasure with a complete tombstone.
        let forge = "UPDATE payloads SET bytes = x'00'";
        assert_refused(
            t.label,
            forge,
            db.execute_unprepared(&pg_hex(db, forge)).await,
        );
        let moved = "UPDATE payloads SET idx = 7";
        assert_refused(t.label, moved, db.execute_unprepared(moved).await);
        let silent = "UPDATE payloads SET bytes = NULL";
        assert_refused(t.label, silent, db.execute_unprepared(silent).await);
        let erase = "UPDATE payloads SET bytes = NULL, erased_at = 2000, erased_by = 'acct:1', \
                     erasure_reason = 'court order'";
        db.execute_unprepared(erase)
            .await
            .expect("an erasure with a tombstone is allowed");
        let moved = "UPDATE payloads SET idx = 7";
        assert_refused(t.label, moved, db.execute_unprepared(moved).await);
        let rehashed = "UPDATE payloads SET sha256 = x'06'";
        assert_refused(
            t.label,
            rehashed,
            db.execute_unprepared(&pg_hex(db, rehashed)).await,
        );
        let unerase = "UPDATE payloads SET erased_at = NULL";
        assert_refused(t.label, unerase, db.execute_unprepared(unerase).await);
        let again = "UPDATE payloads SET erasure_reason = 'changed my mind'";
        assert_refused(t.label, again, db.execute_unprepared(again).await);

        // The rows are all still there.
        for table in [
            "entries",
            "stored_hashes",
            "checkpoints",
            "report_index",
            "payload_reads",
            "cosignatures",
            "log_meta",
            "payloads",
            "full_tiles",
            "payload_carriers",
        ] {
            assert_eq!(count(db, table, "1 = 1").await, 1, "{}: {table}", t.label);
        }
        store.close().await.expect("close");
    })
    .await;
}

/// Two report entries (a report and a correction of it, then a second correction) after
/// `seed_rows`, whose entry 0 is the original report of c-1 for 2026-01.
async fn seed_report_entries(db: &impl ConnectionTrait) {
    for sql in [
        "INSERT INTO entries (idx, entry, leaf_hash, dedupe_hash, kind, actor, key_id, integrated_at) \
         VALUES (1, x'11', x'12', x'13', 6, 'provider:5560360793', x'04', 1000)",
        "INSERT INTO entries (idx, entry, leaf_hash, dedupe_hash, kind, actor, key_id, integrated_at) \
         VALUES (2, x'21', x'22', x'23', 7, 'provider:5560360793', x'04', 1000)",
        "INSERT INTO entries (idx, entry, leaf_hash, dedupe_hash, kind, actor, key_id, integrated_at) \
         VALUES (3, x'31', x'32', x'33', 7, 'provider:5560360793', x'04', 1000)",
    ] {
        db.execute_unprepared(&pg_hex(db, sql))
            .await
            .expect("entry");
    }
}

/// The database's own guarantees on report versions: one original per contract and period, one
/// correction per version.
async fn assert_one_report_per_place(label: &str, db: &impl ConnectionTrait) {
    let second = "INSERT INTO report_index (idx, municipality, contract_ref, period, provider, kind, supersedes) \
                  VALUES (1, '0180', 'c-1', '2026-01', '5560360793', 6, NULL)";
    let err = db
        .execute_unprepared(second)
        .await
        .expect_err("a second original is refused");
    assert!(
        err.to_string().to_lowercase().contains("unique"),
        "{label}: {err}"
    );
    let correction = "INSERT INTO report_index (idx, municipality, contract_ref, period, provider, kind, supersedes) \
                      VALUES (2, '0180', 'c-1', '2026-01', '5560360793', 7, 0)";
    db.execute_unprepared(correction)
        .await
        .expect("a correction is allowed");
    let again = "INSERT INTO report_index (idx, municipality, contract_ref, period, provider, kind, supersedes) \
                 VALUES (3, '0180', 'c-1', '2026-01', '5560360793', 7, 0)";
    let err = db
        .execute_unprepared(again)
        .await
        .expect_err("a second correction of the same version is refused");
    assert!(
        err.to_string().to_lowercase().contains("unique"),
        "{label}: {err}"
    );
    let next = "INSERT INTO report_index (idx, municipality, contract_ref, period, provider, kind, supersedes) \
                VALUES (3, '0180', 'c-1', '2026-01', '5560360793', 7, 2)";
    db.execute_unprepared(next)
        .await
        .expect("a correction of the correction is allowed");
}

#[tokio::test]
async fn one_original_report_per_contract_and_period_and_one_correction_per_version() {
    on_each_db("one_report", |t: TestDb| async move {
        let store = Store::connect(&t.url).await.expect("connect");
        let db = store.connection();
        seed_rows(db).await;
        seed_report_entries(db).await;
        assert_one_report_per_place(t.label, db).await;
        store.close().await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn the_same_signed_entry_twice_is_refused_for_kinds_other_than_reports() {
    on_each_db("dedupe_unique", |t: TestDb| async move {
        let store = Store::connect(&t.url).await.expect("connect");
        let db = store.connection();
        seed_rows(db).await;
        // A contract entry (kind 3) and another with the same dedupe hash.
        let first = "INSERT INTO entries (idx, entry, leaf_hash, dedupe_hash, kind, actor, key_id, integrated_at) \
                     VALUES (1, x'11', x'12', x'13', 3, 'provider:5560360793', x'04', 1000)";
        db.execute_unprepared(&pg_hex(db, first)).await.expect("entry");
        let same = "INSERT INTO entries (idx, entry, leaf_hash, dedupe_hash, kind, actor, key_id, integrated_at) \
                    VALUES (2, x'21', x'22', x'13', 3, 'provider:5560360793', x'04', 1000)";
        let err = db
            .execute_unprepared(&pg_hex(db, same))
            .await
            .expect_err("the same signed statement twice is refused");
        assert!(err.to_string().to_lowercase().contains("unique"), "{}: {err}", t.label);
        store.close().await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn the_report_version_migration_goes_down_and_up_over_stored_reports() {
    on_each_db("version_key_down_up", |t: TestDb| async move {
        let store = Store::connect(&t.url).await.expect("connect");
        let db = store.connection();
        seed_rows(db).await;
        seed_report_entries(db).await;
        down_through(db, "m20261203_000006_report_version_key").await;
        Migrator::up(db, None).await.expect("up");
        assert_one_report_per_place(t.label, db).await;
        store.close().await.expect("close");
    })
    .await;
}

/// The integers one query returns, in order.
async fn column(db: &impl ConnectionTrait, sql: &str) -> Vec<i64> {
    db.query_all_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        sql.to_owned(),
    ))
    .await
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
    .iter()
    .map(|r| r.try_get_by_index(0).expect("integer"))
    .collect()
}

#[tokio::test]
async fn the_payload_carriers_migration_goes_down_and_up_over_stored_payloads() {
    on_each_db("payload_carriers_down_up", |t: TestDb| async move {
        let store = Store::connect(&t.url).await.expect("connect");
        let db = store.connection();
        seed_rows(db).await;
        // Back to before the migration: the seeded carrier goes with its table.
        down_through(db, "m20261204_000007_payload_carriers").await;
        // Two more entries naming payload 05 (entry 0 stored it), one naming a payload never stored.
        for sql in [
            "INSERT INTO entries (idx, entry, leaf_hash, dedupe_hash, kind, actor, key_id, payload_hash, integrated_at) \
             VALUES (1, x'11', x'12', x'13', 6, 'provider:5560360793', x'04', x'05', 1001)",
            "INSERT INTO entries (idx, entry, leaf_hash, dedupe_hash, kind, actor, key_id, payload_hash, integrated_at) \
             VALUES (2, x'21', x'22', x'23', 6, 'provider:5560360793', x'04', x'99', 1002)",
            "INSERT INTO entries (idx, entry, leaf_hash, dedupe_hash, kind, actor, key_id, payload_hash, integrated_at) \
             VALUES (3, x'31', x'32', x'33', 6, 'provider:5560360793', x'04', x'05', 1003)",
        ] {
            db.execute_unprepared(&pg_hex(db, sql))
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        Migrator::up(db, None).await.expect("up");
        assert_eq!(column(db, "SELECT idx FROM payloads").await, vec![0], "{}", t.label);
        assert_eq!(
            column(db, "SELECT idx FROM payload_carriers ORDER BY idx").await,
            vec![1, 2, 3],
            "{}",
            t.label
        );
        let forged = "UPDATE payloads SET idx = 3";
        assert_refused(t.label, forged, db.execute_unprepared(forged).await);
        store.close().await.expect("close");
    })
    .await;
}

/// The columns of index `name`, in key order (expressions as SQLite or PostgreSQL write them).
async fn index_definition(db: &impl ConnectionTrait, name: &str) -> String {
    let sql = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            format!("SELECT indexdef FROM pg_indexes WHERE indexname = '{name}'")
        }
        _ => format!("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = '{name}'"),
    };
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql,
        ))
        .await
        .expect("index definition")
        .unwrap_or_else(|| panic!("no index {name}"));
    row.try_get_by_index::<String>(0).expect("text")
}

#[tokio::test]
async fn the_report_version_index_is_keyed_by_period_before_contract_and_goes_down_and_up() {
    on_each_db("version_by_period", |t: TestDb| async move {
        let store = Store::connect(&t.url).await.expect("connect");
        let db = store.connection();
        let def = index_definition(db, "report_index_version").await;
        let (period, contract) = (
            def.find("period").expect("period"),
            def.find("contract_ref").expect("contract"),
        );
        assert!(period < contract, "{}: {def}", t.label);
        seed_rows(db).await;
        seed_report_entries(db).await;
        down_through(db, "m20261205_000008_report_version_by_period").await;
        let def = index_definition(db, "report_index_version").await;
        assert!(
            def.find("contract_ref") < def.find("period"),
            "{}: down restores migration 6's key: {def}",
            t.label
        );
        Migrator::up(db, None).await.expect("up");
        assert_one_report_per_place(t.label, db).await;
        store.close().await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn the_leaf_hash_runs_migration_goes_down_and_up_over_stored_entries() {
    on_each_db("leaf_runs_down_up", |t: TestDb| async move {
        let store = Store::connect(&t.url).await.expect("connect");
        let db = store.connection();
        seed_rows(db).await;
        seed_report_entries(db).await;
        down_through(db, "m20261206_000009_leaf_hash_runs").await;
        let def = index_definition(db, "entries_leaf_hash").await;
        assert!(
            def.to_uppercase().contains("UNIQUE") && def.contains("leaf_hash"),
            "{}: down restores the unique index: {def}",
            t.label
        );
        Migrator::up(db, None).await.expect("up");
        // The stored entries are one final run, sorted by leaf hash; the random index is gone.
        assert_eq!(
            column(db, "SELECT id * 1000 + level * 100 + size FROM leaf_runs").await,
            vec![1304],
            "{}",
            t.label
        );
        assert_eq!(
            column(
                db,
                "SELECT idx FROM leaf_lookup WHERE run = 1 ORDER BY leaf_hash"
            )
            .await,
            vec![0, 1, 2, 3],
            "{}",
            t.label
        );
        let left = match db.get_database_backend() {
            sea_orm::DbBackend::Postgres => "pg_indexes",
            _ => "sqlite_master",
        };
        let column_name = match db.get_database_backend() {
            sea_orm::DbBackend::Postgres => "indexname",
            _ => "name",
        };
        assert_eq!(
            count(db, left, &format!("{column_name} = 'entries_leaf_hash'")).await,
            0,
            "{}",
            t.label
        );
        store.close().await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn the_payloads_by_entry_migration_goes_down_and_up_over_stored_payloads() {
    on_each_db("payloads_by_entry_down_up", |t: TestDb| async move {
        let store = Store::connect(&t.url).await.expect("connect");
        let db = store.connection();
        seed_rows(db).await;
        // Entry 1 stored a second copy of payload 05; entry 2 stored payload 07, since erased.
        for sql in [
            "INSERT INTO entries (idx, entry, leaf_hash, dedupe_hash, kind, actor, key_id, payload_hash, integrated_at) \
             VALUES (1, x'11', x'12', x'13', 6, 'provider:5560360793', x'04', x'05', 1001)",
            "INSERT INTO entries (idx, entry, leaf_hash, dedupe_hash, kind, actor, key_id, payload_hash, integrated_at) \
             VALUES (2, x'21', x'22', x'23', 6, 'provider:5560360793', x'04', x'07', 1002)",
            "INSERT INTO payloads (idx, sha256, bytes, size, stored_at) VALUES (1, x'05', x'7b7d', 2, 1001)",
            "INSERT INTO payloads (idx, sha256, bytes, size, stored_at, erased_at, erased_by, erasure_reason) \
             VALUES (2, x'07', NULL, 5, 1002, 2000, 'acct:1', 'court order')",
        ] {
            db.execute_unprepared(&pg_hex(db, sql))
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        // Down: one row per hash, under its lowest entry; the other copy's entry is a carrier.
        down_through(db, "m20261206_000010_payloads_by_entry").await;
        assert_eq!(
            column(db, "SELECT first_idx FROM payloads ORDER BY first_idx").await,
            vec![0, 2],
            "{}",
            t.label
        );
        assert_eq!(
            column(db, "SELECT idx FROM payload_carriers ORDER BY idx").await,
            vec![0, 1],
            "{}",
            t.label
        );
        assert_eq!(count(db, "payloads", "erased_at = 2000 AND bytes IS NULL").await, 1);
        let moved = "UPDATE payloads SET first_idx = 3";
        assert_refused(t.label, moved, db.execute_unprepared(moved).await);

        // Up: every row under its entry, found through one final run; the tombstone kept.
        Migrator::up(db, None).await.expect("up");
        assert_eq!(
            column(db, "SELECT idx FROM payloads ORDER BY idx").await,
            vec![0, 2],
            "{}",
            t.label
        );
        assert_eq!(
            column(db, "SELECT id * 1000 + level * 100 + size FROM payload_runs").await,
            vec![1302],
            "{}",
            t.label
        );
        assert_eq!(
            column(db, "SELECT idx FROM payload_lookup WHERE run = 1 ORDER BY sha256").await,
            vec![0, 2],
            "{}",
            t.label
        );
        assert_eq!(count(db, "payloads", "erased_at = 2000 AND bytes IS NULL").await, 1);
        let moved = "UPDATE payloads SET idx = 3";
        assert_refused(t.label, moved, db.execute_unprepared(moved).await);
        let delete = "DELETE FROM payloads";
        assert_refused(t.label, delete, db.execute_unprepared(delete).await);
        store.close().await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn the_payloads_by_entry_migration_refuses_payloads_no_entry_names_and_keeps_them() {
    on_each_db("payloads_orphan", |t: TestDb| async move {
        let store = Store::connect(&t.url).await.expect("connect");
        let db = store.connection();
        down_through(db, "m20261206_000010_payloads_by_entry").await;
        let orphan = "INSERT INTO payloads (sha256, bytes, size, stored_at) VALUES (x'09', x'7b7d', 2, 1000)";
        db.execute_unprepared(&pg_hex(db, orphan))
            .await
            .expect("orphan");
        let err = Migrator::up(db, None).await.expect_err("refused");
        assert!(err.to_string().contains("named by no entry"), "{}: {err}", t.label);
        // Nothing changed: the table is still keyed by hash, with its row.
        assert_eq!(count(db, "payloads", "first_idx IS NULL").await, 1, "{}", t.label);
        store.close().await.expect("close");
    })
    .await;
}

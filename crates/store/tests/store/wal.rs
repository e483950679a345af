//! SQLite's write-ahead log: the sequencer checkpoints it beside the append path (automatic
//! checkpoints are off), and keeps it bounded under steady load.

use insyn_store::{SequencerConfig, Store};
use sea_orm::ConnectionTrait;

use crate::fixtures::{World, store};

/// Appends `batches` rounds of `per_batch` reports submitted at once (one or two batches each).
async fn append_reports(
    world: &World,
    seq: &insyn_store::Sequencer<crate::fixtures::TestPolicy>,
    batches: u32,
    per_batch: u32,
) {
    let mut n = 0;
    for _ in 0..batches {
        let mut tasks = Vec::new();
        for _ in 0..per_batch {
            let seq = seq.clone();
            let c = world.report(n);
            n += 1;
            tasks.push(tokio::spawn(async move { seq.submit(c).await }));
        }
        for t in tasks {
            t.await.expect("task").expect("accepted");
        }
    }
}

async fn pragma(store: &Store, sql: &str) -> i64 {
    let db = store.connection();
    db.query_one_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        sql,
    ))
    .await
    .expect("pragma")
    .expect("a row")
    .try_get_by_index::<i64>(0)
    .expect("an integer")
}

#[tokio::test]
async fn automatic_checkpoints_are_off_and_the_sequencer_keeps_the_wal_bounded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("insyn.sqlite");
    let (store, _clock) = store(&format!("sqlite://{}?mode=rwc", path.display())).await;
    assert_eq!(
        pragma(&store, "PRAGMA wal_autocheckpoint").await,
        0,
        "no commit checkpoints the WAL on its own"
    );
    let world = World::new();
    let limit = 64;
    let seq = world
        .sequencer_with(
            &store,
            SequencerConfig {
                wal_limit_pages: limit,
                ..SequencerConfig::default()
            },
        )
        .await;
    for c in world.setup() {
        seq.submit(c).await.expect("set-up accepted");
    }
    // About 2,400 reports: with no checkpoint at all their pages would make a WAL of well over
    // 10 MiB. The sequencer waits for a complete checkpoint whenever the WAL has passed the
    // limit, so the WAL file never holds much more than the limit and the few batches written
    // while a checkpoint was running.
    append_reports(&world, &seq, 40, 60).await;
    assert_eq!(store.size().await.expect("size"), 4 + 40 * 60);
    let page = u64::try_from(pragma(&store, "PRAGMA page_size").await).expect("page size");
    let wal = std::fs::metadata(dir.path().join("insyn.sqlite-wal"))
        .expect("the WAL file")
        .len();
    let bound = 4 * 1024 * 1024;
    assert!(
        wal < bound,
        "the WAL grew to {wal} bytes ({} pages) with a limit of {limit} pages",
        wal / page
    );
    // Every committed entry is readable whatever the checkpoints did.
    for i in [0, 4, 1_000, 2_403] {
        assert!(store.entry(i).await.expect("read").is_some(), "entry {i}");
    }
}

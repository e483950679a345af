//! Reads against an in-memory recomputation: tiles, roots, inclusion and consistency proofs; and
//! cosignatures and the log's size over time.

use insyn_ledger::hash::Hash;
use insyn_ledger::merkle::{MemoryHashes, root_from_leaves, verify_consistency, verify_inclusion};
use insyn_ledger::tile::{Tile, TileKind, encode_bundle};
use insyn_store::{Store, StoreError};

/// Every tile of the tree equals the same tile computed in memory from the entries alone.
pub(crate) async fn check_tiles(store: &Store, label: &str) {
    let size = store.size().await.expect("size");
    let entries = store.entries(0..size).await.expect("entries");
    assert_eq!(
        entries.len() as u64,
        size,
        "{label}: a page holds the whole test log"
    );
    let leaves: Vec<Hash> = entries.iter().map(|e| e.leaf_hash).collect();
    for (e, leaf) in entries.iter().zip(&leaves) {
        assert_eq!(
            insyn_ledger::hash::leaf_hash(&e.bytes),
            *leaf,
            "{label}: stored leaf hash"
        );
    }
    let mem = MemoryHashes::from_leaves(leaves.iter().copied());
    let tiles = Tile::for_tree(size);
    assert!(
        tiles.len() >= 3,
        "{label}: the test log has full and partial tiles"
    );
    for tile in tiles {
        let expected = match tile.kind() {
            TileKind::Hashes { .. } => tile.read_hashes(&mem).expect("in memory"),
            TileKind::Entries => {
                let bytes: Vec<&[u8]> = tile
                    .positions()
                    .map(|i| entries[usize::try_from(i).expect("small")].bytes.as_slice())
                    .collect();
                encode_bundle(&bytes).expect("bundle")
            }
        };
        let got = store
            .tile(&tile)
            .await
            .expect("tile")
            .unwrap_or_else(|| panic!("{label}: {tile} missing"));
        assert_eq!(got, expected, "{label}: {tile}");
    }
    // Tiles the tree does not have yet.
    let beyond = [
        Tile::entries(size / 256 + 1, 1).expect("tile"),
        Tile::hashes(0, size / 256, 256).expect("tile"),
        // One more level-1 hash than the tree has (the test logs stay under 65,536 entries).
        Tile::hashes(1, 0, u16::try_from((size >> 8) + 1).expect("small")).expect("tile"),
        Tile::hashes(2, 0, 1).expect("tile"),
    ];
    for tile in beyond {
        assert_eq!(
            store.tile(&tile).await.expect("tile"),
            None,
            "{label}: {tile} is not there yet"
        );
    }
    // A narrower partial tile is a prefix of the wider one.
    let narrow = Tile::hashes(0, 0, 10).expect("tile");
    assert_eq!(
        store.tile(&narrow).await.expect("tile"),
        Some(narrow.read_hashes(&mem).expect("mem"))
    );
}

/// Roots, inclusion proofs (by index and leaf hash) and consistency proofs between sizes verify
/// against roots computed from the leaves alone.
pub(crate) async fn check_proofs(store: &Store, label: &str) {
    let size = store.size().await.expect("size");
    let entries = store.entries(0..size).await.expect("entries");
    let leaves: Vec<Hash> = entries.iter().map(|e| e.leaf_hash).collect();
    let mut sizes = vec![1, 2, 3, 7, 8, 9, 100, 255, 256, 257, size - 1, size];
    sizes.retain(|s| *s <= size);
    for &s in &sizes {
        let root = root_from_leaves(&leaves[..usize::try_from(s).expect("small")]);
        assert_eq!(
            store.root(s).await.expect("root"),
            root,
            "{label}: root of {s}"
        );
        for &old in &sizes {
            if old > s {
                continue;
            }
            let old_root = root_from_leaves(&leaves[..usize::try_from(old).expect("small")]);
            let proof = store.consistency_proof(old, s).await.expect("consistency");
            verify_consistency(&proof, old, old_root, s, root)
                .unwrap_or_else(|e| panic!("{label}: {old}->{s}: {e}"));
        }
        for i in [0, s / 2, s - 1] {
            let proof = store.inclusion_proof(i, s).await.expect("inclusion");
            verify_inclusion(
                &proof,
                s,
                root,
                i,
                leaves[usize::try_from(i).expect("small")],
            )
            .unwrap_or_else(|e| panic!("{label}: {i} in {s}: {e}"));
            let (index, by_hash) = store
                .inclusion_proof_by_leaf_hash(&leaves[usize::try_from(i).expect("small")], s)
                .await
                .expect("by hash")
                .expect("found");
            assert_eq!((index, &by_hash), (i, &proof), "{label}");
        }
    }
    assert!(matches!(
        store.inclusion_proof(size, size).await,
        Err(StoreError::InvalidInput(_))
    ));
    assert!(matches!(
        store.inclusion_proof(0, size + 1).await,
        Err(StoreError::InvalidInput(_))
    ));
    assert!(matches!(
        store.consistency_proof(3, 2).await,
        Err(StoreError::InvalidInput(_))
    ));
    assert!(matches!(
        store.consistency_proof(1, size + 1).await,
        Err(StoreError::InvalidInput(_))
    ));
    assert_eq!(
        store
            .inclusion_proof_by_leaf_hash(&Hash([7; 32]), size)
            .await
            .expect("query"),
        None
    );
}

/// Cosignatures: add, idempotent re-add, conflicting re-add, list; size over time.
pub(crate) async fn check_cosignatures(store: &Store, label: &str) {
    let size = store.size().await.expect("size");
    let line = "— witness.example/w1 AAAAAQ==";
    assert!(
        store
            .add_cosignature("witness.example/w1", size, line)
            .await
            .expect("add"),
        "{label}"
    );
    assert!(
        !store
            .add_cosignature("witness.example/w1", size, line)
            .await
            .expect("again"),
        "{label}"
    );
    assert!(matches!(
        store
            .add_cosignature("witness.example/w1", size, "— witness.example/w1 AAAAAg==")
            .await,
        Err(StoreError::InvalidInput(_))
    ));
    assert!(matches!(
        store.add_cosignature("w2", size + 10, line).await,
        Err(StoreError::InvalidInput(_))
    ));
    let list = store.cosignatures(size).await.expect("list");
    assert_eq!(list.len(), 1, "{label}");
    assert_eq!(list[0].signature, line);
    let history = store
        .checkpoints_between(0, u64::MAX / 2)
        .await
        .expect("history");
    assert!(
        history.len() >= 2,
        "{label}: the empty tree's and later checkpoints"
    );
    assert!(history.windows(2).all(|w| w[0].size < w[1].size));
    assert_eq!(history.last().map(|c| c.size), Some(size));
}

/// The report index answers by municipality, provider, contract and period range, paginated;
/// entries by actor and by payload hash.
pub(crate) async fn check_reports(store: &Store, world: &crate::fixtures::World, label: &str) {
    use insyn_ledger::entry::Actor;
    use insyn_store::{Page, ReportQuery};
    let all = ReportQuery {
        municipality: Some(world.municipality),
        ..Default::default()
    };
    let mut seen = Vec::new();
    let mut page = Page::first(100);
    loop {
        let rows = store.reports(&all, page).await.expect("reports");
        let Some(last) = rows.last() else { break };
        page.after = Some(last.index);
        seen.extend(rows);
    }
    assert_eq!(seen.len(), 320, "{label}: every report, page by page");
    assert!(
        seen.windows(2).all(|w| w[0].index < w[1].index),
        "{label}: ascending, no repeats"
    );
    let contract = world.contract(1);
    let q = ReportQuery {
        contract: Some(contract.clone()),
        from: Some("2021-01".parse().expect("period")),
        to: Some("2021-12".parse().expect("period")),
        ..Default::default()
    };
    let rows = store.reports(&q, Page::first(1000)).await.expect("reports");
    assert_eq!(rows.len(), 12, "{label}: one contract, one year");
    assert!(
        rows.iter()
            .all(|r| r.contract == contract && r.provider == world.provider)
    );
    let versions = store
        .report_versions(&contract, "2021-03".parse().expect("period"))
        .await
        .expect("versions");
    assert_eq!(versions.len(), 1, "{label}");
    let other: insyn_ledger::id::MunicipalityCode = "1480".parse().expect("Göteborg");
    let none = ReportQuery {
        municipality: Some(other),
        ..Default::default()
    };
    assert!(
        store
            .reports(&none, Page::first(10))
            .await
            .expect("reports")
            .is_empty()
    );

    let by_provider = store
        .entries_by_actor(&Actor::Provider(world.provider), Page::first(1000))
        .await
        .expect("by actor");
    assert_eq!(by_provider.len(), 320, "{label}");
    let by_operator = store
        .entries_by_actor(&Actor::Operator, Page::first(10))
        .await
        .expect("op");
    assert_eq!(by_operator.len(), 2, "{label}");
    let hash = by_provider[0]
        .entry
        .statement()
        .payload_sha256()
        .expect("payload");
    let referencing = store.entries_with_payload(&hash).await.expect("by payload");
    assert_eq!(referencing.len(), 1, "{label}");
    assert_eq!(referencing[0].index, by_provider[0].index);
}

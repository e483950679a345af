//! Criterion benchmarks of the ledger's hot paths: tree hashing of a million leaves, proofs,
//! checkpoint verification, entry decoding and strict signature verification.
//!
//! Run once, in release: `cargo bench -p insyn-ledger --bench ledger -- --warm-up-time 1 --measurement-time 3`.

#![allow(
    clippy::unwrap_used,
    reason = "a benchmark: a failed unwrap is a broken benchmark"
)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_main};
use insyn_ledger::checkpoint::Checkpoint;
use insyn_ledger::entry::{Actor, Body, ContractRef, Entry, Statement};
use insyn_ledger::hash::{Hash, leaf_hash};
use insyn_ledger::keys::{self, SignedMessage, SigningKey};
use insyn_ledger::merkle::{
    MemoryHashes, prove_consistency, prove_inclusion, root_from_leaves, tree_hash,
    verify_consistency, verify_inclusion,
};
use insyn_ledger::note::LogSigner;

const N: u64 = 1_000_000;

fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
}

fn merkle(c: &mut Criterion) {
    let hashes = leaves(N);
    let tree = MemoryHashes::from_leaves(hashes.iter().copied());
    let root = tree.root();

    let mut g = c.benchmark_group("merkle");
    g.sample_size(10);
    g.bench_function("append 1M leaves and hash the tree (stored hashes)", |b| {
        b.iter(|| black_box(MemoryHashes::from_leaves(hashes.iter().copied()).root()));
    });
    g.bench_function(
        "tree hash of 1M leaves, recursive RFC 6962 definition",
        |b| {
            b.iter(|| black_box(root_from_leaves(&hashes)));
        },
    );
    g.finish();

    let mut g = c.benchmark_group("proofs (tree of 1M)");
    g.bench_function("tree_hash from stored hashes", |b| {
        b.iter(|| black_box(tree_hash(N, &tree).unwrap()))
    });
    let index = 654_321;
    g.bench_function("prove_inclusion", |b| {
        b.iter(|| black_box(prove_inclusion(N, index, &tree).unwrap()))
    });
    let proof = prove_inclusion(N, index, &tree).unwrap();
    g.bench_function("verify_inclusion", |b| {
        b.iter(|| verify_inclusion(&proof, N, root, index, hashes[index as usize]).unwrap());
    });
    let old = 777_777;
    let old_root = tree_hash(old, &tree).unwrap();
    g.bench_function("prove_consistency", |b| {
        b.iter(|| black_box(prove_consistency(old, N, &tree).unwrap()))
    });
    let cproof = prove_consistency(old, N, &tree).unwrap();
    g.bench_function("verify_consistency", |b| {
        b.iter(|| verify_consistency(&cproof, old, old_root, N, root).unwrap());
    });
    g.finish();
}

fn signatures(c: &mut Criterion) {
    let log = LogSigner::new("localhost/insyn", SigningKey::from_seed(&[1; 32])).unwrap();
    let cp = Checkpoint::new("localhost/insyn", N, leaf_hash(b"root")).unwrap();
    let note = log.sign_checkpoint(&cp).unwrap();
    let verifier = log.verifier().clone();

    let key = SigningKey::from_seed(&[2; 32]);
    let contract = ContractRef {
        municipality: "0180".parse().unwrap(),
        reference: "EXIT-2026-01".parse().unwrap(),
    };
    let entry = Statement::build_and_sign(
        Actor::Provider("5560360793".parse().unwrap()),
        Body::ReportSubmitted {
            contract,
            period: "2026-03".parse().unwrap(),
        },
        Some([7; 32]),
        &key,
    )
    .unwrap()
    .into_entry(1_764_000_000_000);
    let bytes = entry.encode();
    let msg = entry.statement().signing_message();
    let pk = key.public_key();

    let mut g = c.benchmark_group("signatures and parsing");
    g.bench_function("verify signed checkpoint", |b| {
        b.iter(|| black_box(verifier.verify_checkpoint(&note).unwrap()))
    });
    g.bench_function("entry decode", |b| {
        b.iter(|| black_box(Entry::decode(&bytes).unwrap()))
    });
    g.bench_function("entry encode + leaf hash", |b| {
        b.iter(|| black_box(entry.leaf_hash()))
    });
    g.bench_function("single strict verify", |b| {
        b.iter(|| keys::verify(&pk, &msg, entry.signature()).unwrap())
    });
    let sigs: Vec<_> = (0..1000u32)
        .map(|i| {
            let m = i.to_be_bytes().to_vec();
            let s = key.sign(&m);
            (m, s)
        })
        .collect();
    g.sample_size(10);
    g.bench_function("verify_many, 1000 signatures (rayon)", |b| {
        b.iter_batched(
            || {
                sigs.iter()
                    .map(|(m, s)| SignedMessage {
                        public_key: &pk,
                        message: m,
                        signature: s,
                    })
                    .collect::<Vec<_>>()
            },
            |items| black_box(keys::verify_many(&items)),
            BatchSize::SmallInput,
        );
    });
    g.finish();
}

/// The group, in a module of its own: `criterion_group!` makes an undocumented public function.
mod group {
    #![allow(missing_docs)]
    use super::{merkle, signatures};
    criterion::criterion_group!(benches, merkle, signatures);
}

criterion_main!(group::benches);

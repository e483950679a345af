//! Verification benchmark helpers (see `docs/PERFORMANCE.md`):
//!
//! - `gen N FILE`: writes a valid export bundle of an N-entry log (operator, one municipality,
//!   100 providers with contracts and keys, 11 monthly reports each, then reviews), signed with
//!   real keys; prints the log's verifier key.
//! - `bare N`: times bare strict verification (`insyn_ledger::keys::verify_many`, both cores) of
//!   N signatures of the same shape, and the same on one thread.
//! - `serve FILE ADDR`: serves a bundle's checkpoint and tiles over HTTP in the C2SP tlog-tiles
//!   layout, as a static tile host or CDN would, for `insyn verify --server`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use insyn_inspect::bundle::{BundleReader, BundleWriter};
use insyn_inspect::tree::StreamingTree;
use insyn_ledger::checkpoint::Checkpoint;
use insyn_ledger::entry::{Actor, Body, ContractRef, Decision, Statement};
use insyn_ledger::hash::{leaf_hash, sha256};
use insyn_ledger::id::{MunicipalityCode, OrgNumber, Period, Sek};
use insyn_ledger::keys::{SignedMessage, SigningKey, verify, verify_many};
use insyn_ledger::note::LogSigner;
use insyn_ledger::tile::{TILE_WIDTH, Tile, encode_bundle};
use rayon::prelude::*;

const BASE_MS: u64 = 1_798_761_600_000; // 2027-01-01, after every reported month

fn providers(n: usize) -> Vec<OrgNumber> {
    (5_560_000_000u64..)
        .filter_map(|x| x.to_string().parse::<OrgNumber>().ok())
        .take(n)
        .collect()
}

/// The statements of the log, unsigned, with who signs each: 0 = operator, 1 = municipality,
/// 2 + i = provider i.
fn plan(n: u64) -> Vec<(usize, Statement)> {
    let log_key = SigningKey::from_seed(&[1; 32]);
    let muni_key = SigningKey::from_seed(&[2; 32]);
    let m: MunicipalityCode = "0180".parse().unwrap();
    let ma = Actor::Municipality(m);
    let provs = providers(100);
    let pkeys: Vec<SigningKey> = (0..provs.len())
        .map(|i| SigningKey::from_seed(&[3 + i as u8; 32]))
        .collect();
    let mut out: Vec<(usize, Statement)> = Vec::with_capacity(n as usize);
    let st = |actor: Actor, key: &SigningKey, body: Body, payload: Option<&[u8]>| {
        Statement::new(actor, key.key_id(), body, payload.map(sha256)).unwrap()
    };
    out.push((
        0,
        st(
            Actor::Operator,
            &log_key,
            Body::MunicipalityRegistered { municipality: m },
            None,
        ),
    ));
    out.push((
        0,
        st(
            Actor::Operator,
            &log_key,
            Body::KeyAdded {
                subject: ma.clone(),
                public_key: muni_key.public_key().to_bytes(),
            },
            None,
        ),
    ));
    let mut reports = Vec::new();
    for (i, p) in provs.iter().enumerate() {
        let contract = ContractRef {
            municipality: m,
            reference: format!("C-{i}").parse().unwrap(),
        };
        out.push((
            1,
            st(
                ma.clone(),
                &muni_key,
                Body::ProviderRegistered { provider: *p },
                None,
            ),
        ));
        out.push((
            1,
            st(
                ma.clone(),
                &muni_key,
                Body::ContractRegistered {
                    contract: contract.clone(),
                    provider: *p,
                    first: "2026-01".parse().unwrap(),
                    last: "2026-12".parse().unwrap(),
                    budget: Sek(1_200_000),
                },
                None,
            ),
        ));
        out.push((
            1,
            st(
                ma.clone(),
                &muni_key,
                Body::KeyAdded {
                    subject: Actor::Provider(*p),
                    public_key: pkeys[i].public_key().to_bytes(),
                },
                None,
            ),
        ));
    }
    for month in 1..=11u32 {
        for (i, p) in provs.iter().enumerate() {
            let contract = ContractRef {
                municipality: m,
                reference: format!("C-{i}").parse().unwrap(),
            };
            let period: Period = format!("2026-{month:02}").parse().unwrap();
            let payload = format!("{{\"report\":\"{i}-{month}\"}}");
            reports.push(out.len() as u64);
            out.push((
                2 + i,
                st(
                    Actor::Provider(*p),
                    &pkeys[i],
                    Body::ReportSubmitted { contract, period },
                    Some(payload.as_bytes()),
                ),
            ));
        }
    }
    let mut k = 0usize;
    while (out.len() as u64) < n {
        let report = reports[k % reports.len()];
        k += 1;
        let body = Body::ReportReviewed {
            report,
            decision: Decision::Accepted,
            auditor: format!("account:{}", k % 50).parse().unwrap(),
        };
        out.push((
            1,
            st(ma.clone(), &muni_key, body, Some(b"{\"comment\":\"ok\"}")),
        ));
    }
    out.truncate(n as usize);
    out
}

fn keys() -> Vec<SigningKey> {
    let mut v = vec![
        SigningKey::from_seed(&[1; 32]),
        SigningKey::from_seed(&[2; 32]),
    ];
    v.extend((0..100).map(|i| SigningKey::from_seed(&[3 + i as u8; 32])));
    v
}

fn gen_bundle(n: u64, path: &str) {
    let t = Instant::now();
    let keys = keys();
    let plan = plan(n);
    let entries: Vec<Vec<u8>> = plan
        .into_par_iter()
        .enumerate()
        .map(|(i, (who, st))| st.sign(&keys[who]).into_entry(BASE_MS + i as u64).encode())
        .collect();
    eprintln!("signed {n} entries in {:.1}s", t.elapsed().as_secs_f64());
    let mut tree = StreamingTree::new();
    let mut hash_tiles = Vec::new();
    for e in &entries {
        tree.push(leaf_hash(e), |c| hash_tiles.push(c));
    }
    hash_tiles.extend(tree.partial_tiles());
    let signer = LogSigner::new("bench.example/insyn", keys[0].clone()).unwrap();
    let note = signer
        .sign_checkpoint(&Checkpoint::new("bench.example/insyn", n, tree.root()).unwrap())
        .unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut w = BundleWriter::new(file, &note).unwrap();
    for c in &hash_tiles {
        let bytes: Vec<u8> = c.hashes.iter().flat_map(|h| h.0).collect();
        w.tile(&c.tile.path(), &bytes).unwrap();
    }
    for (b, chunk) in entries.chunks(usize::from(TILE_WIDTH)).enumerate() {
        let tile = Tile::entries(b as u64, chunk.len() as u16).unwrap();
        w.tile(&tile.path(), &encode_bundle(chunk).unwrap())
            .unwrap();
    }
    w.finish().unwrap();
    println!("log verifier key: {}", signer.verifier_key());
    eprintln!("wrote {path} in {:.1}s", t.elapsed().as_secs_f64());
}

fn bare(n: u64) {
    let keys = keys();
    let plan = plan(n);
    let signed: Vec<_> = plan
        .into_par_iter()
        .map(|(who, st)| {
            let msg = st.signing_message();
            let sig = keys[who].sign(&msg);
            (who, msg, sig)
        })
        .collect();
    let pks: Vec<_> = keys.iter().map(SigningKey::public_key).collect();
    let cpu0 = cpu_seconds();
    let t = Instant::now();
    let mut bad = 0;
    for chunk in signed.chunks(4096) {
        let items: Vec<SignedMessage<'_>> = chunk
            .iter()
            .map(|(who, m, s)| SignedMessage {
                public_key: &pks[*who],
                message: m,
                signature: s,
            })
            .collect();
        bad += verify_many(&items).iter().filter(|r| r.is_err()).count();
    }
    let par = t.elapsed().as_secs_f64();
    let cpu1 = cpu_seconds();
    assert_eq!(bad, 0);
    let t = Instant::now();
    for (who, m, s) in &signed {
        verify(&pks[*who], m, s).unwrap();
    }
    let one = t.elapsed().as_secs_f64();
    let cpu2 = cpu_seconds();
    println!(
        "bare strict verification of {n} signatures: {par:.2}s on {} threads (verify_many, {:.2}s CPU), {one:.2}s on one thread ({:.2}s CPU)",
        rayon::current_num_threads(),
        cpu1 - cpu0,
        cpu2 - cpu1
    );
}

/// CPU time (user + system) this process has used so far, from `/proc/self/stat` (Linux; 0
/// elsewhere), so that figures on a shared machine can be compared by work as well as by wall time.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11..13).map_or(0.0, |v| {
        v.iter().filter_map(|x| x.parse::<f64>().ok()).sum()
    });
    ticks / 100.0
}

async fn serve(path: &str, addr: &str) {
    let reader = Arc::new(BundleReader::open(std::path::Path::new(path)).unwrap());
    let app = axum::Router::new()
        .route(
            "/checkpoint",
            axum::routing::get(|State(r): State<Arc<BundleReader>>| async move {
                r.checkpoint().to_vec()
            }),
        )
        .route(
            "/tile/{*path}",
            axum::routing::get(
                |State(r): State<Arc<BundleReader>>, Path(p): Path<String>| async move {
                    match r.tile(&format!("tile/{p}")) {
                        Ok(b) => b.into_response(),
                        Err(_) => StatusCode::NOT_FOUND.into_response(),
                    }
                },
            ),
        )
        .with_state(reader);
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    println!(
        "serving {path} on http://{}",
        listener.local_addr().unwrap()
    );
    axum::serve(listener, app).await.unwrap();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = |i: usize| {
        args.get(i)
            .and_then(|s| s.parse::<u64>().ok())
            .expect("a number of entries")
    };
    match args.get(1).map(String::as_str) {
        Some("gen") => gen_bundle(n(2), args.get(3).expect("an output file")),
        Some("bare") => bare(n(2)),
        Some("serve") => tokio::runtime::Runtime::new().unwrap().block_on(serve(
            args.get(2).expect("a bundle"),
            args.get(3).map_or("127.0.0.1:8099", String::as_str),
        )),
        _ => eprintln!("usage: verify_bench gen N FILE | bare N | serve FILE [ADDR]"),
    }
}

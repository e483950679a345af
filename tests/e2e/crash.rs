//! Crash test: concurrent submitters push pre-signed reports while the real `insyn serve` is killed
//! with SIGKILL at random moments, many times over. After every restart the log must hold every
//! receipt anyone got, at its index, provably (inclusion against the new checkpoint); it must be
//! consistent with every checkpoint anyone ever saw (receipts' and polled ones); it must have no
//! gap and no duplicate; and a resubmission after a crash must return the same receipt.
//!
//! `INSYN_CRASH_ROUNDS` sets the number of kills per database (default 10), `INSYN_CRASH_SEED`
//! the seed of the random kill moments (printed, so a failure can be replayed).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use insyn_ledger::entry::{Actor, Body, ContractRef, Entry, SignedStatement};
use insyn_ledger::hash::{Hash, from_base64};
use insyn_ledger::id::{Period, Sek};
use insyn_ledger::merkle::{MemoryHashes, tree_hash, verify_consistency, verify_inclusion};
use insyn_ledger::note::LogVerifier;
use insyn_ledger::receipt::Receipt;
use serde_json::{Value, json};

use crate::harness::{Db, Server, databases};
use crate::submissions::{Client, World, sign};

/// Concurrent submitters per round.
const SUBMITTERS: usize = 8;
/// Fresh reports put in play each round (besides those whose fate the last crash left unknown).
const FRESH_PER_ROUND: usize = 64;
/// Every month a contract of the test can be reported on (periods that have begun).
const PERIODS_PER_CONTRACT: usize = 322;

/// A small deterministic generator for the kill moments (xorshift64*), seeded and printed.
pub struct Rng(u64);

impl Rng {
    pub fn from_env(var: &str) -> Self {
        let seed = std::env::var(var)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            })
            | 1;
        eprintln!("{var}={seed}");
        Self(seed)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

/// A pre-signed report submission and the request body that carries it.
#[derive(Clone)]
pub struct Item {
    pub id: usize,
    pub dedupe: [u8; 32],
    pub body: Arc<Value>,
}

/// Signs `count` distinct reports (one per contract and period) for the world's provider,
/// registering as many long contracts as that needs through `c`.
pub async fn presign_reports(c: &Client, w: &World, count: usize, tag: &str) -> Vec<Item> {
    let periods: Vec<Period> = "2000-01"
        .parse::<Period>()
        .unwrap()
        .through("2026-10".parse().unwrap())
        .collect();
    assert_eq!(periods.len(), PERIODS_PER_CONTRACT);
    let contracts = count.div_ceil(PERIODS_PER_CONTRACT);
    let mut refs = Vec::new();
    for k in 0..contracts {
        let contract = ContractRef {
            municipality: w.municipality,
            reference: format!("{tag}-{k}").parse().unwrap(),
        };
        c.must_submit(
            &sign(
                &w.municipality_key,
                Actor::Municipality(w.municipality),
                Body::ContractRegistered {
                    contract: contract.clone(),
                    provider: w.provider,
                    first: periods[0],
                    last: *periods.last().unwrap(),
                    budget: Sek(90_000_000),
                },
                None,
            ),
            None,
        )
        .await;
        refs.push(contract);
    }
    let mut items = Vec::with_capacity(count);
    for id in 0..count {
        let contract = &refs[id / PERIODS_PER_CONTRACT];
        let period = periods[id % PERIODS_PER_CONTRACT];
        let mut v: Value = serde_json::from_slice(&w.report(&period.to_string())).unwrap();
        v["contract"]["reference"] = json!(contract.reference.as_str());
        let report = serde_json::to_vec(&v).unwrap();
        let signed = sign(
            &w.provider_key,
            Actor::Provider(w.provider),
            Body::ReportSubmitted {
                contract: contract.clone(),
                period,
            },
            Some(&report),
        );
        items.push(Item {
            id,
            dedupe: signed.dedupe_hash(),
            body: Arc::new(submission_body(&signed, &report)),
        });
    }
    items
}

fn submission_body(signed: &SignedStatement, payload: &[u8]) -> Value {
    json!({
        "statement": B64.encode(signed.statement().encode()),
        "signature": B64.encode(signed.signature().to_bytes()),
        "payload": B64.encode(payload),
    })
}

/// The log key the server printed when it started.
pub fn verifier_of(server: &Server) -> LogVerifier {
    let vkey = server
        .banner
        .iter()
        .find_map(|l| l.strip_prefix("log verifier key: "))
        .expect("the server prints its verifier key");
    LogVerifier::from_verifier_key(vkey).expect("a valid verifier key")
}

/// What the submitters and the checkpoint poller saw over all rounds.
#[derive(Default, Clone)]
pub struct Seen {
    /// Item id -> the index of every receipt answered for it.
    pub receipts: BTreeMap<usize, Vec<(u64, Hash)>>,
    /// Tree size -> root of every verified checkpoint anyone saw (receipts and `/checkpoint`).
    pub checkpoints: BTreeMap<u64, Hash>,
    /// Answers by status (0: the connection failed).
    pub statuses: BTreeMap<u16, u64>,
    /// Receipts answered 200 (resubmission of an entry already in the log).
    pub duplicates: u64,
}

impl Seen {
    pub fn checkpoint(&mut self, size: u64, root: Hash) {
        if let Some(old) = self.checkpoints.insert(size, root) {
            assert_eq!(
                old, root,
                "two checkpoints of size {size} with different roots: a fork"
            );
        }
    }
}

/// The outcome of one submission attempt.
enum Attempt {
    Receipt { status: u16, receipt: Box<Receipt> },
    Failed(u16),
}

async fn attempt(http: &reqwest::Client, url: &str, item: &Item) -> Attempt {
    let sent = http
        .post(format!("{url}/api/v1/entries"))
        .json(&*item.body)
        .timeout(Duration::from_secs(60))
        .send()
        .await;
    let Ok(r) = sent else {
        return Attempt::Failed(0);
    };
    let status = r.status().as_u16();
    let Ok(text) = r.text().await else {
        return Attempt::Failed(0);
    };
    match status {
        200 | 201 => {
            Attempt::Receipt {
                status,
                receipt: Box::new(Receipt::from_json(&text).unwrap_or_else(|e| {
                    panic!("a {status} answer that is no receipt ({e}): {text}")
                })),
            }
        }
        // A crash or a fault: the submission's fate is unknown; it is tried again later.
        0 | 502 | 503 => Attempt::Failed(status),
        _ => panic!("submission {} refused with {status}: {text}", item.id),
    }
}

/// One round: `SUBMITTERS` tasks drain `queue` against `url` and a poller reads `/checkpoint`,
/// until the queue is empty or `stop` is set (then every unanswered item goes back to `queue`).
pub async fn submit_round(
    url: &str,
    log: &LogVerifier,
    queue: &Arc<Mutex<VecDeque<Item>>>,
    seen: &Arc<Mutex<Seen>>,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for _ in 0..SUBMITTERS {
        let (queue, seen, stop, log) = (queue.clone(), seen.clone(), stop.clone(), log.clone());
        let url = url.to_owned();
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            loop {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Some(item) = queue.lock().unwrap().pop_front() else {
                    break;
                };
                match attempt(&http, &url, &item).await {
                    Attempt::Receipt { status, receipt } => {
                        let cp = receipt
                            .verify(&log)
                            .unwrap_or_else(|e| panic!("receipt {} does not verify: {e}", item.id));
                        assert_eq!(
                            receipt.entry.signed().dedupe_hash(),
                            item.dedupe,
                            "the receipt is for another statement"
                        );
                        let mut s = seen.lock().unwrap();
                        *s.statuses.entry(status).or_default() += 1;
                        if status == 200 {
                            s.duplicates += 1;
                        }
                        s.checkpoint(cp.size(), cp.root());
                        s.receipts
                            .entry(item.id)
                            .or_default()
                            .push((receipt.index, receipt.entry.leaf_hash()));
                    }
                    Attempt::Failed(status) => {
                        *seen.lock().unwrap().statuses.entry(status).or_default() += 1;
                        queue.lock().unwrap().push_back(item);
                        if !stop.load(Ordering::SeqCst) {
                            // Not our crash: a fault answered 503; back off briefly.
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
            }
        }));
    }
    // The poller: every checkpoint published while the round runs.
    let (seen, stop, log) = (seen.clone(), stop.clone(), log.clone());
    let url = url.to_owned();
    let queue = queue.clone();
    tasks.push(tokio::spawn(async move {
        let http = reqwest::Client::new();
        while !stop.load(Ordering::SeqCst) && !queue.lock().unwrap().is_empty() {
            if let Ok(r) = http.get(format!("{url}/checkpoint")).send().await
                && r.status() == 200
                && let Ok(note) = r.bytes().await
            {
                let cp = log
                    .verify_checkpoint(&note)
                    .expect("a published checkpoint verifies");
                seen.lock().unwrap().checkpoint(cp.size(), cp.root());
            }
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
    }));
    tasks
}

/// The log as the test has read it back: every leaf, and the statements' dedupe hashes.
#[derive(Default)]
pub struct Mirror {
    pub leaves: Vec<Hash>,
    pub dedupes: HashMap<[u8; 32], u64>,
}

impl Mirror {
    /// Reads the entries the mirror lacks from `url`, then checks the whole log against the
    /// server's checkpoint and everything `seen` holds. Returns the checked size.
    pub async fn check(
        &mut self,
        url: &str,
        log: &LogVerifier,
        seen: &Seen,
        fresh: &[u64],
        prove: &[(u64, Hash)],
    ) -> u64 {
        let http = reqwest::Client::new();
        let note = http
            .get(format!("{url}/checkpoint"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let cp = log
            .verify_checkpoint(&note)
            .expect("the checkpoint after a restart verifies");
        let size = cp.size();
        assert!(
            size >= self.leaves.len() as u64,
            "the log shrank from {} to {size}",
            self.leaves.len()
        );
        for i in self.leaves.len() as u64..size {
            let v: Value = http
                .get(format!("{url}/api/v1/entries/{i}"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let bytes = B64
                .decode(
                    v["entry"]
                        .as_str()
                        .unwrap_or_else(|| panic!("no entry {i}: {v}")),
                )
                .unwrap();
            let entry = Entry::decode(&bytes).expect("a stored entry decodes");
            let leaf = entry.leaf_hash();
            assert_eq!(
                from_base64(v["leaf_hash"].as_str().unwrap()).unwrap(),
                leaf,
                "entry {i}'s leaf hash"
            );
            if let Some(first) = self.dedupes.insert(entry.signed().dedupe_hash(), i) {
                panic!("the same signed statement is in the log twice: at {first} and {i}");
            }
            self.leaves.push(leaf);
        }
        // No gap, nothing rewritten: the leaves read back hash to the signed root.
        let tree = MemoryHashes::from_leaves(self.leaves.iter().copied());
        assert_eq!(
            tree.root(),
            cp.root(),
            "the entries do not hash to the checkpoint's root"
        );
        // Consistent with every checkpoint anyone saw, here and through the server's proofs.
        for (&old, &old_root) in &seen.checkpoints {
            assert!(
                old <= size,
                "a checkpoint of size {old} was published (a receipt or /checkpoint) but the log now has {size} entries: acknowledged entries were lost"
            );
            assert_eq!(
                tree_hash(old, &tree).unwrap(),
                old_root,
                "the log is not consistent with the published checkpoint of size {old}"
            );
        }
        for &old in fresh {
            let old_root = seen.checkpoints[&old];
            let proof = proof_of(
                &http
                    .get(format!(
                        "{url}/api/v1/proofs/consistency?from={old}&to={size}"
                    ))
                    .send()
                    .await
                    .unwrap()
                    .json::<Value>()
                    .await
                    .unwrap(),
            );
            verify_consistency(&proof, old, old_root, size, cp.root()).unwrap_or_else(|e| {
                panic!("the server's consistency proof {old} -> {size} fails: {e}")
            });
        }
        // Every receipt anyone got is in the log at its index, and the server proves it.
        for (id, receipts) in &seen.receipts {
            let (index, leaf) = receipts[0];
            assert!(
                receipts.iter().all(|r| *r == (index, leaf)),
                "item {id} got receipts for different entries: {receipts:?} (dedupe failed)"
            );
            assert!(
                index < size,
                "receipt {index} is beyond the log's size {size}"
            );
            assert_eq!(
                self.leaves[index as usize], leaf,
                "receipt {index}'s entry is not the log's entry {index}"
            );
        }
        for &(index, leaf) in prove {
            let proof = proof_of(
                &http
                    .get(format!(
                        "{url}/api/v1/proofs/inclusion?index={index}&size={size}"
                    ))
                    .send()
                    .await
                    .unwrap()
                    .json::<Value>()
                    .await
                    .unwrap(),
            );
            verify_inclusion(&proof, size, cp.root(), index, leaf)
                .unwrap_or_else(|e| panic!("receipt {index} is not proved in the new tree: {e}"));
        }
        size
    }
}

fn proof_of(v: &Value) -> Vec<Hash> {
    v["proof"]
        .as_array()
        .unwrap_or_else(|| panic!("not a proof: {v}"))
        .iter()
        .map(|h| from_base64(h.as_str().unwrap()).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_at_random_moments_loses_no_receipt_and_leaves_no_gap_nor_duplicate() {
    let rounds: usize = std::env::var("INSYN_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    for db in databases("crash") {
        let started = Instant::now();
        let mut rng = Rng::from_env("INSYN_CRASH_SEED");
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let server = Server::start_in(&data_dir, &db, &[]);
        let log = verifier_of(&server);
        let c = Client::attach(server, log.clone());
        let w = World::register(&c).await;
        let items = presign_reports(&c, &w, rounds * FRESH_PER_ROUND, "CRASH").await;
        let setup = c.size().await;
        let mut server = c.server;

        let queue: Arc<Mutex<VecDeque<Item>>> = Arc::default();
        let seen: Arc<Mutex<Seen>> = Arc::default();
        let mut mirror = Mirror::default();
        let mut fresh_items = items.chunks(FRESH_PER_ROUND);
        let (mut kills, mut cut_short) = (0u64, 0u64);
        let mut restart_secs: Vec<f64> = Vec::new();
        // The last round crashes nothing: it lets every item whose fate is still unknown be
        // resubmitted, so that at the end every report must be in the log exactly once.
        for round in 0..=rounds {
            let last = round == rounds;
            let checked_size = mirror.leaves.len() as u64;
            let checked: HashSet<u64> = seen.lock().unwrap().checkpoints.keys().copied().collect();
            if let Some(chunk) = fresh_items.next() {
                queue.lock().unwrap().extend(chunk.iter().cloned());
            }
            let stop = Arc::new(AtomicBool::new(false));
            let tasks = submit_round(&server.url, &log, &queue, &seen, &stop).await;
            if !last {
                tokio::time::sleep(Duration::from_millis(10 + rng.below(400))).await;
                if !queue.lock().unwrap().is_empty() {
                    cut_short += 1;
                }
                // SIGKILL with requests in flight: the server gets no chance to finish anything.
                stop.store(true, Ordering::SeqCst);
                server.kill();
                kills += 1;
            }
            for t in tasks {
                t.await.unwrap();
            }
            if !last {
                drop(server);
                let t = Instant::now();
                server = Server::start_in(&data_dir, &db, &[]);
                restart_secs.push(t.elapsed().as_secs_f64());
            }
            let snapshot = seen.lock().unwrap().clone();
            let fresh: Vec<u64> = snapshot
                .checkpoints
                .keys()
                .copied()
                .filter(|k| !checked.contains(k))
                .collect();
            let mut prove: Vec<(u64, Hash)> = snapshot
                .receipts
                .values()
                .map(|r| r[0])
                .filter(|(i, _)| *i >= checked_size)
                .collect();
            // And a few older receipts, again, against the newest tree.
            let older: Vec<(u64, Hash)> = snapshot
                .receipts
                .values()
                .map(|r| r[0])
                .filter(|(i, _)| *i < checked_size)
                .collect();
            for _ in 0..older.len().min(16) {
                prove.push(older[rng.below(older.len() as u64) as usize]);
            }
            let size = mirror
                .check(&server.url, &log, &snapshot, &fresh, &prove)
                .await;
            eprintln!(
                "crash {db:?} round {round}: log size {size}, {} reports waiting",
                queue.lock().unwrap().len()
            );
        }
        drop(server);
        let seen = seen.lock().unwrap().clone();
        assert!(queue.lock().unwrap().is_empty());
        assert_eq!(
            seen.receipts.len(),
            items.len(),
            "every report got a receipt in the end"
        );
        assert_eq!(
            mirror.leaves.len(),
            setup as usize + items.len(),
            "every report is in the log exactly once"
        );
        for item in &items {
            assert!(
                mirror.dedupes.contains_key(&item.dedupe),
                "report {} is missing",
                item.id
            );
        }
        let answered: u64 = seen
            .statuses
            .iter()
            .filter(|(k, _)| **k != 0)
            .map(|(_, v)| v)
            .sum();
        let kind = match db {
            Db::Sqlite => "SQLite",
            Db::Postgres(_) => "PostgreSQL",
        };
        eprintln!(
            "CRASH SUMMARY {kind}: {kills} SIGKILLs ({cut_short} with reports still queued), {} \
             reports in the log exactly once, {} distinct checkpoints checked, answers by status \
             {:?} (0 = connection failed; {answered} answered; {} resubmissions answered 200 with \
             the same entry), restart to listening {:.2}..{:.2} s, {:.1} s in all",
            items.len(),
            seen.checkpoints.len(),
            seen.statuses,
            seen.duplicates,
            restart_secs.iter().copied().fold(f64::INFINITY, f64::min),
            restart_secs.iter().copied().fold(0.0, f64::max),
            started.elapsed().as_secs_f64()
        );
    }
}

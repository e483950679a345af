//! The engine against logs written here: findings are exactly those of the sequential replay,
//! wherever a bad entry falls in the chunks whose signatures are checked in parallel.

use std::sync::Arc;

use insyn_domain::rules::LedgerState;
use insyn_ledger::checkpoint::Checkpoint;
use insyn_ledger::entry::{Actor, Body, ContractRef, Decision, Entry, SignedStatement, Statement};
use insyn_ledger::hash::{leaf_hash, sha256};
use insyn_ledger::id::{MunicipalityCode, OrgNumber, Sek};
use insyn_ledger::keys::SigningKey;
use insyn_ledger::note::{LogSigner, LogVerifier};
use insyn_ledger::tile::{TILE_WIDTH, Tile, encode_bundle};

use super::{Finding, VerifyOptions, verify};
use crate::bundle::BundleWriter;
use crate::source::BundleSource;
use crate::state::StateDir;
use crate::tree::StreamingTree;

const AT: u64 = 1_798_761_600_000; // 2027-01-01, after every reported month

struct Log {
    log: SigningKey,
    muni: SigningKey,
    prov: SigningKey,
    entries: Vec<Entry>,
}

fn m() -> MunicipalityCode {
    "0180".parse().unwrap()
}
fn p() -> OrgNumber {
    "5560360793".parse().unwrap()
}
fn contract() -> ContractRef {
    ContractRef {
        municipality: m(),
        reference: "C-1".parse().unwrap(),
    }
}

impl Log {
    fn new() -> Self {
        Self {
            log: SigningKey::from_seed(&[1; 32]),
            muni: SigningKey::from_seed(&[2; 32]),
            prov: SigningKey::from_seed(&[3; 32]),
            entries: Vec::new(),
        }
    }

    fn push(&mut self, actor: Actor, body: Body, payload: Option<&[u8]>, key: &SigningKey) {
        let signed = Statement::build_and_sign(actor, body, payload.map(sha256), key).unwrap();
        self.push_signed(signed);
    }

    fn push_signed(&mut self, signed: SignedStatement) {
        let at = AT + self.entries.len() as u64;
        self.entries.push(signed.into_entry(at));
    }

    fn op(&mut self, body: Body) {
        let k = self.log.clone();
        self.push(Actor::Operator, body, None, &k);
    }

    fn by_muni(&mut self, body: Body) {
        let k = self.muni.clone();
        self.push(Actor::Municipality(m()), body, None, &k);
    }

    fn report(&mut self, month: u32, key: &SigningKey) {
        self.push(
            Actor::Provider(p()),
            Body::ReportSubmitted {
                contract: contract(),
                period: format!("2026-{month:02}").parse().unwrap(),
            },
            Some(format!("{{\"month\":{month}}}").as_bytes()),
            key,
        );
    }

    fn review(&mut self, report: u64) {
        self.by_muni(Body::ReportReviewed {
            report,
            decision: Decision::Accepted,
            auditor: "account:1".parse().unwrap(),
        });
    }

    /// The registrations, a provider key added and used in the same bundle, a first report.
    fn start() -> Self {
        let mut l = Self::new();
        l.op(Body::MunicipalityRegistered { municipality: m() });
        l.op(Body::KeyAdded {
            subject: Actor::Municipality(m()),
            public_key: l.muni.public_key().to_bytes(),
        });
        l.by_muni(Body::ProviderRegistered { provider: p() });
        l.by_muni(Body::ContractRegistered {
            contract: contract(),
            provider: p(),
            first: "2026-01".parse().unwrap(),
            last: "2026-12".parse().unwrap(),
            budget: Sek(1_000_000),
        });
        l.by_muni(Body::KeyAdded {
            subject: Actor::Provider(p()),
            public_key: l.prov.public_key().to_bytes(),
        });
        let k = l.prov.clone();
        l.report(1, &k);
        l
    }

    fn fill_reviews(&mut self, upto: usize) {
        while self.entries.len() < upto {
            self.review(5);
        }
    }

    /// Writes the log as an export bundle signed by the log key; returns the verifier.
    fn write(&self, path: &std::path::Path) -> LogVerifier {
        let bytes: Vec<Vec<u8>> = self.entries.iter().map(Entry::encode).collect();
        let mut tree = StreamingTree::new();
        let mut tiles = Vec::new();
        for e in &bytes {
            tree.push(leaf_hash(e), |c| tiles.push(c));
        }
        tiles.extend(tree.partial_tiles());
        let signer = LogSigner::new("test.example/insyn", self.log.clone()).unwrap();
        let cp = Checkpoint::new("test.example/insyn", bytes.len() as u64, tree.root()).unwrap();
        let note = signer.sign_checkpoint(&cp).unwrap();
        let mut w = BundleWriter::new(std::fs::File::create(path).unwrap(), &note).unwrap();
        for c in &tiles {
            let h: Vec<u8> = c.hashes.iter().flat_map(|h| h.0).collect();
            w.tile(&c.tile.path(), &h).unwrap();
        }
        for (b, chunk) in bytes.chunks(usize::from(TILE_WIDTH)).enumerate() {
            let tile = Tile::entries(b as u64, u16::try_from(chunk.len()).unwrap()).unwrap();
            w.tile(&tile.path(), &encode_bundle(chunk).unwrap())
                .unwrap();
        }
        w.finish().unwrap();
        signer.verifier().clone()
    }

    /// The findings of the plain sequential replay (`LedgerState::apply`, one signature at a
    /// time), as the engine words them.
    fn sequential_findings(&self) -> Vec<Finding> {
        let mut state = LedgerState::new(self.log.public_key());
        let mut out = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            if let Err(problems) = state.apply(e) {
                let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
                out.push(Finding {
                    index: Some(i as u64),
                    message: format!("breaks the ledger's rules: {}", text.join("; ")),
                });
            }
        }
        out
    }
}

async fn run(log: &Log, opts: impl FnOnce(LogVerifier) -> VerifyOptions) -> super::Report {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.insyn");
    let verifier = log.write(&path);
    let source = Arc::new(BundleSource::open(&path).unwrap());
    verify(source, &opts(verifier)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_honest_log_verifies_with_keys_added_and_used_inside_one_chunk() {
    let mut log = Log::start();
    log.fill_reviews(3 * usize::from(TILE_WIDTH) + 17);
    assert!(log.sequential_findings().is_empty());
    let report = run(&log, VerifyOptions::new).await;
    assert!(report.is_ok(), "{:?}", report.findings);
    assert_eq!(report.signatures_checked, log.entries.len() as u64);
}

/// A forged signature in the middle of a bundle, a revoked key used in the next bundle, and a
/// key the log never registered: each reported at its own index with the sequential wording.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signatures_inside_parallel_chunks_are_named_at_their_index() {
    let mut log = Log::start();
    log.fill_reviews(400);
    // Entry 400: a review whose signature is over something else.
    let good = Statement::build_and_sign(
        Actor::Municipality(m()),
        Body::ReportReviewed {
            report: 5,
            decision: Decision::Flagged,
            auditor: "account:2".parse().unwrap(),
        },
        None,
        &log.muni,
    )
    .unwrap();
    let forged = SignedStatement::new(good.statement().clone(), log.muni.sign(b"not this"));
    log.push_signed(forged);
    // 401: a statement by a key the log never carried.
    let stranger = SigningKey::from_seed(&[9; 32]);
    log.report(2, &stranger);
    log.fill_reviews(600);
    // 600: the provider's key revoked; 601: a report with it, inside the same bundle.
    log.by_muni(Body::KeyRevoked {
        subject: Actor::Provider(p()),
        key_id: log.prov.key_id(),
    });
    let k = log.prov.clone();
    log.report(3, &k);
    log.fill_reviews(700);

    let expected = log.sequential_findings();
    let at: Vec<Option<u64>> = expected.iter().map(|f| f.index).collect();
    assert_eq!(at, vec![Some(400), Some(401), Some(601)]);
    assert!(expected[0].message.contains("signature"), "{expected:?}");

    let report = run(&log, VerifyOptions::new).await;
    assert_eq!(report.findings, expected);
    assert_eq!(report.first_bad_index(), Some(400));
    assert_eq!(report.signatures_checked, 700);
}

/// A resumed run rebuilds the key history from the cache in parallel chunks and gives the same
/// verdicts: an entry appended later with the revoked key is still refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_replays_the_cache_in_parallel_chunks() {
    let state = tempfile::tempdir().unwrap();
    let mut log = Log::start();
    log.fill_reviews(2000);
    log.by_muni(Body::KeyRevoked {
        subject: Actor::Provider(p()),
        key_id: log.prov.key_id(),
    });
    let with_state = |v: LogVerifier| {
        let mut o = VerifyOptions::new(v);
        o.state = Some(StateDir::new(state.path()));
        o
    };
    let first = run(&log, with_state).await;
    assert!(first.is_ok(), "{:?}", first.findings);
    assert!(first.state_saved);

    log.fill_reviews(2100);
    let k = log.prov.clone();
    log.report(4, &k);
    let second = run(&log, with_state).await;
    assert_eq!(second.entries_replayed, 2001);
    assert_eq!(second.verified_from, 2001);
    assert_eq!(second.findings.len(), 1, "{:?}", second.findings);
    assert_eq!(second.first_bad_index(), Some(2100));
    assert_eq!(second.findings, log.sequential_findings());
}

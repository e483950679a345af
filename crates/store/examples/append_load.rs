//! Measures the sequencer alone (no HTTP): pre-signed reports submitted by many concurrent
//! tasks to a real database with full durability. Prints sustained rate and latency.
//!
//!     cargo run --release -p insyn-store --example append_load -- [N] [database-url|-] [submitters]
//!
//! Without a URL (or with `-`) it uses a fresh SQLite file in a temp dir. The policy here checks keys the way
//! the ledger's key history does but trusts the sequencer's bulk signature check, as a
//! production policy should.

use std::sync::Arc;
use std::time::{Duration, Instant};

use insyn_ledger::entry::{Actor, Body, ContractRef, Entry, Statement};
use insyn_ledger::hash::sha256;
use insyn_ledger::history::KeyHistory;
use insyn_ledger::id::Period;
use insyn_ledger::keys::{PublicKey, SigningKey};
use insyn_ledger::note::LogSigner;
use insyn_store::{
    Admission, AdmissionPolicy, Candidate, Sequencer, SequencerConfig, SignatureCheck, Store,
};

struct LoadPolicy {
    log_key: PublicKey,
    keys: KeyHistory,
}

impl AdmissionPolicy for LoadPolicy {
    type Problem = String;

    fn public_key(&self, statement: &Statement) -> Option<PublicKey> {
        if *statement.actor() == Actor::Operator {
            return Some(self.log_key);
        }
        self.keys.key(&statement.key_id()).map(|r| r.public_key)
    }

    fn check(&self, c: &Admission<'_>) -> Vec<String> {
        let st = c.entry.statement();
        match c.signature {
            SignatureCheck::Verified(_) if matches!(st.body(), Body::ReportSubmitted { .. }) => {
                // Key validity without a second signature check.
                match self.keys.key(&st.key_id()) {
                    Some(r) if r.actor == *st.actor() && r.revoked_at.is_none() => Vec::new(),
                    _ => vec!["key not valid for the actor".to_owned()],
                }
            }
            _ => self
                .keys
                .check(c.entry.signed())
                .err()
                .map(|e| e.to_string())
                .into_iter()
                .collect(),
        }
    }

    fn apply(&mut self, _index: u64, entry: &Entry) {
        // KeyHistory::apply verifies the signature again (31 µs); reports do not change the key
        // history, so the load policy skips them (see the store's report on the ledger API).
        if !matches!(entry.statement().body(), Body::ReportSubmitted { .. }) {
            let _ = self.keys.apply(entry);
        }
    }
}

fn candidate(actor: &Actor, key: &SigningKey, body: Body, payload: Option<Vec<u8>>) -> Candidate {
    let hash = payload.as_deref().map(sha256);
    let st = Statement::build_and_sign(actor.clone(), body, hash, key).expect("statement");
    Candidate::new(st, payload).expect("candidate")
}

#[tokio::main]
async fn main() {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .init();
    }
    let args: Vec<String> = std::env::args().collect();
    let n: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let url = args
        .get(2)
        .filter(|u| u.as_str() != "-")
        .cloned()
        .unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("load.sqlite").display()
            )
        });

    let signer =
        LogSigner::new("localhost/insyn", SigningKey::from_seed(&[1; 32])).expect("signer");
    let log_key = *signer.verifier().public_key();
    let store = Store::connect(&url).await.expect("connect");
    let (seq, _task) = Sequencer::start(
        store.clone(),
        signer.clone(),
        move || LoadPolicy {
            log_key,
            keys: KeyHistory::new(log_key),
        },
        SequencerConfig::default(),
    )
    .await
    .expect("sequencer");

    let municipality = "0180".parse().expect("code");
    let m = Actor::Municipality(municipality);
    let mkey = SigningKey::from_seed(&[2; 32]);
    let provider = "5560360793".parse().expect("org");
    let p = Actor::Provider(provider);
    let pkey = SigningKey::from_seed(&[3; 32]);
    let setup = vec![
        Candidate::new(
            signer
                .sign_statement(Body::MunicipalityRegistered { municipality }, None)
                .expect("st"),
            None,
        )
        .expect("c"),
        Candidate::new(
            signer
                .sign_statement(
                    Body::KeyAdded {
                        subject: m.clone(),
                        public_key: mkey.public_key().to_bytes(),
                    },
                    None,
                )
                .expect("st"),
            None,
        )
        .expect("c"),
        candidate(&m, &mkey, Body::ProviderRegistered { provider }, None),
        candidate(
            &m,
            &mkey,
            Body::KeyAdded {
                subject: p.clone(),
                public_key: pkey.public_key().to_bytes(),
            },
            None,
        ),
    ];
    for c in setup {
        seq.submit(c).await.expect("setup");
    }

    // Pre-sign the load so that signing is not measured.
    let t = Instant::now();
    let reports: Vec<Candidate> = (0..n)
        .map(|i| {
            let contract = ContractRef {
                municipality,
                reference: format!("c-{}", i / 600).parse().expect("reference"),
            };
            let k = i % 600;
            let period = Period::new(
                2000 + u16::try_from(k / 12).expect("small"),
                u8::try_from(k % 12 + 1).expect("m"),
            )
            .expect("period");
            let payload =
                format!(r#"{{"schema":1,"n":{i},"active":12,"completed":3,"notes":"synthetic"}}"#);
            candidate(
                &p,
                &pkey,
                Body::ReportSubmitted { contract, period },
                Some(payload.into_bytes()),
            )
        })
        .collect();
    println!("pre-signed {n} reports in {:?}", t.elapsed());

    let submitters: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(4096);
    let per = reports.len().div_ceil(submitters);
    let reports = Arc::new(std::sync::Mutex::new(reports));
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..submitters {
        let mine: Vec<Candidate> = {
            let mut all = reports.lock().expect("lock");
            let k = per.min(all.len());
            all.drain(..k).collect()
        };
        let seq = seq.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(mine.len());
            for c in mine {
                let s = Instant::now();
                seq.submit(c).await.expect("accepted");
                lat.push(s.elapsed());
            }
            lat
        }));
    }
    let mut lat: Vec<Duration> = Vec::new();
    for task in tasks {
        lat.extend(task.await.expect("task"));
    }
    let elapsed = t.elapsed();
    lat.sort_unstable();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    println!(
        "{} reports in {:.2?}: {:.0}/s; latency p50 {:.1?} p99 {:.1?} max {:.1?} ({})",
        lat.len(),
        elapsed,
        lat.len() as f64 / elapsed.as_secs_f64(),
        pct(0.5),
        pct(0.99),
        lat[lat.len() - 1],
        if url.starts_with("sqlite") {
            "SQLite, synchronous=FULL"
        } else {
            "PostgreSQL"
        }
    );
    println!("log size {}", store.size().await.expect("size"));
}

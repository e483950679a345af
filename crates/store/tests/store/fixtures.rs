//! A tiny admission policy (tests only: the real one lives in `insyn-domain`) and synthetic
//! actors, keys and statements.

use std::collections::HashSet;
use std::sync::Arc;

use insyn_ledger::entry::{Actor, Body, ContractRef, Entry, SignedStatement, Statement};
use insyn_ledger::hash::sha256;
use insyn_ledger::history::KeyHistory;
use insyn_ledger::id::{MunicipalityCode, OrgNumber, Period};
use insyn_ledger::keys::{PublicKey, SigningKey};
use insyn_ledger::note::LogSigner;
use insyn_store::{
    Admission, AdmissionPolicy, Candidate, ManualClock, Sequencer, SequencerConfig, SignatureCheck,
    Store,
};

/// Key history plus "one original report per contract and period".
pub(crate) struct TestPolicy {
    log_key: PublicKey,
    keys: KeyHistory,
    reported: HashSet<(ContractRef, Period)>,
}

impl TestPolicy {
    pub(crate) fn new(log_key: PublicKey) -> Self {
        Self {
            log_key,
            keys: KeyHistory::new(log_key),
            reported: HashSet::new(),
        }
    }
}

impl AdmissionPolicy for TestPolicy {
    type Problem = String;

    fn public_key(&self, statement: &Statement) -> Option<PublicKey> {
        if *statement.actor() == Actor::Operator {
            return Some(self.log_key);
        }
        self.keys.key(&statement.key_id()).map(|r| r.public_key)
    }

    fn check(&self, c: &Admission<'_>) -> Vec<String> {
        let mut problems = Vec::new();
        if let SignatureCheck::Invalid(e) = c.signature {
            problems.push(format!("signature: {e}"));
        }
        if let Err(e) = self.keys.check(c.entry.signed()) {
            problems.push(format!("key history: {e}"));
        }
        if let Body::ReportSubmitted { contract, period } = c.entry.statement().body()
            && self.reported.contains(&(contract.clone(), *period))
        {
            problems.push(format!("{contract} already has a report for {period}"));
        }
        problems
    }

    fn apply(&mut self, _index: u64, entry: &Entry) {
        let _ = self.keys.apply(entry);
        if let Body::ReportSubmitted { contract, period } = entry.statement().body() {
            self.reported.insert((contract.clone(), *period));
        }
    }
}

/// The log's key and synthetic actors.
pub(crate) struct World {
    pub(crate) signer: LogSigner,
    pub(crate) municipality: MunicipalityCode,
    pub(crate) municipality_key: SigningKey,
    pub(crate) provider: OrgNumber,
    pub(crate) provider_key: SigningKey,
}

impl World {
    pub(crate) fn new() -> Self {
        Self {
            signer: LogSigner::new("localhost/insyn", SigningKey::from_seed(&[1; 32]))
                .expect("signer"),
            municipality: "0180".parse().expect("Stockholm"),
            municipality_key: SigningKey::from_seed(&[2; 32]),
            provider: "5560360793".parse().expect("valid org number"),
            provider_key: SigningKey::from_seed(&[3; 32]),
        }
    }

    pub(crate) fn policy(&self) -> impl Fn() -> TestPolicy + Send + Sync + 'static {
        let key = self.signer.verifier().public_key().to_owned();
        move || TestPolicy::new(key)
    }

    pub(crate) async fn sequencer(&self, store: &Store) -> Sequencer<TestPolicy> {
        self.sequencer_with(store, SequencerConfig::default()).await
    }

    pub(crate) async fn sequencer_with(
        &self,
        store: &Store,
        config: SequencerConfig,
    ) -> Sequencer<TestPolicy> {
        let (seq, _task) =
            Sequencer::start(store.clone(), self.signer.clone(), self.policy(), config)
                .await
                .expect("start sequencer");
        seq
    }

    /// Registers the municipality, its key, the provider and the provider's key (4 entries).
    pub(crate) fn setup(&self) -> Vec<Candidate> {
        let m = Actor::Municipality(self.municipality);
        let p = Actor::Provider(self.provider);
        let profile = br#"{"name":"Synthetic Exit AB"}"#.to_vec();
        vec![
            op(
                &self.signer,
                Body::MunicipalityRegistered {
                    municipality: self.municipality,
                },
            ),
            op(
                &self.signer,
                Body::KeyAdded {
                    subject: m.clone(),
                    public_key: self.municipality_key.public_key().to_bytes(),
                },
            ),
            signed(
                &m,
                &self.municipality_key,
                Body::ProviderRegistered {
                    provider: self.provider,
                },
                Some(profile),
            ),
            signed(
                &m,
                &self.municipality_key,
                Body::KeyAdded {
                    subject: p,
                    public_key: self.provider_key.public_key().to_bytes(),
                },
                None,
            ),
        ]
    }

    pub(crate) fn contract(&self, n: u32) -> ContractRef {
        ContractRef {
            municipality: self.municipality,
            reference: format!("c-{n}").parse().expect("reference"),
        }
    }

    /// Report number `n`: contract `n / 120`, one of 120 periods from 2020-01.
    pub(crate) fn report(&self, n: u32) -> Candidate {
        let contract = self.contract(n / 120);
        let k = n % 120;
        let period = Period::new(
            2020 + u16::try_from(k / 12).expect("small"),
            u8::try_from(k % 12 + 1).expect("month"),
        )
        .expect("period");
        let payload = format!(r#"{{"schema":1,"n":{n},"active":12}}"#).into_bytes();
        signed(
            &Actor::Provider(self.provider),
            &self.provider_key,
            Body::ReportSubmitted { contract, period },
            Some(payload),
        )
    }
}

pub(crate) fn op(signer: &LogSigner, body: Body) -> Candidate {
    Candidate::new(signer.sign_statement(body, None).expect("statement"), None).expect("candidate")
}

pub(crate) fn signed(
    actor: &Actor,
    key: &SigningKey,
    body: Body,
    payload: Option<Vec<u8>>,
) -> Candidate {
    let hash = payload.as_deref().map(sha256);
    let st: SignedStatement =
        Statement::build_and_sign(actor.clone(), body, hash, key).expect("statement");
    Candidate::new(st, payload).expect("candidate")
}

/// A store on `url` with a manual clock at 2026-11-25.
pub(crate) async fn store(url: &str) -> (Store, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(1_795_000_000_000));
    let store = Store::connect(url)
        .await
        .expect("connect")
        .with_clock(clock.clone());
    (store, clock)
}

/// A store on `url` with a running sequencer and the world's municipality, provider and keys.
pub(crate) async fn registered(url: &str) -> (World, Store, Sequencer<TestPolicy>) {
    let world = World::new();
    let (store, _clock) = store(url).await;
    let seq = world.sequencer(&store).await;
    for c in world.setup() {
        seq.submit(c).await.expect("setup");
    }
    (world, store, seq)
}

pub(crate) fn period(year: u16, month: u8) -> Period {
    Period::new(year, month).expect("period")
}

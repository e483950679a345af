//! Key history: replays the log in order and decides, for each signed entry, whether its key
//! was valid at that point — registered earlier for that actor by an allowed signer, not revoked
//! earlier, not weak — and whether that actor may sign that kind of entry. Operator statements are
//! checked against the log's key.
//!
//! Incremental: [`KeyHistory::apply`] takes one entry at a time, so the sequencer keeps one in
//! memory and checks each submission with [`KeyHistory::check`] before appending it. Memory grows
//! with the number of keys and registered actors, never with the number of entries.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::entry::{Actor, Body, Entry, InspectorName, Kind, SignedStatement};
use crate::id::{MunicipalityCode, OrgNumber};
use crate::keys::{KeyError, KeyId, PublicKey, SignatureError};

/// Why an entry is not valid at its point in the log. Messages are for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// The statement names a key the log has never registered.
    #[error("key {0} is not registered in the log")]
    UnknownKey(KeyId),
    /// The key belongs to another actor.
    #[error("key {key_id} belongs to {owner}, not to {actor}")]
    WrongActor {
        /// The key.
        key_id: KeyId,
        /// Its owner.
        owner: Actor,
        /// The actor the statement claims.
        actor: Actor,
    },
    /// The key was revoked before this entry.
    #[error("key {key_id} was revoked at entry {revoked_at}")]
    Revoked {
        /// The key.
        key_id: KeyId,
        /// Leaf index of the revocation.
        revoked_at: u64,
    },
    /// An Operator statement not naming the log's key.
    #[error(
        "statements by the log operator must be signed with the log key {log_key}, not {key_id}"
    )]
    NotLogKey {
        /// The log key's ID.
        log_key: KeyId,
        /// The key ID the statement names.
        key_id: KeyId,
    },
    /// The signature does not verify.
    #[error("the signature does not verify: {0}")]
    Signature(#[from] SignatureError),
    /// This actor may not sign this kind of entry.
    #[error("{actor} may not sign a {kind} entry")]
    NotAllowed {
        /// The kind.
        kind: Kind,
        /// The actor.
        actor: Actor,
    },
    /// The signer may not manage the subject's keys.
    #[error("{signer} may not add or revoke keys of {subject}")]
    NotRegistrar {
        /// Who signed.
        signer: Actor,
        /// Whose keys.
        subject: Actor,
    },
    /// The subject (or the provider of a contract) is not registered in the log.
    #[error("{0} is not registered in the log")]
    NotRegistered(Actor),
    /// A second registration of the same actor by the same registrar.
    #[error("{0} is already registered")]
    AlreadyRegistered(Actor),
    /// The operator's key is the log key and is not managed by entries.
    #[error("the log operator's key is the log key; it is not added or revoked in the log")]
    OperatorKey,
    /// A refused public key in a `KeyAdded` entry.
    #[error("the added key is refused: {0}")]
    BadKey(KeyError),
    /// A key added twice (keys are never reused, even after revocation).
    #[error("key {0} is already registered; a key can be added only once")]
    DuplicateKey(KeyId),
    /// A revocation of a key that is not the subject's.
    #[error("key {key_id} is not a key of {subject}")]
    NotSubjectsKey {
        /// The key.
        key_id: KeyId,
        /// The subject named.
        subject: Actor,
    },
    /// A revocation of an already revoked key.
    #[error("key {key_id} was already revoked at entry {revoked_at}")]
    AlreadyRevoked {
        /// The key.
        key_id: KeyId,
        /// When it was revoked.
        revoked_at: u64,
    },
    /// A municipality registering another municipality's contract.
    #[error("{signer} may not register a contract of municipality {contract_municipality}")]
    ForeignContract {
        /// Who signed.
        signer: Actor,
        /// The contract's municipality.
        contract_municipality: MunicipalityCode,
    },
}

/// What the log says about one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Whose key.
    pub actor: Actor,
    /// The key.
    pub public_key: PublicKey,
    /// Leaf index of the `KeyAdded` entry.
    pub added_at: u64,
    /// Leaf index of the `KeyRevoked` entry, if revoked.
    pub revoked_at: Option<u64>,
}

/// The state of keys and registrations after a prefix of the log.
#[derive(Debug, Clone)]
pub struct KeyHistory {
    log_key: PublicKey,
    keys: HashMap<KeyId, KeyRecord>,
    municipalities: HashSet<MunicipalityCode>,
    inspectors: HashSet<InspectorName>,
    /// Each provider with the municipalities that registered it (its registrars).
    providers: HashMap<OrgNumber, BTreeSet<MunicipalityCode>>,
    len: u64,
}

impl KeyHistory {
    /// The state before the first entry of a log signed by `log_key`.
    #[must_use]
    pub fn new(log_key: PublicKey) -> Self {
        Self {
            log_key,
            keys: HashMap::new(),
            municipalities: HashSet::new(),
            inspectors: HashSet::new(),
            providers: HashMap::new(),
            len: 0,
        }
    }

    /// How many entries have been applied (the index the next entry gets).
    #[must_use]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no entry has been applied.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// What the log says about a key, if it was ever added.
    #[must_use]
    pub fn key(&self, key_id: &KeyId) -> Option<&KeyRecord> {
        self.keys.get(key_id)
    }

    /// The actor's keys that are currently valid.
    #[must_use]
    pub fn valid_keys(&self, actor: &Actor) -> Vec<(KeyId, PublicKey)> {
        let mut v: Vec<(KeyId, PublicKey)> = self
            .keys
            .iter()
            .filter(|(_, r)| &r.actor == actor && r.revoked_at.is_none())
            .map(|(id, r)| (*id, r.public_key))
            .collect();
        v.sort_by_key(|(id, _)| *id);
        v
    }

    /// Whether the actor is registered (the operator always is).
    #[must_use]
    pub fn is_registered(&self, actor: &Actor) -> bool {
        match actor {
            Actor::Operator => true,
            Actor::Municipality(m) => self.municipalities.contains(m),
            Actor::Provider(p) => self.providers.contains_key(p),
            Actor::Inspector(i) => self.inspectors.contains(i),
        }
    }

    /// The municipalities that registered a provider.
    #[must_use]
    pub fn provider_registrars(&self, provider: &OrgNumber) -> Vec<MunicipalityCode> {
        self.providers
            .get(provider)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Decides whether `signed` would be valid as the next entry, without changing anything.
    ///
    /// # Errors
    /// The first [`HistoryError`] that makes it invalid.
    pub fn check(&self, signed: &SignedStatement) -> Result<(), HistoryError> {
        let st = signed.statement();
        let actor = st.actor();
        // 1. The key: the log key for the operator, otherwise a registered, unrevoked key of the actor.
        let key = if *actor == Actor::Operator {
            if st.key_id() != self.log_key.key_id() {
                return Err(HistoryError::NotLogKey {
                    log_key: self.log_key.key_id(),
                    key_id: st.key_id(),
                });
            }
            self.log_key
        } else {
            let rec = self
                .keys
                .get(&st.key_id())
                .ok_or(HistoryError::UnknownKey(st.key_id()))?;
            if rec.actor != *actor {
                return Err(HistoryError::WrongActor {
                    key_id: st.key_id(),
                    owner: rec.actor.clone(),
                    actor: actor.clone(),
                });
            }
            if let Some(at) = rec.revoked_at {
                return Err(HistoryError::Revoked {
                    key_id: st.key_id(),
                    revoked_at: at,
                });
            }
            rec.public_key
        };
        // 2. The one acceptance rule.
        signed.verify_signature(&key)?;
        // 3. Who may sign what.
        let not_allowed = || HistoryError::NotAllowed {
            kind: st.kind(),
            actor: actor.clone(),
        };
        match st.body() {
            Body::MunicipalityRegistered { municipality } => {
                if *actor != Actor::Operator {
                    return Err(not_allowed());
                }
                if self.municipalities.contains(municipality) {
                    return Err(HistoryError::AlreadyRegistered(Actor::Municipality(
                        *municipality,
                    )));
                }
            }
            Body::InspectorRegistered { inspector } => {
                if *actor != Actor::Operator {
                    return Err(not_allowed());
                }
                if self.inspectors.contains(inspector) {
                    return Err(HistoryError::AlreadyRegistered(Actor::Inspector(
                        inspector.clone(),
                    )));
                }
            }
            Body::ProviderRegistered { provider } => {
                let Actor::Municipality(m) = actor else {
                    return Err(not_allowed());
                };
                if self.providers.get(provider).is_some_and(|s| s.contains(m)) {
                    return Err(HistoryError::AlreadyRegistered(Actor::Provider(*provider)));
                }
            }
            Body::ContractRegistered {
                contract, provider, ..
            } => {
                let Actor::Municipality(m) = actor else {
                    return Err(not_allowed());
                };
                if contract.municipality != *m {
                    return Err(HistoryError::ForeignContract {
                        signer: actor.clone(),
                        contract_municipality: contract.municipality,
                    });
                }
                if !self.providers.get(provider).is_some_and(|s| s.contains(m)) {
                    return Err(HistoryError::NotRegistered(Actor::Provider(*provider)));
                }
            }
            Body::KeyAdded {
                subject,
                public_key,
            } => {
                self.check_registrar(actor, subject)?;
                let pk = PublicKey::from_bytes(public_key).map_err(HistoryError::BadKey)?;
                if self.keys.contains_key(&pk.key_id()) || pk.key_id() == self.log_key.key_id() {
                    return Err(HistoryError::DuplicateKey(pk.key_id()));
                }
            }
            Body::KeyRevoked { subject, key_id } => {
                self.check_registrar(actor, subject)?;
                match self.keys.get(key_id) {
                    Some(rec) if rec.actor == *subject => {
                        if let Some(at) = rec.revoked_at {
                            return Err(HistoryError::AlreadyRevoked {
                                key_id: *key_id,
                                revoked_at: at,
                            });
                        }
                    }
                    _ => {
                        return Err(HistoryError::NotSubjectsKey {
                            key_id: *key_id,
                            subject: subject.clone(),
                        });
                    }
                }
            }
            Body::ReportSubmitted { .. } | Body::ReportCorrected { .. } => {
                if !matches!(actor, Actor::Provider(_)) {
                    return Err(not_allowed());
                }
            }
            Body::ReportReviewed { .. } => {
                if !matches!(actor, Actor::Municipality(_)) {
                    return Err(not_allowed());
                }
            }
        }
        Ok(())
    }

    /// May `signer` add or revoke keys of `subject`? The subject itself, or its registrar: the
    /// operator for municipalities and inspectors, a municipality that registered the provider
    /// for providers. The subject must be registered.
    fn check_registrar(&self, signer: &Actor, subject: &Actor) -> Result<(), HistoryError> {
        if *subject == Actor::Operator {
            return Err(HistoryError::OperatorKey);
        }
        if !self.is_registered(subject) {
            return Err(HistoryError::NotRegistered(subject.clone()));
        }
        let allowed = signer == subject
            || match (signer, subject) {
                (Actor::Operator, Actor::Municipality(_) | Actor::Inspector(_)) => true,
                (Actor::Municipality(m), Actor::Provider(p)) => {
                    self.providers.get(p).is_some_and(|s| s.contains(m))
                }
                _ => false,
            };
        if allowed {
            Ok(())
        } else {
            Err(HistoryError::NotRegistrar {
                signer: signer.clone(),
                subject: subject.clone(),
            })
        }
    }

    /// Applies the next entry of the log. The entry always takes the next index; if it is
    /// invalid it changes nothing else and its error is returned (a verifier reports it, a
    /// sequencer should have refused it with [`KeyHistory::check`]).
    ///
    /// # Errors
    /// The [`HistoryError`] that makes the entry invalid at its point in the log.
    pub fn apply(&mut self, entry: &Entry) -> Result<(), HistoryError> {
        let index = self.len;
        self.len += 1;
        self.check(entry.signed())?;
        let st = entry.statement();
        match st.body() {
            Body::MunicipalityRegistered { municipality } => {
                self.municipalities.insert(*municipality);
            }
            Body::InspectorRegistered { inspector } => {
                self.inspectors.insert(inspector.clone());
            }
            Body::ProviderRegistered { provider } => {
                if let Actor::Municipality(m) = st.actor() {
                    self.providers.entry(*provider).or_default().insert(*m);
                }
            }
            Body::KeyAdded {
                subject,
                public_key,
            } => {
                // check() has accepted the key, so this succeeds.
                if let Ok(pk) = PublicKey::from_bytes(public_key) {
                    self.keys.insert(
                        pk.key_id(),
                        KeyRecord {
                            actor: subject.clone(),
                            public_key: pk,
                            added_at: index,
                            revoked_at: None,
                        },
                    );
                }
            }
            Body::KeyRevoked { key_id, .. } => {
                if let Some(rec) = self.keys.get_mut(key_id) {
                    rec.revoked_at = Some(index);
                }
            }
            Body::ContractRegistered { .. }
            | Body::ReportSubmitted { .. }
            | Body::ReportCorrected { .. }
            | Body::ReportReviewed { .. } => {}
        }
        Ok(())
    }
}

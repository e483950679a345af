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
#[non_exhaustive]
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
    #[error("{actor} may not sign {kind} entries")]
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
    /// A reference to a leaf that is not earlier in the log.
    #[error(
        "{field} {target} must refer to an earlier entry of the log (this entry would be number {at})"
    )]
    NotEarlier {
        /// Which field.
        field: &'static str,
        /// The index it names.
        target: u64,
        /// This entry's index.
        at: u64,
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

    /// The public key a statement names: the log's key for the operator, otherwise the key its
    /// key ID points at in this history (valid or not at this point; [`KeyHistory::check`]
    /// decides that). What a caller verifies a signature with before handing the verdict to
    /// [`KeyHistory::apply_verified`].
    #[must_use]
    pub fn signing_key(&self, st: &crate::entry::Statement) -> Option<PublicKey> {
        if *st.actor() == Actor::Operator {
            Some(self.log_key)
        } else {
            self.key(&st.key_id()).map(|record| record.public_key)
        }
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
        self.check_inner(signed, None)
    }

    /// [`KeyHistory::check`] for a caller that has already verified the signature strictly
    /// ([`crate::keys::verify`], e.g. in bulk with [`crate::keys::verify_many`]) and it was
    /// accepted with `verified_key`. When that is the very key this history would verify with, the
    /// signature is not verified a second time; otherwise it is verified as [`KeyHistory::check`]
    /// does. Every other rule (key known, the actor's, not revoked, who may sign what) is checked
    /// the same way, so the verdict is the one [`KeyHistory::check`] gives, provided the caller's
    /// claim is true.
    ///
    /// # Errors
    /// As [`KeyHistory::check`].
    pub fn check_with_verified_key(
        &self,
        signed: &SignedStatement,
        verified_key: &PublicKey,
    ) -> Result<(), HistoryError> {
        self.check_inner(signed, Some(verified_key))
    }

    fn check_inner(
        &self,
        signed: &SignedStatement,
        verified_key: Option<&PublicKey>,
    ) -> Result<(), HistoryError> {
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
        // 2. The one acceptance rule (once: skipped only when the caller verified with this key).
        if verified_key != Some(&key) {
            signed.verify_signature(&key)?;
        }
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
            Body::ReportSubmitted { .. } => {
                if !matches!(actor, Actor::Provider(_)) {
                    return Err(not_allowed());
                }
            }
            Body::ReportCorrected { supersedes, .. } => {
                if !matches!(actor, Actor::Provider(_)) {
                    return Err(not_allowed());
                }
                if *supersedes >= self.len {
                    return Err(HistoryError::NotEarlier {
                        field: "supersedes",
                        target: *supersedes,
                        at: self.len,
                    });
                }
            }
            Body::ReportReviewed { report, .. } => {
                if !matches!(actor, Actor::Municipality(_)) {
                    return Err(not_allowed());
                }
                if *report >= self.len {
                    return Err(HistoryError::NotEarlier {
                        field: "report",
                        target: *report,
                        at: self.len,
                    });
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
        self.apply_inner(entry, None)
    }

    /// [`KeyHistory::apply`] for an entry whose signature the caller has already verified
    /// strictly with `verified_key` (see [`KeyHistory::check_with_verified_key`]): the signature
    /// is not verified again when that is the key the history would use.
    ///
    /// # Errors
    /// As [`KeyHistory::apply`].
    pub fn apply_verified(
        &mut self,
        entry: &Entry,
        verified_key: &PublicKey,
    ) -> Result<(), HistoryError> {
        self.apply_inner(entry, Some(verified_key))
    }

    /// Moves the next index on to `len` over entries that change no key, without reading them:
    /// for a caller that vouches for its own database and knows, from the entries' stored kind,
    /// that every entry between is a report or a correction (see [`KeyHistory::pass_over`]).
    /// Does nothing when `len` is not ahead.
    pub fn pass_over_to(&mut self, len: u64) {
        self.len = self.len.max(len);
    }

    /// Gives the next index to an entry of an existing log without checking it: for a caller
    /// that vouches for the entry (its own database, whose every entry it admitted) and needs
    /// nothing of it. Only reports, corrections, reviews and contract registrations change no
    /// key, so only those are passed over; for any other entry this is [`KeyHistory::apply`].
    ///
    /// # Errors
    /// As [`KeyHistory::apply`], for the entries it applies.
    pub fn pass_over(&mut self, entry: &Entry) -> Result<(), HistoryError> {
        match entry.statement().body() {
            Body::ContractRegistered { .. }
            | Body::ReportSubmitted { .. }
            | Body::ReportCorrected { .. }
            | Body::ReportReviewed { .. } => {
                self.len += 1;
                Ok(())
            }
            _ => self.apply(entry),
        }
    }

    fn apply_inner(
        &mut self,
        entry: &Entry,
        verified_key: Option<&PublicKey>,
    ) -> Result<(), HistoryError> {
        let index = self.len;
        let verdict = self.check_inner(entry.signed(), verified_key);
        self.len += 1;
        verdict?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{ContractRef, SignedStatement, Statement};
    use crate::id::{Period, Sek};
    use crate::keys::SigningKey;

    struct World {
        log_key: SigningKey,
        h: KeyHistory,
        muni: SigningKey,
        prov: SigningKey,
    }

    fn sthlm() -> Actor {
        Actor::Municipality("0180".parse().unwrap())
    }
    fn gbg() -> Actor {
        Actor::Municipality("1480".parse().unwrap())
    }
    fn prov() -> Actor {
        Actor::Provider("5560360793".parse().unwrap())
    }

    fn op(w: &World, body: Body) -> SignedStatement {
        Statement::build_and_sign(Actor::Operator, body, None, &w.log_key).unwrap()
    }

    fn signed(
        actor: Actor,
        body: Body,
        payload: Option<[u8; 32]>,
        key: &SigningKey,
    ) -> SignedStatement {
        Statement::build_and_sign(actor, body, payload, key).unwrap()
    }

    fn apply(h: &mut KeyHistory, s: SignedStatement) -> Result<(), HistoryError> {
        h.apply(&s.into_entry(0))
    }

    fn report(key: &SigningKey) -> SignedStatement {
        signed(
            prov(),
            Body::ReportSubmitted {
                contract: ContractRef {
                    municipality: "0180".parse().unwrap(),
                    reference: "C1".parse().unwrap(),
                },
                period: "2026-01".parse().unwrap(),
            },
            Some([1; 32]),
            key,
        )
    }

    /// Operator registers Stockholm and its key; Stockholm registers a provider and its key.
    fn world() -> World {
        let log_key = SigningKey::from_seed(&[100; 32]);
        let mut w = World {
            h: KeyHistory::new(log_key.public_key()),
            log_key,
            muni: SigningKey::from_seed(&[1; 32]),
            prov: SigningKey::from_seed(&[2; 32]),
        };
        let s = op(
            &w,
            Body::MunicipalityRegistered {
                municipality: "0180".parse().unwrap(),
            },
        );
        apply(&mut w.h, s).unwrap();
        let s = op(
            &w,
            Body::KeyAdded {
                subject: sthlm(),
                public_key: w.muni.public_key().to_bytes(),
            },
        );
        apply(&mut w.h, s).unwrap();
        let s = signed(
            sthlm(),
            Body::ProviderRegistered {
                provider: "5560360793".parse().unwrap(),
            },
            None,
            &w.muni,
        );
        apply(&mut w.h, s).unwrap();
        let s = signed(
            sthlm(),
            Body::KeyAdded {
                subject: prov(),
                public_key: w.prov.public_key().to_bytes(),
            },
            None,
            &w.muni,
        );
        apply(&mut w.h, s).unwrap();
        assert_eq!(w.h.len(), 4);
        w
    }

    #[test]
    fn registered_keys_sign_and_others_do_not() {
        let mut w = world();
        w.h.check(&report(&w.prov)).unwrap();
        let stranger = SigningKey::from_seed(&[3; 32]);
        assert_eq!(
            w.h.check(&report(&stranger)),
            Err(HistoryError::UnknownKey(stranger.key_id()))
        );
        // The municipality's key claimed as the provider's.
        assert!(matches!(
            w.h.check(&report(&w.muni)),
            Err(HistoryError::WrongActor { .. })
        ));
        // A valid key with a signature over something else.
        let good = report(&w.prov);
        let forged = SignedStatement::new(good.statement().clone(), w.prov.sign(b"other"));
        assert!(matches!(
            w.h.check(&forged),
            Err(HistoryError::Signature(_))
        ));
        // Operator statements must use the log key.
        let fake_op = signed(
            Actor::Operator,
            Body::MunicipalityRegistered {
                municipality: "1480".parse().unwrap(),
            },
            None,
            &w.muni,
        );
        assert!(matches!(
            w.h.check(&fake_op),
            Err(HistoryError::NotLogKey { .. })
        ));
        // Applying an invalid entry takes an index and changes nothing else.
        assert!(apply(&mut w.h, fake_op).is_err());
        assert_eq!(w.h.len(), 5);
        assert!(!w.h.is_registered(&gbg()));
    }

    #[test]
    fn who_may_sign_what() {
        let w = world();
        let e = w.h.check(&signed(
            sthlm(),
            Body::InspectorRegistered {
                inspector: "ivo".parse().unwrap(),
            },
            None,
            &w.muni,
        ));
        assert_eq!(
            e.unwrap_err().to_string(),
            "municipality 0180 Stockholm may not sign InspectorRegistered entries"
        );
        let review = Body::ReportReviewed {
            report: 3,
            decision: crate::entry::Decision::Accepted,
            auditor: "a1".parse().unwrap(),
        };
        assert!(matches!(
            w.h.check(&signed(prov(), review.clone(), None, &w.prov)),
            Err(HistoryError::NotAllowed { .. })
        ));
        w.h.check(&signed(sthlm(), review, None, &w.muni)).unwrap();
        let future = Body::ReportReviewed {
            report: 4,
            decision: crate::entry::Decision::Flagged,
            auditor: "a1".parse().unwrap(),
        };
        assert_eq!(
            w.h.check(&signed(sthlm(), future, None, &w.muni))
                .unwrap_err()
                .to_string(),
            "report 4 must refer to an earlier entry of the log (this entry would be number 4)"
        );
        let contract = |m: &str, p: &str| Body::ContractRegistered {
            contract: ContractRef {
                municipality: m.parse().unwrap(),
                reference: "C1".parse().unwrap(),
            },
            provider: p.parse().unwrap(),
            first: Period::new(2026, 1).unwrap(),
            last: Period::new(2026, 12).unwrap(),
            budget: Sek(1000),
        };
        w.h.check(&signed(
            sthlm(),
            contract("0180", "5560360793"),
            None,
            &w.muni,
        ))
        .unwrap();
        assert!(matches!(
            w.h.check(&signed(
                sthlm(),
                contract("1480", "5560360793"),
                None,
                &w.muni
            )),
            Err(HistoryError::ForeignContract { .. })
        ));
        assert_eq!(
            w.h.check(&signed(
                sthlm(),
                contract("0180", "2021005489"),
                None,
                &w.muni
            ))
            .unwrap_err()
            .to_string(),
            "provider 202100-5489 is not registered in the log"
        );
        // Double registration.
        assert!(matches!(
            w.h.check(&op(
                &w,
                Body::MunicipalityRegistered {
                    municipality: "0180".parse().unwrap()
                }
            )),
            Err(HistoryError::AlreadyRegistered(_))
        ));
    }

    #[test]
    fn key_management_follows_the_registrar_rules() {
        let mut w = world();
        let new_key = SigningKey::from_seed(&[4; 32]);
        let add = |subject: Actor, k: &SigningKey| Body::KeyAdded {
            subject,
            public_key: k.public_key().to_bytes(),
        };
        // Göteborg is not registered; the operator registers it; Stockholm may not add its keys.
        assert_eq!(
            w.h.check(&op(&w, add(gbg(), &new_key)))
                .unwrap_err()
                .to_string(),
            "municipality 1480 Göteborg is not registered in the log"
        );
        let s = op(
            &w,
            Body::MunicipalityRegistered {
                municipality: "1480".parse().unwrap(),
            },
        );
        apply(&mut w.h, s).unwrap();
        assert!(matches!(
            w.h.check(&signed(sthlm(), add(gbg(), &new_key), None, &w.muni)),
            Err(HistoryError::NotRegistrar { .. })
        ));
        w.h.check(&op(&w, add(gbg(), &new_key))).unwrap();
        // Göteborg did not register the provider, so it cannot add the provider's keys.
        let gbg_key = SigningKey::from_seed(&[5; 32]);
        let s = op(&w, add(gbg(), &gbg_key));
        apply(&mut w.h, s).unwrap();
        assert!(matches!(
            w.h.check(&signed(gbg(), add(prov(), &new_key), None, &gbg_key)),
            Err(HistoryError::NotRegistrar { .. })
        ));
        // The provider may add its own second key.
        let s = signed(prov(), add(prov(), &new_key), None, &w.prov);
        apply(&mut w.h, s).unwrap();
        // Keys are added once, the log key never, operator keys are not managed, weak keys are refused.
        assert!(matches!(
            w.h.check(&signed(prov(), add(prov(), &new_key), None, &w.prov)),
            Err(HistoryError::DuplicateKey(_))
        ));
        assert!(matches!(
            w.h.check(&signed(sthlm(), add(sthlm(), &w.log_key), None, &w.muni)),
            Err(HistoryError::DuplicateKey(_))
        ));
        assert_eq!(
            w.h.check(&op(&w, add(Actor::Operator, &new_key))),
            Err(HistoryError::OperatorKey)
        );
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            w.h.check(&signed(
                prov(),
                Body::KeyAdded {
                    subject: prov(),
                    public_key: identity
                },
                None,
                &w.prov
            ))
            .unwrap_err()
            .to_string(),
            "the added key is refused: weak Ed25519 public key (small order or not torsion-free) refused"
        );
        assert_eq!(w.h.valid_keys(&prov()).len(), 2);
    }

    #[test]
    fn revocation_applies_from_its_index_on() {
        let mut w = world();
        let before = report(&w.prov);
        apply(&mut w.h, before.clone()).unwrap();
        let revoke = signed(
            sthlm(),
            Body::KeyRevoked {
                subject: prov(),
                key_id: w.prov.key_id(),
            },
            None,
            &w.muni,
        );
        apply(&mut w.h, revoke.clone()).unwrap();
        assert_eq!(
            w.h.check(&report(&w.prov)).unwrap_err(),
            HistoryError::Revoked {
                key_id: w.prov.key_id(),
                revoked_at: 5
            }
        );
        assert!(matches!(
            w.h.check(&revoke),
            Err(HistoryError::AlreadyRevoked { .. })
        ));
        let wrong = signed(
            sthlm(),
            Body::KeyRevoked {
                subject: sthlm(),
                key_id: w.prov.key_id(),
            },
            None,
            &w.muni,
        );
        assert!(matches!(
            w.h.check(&wrong),
            Err(HistoryError::NotSubjectsKey { .. })
        ));
        assert!(w.h.valid_keys(&prov()).is_empty());
        assert_eq!(w.h.key(&w.prov.key_id()).unwrap().revoked_at, Some(5));
        // Replaying from scratch, the report before the revocation is still valid.
        let mut replay = world().h;
        replay.apply(&before.into_entry(0)).unwrap();
    }

    /// The verified-key variants give exactly the verdicts of `check` and `apply` whenever the
    /// caller's claim (strict verification accepted the signature with that key) is true, and fall
    /// back to verifying when the claimed key is not the one the history would use.
    #[test]
    fn verified_key_variants_give_the_strict_verdicts() {
        let mut w = world();
        let good = report(&w.prov);
        let pk = w.prov.public_key();
        assert_eq!(w.h.check_with_verified_key(&good, &pk), w.h.check(&good));
        assert_eq!(w.h.check_with_verified_key(&good, &pk), Ok(()));

        // A forged signature with any other key claimed: verified again, and refused.
        let forged = SignedStatement::new(good.statement().clone(), w.prov.sign(b"other"));
        let claimed = w.muni.public_key();
        assert!(matches!(
            w.h.check_with_verified_key(&forged, &claimed),
            Err(HistoryError::Signature(_))
        ));
        assert_eq!(
            w.h.check_with_verified_key(&forged, &claimed),
            w.h.check(&forged)
        );

        // Unknown key, a key of another actor, a statement the actor may not sign: the same errors.
        let stranger = SigningKey::from_seed(&[3; 32]);
        let s = report(&stranger);
        assert_eq!(
            w.h.check_with_verified_key(&s, &stranger.public_key()),
            w.h.check(&s)
        );
        let s = report(&w.muni);
        assert!(matches!(
            w.h.check_with_verified_key(&s, &w.muni.public_key()),
            Err(HistoryError::WrongActor { .. })
        ));
        let s = signed(
            prov(),
            Body::MunicipalityRegistered {
                municipality: "1480".parse().unwrap(),
            },
            None,
            &w.prov,
        );
        assert_eq!(w.h.check_with_verified_key(&s, &pk), w.h.check(&s));
        assert!(w.h.check(&s).is_err());

        // After revocation the key signs nothing, verified or not; apply_verified follows apply.
        let mut strict = w.h.clone();
        let revoke = signed(
            sthlm(),
            Body::KeyRevoked {
                subject: prov(),
                key_id: w.prov.key_id(),
            },
            None,
            &w.muni,
        )
        .into_entry(0);
        let muni_pk = w.muni.public_key();
        assert_eq!(w.h.apply_verified(&revoke, &muni_pk), strict.apply(&revoke));
        let after = report(&w.prov);
        assert!(matches!(
            w.h.check_with_verified_key(&after, &pk),
            Err(HistoryError::Revoked { .. })
        ));
        assert_eq!(
            w.h.check_with_verified_key(&after, &pk),
            strict.check(&after)
        );
        let e = after.into_entry(0);
        assert_eq!(w.h.apply_verified(&e, &pk), strict.apply(&e));
        assert_eq!(w.h.len(), strict.len());
        assert_eq!(w.h.key(&w.prov.key_id()), strict.key(&w.prov.key_id()));
    }
}

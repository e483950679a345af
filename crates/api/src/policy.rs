//! The admission policy the sequencer runs: the domain's [`LedgerState`] (key history and business
//! rules) behind the store's [`AdmissionPolicy`] trait. The store decides nothing itself; the
//! domain knows nothing of the store; this glue is all that joins them.

use std::sync::{Mutex, PoisonError};

use insyn_domain::rules::{LedgerState, Problem, ReportLookup};
use insyn_ledger::entry::{ContractRef, Entry, SignedStatement, Statement};
use insyn_ledger::id::Period;
use insyn_ledger::keys::PublicKey;
use insyn_store::{Admission, AdmissionPolicy, KnownReports, SignatureCheck};

/// The ledger's rules as the sequencer's admission policy.
///
/// Each signature is verified strictly once: the sequencer verifies a batch in bulk off the
/// runtime and passes the verdict in [`Admission::signature`]; `check` and the `apply` of the
/// entry it admitted then skip re-verifying a signature already accepted with the very key the
/// key history would use. Entries applied any other way (catch-up, replay) are verified in full,
/// except reports, corrections and reviews (below).
///
/// Memory stays flat however long the log grows: the state is
/// [`LedgerState::without_reports`] (keys, registrations and contracts only), and the report
/// rules are answered from the database through the [`KnownReports`] the sequencer reads for each
/// batch. Replaying the log at start-up therefore passes over reports, corrections and reviews
/// (they change nothing this state keeps; each was checked against the rules when it was
/// admitted, and `insyn verify` checks every one again).
#[derive(Debug)]
pub struct LedgerPolicy {
    state: LedgerState,
    log_key: PublicKey,
    /// The statement the last `check` admitted with a signature the sequencer verified, and
    /// the key it verified with: the sequencer applies exactly that entry next.
    admitted: Mutex<Option<(SignedStatement, PublicKey)>>,
}

impl Clone for LedgerPolicy {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
            log_key: self.log_key,
            admitted: Mutex::new(None),
        }
    }
}

impl LedgerPolicy {
    /// The policy for an empty log whose operator key is `log_key`.
    #[must_use]
    pub fn new(log_key: PublicKey) -> Self {
        Self {
            state: LedgerState::without_reports(log_key),
            log_key,
            admitted: Mutex::new(None),
        }
    }

    /// The state this policy has built so far.
    #[must_use]
    pub fn state(&self) -> &LedgerState {
        &self.state
    }
}

/// The sequencer's [`KnownReports`] as the rules' [`ReportLookup`].
struct Reports<'a>(&'a KnownReports);

impl ReportLookup for Reports<'_> {
    fn versions_of(&self, contract: &ContractRef, period: Period) -> Option<(u64, u64)> {
        self.0.versions(contract, period)
    }

    fn report_leaf(&self, leaf: u64) -> Option<(ContractRef, Period)> {
        self.0.report_leaf(leaf).cloned()
    }
}

impl AdmissionPolicy for LedgerPolicy {
    type Problem = Problem;

    fn public_key(&self, statement: &Statement) -> Option<PublicKey> {
        self.state.keys.signing_key(statement)
    }

    fn check(&self, candidate: &Admission<'_>) -> Vec<Problem> {
        let signed = candidate.entry.signed();
        let at = candidate.entry.integrated_at_ms();
        let reports = Reports(candidate.reports);
        let SignatureCheck::Verified(key) = candidate.signature else {
            return self
                .state
                .check_with(signed, at, None, &reports)
                .err()
                .unwrap_or_default();
        };
        match self.state.check_with(signed, at, Some(key), &reports) {
            Ok(()) => {
                *self.admitted.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some((signed.clone(), *key));
                Vec::new()
            }
            Err(problems) => problems,
        }
    }

    fn apply(&mut self, index: u64, entry: &Entry) {
        let admitted = self
            .admitted
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let verdict = match admitted {
            Some((signed, key)) if signed == *entry.signed() => {
                self.state.apply_verified(entry, &key)
            }
            _ => self.state.apply(entry),
        };
        if let Err(problems) = verdict {
            // Every entry in the log passed `check` when it was appended, so this means the
            // database holds an entry the rules refuse: tampering, or rules that changed.
            tracing::error!(
                index,
                ?problems,
                "an entry in the log breaks the ledger's rules"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use insyn_ledger::entry::{Actor, Body, ContractRef};
    use insyn_ledger::id::{OrgNumber, Sek};
    use insyn_ledger::keys::SigningKey;

    use super::*;

    /// 2026-05-10 12:00 UTC.
    const NOW: u64 = 1_778_414_400_000;

    fn sign(
        actor: Actor,
        body: Body,
        payload: Option<[u8; 32]>,
        key: &SigningKey,
    ) -> SignedStatement {
        Statement::build_and_sign(actor, body, payload, key).unwrap()
    }

    /// The policy and the reports of its log, as the sequencer would read them.
    struct Log {
        policy: LedgerPolicy,
        reports: KnownReports,
    }

    impl Log {
        fn problems(&self, signed: &SignedStatement, check: &SignatureCheck) -> usize {
            let entry = signed.clone().into_entry(NOW);
            self.policy
                .check(&Admission {
                    index: self.policy.state().len(),
                    entry: &entry,
                    payload: None,
                    signature: check,
                    reports: &self.reports,
                })
                .len()
        }

        /// Checks and, when admitted, applies, as the sequencer does.
        fn admit(&mut self, signed: &SignedStatement, check: &SignatureCheck) -> bool {
            let entry = signed.clone().into_entry(NOW);
            let index = self.policy.state().len();
            let admitted = self
                .policy
                .check(&Admission {
                    index,
                    entry: &entry,
                    payload: None,
                    signature: check,
                    reports: &self.reports,
                })
                .is_empty();
            if admitted {
                self.policy.apply(index, &entry);
                self.reports.admitted(index, &entry);
            }
            admitted
        }
    }

    /// The sequencer's verdict passed in skips re-verification, but never changes a verdict:
    /// bad signatures, keys of others and revoked keys are still refused, and an entry applied
    /// other than the one just checked is verified in full.
    #[test]
    fn one_verification_gives_the_strict_verdicts() {
        let log = SigningKey::from_seed(&[50; 32]);
        let muni_key = SigningKey::from_seed(&[51; 32]);
        let prov_key = SigningKey::from_seed(&[52; 32]);
        let muni = Actor::Municipality("0180".parse().unwrap());
        let org: OrgNumber = "5599123451".parse().unwrap();
        let prov = Actor::Provider(org);
        let contract = ContractRef {
            municipality: "0180".parse().unwrap(),
            reference: "SOC-1".parse().unwrap(),
        };
        let mut policy = Log {
            policy: LedgerPolicy::new(log.public_key()),
            reports: KnownReports::default(),
        };
        let v = |k: &SigningKey| SignatureCheck::Verified(k.public_key());
        let setup = [
            (
                sign(
                    Actor::Operator,
                    Body::MunicipalityRegistered {
                        municipality: "0180".parse().unwrap(),
                    },
                    None,
                    &log,
                ),
                v(&log),
            ),
            (
                sign(
                    Actor::Operator,
                    Body::KeyAdded {
                        subject: muni.clone(),
                        public_key: muni_key.public_key().to_bytes(),
                    },
                    None,
                    &log,
                ),
                SignatureCheck::Unchecked,
            ),
            (
                sign(
                    muni.clone(),
                    Body::ProviderRegistered { provider: org },
                    None,
                    &muni_key,
                ),
                v(&muni_key),
            ),
            (
                sign(
                    muni.clone(),
                    Body::ContractRegistered {
                        contract: contract.clone(),
                        provider: org,
                        first: "2026-01".parse().unwrap(),
                        last: "2026-12".parse().unwrap(),
                        budget: Sek(1000),
                    },
                    None,
                    &muni_key,
                ),
                v(&muni_key),
            ),
            (
                sign(
                    muni.clone(),
                    Body::KeyAdded {
                        subject: prov.clone(),
                        public_key: prov_key.public_key().to_bytes(),
                    },
                    None,
                    &muni_key,
                ),
                v(&muni_key),
            ),
        ];
        for (s, c) in &setup {
            assert!(policy.admit(s, c), "{s:?}");
        }
        let report = |period: &str, key: &SigningKey| {
            sign(
                prov.clone(),
                Body::ReportSubmitted {
                    contract: contract.clone(),
                    period: period.parse().unwrap(),
                },
                Some([9; 32]),
                key,
            )
        };

        // A forged signature is refused whatever the sequencer found (the claim must name the
        // history's key for the check to be skipped, and the sequencer only claims what it saw).
        let good = report("2026-03", &prov_key);
        let forged = SignedStatement::new(good.statement().clone(), prov_key.sign(b"not this"));
        for c in [
            SignatureCheck::Invalid(insyn_ledger::keys::SignatureError::Invalid),
            SignatureCheck::Unchecked,
            v(&muni_key),
        ] {
            assert!(policy.problems(&forged, &c) > 0, "{c:?}");
        }
        // A stranger's key, verified with that key, is still not the provider's.
        let stranger = SigningKey::from_seed(&[53; 32]);
        assert!(policy.problems(&report("2026-03", &stranger), &v(&stranger)) > 0);

        assert!(policy.admit(&good, &v(&prov_key)));
        // A second report for the period is refused on both paths.
        let again = report("2026-03", &prov_key);
        assert!(policy.problems(&again, &v(&prov_key)) > 0);
        assert!(policy.problems(&again, &SignatureCheck::Unchecked) > 0);

        // Revoked: refused although the signature itself verifies with that key.
        let revoke = sign(
            muni.clone(),
            Body::KeyRevoked {
                subject: prov.clone(),
                key_id: prov_key.key_id(),
            },
            None,
            &muni_key,
        );
        // A check of the revocation, then an apply of a different (forged) entry: the apply
        // verifies in full and refuses it, so the key is still valid.
        assert_eq!(policy.problems(&revoke, &v(&muni_key)), 0);
        let forged_revoke =
            SignedStatement::new(revoke.statement().clone(), muni_key.sign(b"not this"));
        let len = policy.policy.state().len();
        policy
            .policy
            .apply(len, &forged_revoke.clone().into_entry(NOW));
        assert_eq!(
            policy.problems(&report("2026-04", &prov_key), &v(&prov_key)),
            0
        );
        assert!(policy.admit(&revoke, &v(&muni_key)));
        let late = report("2026-04", &prov_key);
        assert!(policy.problems(&late, &v(&prov_key)) > 0);
        assert_eq!(
            policy.problems(&late, &v(&prov_key)),
            policy.problems(&late, &SignatureCheck::Unchecked)
        );
    }
}

//! Signature pre-verification for the verification engine: checks the signatures of a chunk of
//! entries on every core (the ledger's [`verify_many`], the one strict acceptance rule, never batch
//! verification) ahead of the sequential replay, which then hands each accepted verdict to
//! [`LedgerState::apply_verified`](insyn_domain::rules::LedgerState::apply_verified).
//!
//! Why the verdicts are the ones the sequential replay would reach: a verdict here is only the
//! claim "strict verification accepted this signature with this public key". The key is looked up
//! by the key ID the statement names, among the log's key and every key any earlier `KeyAdded`
//! entry carried, valid or not; since a key ID is the SHA-256 of the key, that lookup cannot name
//! a wrong key. Whether the key was valid for that actor at that point (registered, the actor's,
//! not revoked) is still decided by the key history during the replay, and when the history would
//! use another key than the one verified here, it verifies again
//! ([`KeyHistory::check_with_verified_key`](insyn_ledger::history::KeyHistory::check_with_verified_key)).
//! A signature refused here, or an entry whose key is not known yet, gets no verdict and is
//! verified on the sequential path, which produces the same error message as before.
//!
//! The directory of keys is fed in log order by the one thread that prepares chunks, so a chunk
//! may be prepared while earlier chunks are still being verified or replayed.

use std::collections::HashMap;
use std::sync::mpsc;

use insyn_ledger::entry::{Actor, Body, Entry, Statement};
use insyn_ledger::keys::{KeyId, PublicKey, Signature, SignedMessage, verify_many};

/// Every public key the log has named so far, by key ID.
#[derive(Debug)]
pub(crate) struct KeyDirectory {
    log_key: PublicKey,
    keys: HashMap<KeyId, PublicKey>,
}

impl KeyDirectory {
    /// The directory before the first entry of a log signed by `log_key`.
    pub(crate) fn new(log_key: PublicKey) -> Self {
        Self {
            log_key,
            keys: HashMap::new(),
        }
    }

    /// The key a statement names, if the log has carried it before (the log's own key for the
    /// operator).
    fn resolve(&self, st: &Statement) -> Option<PublicKey> {
        if *st.actor() == Actor::Operator {
            (st.key_id() == self.log_key.key_id()).then_some(self.log_key)
        } else {
            self.keys.get(&st.key_id()).copied()
        }
    }

    /// Learns the key a `KeyAdded` statement carries (whether or not the entry turns out valid:
    /// the key ID alone decides which key a later statement names).
    fn observe(&mut self, st: &Statement) {
        if let Body::KeyAdded { public_key, .. } = st.body()
            && let Ok(pk) = PublicKey::from_bytes(public_key)
        {
            self.keys.insert(pk.key_id(), pk);
        }
    }

    /// Starts verifying the signatures of `entries` (in log order; `None` for a position that
    /// is not to be replayed) in the background, and returns the handle to their verdicts.
    pub(crate) fn verify<'a, I>(&mut self, entries: I) -> Verdicts
    where
        I: IntoIterator<Item = Option<&'a Entry>>,
    {
        let items: Vec<Option<Item>> = entries
            .into_iter()
            .map(|e| {
                let e = e?;
                let st = e.statement();
                let key = self.resolve(st);
                self.observe(st);
                Some((key?, st.signing_message(), *e.signature()))
            })
            .collect();
        let n = items.len();
        if items.iter().all(Option::is_none) {
            return Verdicts { n, rx: None };
        }
        let (tx, rx) = mpsc::sync_channel(1);
        rayon::spawn(move || {
            let list: Vec<SignedMessage<'_>> = items
                .iter()
                .flatten()
                .map(|(k, m, s)| SignedMessage {
                    public_key: k,
                    message: m,
                    signature: s,
                })
                .collect();
            let mut verdicts = verify_many(&list).into_iter();
            let out: Vec<Option<PublicKey>> = items
                .iter()
                .map(|item| {
                    let (k, _, _) = item.as_ref()?;
                    matches!(verdicts.next(), Some(Ok(()))).then_some(*k)
                })
                .collect();
            // The receiver may be gone (the run stopped early): nothing to do then.
            let _ = tx.send(out);
        });
        Verdicts { n, rx: Some(rx) }
    }
}

/// A key, the signed message and the signature to check.
type Item = (PublicKey, Vec<u8>, Signature);

/// The pending verdicts of one chunk.
#[derive(Debug)]
pub(crate) struct Verdicts {
    n: usize,
    rx: Option<mpsc::Receiver<Vec<Option<PublicKey>>>>,
}

impl Verdicts {
    /// Waits for the verdicts: for each position, the key strict verification accepted the
    /// signature with, or `None` (not checked, or refused: the sequential path decides).
    pub(crate) fn wait(self) -> Vec<Option<PublicKey>> {
        let n = self.n;
        self.rx
            .and_then(|rx| rx.recv().ok())
            .filter(|v| v.len() == n)
            .unwrap_or_else(|| vec![None; n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use insyn_ledger::entry::{SignedStatement, Statement};
    use insyn_ledger::keys::SigningKey;

    fn muni() -> Actor {
        Actor::Municipality("0180".parse().unwrap())
    }

    #[test]
    fn verdicts_follow_strict_verification_and_known_keys() {
        let log = SigningKey::from_seed(&[9; 32]);
        let m = SigningKey::from_seed(&[8; 32]);
        let stranger = SigningKey::from_seed(&[7; 32]);
        let mut dir = KeyDirectory::new(log.public_key());
        let op = |body| {
            Statement::build_and_sign(Actor::Operator, body, None, &log)
                .unwrap()
                .into_entry(1)
        };
        let register = op(Body::MunicipalityRegistered {
            municipality: "0180".parse().unwrap(),
        });
        let add = op(Body::KeyAdded {
            subject: muni(),
            public_key: m.public_key().to_bytes(),
        });
        let by = |k: &SigningKey| {
            Statement::build_and_sign(
                muni(),
                Body::ProviderRegistered {
                    provider: "5560360793".parse().unwrap(),
                },
                None,
                k,
            )
            .unwrap()
        };
        let good = by(&m).into_entry(2);
        let forged =
            SignedStatement::new(by(&m).statement().clone(), m.sign(b"other")).into_entry(3);
        let unknown = by(&stranger).into_entry(4);
        let v = dir
            .verify([
                Some(&register),
                Some(&add),
                None,
                Some(&good),
                Some(&forged),
                Some(&unknown),
            ])
            .wait();
        assert_eq!(
            v,
            vec![
                Some(log.public_key()),
                Some(log.public_key()),
                None,
                Some(m.public_key()),
                None,
                None
            ]
        );
        // Nothing to verify: no background work, all `None`.
        assert_eq!(dir.verify([None, None]).wait(), vec![None, None]);
    }
}

//! The admission policy the sequencer runs: the domain's [`LedgerState`] (key history and business
//! rules) behind the store's [`AdmissionPolicy`] trait. The store decides nothing itself; the
//! domain knows nothing of the store; this glue is all that joins them.

use insyn_domain::rules::{LedgerState, Problem};
use insyn_ledger::entry::{Actor, Entry, Statement};
use insyn_ledger::keys::PublicKey;
use insyn_store::{Admission, AdmissionPolicy};

/// The ledger's rules as the sequencer's admission policy.
#[derive(Debug, Clone)]
pub struct LedgerPolicy {
    state: LedgerState,
    log_key: PublicKey,
}

impl LedgerPolicy {
    /// The policy for an empty log whose operator key is `log_key`.
    #[must_use]
    pub fn new(log_key: PublicKey) -> Self {
        Self {
            state: LedgerState::new(log_key),
            log_key,
        }
    }

    /// The state this policy has built so far.
    #[must_use]
    pub fn state(&self) -> &LedgerState {
        &self.state
    }
}

impl AdmissionPolicy for LedgerPolicy {
    type Problem = Problem;

    fn public_key(&self, statement: &Statement) -> Option<PublicKey> {
        if *statement.actor() == Actor::Operator {
            return Some(self.log_key);
        }
        self.state
            .keys
            .key(&statement.key_id())
            .map(|record| record.public_key)
    }

    fn check(&self, candidate: &Admission<'_>) -> Vec<Problem> {
        self.state
            .check(candidate.entry.signed(), candidate.entry.integrated_at_ms())
            .err()
            .unwrap_or_default()
    }

    fn apply(&mut self, index: u64, entry: &Entry) {
        if let Err(problems) = self.state.apply(entry) {
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

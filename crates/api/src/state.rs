//! What every handler can reach: the store, the log's identity, and the sequencer.

use std::sync::Arc;

use insyn_ledger::note::LogVerifier;
use insyn_store::Sequencer;
use insyn_store::Store;

use crate::policy::LedgerPolicy;

/// The sequencer the API submits to.
pub type ApiSequencer = Sequencer<LedgerPolicy>;

/// The API's shared state; cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    /// The database.
    pub store: Store,
    /// The log's verifier (origin and public key).
    pub log: Arc<LogVerifier>,
    /// Where submissions go.
    pub sequencer: Arc<ApiSequencer>,
}

//! The portal's shared state: database handle, settings, templates, static files and clock.

use std::sync::Arc;

use insyn_store::Store;
use sea_orm::DatabaseConnection;

use crate::assets::Assets;
use crate::config::{Clock, PortalConfig};
use crate::render::{TemplateSetupError, Ui};

/// Why the portal could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Templates or message catalogues are broken.
    #[error(transparent)]
    Templates(#[from] TemplateSetupError),
}

/// Everything the portal's handlers share. Cheap to clone.
#[derive(Clone)]
pub struct PortalState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    config: PortalConfig,
    ui: Ui,
    assets: Assets,
    clock: Clock,
    /// The data pages' shared replica of the ledger state.
    replica: crate::data::replica::Replica,
    /// Where reviews are signed and submitted, once configured.
    reviews: std::sync::OnceLock<crate::data::review::ReviewSigner>,
    /// The inspectors' full verifications of the ledger (at most one running).
    verifications: crate::verification::Verifications,
}

impl std::fmt::Debug for PortalState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortalState")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl PortalState {
    /// Prepares the portal over an opened (and therefore migrated) store, with the system clock
    /// for sessions.
    ///
    /// # Errors
    /// [`StartError`] if templates or message catalogues do not load (in production they are
    /// compiled in and tested, so this concerns mostly a development `web_dir`).
    pub fn new(store: Store, config: PortalConfig) -> Result<Self, StartError> {
        Self::with_clock(store, config, Clock::system())
    }

    /// Like [`PortalState::new`] with a given clock for sessions and throttling (tests move a
    /// manual clock forward). This is wall-clock time for people, separate from the store's
    /// clock that stamps ledger entries.
    ///
    /// # Errors
    /// As [`PortalState::new`].
    pub fn with_clock(
        store: Store,
        config: PortalConfig,
        clock: Clock,
    ) -> Result<Self, StartError> {
        let ui = match &config.web_dir {
            Some(dir) => Ui::from_disk(dir.clone())?,
            None => Ui::embedded()?,
        };
        let assets = Assets::new(config.web_dir.clone());
        Ok(PortalState {
            inner: Arc::new(Inner {
                store,
                config,
                ui,
                assets,
                clock,
                replica: crate::data::replica::Replica::default(),
                reviews: std::sync::OnceLock::new(),
                verifications: crate::verification::Verifications::default(),
            }),
        })
    }

    /// The store (ledger reads for the data pages).
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The database connection (for the account queries in `insyn_store::accounts`).
    #[must_use]
    pub fn db(&self) -> &DatabaseConnection {
        self.inner.store.connection()
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &PortalConfig {
        &self.inner.config
    }

    /// The clock.
    #[must_use]
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Lets auditors review reports: reviews are signed with the municipality's key from `keys`
    /// and submitted to `sequencer`, the server's one sequencer. Without this the review form
    /// says that reviewing is not available. Only the first call counts.
    #[must_use]
    pub fn with_reviews<P: insyn_store::AdmissionPolicy>(
        self,
        sequencer: Arc<insyn_store::Sequencer<P>>,
        keys: crate::data::PortalKeys,
    ) -> Self {
        let _ = self
            .inner
            .reviews
            .set(crate::data::review::ReviewSigner::new(sequencer, keys));
        self
    }

    pub(crate) fn replica(&self) -> &crate::data::replica::Replica {
        &self.inner.replica
    }

    pub(crate) fn reviews(&self) -> Option<&crate::data::review::ReviewSigner> {
        self.inner.reviews.get()
    }

    pub(crate) fn verifications(&self) -> &crate::verification::Verifications {
        &self.inner.verifications
    }

    pub(crate) fn ui(&self) -> &Ui {
        &self.inner.ui
    }

    pub(crate) fn assets(&self) -> &Assets {
        &self.inner.assets
    }

    /// Now, in Unix milliseconds.
    pub(crate) fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }
}

//! Operator actions that append to the ledger through the sequencer, like any other submission.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use insyn_ledger::entry::{Actor, Body, Kind, Statement};
use insyn_ledger::id::MunicipalityCode;
use insyn_ledger::keys::{KeyId, PublicKey, SigningKey};
use insyn_ledger::receipt::Receipt;
use insyn_store::{Candidate, MAX_PAGE, Page, SubmitError};

use crate::app::Ledger;

/// Submits a statement signed by the log operator (the log's own key) and waits for its receipt.
///
/// # Errors
/// When the ledger refuses the statement or cannot store it.
pub async fn submit_operator(ledger: &Ledger, body: Body) -> Result<Receipt> {
    let key = ledger.signer.signing_key();
    let statement = Statement::new(Actor::Operator, key.key_id(), body, None)?;
    let signed = statement.sign(key);
    let candidate = Candidate::new(signed, None)?;
    match ledger.sequencer.submit(candidate).await {
        Ok(accepted) => Ok(accepted.receipt),
        Err(SubmitError::Rejected(problems)) => Err(anyhow!(
            "the ledger refused it: {}",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        )),
        Err(e) => Err(anyhow!("{e}")),
    }
}

/// Registers a municipality and its first key, each as an operator entry.
///
/// # Errors
/// As [`submit_operator`].
pub async fn register_municipality(
    ledger: &Ledger,
    municipality: MunicipalityCode,
    key: PublicKey,
) -> Result<Vec<Receipt>> {
    let registered = if is_municipality_registered(ledger, municipality).await? {
        None
    } else {
        Some(submit_operator(ledger, Body::MunicipalityRegistered { municipality }).await?)
    };
    let added = submit_operator(
        ledger,
        Body::KeyAdded {
            subject: Actor::Municipality(municipality),
            public_key: key.to_bytes(),
        },
    )
    .await?;
    Ok(registered.into_iter().chain([added]).collect())
}

/// Where the portal keeps `municipality`'s review-signing key: `<data-dir>/portal-keys/<code>.key`,
/// the file `insyn serve` reads at start (see `insyn_portal::PortalKeys::load_dir`).
#[must_use]
pub fn portal_key_path(data_dir: &Path, municipality: MunicipalityCode) -> PathBuf {
    data_dir
        .join(crate::app::PORTAL_KEYS_DIR)
        .join(format!("{}.key", municipality.code()))
}

/// A portal key created and registered by [`add_portal_key`].
#[derive(Debug)]
pub struct PortalKeyAdded {
    /// The secret key file written.
    pub path: PathBuf,
    /// The new key's ID.
    pub key_id: KeyId,
    /// The ledger entries appended (the municipality's registration if it was new, and the
    /// `KeyAdded`).
    pub receipts: Vec<Receipt>,
}

/// Creates a new key for the portal to sign `municipality`'s reviews with: writes it to
/// [`portal_key_path`] (mode 0600, never over an existing file), then registers its public key
/// as the municipality's key in the ledger, signed by the operator, as `add-municipality` does
/// (registering the municipality first if the ledger does not know it yet). If the ledger
/// refuses the key, the file is removed again, so a key on disk is always a registered one.
///
/// # Errors
/// When the file exists or cannot be written, or as [`submit_operator`].
pub async fn add_portal_key(
    ledger: &Ledger,
    data_dir: &Path,
    municipality: MunicipalityCode,
) -> Result<PortalKeyAdded> {
    let path = portal_key_path(data_dir, municipality);
    if path.exists() {
        bail!(
            "{} already exists; refusing to overwrite the portal's key for {} (revoke it in the ledger and remove the file first to replace it)",
            path.display(),
            municipality.code()
        );
    }
    if let Some(dir) = path.parent() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let key = SigningKey::generate();
    crate::keyfile::write_new_secret(&path, &key.to_text())?;
    match register_municipality(ledger, municipality, key.public_key()).await {
        Ok(receipts) => Ok(PortalKeyAdded {
            path,
            key_id: key.key_id(),
            receipts,
        }),
        Err(e) => {
            if let Err(rm) = std::fs::remove_file(&path) {
                return Err(e.context(format!(
                    "the ledger did not register the key, and {} could not be removed: {rm}",
                    path.display()
                )));
            }
            Err(e.context("the ledger did not register the key; no key file was kept"))
        }
    }
}

/// Whether the log already registers `municipality` (there are at most 290 such entries).
async fn is_municipality_registered(
    ledger: &Ledger,
    municipality: MunicipalityCode,
) -> Result<bool> {
    let mut page = Page::first(MAX_PAGE);
    loop {
        let rows = ledger
            .store
            .entries_of_kind(Kind::MunicipalityRegistered, page)
            .await?;
        if rows.iter().any(|e| {
            matches!(e.entry.statement().body(), Body::MunicipalityRegistered { municipality: m } if *m == municipality)
        }) {
            return Ok(true);
        }
        match rows.last() {
            Some(last) if rows.len() as u64 == MAX_PAGE => {
                page = Page {
                    after: Some(last.index),
                    limit: MAX_PAGE,
                }
            }
            _ => return Ok(false),
        }
    }
}

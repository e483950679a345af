//! Operator actions that append to the ledger through the sequencer, like any other submission.

use anyhow::{Result, anyhow};
use insyn_ledger::entry::{Actor, Body, Kind, Statement};
use insyn_ledger::id::MunicipalityCode;
use insyn_ledger::keys::PublicKey;
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

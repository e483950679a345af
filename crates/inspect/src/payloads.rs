//! Payloads live beside the tree, so the tree cannot show that one was changed. An inspector with
//! access to the database checks every stored payload's SHA-256 against the hash its entry signs.
//! Each read is recorded in the payload read audit, like any other.

use insyn_ledger::hash::sha256;
use insyn_store::{MAX_PAGE, PayloadContent, PayloadReader, Store, StoreError};

use crate::verify::Finding;

/// What the payload check found.
#[derive(Debug, Clone, Default)]
pub struct PayloadReport {
    /// Entries read.
    pub entries: u64,
    /// Payloads whose bytes were present and checked.
    pub checked: u64,
    /// Payloads erased with a tombstone (their hash still stands in the entry).
    pub erased: u64,
    /// Entries naming a payload the store does not have.
    pub missing: u64,
    /// Payloads whose bytes do not hash to what their entry signs.
    pub findings: Vec<Finding>,
}

/// Checks every payload of the first `size` entries of the store's log.
///
/// # Errors
/// [`StoreError`] when the database fails.
pub async fn check_payloads(
    store: &Store,
    size: u64,
    reader: &PayloadReader,
) -> Result<PayloadReport, StoreError> {
    let mut report = PayloadReport::default();
    let mut at = 0;
    while at < size {
        let end = (at + MAX_PAGE).min(size);
        let rows = store.entries(at..end).await?;
        for e in rows {
            report.entries += 1;
            let Some(named) = e.entry.statement().payload_sha256() else {
                continue;
            };
            match store.read_payload(&named, reader).await? {
                Some(PayloadContent::Present(bytes)) => {
                    report.checked += 1;
                    let actual = sha256(&bytes);
                    if actual != named {
                        report.findings.push(Finding {
                            index: Some(e.index),
                            message: format!(
                                "its stored payload has SHA-256 {}, the entry signs {}: the payload was changed",
                                hex::encode(actual),
                                hex::encode(named)
                            ),
                        });
                    }
                }
                Some(PayloadContent::Erased { .. }) => report.erased += 1,
                None => report.missing += 1,
            }
        }
        at = end;
    }
    Ok(report)
}

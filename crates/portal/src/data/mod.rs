//! The data pages of the ledger for auditors and inspectors: the overview of a municipality's
//! providers, a provider's page, a report's page with its live verification, and the review form.
//!
//! Access (the shared policy in `insyn_domain::access`): an inspector sees everything; an auditor
//! sees the providers contracted by their own municipality (every report of such a provider) and
//! reviews reports on their own municipality's contracts; an administrator sees no ledger data.
//! Every handler decides access from the replica's registry before it reads anything else, and
//! answers 403 for a record the account may not see and 404 for one that does not exist.
//!
//! Every time a page shows a payload's contents (a report's figures, a review comment), it reads
//! the payload through `Store::read_payload`, which records the read (who, what, when).

pub(crate) mod overview;
pub(crate) mod provider;
pub(crate) mod replica;
pub(crate) mod report;
pub(crate) mod review;

use insyn_domain::access::{self, Role};
use insyn_domain::report::{Report, validate_report};
use insyn_ledger::id::{MunicipalityCode, OrgNumber};
use insyn_store::{PayloadContent, PayloadReader, Store};

use crate::error::Error;
use crate::session::CurrentUser;

pub use review::{PortalKeys, PortalKeysError};

/// The store's errors are ours (a logged 500).
pub(crate) fn store_error(e: insyn_store::StoreError) -> Error {
    Error::Internal(format!("store: {e}"))
}

/// The account's role if it may read ledger data at all (auditors and inspectors).
pub(crate) fn data_role(user: &CurrentUser) -> Result<Role, Error> {
    let role = user.role();
    match role {
        Role::Auditor(_) | Role::Inspector => Ok(role),
        _ => Err(Error::Forbidden),
    }
}

/// May `role` see provider `p`, contracted by `contracting`? (The access policy's payload rule:
/// an auditor sees the providers its municipality has contracted.)
pub(crate) fn may_see_provider(
    role: &Role,
    p: &OrgNumber,
    contracting: &[MunicipalityCode],
) -> bool {
    access::can_read_payload(role, p, contracting)
}

/// How the read audit names the account.
pub(crate) fn reader(user: &CurrentUser) -> PayloadReader {
    PayloadReader {
        who: format!("account:{}", user.account.id),
        role: user.account.role.name().to_owned(),
    }
}

/// A payload's bytes read for `user` (the read is recorded), or why there are none.
pub(crate) enum Contents {
    /// The bytes.
    Present(Vec<u8>),
    /// Erased: when and why.
    Erased { at_ms: u64, reason: String },
    /// The store does not hold it (withheld).
    Missing,
}

/// Reads a payload for `user`, recording the read.
pub(crate) async fn read_payload(
    store: &Store,
    user: &CurrentUser,
    sha: &[u8; 32],
) -> Result<Contents, Error> {
    Ok(
        match store
            .read_payload(sha, &reader(user))
            .await
            .map_err(store_error)?
        {
            Some(PayloadContent::Present(b)) => Contents::Present(b),
            Some(PayloadContent::Erased { at_ms, reason, .. }) => {
                Contents::Erased { at_ms, reason }
            }
            None => Contents::Missing,
        },
    )
}

/// Reads and parses a report payload for `user` (the read is recorded); `None` when the payload
/// is erased, withheld, or (it never should be) not a valid report.
pub(crate) async fn read_report(
    store: &Store,
    user: &CurrentUser,
    sha: &[u8; 32],
) -> Result<Option<Report>, Error> {
    Ok(match read_payload(store, user, sha).await? {
        Contents::Present(bytes) => validate_report(&bytes).ok(),
        _ => None,
    })
}

/// Unix milliseconds as the templates' `datetime` filter takes them.
pub(crate) fn ms(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use insyn_domain::status::{FlagCode, ReportingState, decision_name};
    use insyn_ledger::entry::Decision;

    use crate::i18n::Catalogues;

    /// The keys the data pages build at run time (the template test checks only literal keys).
    #[test]
    fn every_computed_message_key_exists() {
        let c = Catalogues::embedded().expect("catalogues");
        let mut keys: Vec<String> = Vec::new();
        for code in [
            FlagCode::CostsOverBudget,
            FlagCode::CumulativeCostsOverBudget,
            FlagCode::CaseloadJump,
            FlagCode::SeriousDeviationsNotReported,
            FlagCode::RelocationsWithoutSupport,
            FlagCode::CostsWithoutParticipants,
        ] {
            keys.push(format!("flag.{}", super::overview::flag_code(code)));
        }
        for s in [
            ReportingState::Upcoming,
            ReportingState::Due,
            ReportingState::OnTime,
            ReportingState::Late,
            ReportingState::Missing,
            ReportingState::Corrected,
            ReportingState::UnderReview,
            ReportingState::Accepted,
            ReportingState::Flagged,
        ] {
            keys.push(format!("status.{}", s.as_str()));
        }
        for d in [Decision::Accepted, Decision::Question, Decision::Flagged] {
            keys.push(format!("review.decision.{}", decision_name(d)));
        }
        for g in [
            "caseload",
            "services",
            "relocations",
            "staff",
            "subcontractors",
            "costs",
            "incidents",
            "complaints",
            "free_text",
        ] {
            keys.push(format!("report.group.{g}"));
        }
        for k in [
            "verify.signature",
            "verify.signature_ok",
            "verify.signature_bad",
            "verify.signature_unknown_key",
            "verify.key",
            "verify.key_ok",
            "verify.key_revoked_after",
            "verify.key_revoked_before",
            "verify.key_added_later",
            "verify.key_other_actor",
            "verify.key_unknown",
            "verify.inclusion",
            "verify.inclusion_ok",
            "verify.inclusion_pending",
            "verify.inclusion_bad",
            "verify.inclusion_bad_checkpoint",
            "verify.inclusion_no_checkpoint",
            "verify.payload",
            "verify.payload_ok",
            "verify.payload_bad",
            "verify.payload_unavailable",
            "report.kind_submitted",
            "report.kind_corrected",
            "report.contents_missing",
            "report.contents_erased",
            "review.no_comment",
            "review.comment_unreadable",
            "review.comment_erased",
            "review.comment_withheld",
        ] {
            keys.push(k.to_owned());
        }
        for k in keys {
            assert!(c.contains(&k), "missing message key {k:?}");
        }
    }
}

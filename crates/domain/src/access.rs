//! Who may see and do what: the one access policy the API, the portal and the command line share.
//!
//! - A provider sees and submits its own reports, and sees reviews of them.
//! - An auditor sees the providers contracted by their municipality — every report of such a
//!   provider, whichever municipality it reports to, since the auditor must be able to follow up
//!   what their providers do — and reviews reports on their own municipality's contracts.
//! - An inspector sees and verifies everything, including the record of who read which payload.
//! - An administrator manages accounts; the role carries no right to read payloads (least privilege:
//!   an administrator who must read reports is also given an auditor or inspector account).
//! - The public sees providers, contracts, the log itself (entries carry no personal data) and
//!   aggregate figures, never a payload.
//!
//! Every read of a payload by a person is recorded ([`must_record_read`]). Public figures come from
//! [`crate::aggregate::Totals::public`], which hides small counts.

use insyn_ledger::entry::ContractRef;
use insyn_ledger::id::{MunicipalityCode, OrgNumber};

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A provider, authenticated by its signatures or a provider credential.
    Provider(OrgNumber),
    /// A municipal auditor, scoped to one municipality.
    Auditor(MunicipalityCode),
    /// A national inspector.
    Inspector,
    /// An administrator of accounts.
    Administrator,
    /// Anyone, not logged in.
    Public,
}

/// Which report payloads a role may read, as a filter for listing queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadScope {
    /// Every payload.
    All,
    /// Payloads of providers with a contract with this municipality.
    ProvidersContractedBy(MunicipalityCode),
    /// This provider's own payloads.
    Provider(OrgNumber),
    /// None at all.
    None,
}

/// The payloads `role` may read.
#[must_use]
pub fn payload_scope(role: &Role) -> PayloadScope {
    match role {
        Role::Provider(p) => PayloadScope::Provider(*p),
        Role::Auditor(m) => PayloadScope::ProvidersContractedBy(*m),
        Role::Inspector => PayloadScope::All,
        Role::Administrator | Role::Public => PayloadScope::None,
    }
}

/// May `role` read the payload (report contents, review comments, profile) of an entry by or about
/// `provider`, which has contracts with `contracting_municipalities`?
#[must_use]
pub fn can_read_payload(
    role: &Role,
    provider: &OrgNumber,
    contracting_municipalities: &[MunicipalityCode],
) -> bool {
    match payload_scope(role) {
        PayloadScope::All => true,
        PayloadScope::Provider(p) => p == *provider,
        PayloadScope::ProvidersContractedBy(m) => contracting_municipalities.contains(&m),
        PayloadScope::None => false,
    }
}

/// Whether a payload read by `role` must be recorded: every read by a person (everyone who can
/// read one at all).
#[must_use]
pub fn must_record_read(role: &Role) -> bool {
    payload_scope(role) != PayloadScope::None
}

/// May `role` see that a provider exists, its contracts, its keys and its reporting status
/// (on time, late, missing)? Yes for everyone: these are in the public log already.
#[must_use]
pub fn can_see_registry(_role: &Role) -> bool {
    true
}

/// May `role` see aggregate figures (sums over providers and months)? Yes for everyone.
#[must_use]
pub fn can_see_aggregates(_role: &Role) -> bool {
    true
}

/// May `role` submit or correct a report as `provider`? Only the provider itself.
#[must_use]
pub fn can_submit(role: &Role, provider: &OrgNumber) -> bool {
    matches!(role, Role::Provider(p) if p == provider)
}

/// May `role` review reports on `contract`? Only an auditor of the contract's municipality.
#[must_use]
pub fn can_review(role: &Role, contract: &ContractRef) -> bool {
    matches!(role, Role::Auditor(m) if *m == contract.municipality)
}

/// May `role` run the full ledger verification and see checkpoints' cosignatures in the portal?
#[must_use]
pub fn can_verify_ledger(role: &Role) -> bool {
    matches!(role, Role::Inspector)
}

/// May `role` see the record of who read which payload?
#[must_use]
pub fn can_see_access_log(role: &Role) -> bool {
    matches!(role, Role::Inspector)
}

/// May `role` manage accounts?
#[must_use]
pub fn can_manage_accounts(role: &Role) -> bool {
    matches!(role, Role::Administrator)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> MunicipalityCode {
        s.parse().unwrap()
    }
    fn org(s: &str) -> OrgNumber {
        s.parse().unwrap()
    }

    const PROV: &str = "5599123451";
    const OTHER: &str = "5599123469";

    fn roles() -> [Role; 7] {
        [
            Role::Provider(org(PROV)),
            Role::Provider(org(OTHER)),
            Role::Auditor(m("0180")),
            Role::Auditor(m("1480")),
            Role::Inspector,
            Role::Administrator,
            Role::Public,
        ]
    }

    /// Reading PROV's payloads, PROV being contracted by Stockholm (0180) only.
    #[test]
    fn payload_reads_for_every_role() {
        let contracting = [m("0180")];
        let expected = [true, false, true, false, true, false, false];
        for (role, allowed) in roles().iter().zip(expected) {
            assert_eq!(
                can_read_payload(role, &org(PROV), &contracting),
                allowed,
                "{role:?}"
            );
            assert_eq!(
                must_record_read(role),
                matches!(role, Role::Provider(_) | Role::Auditor(_) | Role::Inspector)
            );
        }
        // A provider contracted by nobody: only itself and inspectors.
        let expected = [true, false, false, false, true, false, false];
        for (role, allowed) in roles().iter().zip(expected) {
            assert_eq!(can_read_payload(role, &org(PROV), &[]), allowed, "{role:?}");
        }
        // Contracted by both cities: both auditors.
        let expected = [true, false, true, true, true, false, false];
        for (role, allowed) in roles().iter().zip(expected) {
            assert_eq!(
                can_read_payload(role, &org(PROV), &[m("0180"), m("1480")]),
                allowed,
                "{role:?}"
            );
        }
    }

    #[test]
    fn submitting_and_reviewing() {
        let contract = ContractRef {
            municipality: m("0180"),
            reference: "SOC-1".parse().unwrap(),
        };
        let submit = [true, false, false, false, false, false, false];
        let review = [false, false, true, false, false, false, false];
        for ((role, s), r) in roles().iter().zip(submit).zip(review) {
            assert_eq!(can_submit(role, &org(PROV)), s, "{role:?}");
            assert_eq!(can_review(role, &contract), r, "{role:?}");
        }
    }

    #[test]
    fn ledger_wide_rights() {
        let verify = [false, false, false, false, true, false, false];
        let access_log = verify;
        let accounts = [false, false, false, false, false, true, false];
        for (i, role) in roles().iter().enumerate() {
            assert_eq!(can_verify_ledger(role), verify[i], "{role:?}");
            assert_eq!(can_see_access_log(role), access_log[i], "{role:?}");
            assert_eq!(can_manage_accounts(role), accounts[i], "{role:?}");
            assert!(can_see_registry(role) && can_see_aggregates(role));
        }
    }

    #[test]
    fn scopes_name_the_filter() {
        assert_eq!(
            payload_scope(&Role::Auditor(m("1280"))),
            PayloadScope::ProvidersContractedBy(m("1280"))
        );
        assert_eq!(
            payload_scope(&Role::Provider(org(PROV))),
            PayloadScope::Provider(org(PROV))
        );
        assert_eq!(payload_scope(&Role::Inspector), PayloadScope::All);
        assert_eq!(payload_scope(&Role::Public), PayloadScope::None);
        assert_eq!(payload_scope(&Role::Administrator), PayloadScope::None);
    }
}

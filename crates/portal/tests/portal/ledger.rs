//! The inspectors' ledger page over a real log: checkpoints published by the real sequencer on
//! different days, and a cosignature.

use std::sync::Arc;

use axum::http::StatusCode;
use insyn_ledger::entry::{Actor, Body, Entry, Statement};
use insyn_ledger::keys::{PublicKey, SigningKey};
use insyn_ledger::note::LogSigner;
use insyn_portal::PortalConfig;
use insyn_store::{
    Admission, AdmissionPolicy, Candidate, ManualClock, Sequencer, SequencerConfig, SignatureCheck,
    Store,
};

use crate::helpers::{START_MS, TestPortal};

/// Admits the operator's own statements with a valid signature; nothing else.
struct OperatorOnly(PublicKey);

impl AdmissionPolicy for OperatorOnly {
    type Problem = String;

    fn public_key(&self, statement: &Statement) -> Option<PublicKey> {
        (*statement.actor() == Actor::Operator).then_some(self.0)
    }

    fn check(&self, c: &Admission<'_>) -> Vec<String> {
        match c.signature {
            SignatureCheck::Invalid(e) => vec![format!("signature: {e}")],
            _ => Vec::new(),
        }
    }

    fn apply(&mut self, _index: u64, _entry: &Entry) {}
}

const DAY_MS: u64 = 86_400_000;

/// A portal over a log with checkpoints on two days (sizes 3 and 5) and one cosignature of the
/// latest; the portal's clock stands at [`START_MS`], two days after the last checkpoint.
pub(crate) async fn portal_with_history() -> TestPortal {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("insyn.db").display()
    );
    let start = u64::try_from(START_MS).expect("positive");
    let clock = Arc::new(ManualClock::new(start - 3 * DAY_MS));
    let store = Store::connect(&url)
        .await
        .expect("store")
        .with_clock(clock.clone());
    let signer =
        LogSigner::new("localhost/insyn", SigningKey::from_seed(&[7; 32])).expect("signer");
    let key = *signer.verifier().public_key();
    let (sequencer, _task): (Sequencer<OperatorOnly>, _) = Sequencer::start(
        store.clone(),
        signer.clone(),
        move || OperatorOnly(key),
        SequencerConfig::default(),
    )
    .await
    .expect("sequencer");
    let municipalities = ["0180", "1480", "1280", "0380", "0580"];
    for (i, code) in municipalities.iter().enumerate() {
        if i == 3 {
            clock.advance(DAY_MS);
        }
        let body = Body::MunicipalityRegistered {
            municipality: code.parse().expect("code"),
        };
        let candidate = Candidate::new(signer.sign_statement(body, None).expect("sign"), None)
            .expect("candidate");
        sequencer.submit(candidate).await.expect("integrated");
    }
    store
        .add_cosignature("witness.example/w1", 5, "— witness.example/w1 AAAA")
        .await
        .expect("cosignature");

    TestPortal::with_store(store, PortalConfig::default(), dir).await
}

#[tokio::test]
async fn inspectors_see_the_checkpoint_cosignatures_and_growth() {
    let portal = portal_with_history().await;
    let mut ivar = portal.logged_in("ivar").await;
    let page = ivar.get("/ledger").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("<code>localhost&#x2f;insyn</code>"), // `/` is escaped as `&#x2f;`
        "{}",
        page.body
    );
    assert!(page.body.contains("5 poster"));
    assert!(page.body.contains("witness.example&#x2f;w1"));
    assert!(page.body.contains("<svg "));
    assert!(
        page.body
            .contains("aria-labelledby=\"ledger-size-title ledger-size-desc\"")
    );
    // The table alternative: the day with three entries, the next day with five.
    assert!(
        page.body
            .contains("<th scope=\"row\">2026-03-12</th><td class=\"num\">3</td>"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("<th scope=\"row\">2026-03-13</th><td class=\"num\">5</td>")
    );
    assert!(
        page.body
            .contains("<th scope=\"row\">2026-03-14</th><td class=\"num\">–</td>")
    );

    // The page's tables as CSV.
    let csv = ivar.get("/ledger/size.csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(
        csv.body.starts_with("\u{feff}Dag;Poster\r\n"),
        "{}",
        csv.body
    );
    assert!(
        csv.body
            .contains("\r\n2026-03-12;3\r\n2026-03-13;5\r\n2026-03-14;\r\n")
    );
    assert_eq!(csv.body.matches("\r\n").count(), 31, "a header and 30 days");
    let csv = ivar.get("/ledger/cosignatures.csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.body
            .starts_with("\u{feff}Vittne;Storlek;Mottagen;Medsignatur\r\nwitness.example/w1;5;"),
        "{}",
        csv.body
    );
    assert!(
        csv.body.contains(";— witness.example/w1 AAAA\r\n"),
        "{}",
        csv.body
    );

    for user in ["anna", "ada"] {
        let mut c = portal.logged_in(user).await;
        for path in ["/ledger", "/ledger/size.csv", "/ledger/cosignatures.csv"] {
            assert_eq!(
                c.get(path).await.status,
                StatusCode::FORBIDDEN,
                "{user}: {path}"
            );
        }
    }
}

#[tokio::test]
async fn the_ledger_page_explains_a_ledger_that_has_not_started() {
    let portal = TestPortal::new().await;
    let mut ivar = portal.logged_in("ivar").await;
    let page = ivar.get("/ledger").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Liggaren har inte startats ännu."));
    assert!(
        page.body
            .contains("Ingen kontrollpunkt har publicerats ännu.")
    );
}

/// Snapshot of the ledger page over the history (no verification run yet).
#[tokio::test]
async fn snapshot_of_the_ledger_page() {
    let portal = portal_with_history().await;
    let mut ivar = portal.logged_in("ivar").await;
    insta::assert_snapshot!(
        "ledger",
        crate::helpers::redact(&ivar.get("/ledger").await.body)
    );
}

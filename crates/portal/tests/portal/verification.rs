//! The full verification of the ledger from the ledger page, over the demo ledger: it verifies,
//! its progress and result pages, who may start it, and a tampered entry named by index.

use std::time::Duration;

use axum::http::StatusCode;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::data::{DemoPortal, demo_portal};
use crate::helpers::{Client, Page, redact};

/// Polls the status page until the run has finished; returns the finished page.
async fn finished_page(c: &mut Client) -> Page {
    for _ in 0..600 {
        let page = c.get("/ledger/verification").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        if !page.body.contains("id=\"verification-running\"") {
            return page;
        }
        // Running: the page offers the progress bar, a manual update and an opt-in refresh,
        // and does not refresh by itself.
        assert!(page.body.contains("<progress id=\"verification-progress\""));
        assert!(page.body.contains("href=\"/ledger/verification?auto=1\""));
        assert!(!page.body.contains("http-equiv=\"refresh\""));
        let auto = c.get("/ledger/verification?auto=1").await;
        if auto.body.contains("id=\"verification-running\"") {
            assert!(auto.body.contains("http-equiv=\"refresh\""));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the verification did not finish within a minute");
}

#[tokio::test]
async fn the_whole_ledger_verifies_from_the_ledger_page() {
    the_whole_ledger_verifies_from_the_ledger_page_on(&demo_portal().await).await;
}

pub(crate) async fn the_whole_ledger_verifies_from_the_ledger_page_on(demo: &DemoPortal) {
    let size = demo.store.size().await.expect("size");
    let mut ivar = demo.portal.logged_in("ivar").await;
    let page = ivar.get("/ledger").await;
    assert!(
        page.body.contains("action=\"/ledger/verify\""),
        "{}",
        page.body
    );

    // A forged form starts nothing.
    let r = ivar.post("/ledger/verify", &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let csrf = page.csrf();
    let r = ivar.post("/ledger/verify", &[("csrf_token", &csrf)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location"), Some("/ledger/verification"));
    // The status JSON for the page's script.
    let status = ivar.get("/ledger/verification/status").await;
    assert_eq!(status.status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&status.body).expect("json");
    assert!(json["run"].as_u64().is_some(), "{json}");
    assert!(json["text"].as_str().is_some(), "{json}");

    let page = finished_page(&mut ivar).await;
    assert!(
        page.body.contains("Liggaren är verifierad."),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(&format!("Alla {} poster är kontrollerade", format_sv(size))),
        "{}",
        page.body
    );
    assert!(page.body.contains("Startad av Ivar Inspektör (ivar)"));
    assert!(page.body.contains("Trädets rot"));
    let json: serde_json::Value =
        serde_json::from_str(&ivar.get("/ledger/verification/status").await.body).expect("json");
    assert_eq!(json["running"], false);
    assert_eq!(json["checked"].as_u64(), Some(size));

    // The ledger page shows the latest result.
    let page = ivar.get("/ledger").await;
    assert!(page.body.contains("Liggaren är verifierad."));
    assert!(page.body.contains("href=\"/ledger/verification\""));

    // In English.
    let mut en = demo.portal.logged_in("ivar").await;
    let csrf = en.csrf_of("/account").await;
    en.post(
        "/language",
        &[("csrf_token", &csrf), ("language", "en"), ("next", "/")],
    )
    .await;
    let page = en.get("/ledger/verification").await;
    assert!(page.body.contains("The ledger verifies."), "{}", page.body);
    let csrf = en.csrf_of("/account").await;
    en.post(
        "/language",
        &[("csrf_token", &csrf), ("language", "sv"), ("next", "/")],
    )
    .await;

    // Nobody else may start it or see it, with or without a valid form.
    for user in ["anna", "goran", "ada"] {
        let mut c = demo.portal.logged_in(user).await;
        let csrf = c.csrf_of("/account").await;
        let r = c.post("/ledger/verify", &[("csrf_token", &csrf)]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{user}");
        for path in ["/ledger/verification", "/ledger/verification/status"] {
            let r = c.get(path).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{user}: {path}");
            assert!(!r.body.contains("Trädets rot"), "{user}: {path}");
        }
        let page = c.get("/").await;
        assert!(!page.body.contains("href=\"/ledger\""), "{user}: nav");
    }
}

/// Formats `n` the Swedish way (non-breaking space between thousands), as pages do.
fn format_sv(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{a0}');
        }
        out.push(c);
    }
    out
}

#[tokio::test]
async fn before_any_run_the_status_page_offers_to_start_one() {
    let demo = demo_portal().await;
    let mut ivar = demo.portal.logged_in("ivar").await;
    let page = ivar.get("/ledger/verification").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("Ingen kontroll har gjorts sedan servern startade.")
    );
    assert!(page.body.contains("action=\"/ledger/verify\""));
    let json: serde_json::Value =
        serde_json::from_str(&ivar.get("/ledger/verification/status").await.body).expect("json");
    assert!(json["run"].is_null());
}

/// An attacker with the database changes one entry (after dropping the append-only triggers);
/// the verification names that entry as the first bad one, in plain language.
#[tokio::test]
async fn a_tampered_entry_is_named_as_the_first_bad_one() {
    let demo = demo_portal().await;
    let db = demo.store.connection();
    assert_eq!(db.get_database_backend(), DbBackend::Sqlite);
    let triggers = db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT name FROM sqlite_master WHERE type = 'trigger'",
        ))
        .await
        .expect("triggers");
    for t in triggers {
        let name: String = t.try_get("", "name").expect("name");
        db.execute_unprepared(&format!("DROP TRIGGER {name}"))
            .await
            .expect("drop trigger");
    }
    let victim = 20;
    let mut bytes = demo
        .store
        .entry(victim)
        .await
        .expect("entry")
        .expect("exists")
        .bytes;
    // A byte of the signature (which is followed by the 8-byte integration time).
    let at = bytes.len() - 9 - 10;
    bytes[at] ^= 0x01;
    db.execute_unprepared(&format!(
        "UPDATE entries SET entry = X'{}' WHERE idx = {victim}",
        hex::encode(&bytes)
    ))
    .await
    .expect("tamper");
    // The stored full tiles still hold the original bytes; the attacker drops them too, so that
    // the tiles are built from the rewritten rows.
    db.execute_unprepared("DELETE FROM full_tiles")
        .await
        .expect("tamper");

    let mut ivar = demo.portal.logged_in("ivar").await;
    let csrf = ivar.csrf_of("/ledger").await;
    let r = ivar.post("/ledger/verify", &[("csrf_token", &csrf)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = finished_page(&mut ivar).await;
    assert!(
        page.body.contains("Liggaren kunde inte verifieras."),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(&format!("Första felaktiga post: {victim}")),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("Posten är inte den som trädet binder: den har ändrats eller bytts ut."),
        "{}",
        page.body
    );
    assert!(page.body.contains("Teknisk beskrivning (på engelska)"));
    assert!(
        page.body
            .contains(&format!("<th scope=\"row\">{victim}</th>"))
    );
    let csv = ivar.get("/ledger/verification/findings.csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(
        csv.body
            .starts_with("\u{feff}Post;Vad som är fel;Teknisk beskrivning (på engelska)\r\n"),
        "{}",
        csv.body
    );
    assert!(
        csv.body.contains(&format!(
            "\r\n{victim};Posten är inte den som trädet binder: den har ändrats eller bytts ut.;"
        )),
        "{}",
        csv.body
    );
    for user in ["anna", "ada"] {
        let mut c = demo.portal.logged_in(user).await;
        assert_eq!(
            c.get("/ledger/verification/findings.csv").await.status,
            StatusCode::FORBIDDEN
        );
    }
}

/// Snapshot of the status page with a result (the elapsed time is redacted).
#[tokio::test]
async fn snapshot_of_a_verified_ledger() {
    let demo = demo_portal().await;
    let mut ivar = demo.portal.logged_in("ivar").await;
    let csrf = ivar.csrf_of("/ledger").await;
    ivar.post("/ledger/verify", &[("csrf_token", &csrf)]).await;
    let page = finished_page(&mut ivar).await;
    let body = redact(&page.body);
    let marker = "<dt>Tid</dt><dd>";
    let start = body.find(marker).expect("elapsed time") + marker.len();
    let end = start + body[start..].find("</dd>").expect("end");
    let body = format!("{}[elapsed]{}", &body[..start], &body[end..]);
    insta::assert_snapshot!("verification_verified", body);
}

//! Login, logout, CSRF, session expiry and throttling through the router.

use std::time::Duration;

use axum::http::StatusCode;
use insyn_portal::{PortalConfig, ThrottleConfig};

use crate::helpers::{PASSWORD, TestPortal};

#[tokio::test]
async fn login_sets_a_strict_http_only_session_cookie_and_lands_on_the_start_page() {
    let portal = TestPortal::new().await;
    let mut c = portal.client();
    let form = c.get("/login").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("<h1>Logga in</h1>"));
    let pre = form
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("insyn-csrf="))
        .expect("a pre-session CSRF cookie");
    assert!(pre.contains("HttpOnly") && pre.contains("SameSite=Strict"));

    let r = c.login("anna", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location"), Some("/"));
    let cookie = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("insyn-session="))
        .expect("session cookie");
    assert!(cookie.contains("; HttpOnly"), "{cookie}");
    assert!(cookie.contains("; SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("; Path=/"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain-http default has no Secure: {cookie}"
    );
    let token = &cookie["insyn-session=".len()..cookie.find(';').expect(";")];
    assert_eq!(token.len(), 43, "256-bit token, base64url");

    let start = c.get("/").await;
    assert_eq!(start.status, StatusCode::OK);
    assert!(start.body.contains("Välkommen, Anna Granskare"));
    assert!(start.body.contains("Stockholm (0180)"));
}

#[tokio::test]
async fn login_returns_to_the_page_asked_for_but_never_off_site() {
    let portal = TestPortal::new().await;
    let mut c = portal.client();
    let r = c.get("/account").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location"), Some("/login?next=/account"));
    let form = c.get("/login?next=/account").await;
    // minijinja escapes `/` in values as `&#x2f;`; browsers decode it.
    assert!(
        form.body.contains("name=\"next\" value=\"&#x2f;account\""),
        "{}",
        form.body
    );
    let csrf = form.csrf();
    let r = c
        .post(
            "/login",
            &[
                ("csrf_token", &csrf),
                ("username", "anna"),
                ("password", PASSWORD),
                ("next", "/account"),
            ],
        )
        .await;
    assert_eq!(r.header("location"), Some("/account"));

    let mut c = portal.client();
    let csrf = c.csrf_of("/login").await;
    let r = c
        .post(
            "/login",
            &[
                ("csrf_token", &csrf),
                ("username", "anna"),
                ("password", PASSWORD),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(r.header("location"), Some("/"));
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let portal = TestPortal::new().await;
    for (user, password) in [("anna", "wrong password!"), ("nobody", PASSWORD)] {
        let mut c = portal.client();
        let r = c.login(user, password).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(
            r.body.contains("Fel användarnamn eller lösenord"),
            "{}",
            r.body
        );
        assert!(r.body.contains("role=\"alert\""));
        assert!(!c.cookies.contains_key("insyn-session"));
        assert_eq!(c.get("/").await.status, StatusCode::SEE_OTHER);
    }
}

#[tokio::test]
async fn logout_ends_the_session_for_good() {
    let portal = TestPortal::new().await;
    let mut c = portal.logged_in("anna").await;
    let stolen = c.cookies.get("insyn-session").cloned().expect("session");
    let csrf = c.csrf_of("/account").await;
    let r = c.post("/logout", &[("csrf_token", &csrf)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location"), Some("/login?logged_out=1"));
    assert!(!c.cookies.contains_key("insyn-session"), "cookie cleared");
    let page = c.get("/login?logged_out=1").await;
    assert!(page.body.contains("Du är utloggad."));

    // Replaying the old cookie does not work: the session is gone from the database.
    let mut replay = portal.client();
    replay.cookies.insert("insyn-session".into(), stolen);
    let r = replay.get("/").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        r.set_cookies()
            .iter()
            .any(|c| c.starts_with("insyn-session=;"))
    );
}

#[tokio::test]
async fn forms_without_the_right_csrf_token_are_refused() {
    let portal = TestPortal::new().await;
    let mut c = portal.logged_in("anna").await;
    for fields in [
        vec![],
        vec![("csrf_token", "x".repeat(43))],
        vec![("csrf_token", String::new())],
    ] {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = c.post("/logout", &fields).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(
            r.body.contains("Formuläret kunde inte skickas"),
            "{}",
            r.body
        );
        assert!(
            r.header("content-type")
                .is_some_and(|t| t.starts_with("text/html"))
        );
    }
    // Still logged in: nothing was done.
    assert_eq!(c.get("/").await.status, StatusCode::OK);

    // Login without the pre-session cookie (a cross-site form post) is refused too.
    let mut fresh = portal.client();
    let r = fresh
        .post(
            "/login",
            &[
                ("csrf_token", "a".repeat(43).as_str()),
                ("username", "anna"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Another session's token does not work either.
    let mut other = portal.logged_in("ivar").await;
    let other_csrf = other.csrf_of("/account").await;
    let r = c.post("/logout", &[("csrf_token", &other_csrf)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn sessions_end_after_idle_time() {
    let portal = TestPortal::new().await;
    let mut c = portal.logged_in("anna").await;
    portal.clock.advance(Duration::from_secs(29 * 60));
    assert_eq!(c.get("/").await.status, StatusCode::OK);
    // Each use restarts the idle timer.
    portal.clock.advance(Duration::from_secs(29 * 60));
    assert_eq!(c.get("/").await.status, StatusCode::OK);
    portal.clock.advance(Duration::from_secs(31 * 60));
    let r = c.get("/").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location"), Some("/login?next=/"));
}

#[tokio::test]
async fn sessions_end_after_absolute_time_however_active() {
    let portal = TestPortal::new().await;
    let mut c = portal.logged_in("anna").await;
    // Active every 20 minutes for 9 h 40 min.
    for _ in 0..29 {
        portal.clock.advance(Duration::from_secs(20 * 60));
        assert_eq!(c.get("/account").await.status, StatusCode::OK);
    }
    portal.clock.advance(Duration::from_secs(20 * 60));
    assert_eq!(c.get("/account").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn repeated_failures_lock_the_account_for_the_window() {
    let portal = TestPortal::new().await;
    let mut c = portal.client();
    for _ in 0..5 {
        let r = c.login("anna", "not the password").await;
        assert_eq!(r.status, StatusCode::OK);
    }
    // Even the right password is refused now, with a clear message and Retry-After.
    let r = c.login("anna", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        r.body.contains("För många misslyckade försök"),
        "{}",
        r.body
    );
    assert!(r.body.contains("Försök igen om 15 minuter"), "{}", r.body);
    assert_eq!(r.header("retry-after"), Some("900"));
    // From another address too: the lock is on the account.
    let mut elsewhere = portal.client();
    elsewhere.addr = "198.51.100.7:1234".parse().expect("addr");
    assert_eq!(
        elsewhere.login("anna", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Other accounts are unaffected.
    assert_eq!(
        elsewhere.login("ivar", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );

    portal.clock.advance(Duration::from_secs(15 * 60 + 1));
    assert_eq!(
        c.login("anna", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_success_resets_the_account_count() {
    let portal = TestPortal::new().await;
    let mut c = portal.client();
    for _ in 0..4 {
        c.login("anna", "not the password").await;
    }
    portal.clock.advance(Duration::from_secs(1));
    assert_eq!(
        c.login("anna", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    portal.clock.advance(Duration::from_secs(1));
    let mut c = portal.client();
    for _ in 0..4 {
        assert_eq!(
            c.login("anna", "not the password").await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        c.login("anna", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn one_address_trying_many_usernames_is_throttled() {
    let portal = TestPortal::with_config(PortalConfig {
        throttle: ThrottleConfig {
            max_failures_per_address: 6,
            ..ThrottleConfig::default()
        },
        ..PortalConfig::default()
    })
    .await;
    let mut c = portal.client();
    for i in 0..6 {
        let r = c.login(&format!("guess{i}"), "whatever password").await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let r = c.login("ivar", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // The same account from another address is fine.
    let mut other = portal.client();
    other.addr = "203.0.113.9:5555".parse().expect("addr");
    assert_eq!(
        other.login("ivar", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn behind_tls_cookies_are_secure_with_host_prefix_and_hsts_is_sent() {
    let portal = TestPortal::with_config(PortalConfig {
        public_url: Some("https://insyn.example.se".into()),
        ..PortalConfig::default()
    })
    .await;
    let mut c = portal.client();
    let form = c.get("/login").await;
    assert_eq!(
        form.header("strict-transport-security"),
        Some(insyn_portal::STRICT_TRANSPORT_SECURITY)
    );
    assert!(
        form.set_cookies()
            .iter()
            .any(|c| c.starts_with("__Host-insyn-csrf=") && c.contains("; Secure"))
    );
    let csrf = form.csrf();
    let r = c
        .post(
            "/login",
            &[
                ("csrf_token", &csrf),
                ("username", "anna"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let cookie = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-insyn-session="))
        .expect("secure session cookie");
    assert!(
        cookie.contains("; Secure")
            && cookie.contains("; HttpOnly")
            && cookie.contains("SameSite=Strict")
    );
    assert_eq!(c.get("/").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_disabled_account_loses_its_sessions_and_cannot_log_in() {
    let portal = TestPortal::new().await;
    let mut c = portal.logged_in("goran").await;
    let (account, _) = insyn_store::accounts::find_account_by_username(portal.state.db(), "goran")
        .await
        .expect("db")
        .expect("goran");
    insyn_store::accounts::set_disabled(portal.state.db(), account.id, true)
        .await
        .expect("disable");
    assert_eq!(c.get("/").await.status, StatusCode::SEE_OTHER);
    let r = c.login("goran", PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Fel användarnamn eller lösenord"));
}

/// The account and session queries on PostgreSQL: login, the same answer for wrong passwords,
/// throttling, a duplicate username, logout.
#[tokio::test]
async fn accounts_and_sessions_work_on_postgresql() {
    let Some(db) = crate::helpers::PgDatabase::create("sessions").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let portal = TestPortal::at(&db.url, PortalConfig::default(), dir).await;
    let mut c = portal.logged_in("anna").await;
    assert!(c.get("/").await.body.contains("Välkommen, Anna Granskare"));
    let duplicate = insyn_portal::accounts::create_account(
        portal.state.db(),
        insyn_portal::accounts::NewAccount {
            username: "ANNA".into(),
            display_name: "Another Anna".into(),
            role: insyn_portal::accounts::AccountRole::Inspector,
            language: insyn_portal::i18n::Language::En,
            password: PASSWORD.into(),
        },
        insyn_portal::PasswordCost::INSECURE_FOR_TESTS,
    )
    .await;
    assert!(matches!(
        duplicate,
        Err(insyn_portal::accounts::CreateAccountError::UsernameTaken(_))
    ));

    let mut bad = portal.client();
    for _ in 0..5 {
        assert_eq!(
            bad.login("ivar", "not the password").await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        bad.login("ivar", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );

    let csrf = c.csrf_of("/account").await;
    assert_eq!(
        c.post("/logout", &[("csrf_token", &csrf)]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(c.get("/").await.status, StatusCode::SEE_OTHER);
    db.drop_now().await;
}

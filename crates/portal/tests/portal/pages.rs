//! Pages, roles, language, escaping, headers and snapshots.

use axum::http::StatusCode;
use insyn_portal::accounts::AccountRole;

use crate::helpers::{PASSWORD, TestPortal, redact};

#[tokio::test]
async fn the_start_page_depends_on_the_role() {
    let portal = TestPortal::new().await;
    let mut anna = portal.logged_in("anna").await;
    let page = anna.get("/").await;
    assert!(
        page.body
            .contains("Du följer upp de utförare som Stockholm (0180) har avtal med.")
    );
    assert!(!page.body.contains("href=\"/admin/accounts\""));

    let mut ivar = portal.logged_in("ivar").await;
    let page = ivar.get("/").await;
    assert!(page.body.contains("Du har nationell insyn"));

    let mut ada = portal.logged_in("ada").await;
    let page = ada.get("/").await;
    assert!(page.body.contains("href=\"/admin/accounts\""));
}

#[tokio::test]
async fn only_administrators_see_the_account_list() {
    let portal = TestPortal::new().await;
    for user in ["anna", "goran", "ivar"] {
        let mut c = portal.logged_in(user).await;
        let r = c.get("/admin/accounts").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{user}");
        assert!(r.body.contains("Du har inte behörighet"), "{user}");
        assert!(
            !r.body.contains("goran"),
            "no account data leaks into the 403 page"
        );
    }
    let mut ada = portal.logged_in("ada").await;
    let r = ada.get("/admin/accounts").await;
    assert_eq!(r.status, StatusCode::OK);
    for name in ["anna", "goran", "ivar", "ada", "Göteborg (1480)"] {
        assert!(r.body.contains(name), "{name}");
    }
    // Anonymous visitors are sent to log in, not told what exists.
    let r = portal.client().get("/admin/accounts").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn unknown_pages_get_the_404_page() {
    let portal = TestPortal::new().await;
    let r = portal.client().get("/no/such/page").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("Sidan finns inte"));
    assert!(r.body.contains("<html lang=\"sv\">"));
    let mut c = portal.logged_in("anna").await;
    let r = c.get("/reports/42").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        r.body.contains("Anna Granskare"),
        "the layout knows who is logged in"
    );
}

/// A mistyped link gets the portal's own page in the visitor's language, never axum's bare
/// plain-text rejection: a malformed path segment names no page (404), a malformed query
/// parameter is a bad request (400).
#[tokio::test]
async fn malformed_paths_and_queries_get_the_portals_error_pages() {
    let portal = TestPortal::new().await;
    let mut c = portal.logged_in("anna").await;
    for path in [
        "/reports/abc",
        "/reports/-1",
        "/reports/99999999999999999999999/fields.csv",
    ] {
        let r = c.get(path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(r.body.contains("Sidan finns inte"), "{path}: {}", r.body);
        assert!(r.body.contains("Anna Granskare"), "{path}: the layout");
    }
    for path in [
        "/providers/5560360793?after=x",
        "/providers/5560360793?per_page=-3",
    ] {
        let r = c.get(path).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.body);
        assert!(r.body.contains("Felaktig begäran"), "{path}: {}", r.body);
        assert!(r.body.contains("Anna Granskare"), "{path}: the layout");
    }
}

#[tokio::test]
async fn anonymous_language_choice_is_kept_in_a_cookie() {
    let portal = TestPortal::new().await;
    let mut c = portal.client();
    let csrf = c.csrf_of("/login").await;
    let r = c
        .post(
            "/language",
            &[
                ("csrf_token", &csrf),
                ("language", "en"),
                ("next", "/login"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location"), Some("/login"));
    let page = c.get("/login").await;
    assert!(page.body.contains("<html lang=\"en\">"));
    assert!(page.body.contains("<h1>Log in</h1>"));
    // An unknown language is a bad request, not a crash.
    let r = c
        .post("/language", &[("csrf_token", &csrf), ("language", "xx")])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_accounts_language_is_stored_with_the_account() {
    let portal = TestPortal::new().await;
    let mut c = portal.logged_in("ivar").await;
    let csrf = c.csrf_of("/account").await;
    let r = c
        .post(
            "/language",
            &[
                ("csrf_token", &csrf),
                ("language", "en"),
                ("next", "/account"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = c.get("/account").await;
    assert!(page.body.contains("<h1>My account</h1>"));
    // A new login elsewhere (no language cookie) gets English too.
    let mut other = portal.logged_in("ivar").await;
    let page = other.get("/").await;
    assert!(page.body.contains("Welcome, Ivar Inspektör"));
    assert!(page.body.contains("<html lang=\"en\">"));
}

#[tokio::test]
async fn user_supplied_text_is_escaped() {
    let portal = TestPortal::new().await;
    portal
        .account(
            "mallory",
            "<script>alert(1)</script>\"'&",
            AccountRole::Inspector,
        )
        .await;
    let mut c = portal.logged_in("mallory").await;
    for path in ["/", "/account", "/no-such-page"] {
        let page = c.get(path).await;
        assert!(!page.body.contains("<script>"), "{path}: {}", page.body);
        assert!(
            page.body
                .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;&quot;&#x27;&amp;"),
            "{path}: {}",
            page.body
        );
    }
    let mut ada = portal.logged_in("ada").await;
    let page = ada.get("/admin/accounts").await;
    assert!(!page.body.contains("<script>"));
    // A username typed into the login form comes back escaped.
    let mut anon = portal.client();
    let page = anon
        .login("<img src=x onerror=alert(1)>", "whatever password")
        .await;
    assert!(!page.body.contains("<img src=x"));
    assert!(page.body.contains("&lt;img src=x onerror=alert(1)&gt;"));
}

#[tokio::test]
async fn security_headers_are_on_every_response() {
    let portal = TestPortal::new().await;
    let mut c = portal.client();
    let mut logged_in = portal.logged_in("anna").await;
    let pages = [
        c.get("/login").await,
        c.get("/nope").await,
        c.get("/static/portal.css").await,
        c.post("/logout", &[]).await,
        logged_in.get("/").await,
    ];
    for page in pages {
        assert_eq!(
            page.header("content-security-policy"),
            Some(
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
            )
        );
        assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(page.header("referrer-policy"), Some("same-origin"));
        assert_eq!(page.header("x-frame-options"), Some("DENY"));
        assert_eq!(
            page.header("strict-transport-security"),
            None,
            "no HSTS on plain http"
        );
    }
}

#[tokio::test]
async fn pages_have_no_inline_scripts_or_styles() {
    let portal = TestPortal::new().await;
    let mut c = portal.logged_in("ada").await;
    for path in ["/", "/account", "/admin/accounts", "/missing"] {
        let body = c.get(path).await.body;
        assert!(!body.contains("<script"), "{path}");
        assert!(!body.contains("style="), "{path}");
        assert!(!body.contains("<style"), "{path}");
        assert!(!body.contains(" on"), "{path}: no event handler attributes");
    }
}

#[tokio::test]
async fn pages_are_not_cached_but_static_files_are() {
    let portal = TestPortal::new().await;
    let mut c = portal.logged_in("anna").await;
    let page = c.get("/").await;
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let href_start = page.body.find("/static/portal.css?v=").expect("css link");
    let href_end = page.body[href_start..].find('"').expect("end") + href_start;
    let css = c.get(&page.body[href_start..href_end]).await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(
        css.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let unversioned = c.get("/static/portal.css").await;
    assert_eq!(unversioned.header("cache-control"), Some("no-cache"));
    assert_eq!(
        c.get("/static/../Cargo.toml").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.get("/static/nope.css").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn snapshots_of_rendered_pages() {
    let portal = TestPortal::new().await;
    let mut anon = portal.client();
    insta::assert_snapshot!("login", redact(&anon.get("/login").await.body));
    let failed = anon.login("anna", "wrong password!").await;
    insta::assert_snapshot!("login_failed", redact(&failed.body));

    let mut anna = portal.logged_in("anna").await;
    insta::assert_snapshot!("landing_auditor", redact(&anna.get("/").await.body));
    insta::assert_snapshot!("account_auditor", redact(&anna.get("/account").await.body));
    insta::assert_snapshot!("forbidden", redact(&anna.get("/admin/accounts").await.body));
    insta::assert_snapshot!("not_found", redact(&anna.get("/nowhere").await.body));

    let mut ivar = portal.logged_in("ivar").await;
    insta::assert_snapshot!("landing_inspector", redact(&ivar.get("/").await.body));

    let mut ada = portal.logged_in("ada").await;
    let accounts = redact(&ada.get("/admin/accounts").await.body);
    insta::assert_snapshot!("admin_accounts", accounts);
    let _ = PASSWORD;
}

#[tokio::test]
async fn administrators_can_download_the_account_list_as_csv() {
    let portal = TestPortal::new().await;
    portal
        .account(
            "eve",
            "=HYPERLINK(\"http://evil.example\")",
            AccountRole::Inspector,
        )
        .await;
    let mut ada = portal.logged_in("ada").await;
    let r = ada.get("/admin/accounts.csv").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"insyn-konton.csv\"")
    );
    assert!(
        r.body
            .starts_with("\u{feff}Användarnamn;Namn;Roll;Kommun;Språk;Status;Skapat\r\n")
    );
    assert!(
        r.body
            .contains("anna;Anna Granskare;Granskare;0180 Stockholm;sv;Aktivt;")
    );
    assert!(
        r.body
            .contains("\"'=HYPERLINK(\"\"http://evil.example\"\")\""),
        "{}",
        r.body
    );

    let mut anna = portal.logged_in("anna").await;
    assert_eq!(
        anna.get("/admin/accounts.csv").await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_template_error_is_a_500_page_not_a_panic() {
    // Development mode: a copy of web/ that the test can break while the portal runs.
    let web = tempfile::tempdir().expect("tempdir");
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
    for sub in ["templates", "i18n", "static"] {
        std::fs::create_dir_all(web.path().join(sub)).expect("mkdir");
        for entry in std::fs::read_dir(source.join(sub)).expect("read web") {
            let path = entry.expect("entry").path();
            let name = path.file_name().expect("name");
            std::fs::copy(&path, web.path().join(sub).join(name)).expect("copy");
        }
    }
    let portal = TestPortal::with_config(insyn_portal::PortalConfig {
        web_dir: Some(web.path().to_owned()),
        ..insyn_portal::PortalConfig::default()
    })
    .await;
    let mut c = portal.logged_in("anna").await;
    assert_eq!(c.get("/").await.status, StatusCode::OK);
    std::fs::write(
        web.path().join("templates/landing.html"),
        "{% extends \"base.html\" %}{% block content %}{{ no_such_variable.field }}{% endblock %}",
    )
    .expect("break the template");
    let r = c.get("/").await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.body.contains("Något gick fel"), "{}", r.body);
    assert!(
        !r.body.contains("no_such_variable"),
        "internal causes are not shown"
    );
    // Other pages still work.
    assert_eq!(c.get("/account").await.status, StatusCode::OK);
}

/// Every GET route × every role: the page, a redirect to the login page, or 403. Every POST
/// route × every role: refused without the CSRF token.
#[tokio::test]
async fn authorization_matrix_of_every_route_and_role() {
    use insyn_portal::{Audience, ROUTES};
    let portal = TestPortal::new().await;
    let roles: [(&str, Option<&str>); 5] = [
        ("anonymous", None),
        ("auditor", Some("anna")),
        ("auditor of another municipality", Some("goran")),
        ("inspector", Some("ivar")),
        ("administrator", Some("ada")),
    ];
    for (role, username) in roles {
        let mut c = match username {
            Some(u) => portal.logged_in(u).await,
            None => portal.client(),
        };
        for route in ROUTES {
            if route.method == "POST" {
                let r = c.post(route.path, &[]).await;
                assert_eq!(
                    r.status,
                    StatusCode::FORBIDDEN,
                    "{role}: POST {} without CSRF",
                    route.path
                );
                continue;
            }
            let r = c.get(route.path).await;
            let expected = match (route.audience, username) {
                (Audience::Everyone, _) if route.path == "/login" && username.is_some() => {
                    StatusCode::SEE_OTHER
                }
                (Audience::Everyone, _) => StatusCode::OK,
                (_, None) => StatusCode::SEE_OTHER,
                (Audience::LoggedIn, Some(_)) => StatusCode::OK,
                (Audience::AccountManagers, Some("ada")) => StatusCode::OK,
                (Audience::AccountManagers, Some(_)) => StatusCode::FORBIDDEN,
                (Audience::LedgerVerifiers | Audience::AccessLogReaders, Some("ivar")) => {
                    StatusCode::OK
                }
                (Audience::LedgerVerifiers | Audience::AccessLogReaders, Some(_)) => {
                    StatusCode::FORBIDDEN
                }
                (Audience::LedgerReaders | Audience::LedgerRecords, Some("ada")) => {
                    StatusCode::FORBIDDEN
                }
                (Audience::LedgerReaders, Some(_)) => StatusCode::OK,
                // This database has no ledger: the records the example paths name do not exist
                // (tests/portal/data.rs checks these routes over a real ledger).
                (Audience::LedgerRecords, Some(_)) => StatusCode::NOT_FOUND,
            };
            assert_eq!(r.status, expected, "{role}: GET {}", route.path);
            if expected == StatusCode::SEE_OTHER && username.is_none() {
                assert!(
                    r.header("location")
                        .is_some_and(|l| l.starts_with("/login?next=")),
                    "{role}: GET {} goes to the login page",
                    route.path
                );
            }
        }
    }
}

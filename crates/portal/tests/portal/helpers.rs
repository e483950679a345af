//! A test portal and a tiny browser-like client (cookie jar, CSRF tokens from forms).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode, header};
use tower::ServiceExt;

use insyn_ledger::id::MunicipalityCode;
use insyn_portal::accounts::{AccountRole, NewAccount, create_account_at};
use insyn_portal::i18n::Language;
use insyn_portal::{Clock, PasswordCost, PortalConfig, PortalState};

/// 2026-03-15 00:00 UTC.
pub(crate) const START_MS: i64 = 1_773_532_800_000;
pub(crate) const PASSWORD: &str = "correct horse battery staple";

pub(crate) struct TestPortal {
    pub(crate) router: Router,
    pub(crate) state: PortalState,
    pub(crate) clock: Clock,
    _dir: tempfile::TempDir,
}

pub(crate) fn municipality(code: &str) -> MunicipalityCode {
    code.parse().expect("municipality code")
}

impl TestPortal {
    pub(crate) async fn new() -> Self {
        Self::with_config(PortalConfig::default()).await
    }

    pub(crate) async fn with_config(config: PortalConfig) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("insyn.db").display()
        );
        Self::at(&url, config, dir).await
    }

    /// A portal on the database at `url` (already created and empty).
    pub(crate) async fn at(url: &str, config: PortalConfig, dir: tempfile::TempDir) -> Self {
        let store = insyn_store::Store::connect(url).await.expect("store");
        Self::with_store(store, config, dir).await
    }

    /// A portal over an opened store (e.g. one with a ledger history).
    pub(crate) async fn with_store(
        store: insyn_store::Store,
        config: PortalConfig,
        dir: tempfile::TempDir,
    ) -> Self {
        let config = PortalConfig {
            password_cost: PasswordCost::INSECURE_FOR_TESTS,
            ..config
        };
        let clock = Clock::manual(START_MS);
        let state = PortalState::with_clock(store, config, clock.clone()).expect("state");
        let portal = TestPortal {
            router: insyn_portal::router(state.clone()),
            state,
            clock,
            _dir: dir,
        };
        portal
            .account(
                "anna",
                "Anna Granskare",
                AccountRole::Auditor(municipality("0180")),
            )
            .await;
        portal
            .account(
                "goran",
                "Göran Granskare",
                AccountRole::Auditor(municipality("1480")),
            )
            .await;
        portal
            .account("ivar", "Ivar Inspektör", AccountRole::Inspector)
            .await;
        portal
            .account("ada", "Ada Administratör", AccountRole::Administrator)
            .await;
        portal
    }

    pub(crate) async fn account(
        &self,
        username: &str,
        display_name: &str,
        role: AccountRole,
    ) -> i32 {
        create_account_at(
            self.state.db(),
            NewAccount {
                username: username.to_owned(),
                display_name: display_name.to_owned(),
                role,
                language: Language::Sv,
                password: PASSWORD.to_owned(),
            },
            PasswordCost::INSECURE_FOR_TESTS,
            START_MS - 86_400_000,
        )
        .await
        .expect("create account")
    }

    pub(crate) fn client(&self) -> Client {
        Client {
            router: self.router.clone(),
            cookies: BTreeMap::new(),
            addr: "192.0.2.10:40000".parse().expect("addr"),
        }
    }

    /// A client already logged in as `username`.
    pub(crate) async fn logged_in(&self, username: &str) -> Client {
        let mut c = self.client();
        let r = c.login(username, PASSWORD).await;
        assert_eq!(
            r.status,
            StatusCode::SEE_OTHER,
            "login of {username}: {}",
            r.body
        );
        c
    }
}

#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) headers: axum::http::HeaderMap,
    pub(crate) body: String,
}

impl Page {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(crate) fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// The value of the first `csrf_token` hidden field.
    pub(crate) fn csrf(&self) -> String {
        let marker = "name=\"csrf_token\" value=\"";
        let start = self.body.find(marker).expect("a form with a csrf_token") + marker.len();
        let end = self.body[start..].find('"').expect("end of value") + start;
        self.body[start..end].to_owned()
    }
}

pub(crate) struct Client {
    router: Router,
    pub(crate) cookies: BTreeMap<String, String>,
    pub(crate) addr: SocketAddr,
}

impl Client {
    pub(crate) async fn send(&mut self, mut req: Request<Body>) -> Page {
        if !self.cookies.is_empty() {
            let cookie = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            req.headers_mut()
                .insert(header::COOKIE, cookie.parse().expect("cookie header"));
        }
        req.extensions_mut().insert(ConnectInfo(self.addr));
        let response: Response<Body> = self.router.clone().oneshot(req).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let page = Page {
            status,
            headers,
            body: String::from_utf8(bytes.to_vec()).expect("utf-8 body"),
        };
        for c in page.set_cookies() {
            let first = c.split(';').next().unwrap_or_default();
            let Some((name, value)) = first.split_once('=') else {
                continue;
            };
            if value.is_empty() || c.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        page
    }

    pub(crate) async fn get(&mut self, path: &str) -> Page {
        self.send(Request::get(path).body(Body::empty()).expect("request"))
            .await
    }

    pub(crate) async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.send(
            Request::post(path)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .expect("request"),
        )
        .await
    }

    /// Opens the login page and submits the form with its CSRF token.
    pub(crate) async fn login(&mut self, username: &str, password: &str) -> Page {
        let form = self.get("/login").await;
        let csrf = form.csrf();
        self.post(
            "/login",
            &[
                ("csrf_token", &csrf),
                ("username", username),
                ("password", password),
                ("next", "/"),
            ],
        )
        .await
    }

    /// The CSRF token of the forms on `path`.
    pub(crate) async fn csrf_of(&mut self, path: &str) -> String {
        self.get(path).await.csrf()
    }
}

/// The pager's "next page" link on a page, unescaped, if there is one.
pub(crate) fn next_link(body: &str) -> Option<String> {
    let (before, _) = body.split_once("rel=\"next\"")?;
    let href = before.rsplit("href=\"").next()?.split('"').next()?;
    Some(href.replace("&amp;", "&").replace("&#x2f;", "/"))
}

pub(crate) fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Replaces the per-run parts of a page (tokens, asset versions) for snapshots.
pub(crate) fn redact(html: &str) -> String {
    let mut text = html.to_owned();
    for marker in ["name=\"csrf_token\" value=\"", "?v="] {
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(i) = rest.find(marker) {
            out.push_str(&rest[..i + marker.len()]);
            out.push_str("[redacted]");
            rest = &rest[i + marker.len()..];
            rest = &rest[rest.find('"').unwrap_or(rest.len())..];
        }
        out.push_str(rest);
        text = out;
    }
    text
}

/// A fresh PostgreSQL database for one test, dropped by [`PgDatabase::drop_now`]; `None` (with a
/// loud SKIPPED line) when `INSYN_TEST_DATABASE_URL` is not set, and a failure under `CI=true`.
pub(crate) struct PgDatabase {
    admin: sea_orm::DatabaseConnection,
    name: String,
    pub(crate) url: String,
}

impl PgDatabase {
    pub(crate) async fn create(test: &str) -> Option<Self> {
        use sea_orm::ConnectionTrait;
        let Some(admin_url) = std::env::var("INSYN_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "PostgreSQL portal tests cannot be skipped under CI=true: set INSYN_TEST_DATABASE_URL"
                );
            }
            eprintln!(
                "!!!!!!!! PostgreSQL portal test {test} SKIPPED: set INSYN_TEST_DATABASE_URL !!!!!!!!"
            );
            return None;
        };
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let name = format!(
            "insyn_portal_{}_{}_{}",
            test.chars()
                .filter(char::is_ascii_alphanumeric)
                .take(20)
                .collect::<String>(),
            std::process::id(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        )
        .to_ascii_lowercase();
        let admin = sea_orm::Database::connect(admin_url.as_str())
            .await
            .expect("connect to PostgreSQL");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        let (base, query) = match admin_url.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (admin_url.as_str(), None),
        };
        let scheme_end = base.find("://").map_or(0, |i| i + 3);
        let host_end = base[scheme_end..]
            .find('/')
            .map_or(base.len(), |i| scheme_end + i);
        let mut url = format!("{}/{name}", &base[..host_end]);
        if let Some(q) = query {
            url.push('?');
            url.push_str(q);
        }
        Some(PgDatabase { admin, name, url })
    }

    pub(crate) async fn drop_now(self) {
        use sea_orm::ConnectionTrait;
        self.admin
            .execute_unprepared(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
            .await
            .expect("drop test database");
    }
}

//! The portal's authorization matrix: every route the router serves × every role, with the
//! status each must get, over a real ledger (the demo history run through the real sequencer
//! with the real admission policy).
//!
//! The list of routes comes from the router itself (`insyn_portal::route_patterns`, and probing
//! every pattern with every method): a route added to the router without a row in [`MATRIX`]
//! (and in `insyn_portal::ROUTES`) fails this test, as does a row for a route that no longer
//! exists.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "portal/helpers.rs"]
mod helpers;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use insyn_api::ApiSequencer;
use insyn_api::policy::LedgerPolicy;
use insyn_domain::demo::{DemoConfig, DemoDataset, DemoKey};
use insyn_ledger::entry::Body as EntryBody;
use insyn_ledger::id::{MunicipalityCode, OrgNumber};
use insyn_ledger::keys::SigningKey;
use insyn_ledger::note::LogSigner;
use insyn_portal::{PortalConfig, PortalKeys, ROUTES, route_patterns};
use insyn_store::{ManualClock, Page, ReportQuery, Sequencer, SequencerConfig, Store};

use helpers::{Client, START_MS, TestPortal, encode, municipality};

/// The roles, in the order of the status columns of [`MATRIX`].
const ROLES: [(&str, Option<&str>); 5] = [
    ("anonymous", None),
    ("auditor of Stockholm (0180)", Some("anna")),
    ("auditor of Göteborg (1480)", Some("goran")),
    ("inspector", Some("ivar")),
    ("administrator", Some("ada")),
];

/// `{org}` is a provider contracted by Stockholm only, `{report}` its latest report.
struct Row {
    method: &'static str,
    path: &'static str,
    /// Form fields for POST (the CSRF token is added).
    form: &'static [(&'static str, &'static str)],
    /// The status for each of [`ROLES`].
    expected: [u16; 5],
}

const fn get(path: &'static str, expected: [u16; 5]) -> Row {
    Row {
        method: "GET",
        path,
        form: &[],
        expected,
    }
}

const fn post(
    path: &'static str,
    form: &'static [(&'static str, &'static str)],
    expected: [u16; 5],
) -> Row {
    Row {
        method: "POST",
        path,
        form,
        expected,
    }
}

/// 303 for anonymous visitors is the redirect to the login page (checked below).
const MATRIX: &[Row] = &[
    //                                                anon  anna goran ivar  ada
    get("/", [303, 200, 200, 200, 200]),
    get("/login", [200, 303, 303, 303, 303]),
    post(
        "/login",
        &[("username", "nobody"), ("password", "wrong password")],
        [200, 200, 200, 200, 200],
    ),
    get("/account", [303, 200, 200, 200, 200]),
    post(
        "/language",
        &[("language", "en"), ("next", "/")],
        [303, 303, 303, 303, 303],
    ),
    get("/admin/accounts", [303, 403, 403, 403, 200]),
    get("/admin/accounts.csv", [303, 403, 403, 403, 200]),
    get("/ledger", [303, 403, 403, 200, 403]),
    get("/ledger/size.csv", [303, 403, 403, 200, 403]),
    get("/ledger/cosignatures.csv", [303, 403, 403, 200, 403]),
    post("/ledger/verify", &[], [303, 403, 403, 303, 403]),
    get("/ledger/verification", [303, 403, 403, 200, 403]),
    get("/ledger/verification/status", [303, 403, 403, 200, 403]),
    get(
        "/ledger/verification/findings.csv",
        [303, 403, 403, 200, 403],
    ),
    get("/access-log", [303, 403, 403, 200, 403]),
    get("/access-log.csv", [303, 403, 403, 200, 403]),
    get("/overview", [303, 200, 200, 200, 403]),
    get("/overview?municipality=0180", [303, 200, 403, 200, 403]),
    get("/overview.csv", [303, 200, 200, 200, 403]),
    get("/overview.csv?municipality=0180", [303, 200, 403, 200, 403]),
    get("/providers/{org}", [303, 200, 403, 200, 403]),
    get("/providers/{org}/reports.csv", [303, 200, 403, 200, 403]),
    get("/providers/{org}/contracts.csv", [303, 200, 403, 200, 403]),
    get("/providers/{org}/keys.csv", [303, 200, 403, 200, 403]),
    get("/reports/{report}", [303, 200, 403, 200, 403]),
    get("/reports/{report}/fields.csv", [303, 200, 403, 200, 403]),
    get("/reports/{report}/versions.csv", [303, 200, 403, 200, 403]),
    get("/reports/{report}/reviews.csv", [303, 200, 403, 200, 403]),
    post(
        "/reports/{report}/review",
        &[("decision", "accepted"), ("comment", "ok")],
        [303, 303, 403, 403, 403],
    ),
    get("/static/portal.css", [200, 200, 200, 200, 200]),
    // Last: it ends the session.
    post("/logout", &[], [303, 303, 303, 303, 303]),
];

/// The demo history through the real sequencer, as `insyn serve --demo` has it, with reviews
/// enabled (the portal signs with each demo municipality's current key).
struct Demo {
    portal: TestPortal,
    store: Store,
    dataset: DemoDataset,
    _sequencer: Arc<ApiSequencer>,
}

async fn demo() -> Demo {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("insyn.db").display()
    );
    let clock = Arc::new(ManualClock::new(0));
    let store = Store::connect(&url)
        .await
        .expect("store")
        .with_clock(clock.clone());
    let signer =
        LogSigner::new("localhost/insyn", SigningKey::from_seed(&[7; 32])).expect("signer");
    let log_key = *signer.verifier().public_key();
    let (sequencer, _task) = Sequencer::start(
        store.clone(),
        signer.clone(),
        move || LedgerPolicy::new(log_key),
        SequencerConfig::default(),
    )
    .await
    .expect("sequencer");
    let sequencer = Arc::new(sequencer);
    let now = time::OffsetDateTime::from_unix_timestamp(START_MS / 1000).expect("time");
    let dataset = insyn_domain::demo::generate(&DemoConfig { seed: 11, now });
    for planned in &dataset.submissions {
        let key = match planned.signer {
            DemoKey::Log => signer.signing_key().clone(),
            other => dataset.signing_key(other).expect("demo key"),
        };
        clock.set(planned.integrated_at_ms);
        sequencer
            .submit(
                insyn_api::candidate(planned.sign(&key).expect("sign"), planned.payload.clone())
                    .expect("candidate"),
            )
            .await
            .expect("the demo plan is admitted");
    }
    clock.set(u64::try_from(START_MS).expect("positive"));
    let mut keys = PortalKeys::new();
    for m in &dataset.municipalities {
        let key = dataset.current_municipality_key(*m);
        keys.insert(*m, dataset.signing_key(key).expect("municipality key"));
    }
    let portal = TestPortal::with_store(store.clone(), PortalConfig::default(), dir).await;
    let _ = portal.state.clone().with_reviews(sequencer.clone(), keys);
    Demo {
        portal,
        store,
        dataset,
        _sequencer: sequencer,
    }
}

/// A provider contracted by `m` and by no other municipality.
fn provider_only_of(d: &DemoDataset, m: MunicipalityCode) -> OrgNumber {
    let contracts: Vec<(MunicipalityCode, OrgNumber)> = d
        .submissions
        .iter()
        .filter_map(|s| match &s.body {
            EntryBody::ContractRegistered {
                contract, provider, ..
            } => Some((contract.municipality, *provider)),
            _ => None,
        })
        .collect();
    contracts
        .iter()
        .map(|(_, p)| *p)
        .find(|p| contracts.iter().all(|(c, q)| q != p || *c == m))
        .expect("a provider of one municipality only")
}

async fn latest_report_of(store: &Store, m: MunicipalityCode, provider: OrgNumber) -> u64 {
    let query = ReportQuery {
        municipality: Some(m),
        provider: Some(provider),
        ..ReportQuery::default()
    };
    let rows = store
        .reports(&query, Page::first(1000))
        .await
        .expect("reports");
    let first = rows.first().expect("a report");
    let versions = store
        .report_versions(&first.contract, first.period)
        .await
        .expect("versions");
    versions.last().expect("a version").index
}

/// The synchronizer token of the client's forms (the session's, or the pre-session one).
async fn csrf_token(c: &mut Client, logged_in: bool) -> String {
    let page = c.get(if logged_in { "/account" } else { "/login" }).await;
    let marker = "name=\"csrf_token\" value=\"";
    let start = page.body.find(marker).expect("a form") + marker.len();
    let end = page.body[start..].find('"').expect("end of value") + start;
    page.body[start..end].to_owned()
}

async fn send(c: &mut Client, method: &str, path: &str, form: &[(&str, &str)]) -> helpers::Page {
    let body = form
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    c.send(
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .expect("request"),
    )
    .await
}

/// Whether `path` (without its query) is an instance of `pattern` (`{x}` is one segment).
fn matches(pattern: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or_default();
    let (p, q): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
    p.len() == q.len()
        && p.iter()
            .zip(&q)
            .all(|(a, b)| (a.starts_with('{') && a.ends_with('}') && !b.is_empty()) || a == b)
}

#[test]
fn every_route_of_the_router_has_rows_and_every_row_a_route() {
    let patterns = route_patterns();
    for pattern in &patterns {
        assert!(
            MATRIX.iter().any(|r| matches(pattern, r.path)),
            "{pattern} has no row in the authorization matrix"
        );
        assert!(
            ROUTES.iter().any(|r| matches(pattern, r.path)),
            "{pattern} is not in insyn_portal::ROUTES"
        );
    }
    let same_route = |a: &str, b: &str| patterns.iter().any(|p| matches(p, a) && matches(p, b));
    for row in MATRIX {
        assert!(
            patterns.iter().any(|p| matches(p, row.path)),
            "the matrix names {} {}, which the router does not serve",
            row.method,
            row.path
        );
        assert!(
            ROUTES
                .iter()
                .any(|r| r.method == row.method && same_route(r.path, row.path)),
            "{} {} is not in insyn_portal::ROUTES",
            row.method,
            row.path
        );
    }
    for route in ROUTES {
        assert!(
            MATRIX
                .iter()
                .any(|r| r.method == route.method && same_route(r.path, route.path)),
            "ROUTES has {} {} without a row in the matrix",
            route.method,
            route.path
        );
    }
}

#[tokio::test]
async fn every_route_and_method_for_every_role() {
    let demo = demo().await;
    let stockholm = municipality("0180");
    let provider = provider_only_of(&demo.dataset, stockholm);
    let report = latest_report_of(&demo.store, stockholm, provider).await;
    let fill = |p: &str| {
        p.replace("{org}", provider.digits())
            .replace("{report}", &report.to_string())
            .replace("{index}", &report.to_string())
            .replace("{name}", "portal.css")
    };

    // Methods the router serves beyond the matrix are found by probing every pattern as an
    // administrator with a valid CSRF token: anything but 405 must have a row.
    for pattern in route_patterns() {
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            // A fresh session each time: a POST to /logout ends the one it is sent with.
            let mut admin = demo.portal.logged_in("ada").await;
            let token = csrf_token(&mut admin, true).await;
            let path = fill(pattern);
            let r = send(&mut admin, method, &path, &[("csrf_token", &token)]).await;
            let has_row = MATRIX
                .iter()
                .any(|row| row.method == method && matches(pattern, row.path));
            assert!(
                has_row || r.status == StatusCode::METHOD_NOT_ALLOWED,
                "{method} {pattern} is served ({}) but has no row in the matrix",
                r.status
            );
        }
    }

    let mut failures = Vec::new();
    for (column, (role, username)) in ROLES.iter().enumerate() {
        for row in MATRIX {
            // A fresh client per request, so that logout and reviews do not disturb the rest.
            let mut c = match username {
                Some(u) => demo.portal.logged_in(u).await,
                None => demo.portal.client(),
            };
            let path = fill(row.path);
            let r = if row.method == "GET" {
                c.get(&path).await
            } else {
                // Without the token every POST is refused before any handler runs.
                let refused = send(&mut c, row.method, &path, row.form).await;
                if refused.status != StatusCode::FORBIDDEN {
                    failures.push(format!(
                        "{role}: {} {path} without CSRF token: {}",
                        row.method, refused.status
                    ));
                }
                let token = csrf_token(&mut c, username.is_some()).await;
                let mut form = row.form.to_vec();
                form.push(("csrf_token", &token));
                send(&mut c, row.method, &path, &form).await
            };
            let expected = row.expected[column];
            if r.status.as_u16() != expected {
                failures.push(format!(
                    "{role}: {} {path}: expected {expected}, got {}",
                    row.method, r.status
                ));
            }
            if username.is_none() && expected == 303 && !matches!(row.path, "/logout" | "/language")
            {
                let location = r.header("location").unwrap_or_default();
                if !location.starts_with("/login?next=") {
                    failures.push(format!(
                        "{role}: {} {path} redirects to {location}, not the login page",
                        row.method
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

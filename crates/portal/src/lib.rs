//! Insyn's web portal for municipal auditors and inspectors: server-rendered pages (minijinja
//! templates from `web/templates`, CSS from `web/static`; every page works without JavaScript),
//! sessions and CSRF.
//!
//! The portal is mounted by `insyn serve` at `/`:
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use insyn_portal::{PortalConfig, PortalState};
//! let store = insyn_store::Store::connect("sqlite:///tmp/insyn.db?mode=rwc").await?;
//! let state = PortalState::new(store, PortalConfig::default())?;
//! let app = insyn_portal::router(state); // merge with the API's router
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! // Connect info gives login throttling the client address.
//! axum::serve(
//!     listener,
//!     app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
//! )
//! .await?;
//! # Ok(()) }
//! ```
//!
//! Code map:
//! - [`router`] wires the routes and layers; [`ROUTES`] lists them with their audience.
//! - `session`: sessions, CSRF and the per-request context; `security`: response headers;
//!   `error`: the one error type and its policy.
//! - `pages`: login, logout, start, account, language, admin and error pages;
//!   `ledger_page`: the inspectors' ledger page and its full verification (`verification`: the
//!   background run of `insyn_inspect::verify` over the store); `access_log`: every recorded
//!   payload read; `data`: the overview, provider and report
//!   pages, the review form and their CSV exports, over one shared replica of the ledger state.
//! - `render`: the template environment; [`i18n`]: the message catalogues;
//!   [`format`](mod@format): Swedish formatting.
//! - [`accounts`]: account creation and login; `password`: Argon2id.
//! - [`chart`]: SVG charts; [`csv`]: CSV downloads; [`paging`]: list pages.
//!
//! Architecture invariant: the portal never builds a database query; it calls
//! `insyn_store` functions. Every non-GET request passes the CSRF check in the session layer
//! before any handler runs.

mod access_log;
pub mod accounts;
mod assets;
pub mod chart;
mod config;
pub mod csv;
mod data;
mod error;
mod extract;
pub mod format;
pub mod i18n;
mod ledger_page;
mod pages;
pub mod paging;
mod password;
mod render;
mod security;
mod session;
mod state;
mod verification;

use axum::Router;
use axum::middleware;
use axum::routing::{MethodRouter, get, post};

pub use config::{Clock, PortalConfig, ThrottleConfig};
pub use data::{PortalKeys, PortalKeysError};
pub use error::Error;
pub use password::PasswordCost;
pub use render::TemplateSetupError;
pub use security::{CONTENT_SECURITY_POLICY, STRICT_TRANSPORT_SECURITY};
pub use state::{PortalState, StartError};

/// Who may open a route; the authorization test matrix checks every route for every role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Anyone, logged in or not (login page, language switch).
    Everyone,
    /// Any logged-in account; anonymous visitors are sent to the login page.
    LoggedIn,
    /// Accounts the access policy lets manage accounts (administrators).
    AccountManagers,
    /// Accounts the access policy lets verify the ledger (inspectors).
    LedgerVerifiers,
    /// Accounts the access policy lets see the read audit of payloads (inspectors).
    AccessLogReaders,
    /// Accounts that read ledger data: auditors (their own municipality) and inspectors (any);
    /// administrators are refused.
    LedgerReaders,
    /// Pages about one ledger record (a provider, a report): inspectors, and auditors of the
    /// municipalities that contract the provider; others are refused (403), and a record that
    /// does not exist is 404 for those who may read records. The example paths name records an
    /// empty ledger lacks.
    LedgerRecords,
}

/// A route of the portal and who may use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteInfo {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The path (an example path for routes with parameters).
    pub path: &'static str,
    /// Who may use it.
    pub audience: Audience,
}

/// Every route [`router`] serves, for the authorization matrix test. A new page adds its
/// route here, in [`router`] and in the expected statuses of `tests/authz_matrix.rs`.
pub const ROUTES: &[RouteInfo] = &[
    RouteInfo {
        method: "GET",
        path: "/",
        audience: Audience::LoggedIn,
    },
    RouteInfo {
        method: "GET",
        path: "/login",
        audience: Audience::Everyone,
    },
    RouteInfo {
        method: "POST",
        path: "/login",
        audience: Audience::Everyone,
    },
    RouteInfo {
        method: "POST",
        path: "/logout",
        audience: Audience::Everyone,
    },
    RouteInfo {
        method: "GET",
        path: "/account",
        audience: Audience::LoggedIn,
    },
    RouteInfo {
        method: "POST",
        path: "/language",
        audience: Audience::Everyone,
    },
    RouteInfo {
        method: "GET",
        path: "/admin/accounts",
        audience: Audience::AccountManagers,
    },
    RouteInfo {
        method: "GET",
        path: "/admin/accounts.csv",
        audience: Audience::AccountManagers,
    },
    RouteInfo {
        method: "GET",
        path: "/ledger",
        audience: Audience::LedgerVerifiers,
    },
    RouteInfo {
        method: "GET",
        path: "/ledger/size.csv",
        audience: Audience::LedgerVerifiers,
    },
    RouteInfo {
        method: "GET",
        path: "/ledger/cosignatures.csv",
        audience: Audience::LedgerVerifiers,
    },
    RouteInfo {
        method: "POST",
        path: "/ledger/verify",
        audience: Audience::LedgerVerifiers,
    },
    RouteInfo {
        method: "GET",
        path: "/ledger/verification",
        audience: Audience::LedgerVerifiers,
    },
    RouteInfo {
        method: "GET",
        path: "/ledger/verification/status",
        audience: Audience::LedgerVerifiers,
    },
    RouteInfo {
        method: "GET",
        path: "/ledger/verification/findings.csv",
        audience: Audience::LedgerVerifiers,
    },
    RouteInfo {
        method: "GET",
        path: "/access-log",
        audience: Audience::AccessLogReaders,
    },
    RouteInfo {
        method: "GET",
        path: "/access-log.csv",
        audience: Audience::AccessLogReaders,
    },
    RouteInfo {
        method: "GET",
        path: "/overview",
        audience: Audience::LedgerReaders,
    },
    RouteInfo {
        method: "GET",
        path: "/overview.csv",
        audience: Audience::LedgerReaders,
    },
    RouteInfo {
        method: "GET",
        path: "/providers/5560360793",
        audience: Audience::LedgerRecords,
    },
    RouteInfo {
        method: "GET",
        path: "/providers/5560360793/reports.csv",
        audience: Audience::LedgerRecords,
    },
    RouteInfo {
        method: "GET",
        path: "/providers/5560360793/contracts.csv",
        audience: Audience::LedgerRecords,
    },
    RouteInfo {
        method: "GET",
        path: "/providers/5560360793/keys.csv",
        audience: Audience::LedgerRecords,
    },
    RouteInfo {
        method: "GET",
        path: "/reports/42",
        audience: Audience::LedgerRecords,
    },
    RouteInfo {
        method: "GET",
        path: "/reports/42/fields.csv",
        audience: Audience::LedgerRecords,
    },
    RouteInfo {
        method: "GET",
        path: "/reports/42/versions.csv",
        audience: Audience::LedgerRecords,
    },
    RouteInfo {
        method: "GET",
        path: "/reports/42/reviews.csv",
        audience: Audience::LedgerRecords,
    },
    RouteInfo {
        method: "POST",
        path: "/reports/42/review",
        audience: Audience::LedgerRecords,
    },
    RouteInfo {
        method: "GET",
        path: "/static/portal.css",
        audience: Audience::Everyone,
    },
];

/// The portal's routes, for mounting at `/` beside the API (which owns `/api/…`,
/// `/checkpoint` and `/tile/…`).
pub fn router(state: PortalState) -> Router {
    let page_router =
        page_routes()
            .router
            .fallback(pages::not_found)
            .layer(middleware::from_fn_with_state(
                state.clone(),
                session::layer,
            ));
    // Static files need no session (and no database round trip).
    static_routes()
        .router
        .merge(page_router)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::headers,
        ))
        .with_state(state)
}

/// The path pattern of every route [`router`] serves (`/reports/{index}`, …), as registered.
/// The authorization matrix test checks each against [`ROUTES`] and its own table, so a route
/// added to the router without them fails that test.
#[must_use]
pub fn route_patterns() -> Vec<&'static str> {
    let mut patterns = static_routes().patterns;
    patterns.extend(page_routes().patterns);
    patterns
}

/// A router that remembers the path patterns it was given. Every route goes through it, so
/// [`route_patterns`] cannot miss one.
struct Routes {
    router: Router<PortalState>,
    patterns: Vec<&'static str>,
}

impl Routes {
    fn new() -> Self {
        Routes {
            router: Router::new(),
            patterns: Vec::new(),
        }
    }

    fn route(mut self, path: &'static str, handler: MethodRouter<PortalState>) -> Self {
        self.router = self.router.route(path, handler);
        self.patterns.push(path);
        self
    }
}

/// Static files: no session layer.
fn static_routes() -> Routes {
    Routes::new().route("/static/{name}", get(assets::serve))
}

/// The pages, behind the session and CSRF layer.
fn page_routes() -> Routes {
    Routes::new()
        .route("/", get(pages::landing))
        .route("/login", get(pages::login_form).post(pages::login_submit))
        .route("/logout", post(pages::logout))
        .route("/account", get(pages::account))
        .route("/language", post(pages::language))
        .route("/admin/accounts", get(pages::admin_accounts))
        .route("/admin/accounts.csv", get(pages::admin_accounts_csv))
        .route("/ledger", get(ledger_page::ledger))
        .route("/ledger/size.csv", get(ledger_page::size_csv))
        .route(
            "/ledger/cosignatures.csv",
            get(ledger_page::cosignatures_csv),
        )
        .route("/ledger/verify", post(ledger_page::start_verification))
        .route("/ledger/verification", get(ledger_page::verification_page))
        .route(
            "/ledger/verification/status",
            get(ledger_page::verification_status),
        )
        .route("/access-log", get(access_log::access_log))
        .route("/access-log.csv", get(access_log::access_log_csv))
        .route(
            "/ledger/verification/findings.csv",
            get(ledger_page::verification_findings_csv),
        )
        .route("/overview", get(data::overview::overview))
        .route("/overview.csv", get(data::overview::overview_csv))
        .route("/providers/{org}", get(data::provider::provider_page))
        .route(
            "/providers/{org}/reports.csv",
            get(data::provider::provider_reports_csv),
        )
        .route(
            "/providers/{org}/contracts.csv",
            get(data::provider::provider_contracts_csv),
        )
        .route(
            "/providers/{org}/keys.csv",
            get(data::provider::provider_keys_csv),
        )
        .route("/reports/{index}", get(data::report::report_page))
        .route("/reports/{index}/fields.csv", get(data::report::report_csv))
        .route(
            "/reports/{index}/versions.csv",
            get(data::report::versions_csv),
        )
        .route(
            "/reports/{index}/reviews.csv",
            get(data::report::reviews_csv),
        )
        .route("/reports/{index}/review", post(data::report::review))
}

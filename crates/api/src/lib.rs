//! Insyn's HTTP API for providers and inspectors: submissions, proofs, payloads and the C2SP
//! tlog-tiles read endpoints. It renders no HTML.
//!
//! Code map: [`router`] builds the routes; `routes/` holds the read handlers, `submit.rs` the
//! submission handler, [`policy`] the glue that makes the domain's rules the sequencer's admission
//! policy, [`error`] the one error type.

pub mod auth;
pub mod error;
mod extract;
mod health;
pub mod policy;
pub mod ratelimit;
mod routes;
mod state;
mod submit;
#[cfg(test)]
mod testing;
mod witness;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi;

pub use error::{ApiError, FieldProblem};
pub use health::Health;
pub use ratelimit::{Rate, RateLimitConfig, RateLimits};
pub use routes::entries::{
    ConsistencyProof, ConsistencyQuery, EntryView, InclusionProof, InclusionQuery, LogInfo,
};
pub use routes::payloads::{PayloadRead, ReadsQuery};
pub use state::{ApiSequencer, ApiState};
pub use submit::{Submission, candidate};
pub use witness::push::{PushError, WitnessPushConfig, WitnessTarget, spawn_witness_pushers};

/// The largest request body the API accepts. A report is far smaller; the margin is for base64.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// How long a request may take before the server gives up on it.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The OpenAPI document of the whole API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Insyn API",
        description = "Signed activity reports of municipal exit-program providers, in a C2SP transparency log."
    ),
    paths(
        routes::log::checkpoint,
        routes::log::verifier_key,
        routes::log::tile,
        routes::entries::log_info,
        routes::entries::entry,
        routes::entries::inclusion,
        routes::entries::consistency,
        routes::entries::report_schema,
        health::healthz,
        submit::submit,
        routes::payloads::payload,
        routes::payloads::reads,
        witness::add_cosignature,
        witness::latest_cosigned,
    ),
    components(schemas(error::Problem, error::FieldProblem, submit::Submission, health::Health)),
    components(schemas(witness::CosignatureSubmission)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// Declares the `bearer` scheme the payload endpoints name: an API credential
/// (`insyn admin add-credential`) in `Authorization: Bearer <token>`.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API credential from `insyn admin add-credential`"))
                    .build(),
            ),
        );
    }
}

/// All API routes: the C2SP tile layout at the root (`/checkpoint`, `/tile/…`), JSON under
/// `/api/v1`, and the OpenAPI document at `/api/openapi.json`; with the default rate limits.
pub fn router(state: ApiState) -> Router {
    router_with_limits(state, &RateLimitConfig::default())
}

/// [`router`] with the given rate limits ([`RateLimitConfig::OFF`] for none).
pub fn router_with_limits(state: ApiState, limits: &RateLimitConfig) -> Router {
    let limits = std::sync::Arc::new(RateLimits::new(limits));
    Router::new()
        .route("/checkpoint", get(routes::log::checkpoint))
        .route("/verifier-key", get(routes::log::verifier_key))
        .route("/healthz", get(health::healthz))
        .route("/tile/{*path}", get(routes::log::tile))
        .route("/api/v1/log", get(routes::entries::log_info))
        .route("/api/v1/entries", post(submit::submit))
        .route("/api/v1/entries/{index}", get(routes::entries::entry))
        .route("/api/v1/cosignatures", post(witness::add_cosignature))
        .route(
            "/api/v1/checkpoints/latest/cosigned",
            get(witness::latest_cosigned),
        )
        .route("/api/v1/payloads/{sha256}", get(routes::payloads::payload))
        .route(
            "/api/v1/payloads/{sha256}/reads",
            get(routes::payloads::reads),
        )
        .route("/api/v1/proofs/inclusion", get(routes::entries::inclusion))
        .route(
            "/api/v1/proofs/consistency",
            get(routes::entries::consistency),
        )
        .route(
            "/api/v1/schema/report-v1.json",
            get(routes::entries::report_schema),
        )
        .route(
            "/api/openapi.json",
            get(|| async { axum::Json(ApiDoc::openapi()) }),
        )
        // Unknown API paths answer in the API's format; every other path is the portal's.
        .route(
            "/api/{*rest}",
            axum::routing::any(|| async { ApiError::NotFound("no such API endpoint".into()) }),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        // Outermost: a client over its limit costs no more than this check.
        .layer(axum::middleware::from_fn_with_state(
            limits,
            ratelimit::limit,
        ))
        .with_state(state)
}

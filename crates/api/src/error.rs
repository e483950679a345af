//! The one error type of the HTTP edge, answered as RFC 9457 `application/problem+json`.
//!
//! Policy: every variant documents its status. Client errors carry a message a person can act on and,
//! for invalid submissions, every problem found (not just the first). Internal and database errors
//! are logged with their cause and answered with a generic body: causes never reach the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One problem with a request, pointing at the part of the input it concerns.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldProblem {
    /// A JSON pointer (RFC 6901) into the request or the submitted report, or "" for the whole.
    pub pointer: String,
    /// A stable machine-readable code, e.g. `contract.unknown`.
    pub code: String,
    /// A sentence a person understands.
    pub message: String,
}

impl FieldProblem {
    /// A problem at `pointer` with a code and a message.
    pub fn new(
        pointer: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            pointer: pointer.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}

/// Everything the API can answer other than success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed (bad JSON, bad base64, bad query); nothing was stored.
    #[error("{0}")]
    BadRequest(String),
    /// 422: a well-formed submission that breaks the schema or a rule; every problem is listed and
    /// nothing was stored.
    #[error("{message}")]
    Invalid {
        /// A summary sentence.
        message: String,
        /// Every problem found.
        problems: Vec<FieldProblem>,
    },
    /// 401: the request needs a credential and has none, or an unknown one.
    #[error("{0}")]
    Unauthenticated(String),
    /// 403: the credential is valid but does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such thing (entry, tile, payload, route).
    #[error("{0}")]
    NotFound(String),
    /// 410: the thing existed but was erased (a payload, by law); its entry still verifies.
    #[error("{0}")]
    Gone(String),
    /// 409: the request conflicts with what the ledger already holds.
    #[error("{0}")]
    Conflict(String),
    /// 413: the body is larger than the API accepts.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: the body is not in a content type the endpoint accepts.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 429: too many requests; the client should retry after the given number of seconds.
    #[error("{detail}; retry after {retry_after} s")]
    TooManyRequests {
        /// Seconds until a retry may succeed.
        retry_after: u64,
        /// Which limit was hit, for a person.
        detail: String,
    },
    /// 503: the ledger cannot store anything right now (database unreachable, disk full, shutting
    /// down). Nothing was stored; the client may retry.
    #[error("{0}")]
    Unavailable(String),
    /// 500: a bug or an unexpected failure. The cause is logged, never sent.
    #[error("internal error: {0:#}")]
    Internal(#[source] anyhow_like::BoxError),
}

/// A boxed error for [`ApiError::Internal`], so any cause can be wrapped without `anyhow`.
pub mod anyhow_like {
    /// Any error, boxed.
    pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
}

impl ApiError {
    /// Wraps an unexpected failure; it is logged and answered with a generic 500.
    pub fn internal(e: impl Into<anyhow_like::BoxError>) -> Self {
        Self::Internal(e.into())
    }

    /// The HTTP status of this error.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Gone(_) => StatusCode::GONE,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The RFC 9457 body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong in this instance, for a person.
    pub detail: String,
    /// Every problem found, for invalid submissions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = match &self {
            Self::TooManyRequests { retry_after, .. } => Some(*retry_after),
            // The sequencer retries its own transaction; a client may try again at once.
            Self::Unavailable(_) => Some(1),
            _ => None,
        };
        let detail = match &self {
            Self::Internal(cause) => {
                tracing::error!(error = %cause, "internal error answering a request");
                "The server failed to answer this request. The failure has been logged.".to_owned()
            }
            other => other.to_string(),
        };
        let slug = status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase()
            .replace(' ', "-");
        let problems = match self {
            Self::Invalid { problems, .. } => problems,
            _ => Vec::new(),
        };
        let body = Problem {
            kind: format!("https://insyn.invalid/problems/{slug}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            errors: problems,
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (status, bytes).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<insyn_store::StoreError> for ApiError {
    fn from(e: insyn_store::StoreError) -> Self {
        use insyn_store::StoreError as S;
        match e {
            S::InvalidInput(msg) => Self::BadRequest(msg),
            S::Database(db) => {
                tracing::warn!(error = %db, "database error answering a request");
                Self::Unavailable(
                    "the ledger's database cannot be reached right now; try again shortly".into(),
                )
            }
            S::Unavailable(msg) => {
                tracing::warn!(%msg, "store unavailable");
                Self::Unavailable("the ledger cannot answer right now; try again shortly".into())
            }
            S::Corrupt(msg) => {
                Self::internal(std::io::Error::other(format!("corrupt store: {msg}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_json(r: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn invalid_lists_every_problem_as_problem_json() {
        let e = ApiError::Invalid {
            message: "the report has 2 problems; nothing was stored".into(),
            problems: vec![
                FieldProblem::new("/period", "period.format", "period must be YYYY-MM"),
                FieldProblem::new(
                    "/costs/total",
                    "costs.sum",
                    "total must equal the categories",
                ),
            ],
        };
        let r = e.into_response();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let v = body_json(r).await;
        assert_eq!(v["status"], 422);
        assert_eq!(v["errors"].as_array().unwrap().len(), 2);
        assert_eq!(v["errors"][1]["pointer"], "/costs/total");
    }

    #[tokio::test]
    async fn internal_errors_never_leak_their_cause() {
        let r = ApiError::internal(std::io::Error::other("secret database path /var/x"))
            .into_response();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let v = body_json(r).await;
        assert!(!v.to_string().contains("secret"), "{v}");
    }

    #[tokio::test]
    async fn rate_limited_answers_carry_retry_after() {
        let r = ApiError::TooManyRequests {
            retry_after: 7,
            detail: "too many requests from your address".into(),
        }
        .into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "7");
    }
}

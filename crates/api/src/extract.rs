//! Extractors whose rejections speak the API's error format.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::ApiError;

/// Like [`axum::Json`], but a malformed body becomes problem+json with a message a person can act
/// on: 415 for a wrong content type, 413 for an oversized body, 400 for bad JSON or fields.
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(match rejection {
                JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType(
                    "send the body as JSON with `Content-Type: application/json`".into(),
                ),
                JsonRejection::JsonSyntaxError(e) => {
                    ApiError::BadRequest(format!("the body is not valid JSON: {}", e.body_text()))
                }
                JsonRejection::JsonDataError(e) => ApiError::BadRequest(format!(
                    "the body has the wrong fields: {}",
                    e.body_text()
                )),
                JsonRejection::BytesRejection(e) => {
                    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                        ApiError::PayloadTooLarge(format!(
                            "the body is larger than the API accepts ({} bytes at most)",
                            crate::MAX_BODY_BYTES
                        ))
                    } else {
                        ApiError::BadRequest(format!(
                            "the body could not be read: {}",
                            e.body_text()
                        ))
                    }
                }
                other => ApiError::BadRequest(other.body_text()),
            }),
        }
    }
}

/// Like [`axum::extract::Path`], but a path segment of the wrong form (`/api/v1/entries/-1`)
/// becomes a 400 problem+json saying which, not axum's plain-text answer.
#[derive(Debug)]
pub(crate) struct PathParam<T>(pub T);

impl<S, T> FromRequestParts<S> for PathParam<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Self(v)),
            Err(rejection) => Err(ApiError::BadRequest(format!(
                "the path is not one this API serves: {}",
                rejection.body_text()
            ))),
        }
    }
}

/// Like [`axum::extract::Query`], but a malformed or missing query parameter (`?index=x`)
/// becomes a 400 problem+json saying which, not axum's plain-text answer.
#[derive(Debug)]
pub(crate) struct QueryParams<T>(pub T);

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Self(v)),
            Err(rejection) => Err(ApiError::BadRequest(format!(
                "the query string is not valid here: {}",
                rejection.body_text()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use crate::ratelimit::RateLimitConfig;
    use crate::testing::{app, from, problem};

    /// Malformed path segments and query strings on the JSON routes are problem+json 400s that
    /// say what is wrong, like every other refusal of the API.
    #[tokio::test]
    async fn malformed_paths_and_queries_are_problem_json() {
        let dir = tempfile::tempdir().expect("tempdir");
        let app = app(dir.path(), RateLimitConfig::OFF).await;
        for (uri, says) in [
            ("/api/v1/entries/-1", "the path is not one this API serves"),
            ("/api/v1/entries/x", "the path is not one this API serves"),
            (
                "/api/v1/entries/99999999999999999999999",
                "the path is not one this API serves",
            ),
            (
                "/api/v1/proofs/inclusion?index=x&size=1",
                "the query string",
            ),
            ("/api/v1/proofs/consistency?from=x&to=2", "the query string"),
            (
                "/api/v1/proofs/consistency?from=-1&to=2",
                "the query string",
            ),
        ] {
            let r = app
                .clone()
                .oneshot(from(
                    "192.0.2.7:1",
                    Request::get(uri).body(Body::empty()).expect("request"),
                ))
                .await
                .expect("answer");
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{uri}");
            let p = problem(r).await;
            assert_eq!(p["status"], 400, "{uri}: {p}");
            let detail = p["detail"].as_str().unwrap_or_default();
            assert!(detail.contains(says), "{uri}: {detail}");
        }
    }
}

//! Path and query extractors whose rejections are the portal's own error pages.
//!
//! axum's `Path` and `Query` answer a malformed segment or parameter with a bare `text/plain`
//! 400; a person following a mistyped link should get a page in their language instead.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::Error;

/// Like [`axum::extract::Path`]; a segment of the wrong form (`/reports/abc`) names no page, so it
/// is the "page not found" page.
#[derive(Debug)]
pub(crate) struct PathParam<T>(pub T);

impl<S, T> FromRequestParts<S> for PathParam<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Self(v)),
            Err(_) => Err(Error::NotFound),
        }
    }
}

/// Like [`axum::extract::Query`]; a malformed parameter (`?after=x`) is the "bad request" page.
#[derive(Debug)]
pub(crate) struct QueryParams<T>(pub T);

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Self(v)),
            Err(rejection) => Err(Error::BadRequest(rejection.body_text())),
        }
    }
}

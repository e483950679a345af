//! Extractors whose rejections speak the API's error format.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
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

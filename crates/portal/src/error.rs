//! The portal's one error type at the HTTP edge.
//!
//! Policy: every handler returns `Result<_, Error>`. Each variant documents its status. A variant
//! becomes a response carrying an [`ErrorPage`] marker; the session layer (which knows the
//! visitor's language and account) turns the marker into the rendered error page, so every error
//! looks like the rest of the portal. Internal causes (database, templates) are logged with
//! `tracing::error!` and never shown: the page says only that something went wrong.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use insyn_store::accounts::AccountError;

/// Everything a portal handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 404: no such page, or a page the visitor may not know exists.
    #[error("not found")]
    NotFound,
    /// 403: the visitor is logged in but their role may not see this.
    #[error("forbidden")]
    Forbidden,
    /// 403: a form arrived without the session's CSRF token (expired page or forged request).
    #[error("CSRF token missing or wrong")]
    Csrf,
    /// 303 to the login page: the page needs a logged-in visitor. `next` is where to return.
    #[error("login required")]
    Unauthenticated {
        /// The local path (with query) to return to after login.
        next: String,
    },
    /// 400: a malformed request (e.g. a form field with an impossible value).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 413: a form body over the limit.
    #[error("request body too large")]
    PayloadTooLarge,
    /// 500: a template failed to render.
    #[error("template: {0:#}")]
    Template(#[from] minijinja::Error),
    /// 503 when the database cannot be reached (the page says to try again shortly, with
    /// `Retry-After`); 500 for any other failure of the account store.
    #[error("account store: {0}")]
    Store(#[from] AccountError),
    /// 500: anything else that is our fault.
    #[error("internal: {0}")]
    Internal(String),
}

/// Which error page to render; put in a response's extensions by [`Error::into_response`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorPage {
    BadRequest,
    NotFound,
    Forbidden,
    Csrf,
    PayloadTooLarge,
    Internal,
    Unavailable,
}

impl ErrorPage {
    pub(crate) fn status(self) -> StatusCode {
        match self {
            ErrorPage::BadRequest => StatusCode::BAD_REQUEST,
            ErrorPage::NotFound => StatusCode::NOT_FOUND,
            ErrorPage::Forbidden | ErrorPage::Csrf => StatusCode::FORBIDDEN,
            ErrorPage::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorPage::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorPage::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The message-catalogue key prefix of the page's title and text.
    pub(crate) fn key(self) -> &'static str {
        match self {
            ErrorPage::BadRequest => "error.bad_request",
            ErrorPage::NotFound => "error.not_found",
            ErrorPage::Forbidden => "error.forbidden",
            ErrorPage::Csrf => "error.csrf",
            ErrorPage::PayloadTooLarge => "error.too_large",
            ErrorPage::Internal => "error.internal",
            ErrorPage::Unavailable => "error.unavailable",
        }
    }
}

impl Error {
    fn page(&self) -> Option<ErrorPage> {
        match self {
            Error::NotFound => Some(ErrorPage::NotFound),
            Error::Forbidden => Some(ErrorPage::Forbidden),
            Error::Csrf => Some(ErrorPage::Csrf),
            Error::Unauthenticated { .. } => None,
            Error::BadRequest(_) => Some(ErrorPage::BadRequest),
            Error::PayloadTooLarge => Some(ErrorPage::PayloadTooLarge),
            Error::Store(AccountError::Db(
                sea_orm::DbErr::ConnectionAcquire(_) | sea_orm::DbErr::Conn(_),
            )) => Some(ErrorPage::Unavailable),
            Error::Template(_) | Error::Store(_) | Error::Internal(_) => Some(ErrorPage::Internal),
        }
    }
}

/// A bare response for an error page; the session layer replaces its body with the rendered
/// page. The plain-text body is what a client sees only if that rendering itself fails.
pub(crate) fn bare_error_response(page: ErrorPage) -> Response {
    let mut response = (
        page.status(),
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        page.status().canonical_reason().unwrap_or("Error"),
    )
        .into_response();
    if page == ErrorPage::Unavailable {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    }
    response.extensions_mut().insert(page);
    response
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match &self {
            Error::Template(e) => tracing::error!(error = %format!("{e:#}"), "template error"),
            Error::Store(e) => tracing::error!(error = %e, "account store error"),
            Error::Internal(e) => tracing::error!(error = %e, "internal error"),
            Error::BadRequest(reason) => tracing::debug!(reason, "bad request"),
            Error::Csrf => tracing::warn!("form refused: CSRF token missing or wrong"),
            _ => {}
        }
        match self {
            Error::Unauthenticated { next } => {
                let location = format!("/login?next={}", percent_encode(&next));
                let mut response = StatusCode::SEE_OTHER.into_response();
                if let Ok(value) = HeaderValue::from_str(&location) {
                    response.headers_mut().insert(header::LOCATION, value);
                }
                response
            }
            other => other.page().map_or_else(
                || StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                bare_error_response,
            ),
        }
    }
}

/// Percent-encodes everything except unreserved characters and `/`.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_database_is_503_with_retry_after() {
        let e = Error::Store(AccountError::Db(sea_orm::DbErr::ConnectionAcquire(
            sea_orm::error::ConnAcquireErr::Timeout,
        )));
        let r = e.into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            r.headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            Some("30")
        );
        assert_eq!(
            r.extensions().get::<ErrorPage>(),
            Some(&ErrorPage::Unavailable)
        );
        let r = Error::Store(AccountError::Db(sea_orm::DbErr::RecordNotFound("x".into())))
            .into_response();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}

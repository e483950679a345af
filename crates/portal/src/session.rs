//! Sessions, CSRF protection and the per-request context.
//!
//! A session is a random 256-bit token in an `HttpOnly`, `SameSite=Strict` cookie (`Secure`
//! behind TLS, with the `__Host-` prefix then). The database keeps only the token's SHA-256, the
//! account, a per-session CSRF token and the times that end the session: after
//! `session_idle` without a request, or `session_absolute` after login, whichever comes first.
//!
//! CSRF: every form carries a `csrf_token` field. For a logged-in visitor it must equal the
//! session's synchronizer token; for an anonymous one (the login and language forms) it must
//! equal the token in a separate pre-session cookie (double submit, `SameSite=Strict`). The
//! [`layer`] checks it for every non-GET request before any handler runs, so no form can forget
//! it. A failure is the 403 CSRF page.

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use insyn_store::accounts::{self, Account};

use crate::config::millis;
use crate::error::{Error, ErrorPage};
use crate::i18n::Language;
use crate::pages;
use crate::state::PortalState;

/// The largest form body accepted.
const MAX_FORM_BYTES: usize = 64 * 1024;
/// `last_seen_at` is written at most this often per session (milliseconds).
const TOUCH_INTERVAL_MS: i64 = 60_000;
/// The cookie that remembers an anonymous visitor's language choice.
pub(crate) const LANG_COOKIE: &str = "insyn-lang";

/// The logged-in account of a request.
#[derive(Debug, Clone)]
pub(crate) struct CurrentUser {
    pub(crate) account: Account,
    pub(crate) token_hash: String,
    pub(crate) expires_at: i64,
}

impl CurrentUser {
    /// The account's role in the shared access policy (`insyn_domain::access`), which every
    /// page asks before showing anything.
    pub(crate) fn role(&self) -> insyn_domain::access::Role {
        use insyn_domain::access::Role;
        match self.account.role {
            insyn_store::accounts::AccountRole::Auditor(m) => Role::Auditor(m),
            insyn_store::accounts::AccountRole::Inspector => Role::Inspector,
            insyn_store::accounts::AccountRole::Administrator => Role::Administrator,
        }
    }
}

/// What every handler and page knows about the request.
#[derive(Debug, Clone)]
pub(crate) struct RequestContext {
    pub(crate) user: Option<CurrentUser>,
    pub(crate) lang: Language,
    pub(crate) csrf_token: String,
    /// The local path and query of the request, for "return here" links.
    pub(crate) path: String,
    /// The client's address, for login throttling.
    pub(crate) client_addr: String,
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        parts
            .extensions
            .get::<RequestContext>()
            .cloned()
            .ok_or_else(|| Error::Internal("session layer missing".to_owned()))
    }
}

/// A request by a logged-in account; anonymous visitors are sent to the login page.
#[derive(Debug, Clone)]
pub(crate) struct LoggedIn {
    pub(crate) user: CurrentUser,
    pub(crate) ctx: RequestContext,
}

impl<S: Send + Sync> FromRequestParts<S> for LoggedIn {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let ctx = RequestContext::from_request_parts(parts, state).await?;
        match ctx.user.clone() {
            Some(user) => Ok(LoggedIn { user, ctx }),
            None => Err(Error::Unauthenticated {
                next: ctx.path.clone(),
            }),
        }
    }
}

/// The names of the portal's cookies; `__Host-` prefixed when cookies are `Secure`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CookieNames {
    pub(crate) session: &'static str,
    pub(crate) pre: &'static str,
}

impl CookieNames {
    pub(crate) fn new(secure: bool) -> Self {
        if secure {
            CookieNames {
                session: "__Host-insyn-session",
                pre: "__Host-insyn-csrf",
            }
        } else {
            CookieNames {
                session: "insyn-session",
                pre: "insyn-csrf",
            }
        }
    }
}

/// A `Set-Cookie` value: `Path=/`, `HttpOnly`, `SameSite=Strict`, `Secure` when configured.
pub(crate) fn set_cookie(
    state: &PortalState,
    name: &str,
    value: &str,
    max_age_secs: Option<i64>,
) -> Option<HeaderValue> {
    let secure = if state.config().cookies_secure() {
        "; Secure"
    } else {
        ""
    };
    let max_age = max_age_secs.map_or_else(String::new, |s| format!("; Max-Age={s}"));
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict{secure}{max_age}"
    ))
    .ok()
}

/// A `Set-Cookie` value that deletes the cookie.
pub(crate) fn clear_cookie(state: &PortalState, name: &str) -> Option<HeaderValue> {
    set_cookie(state, name, "", Some(0))
}

/// The value of cookie `name`, if the request has it.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A fresh random 256-bit token, base64url without padding (43 characters).
pub(crate) fn new_token() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| Error::Internal(format!("random source: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether `s` looks like a token made by [`new_token`].
fn is_token(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The hex SHA-256 of a session token: the only form in which it is stored.
pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The client address used for login throttling.
fn client_addr(
    state: &PortalState,
    parts_headers: &HeaderMap,
    ext: &axum::http::Extensions,
) -> String {
    if state.config().trust_forwarded_for
        && let Some(last) = parts_headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|s| !s.is_empty())
    {
        return last.chars().take(64).collect();
    }
    ext.get::<ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |ci| ci.0.ip().to_string())
}

/// Finds `name` in an `application/x-www-form-urlencoded` body.
pub(crate) fn form_field(body: &[u8], name: &str) -> Option<String> {
    body.split(|b| *b == b'&').find_map(|pair| {
        let (k, v) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        (url_decode(k)? == name).then(|| url_decode(v)).flatten()
    })
}

fn url_decode(bytes: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The session and CSRF middleware; also renders error pages for responses marked with
/// [`ErrorPage`] and marks every page `Cache-Control: no-store`.
pub(crate) async fn layer(State(state): State<PortalState>, req: Request, next: Next) -> Response {
    let names = CookieNames::new(state.config().cookies_secure());
    let now = state.now_ms();
    let mut set_cookies: Vec<(&'static str, Option<HeaderValue>)> = Vec::new();
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());

    // Who is this?
    let mut user = None;
    let mut session_csrf = None;
    if let Some(token) = cookie(req.headers(), names.session).filter(|t| is_token(t)) {
        let hash = token_hash(token);
        match accounts::find_session(state.db(), &hash).await {
            Ok(Some((session, account))) => {
                let idle = millis(state.config().session_idle);
                let expired = account.disabled
                    || session.expires_at <= now
                    || session.last_seen_at.saturating_add(idle) <= now;
                if expired {
                    if let Err(e) = accounts::delete_session(state.db(), &hash).await {
                        tracing::warn!(error = %e, "could not delete an expired session");
                    }
                    set_cookies.push((names.session, clear_cookie(&state, names.session)));
                } else {
                    if now.saturating_sub(session.last_seen_at) >= TOUCH_INTERVAL_MS
                        && let Err(e) = accounts::touch_session(state.db(), &hash, now).await
                    {
                        tracing::warn!(error = %e, "could not record session use");
                    }
                    let expires_at = session.expires_at.min(now.saturating_add(idle));
                    session_csrf = Some(session.csrf_token);
                    user = Some(CurrentUser {
                        account,
                        token_hash: hash,
                        expires_at,
                    });
                }
            }
            Ok(None) => set_cookies.push((names.session, clear_cookie(&state, names.session))),
            Err(e) => {
                let ctx = RequestContext {
                    user: None,
                    lang: Language::default(),
                    csrf_token: String::new(),
                    path,
                    client_addr: String::new(),
                };
                return finish(&state, &ctx, Error::Store(e).into_response(), Vec::new());
            }
        }
    }

    // The CSRF token forms on this page carry.
    let (csrf_token, fresh_pre): (String, bool) = match session_csrf {
        Some(t) => (t, false),
        None => match cookie(req.headers(), names.pre).filter(|t| is_token(t)) {
            Some(t) => (t.to_owned(), false),
            None => match new_token() {
                Ok(t) => (t, true),
                Err(e) => {
                    let ctx = RequestContext {
                        user: None,
                        lang: Language::default(),
                        csrf_token: String::new(),
                        path,
                        client_addr: String::new(),
                    };
                    return finish(&state, &ctx, e.into_response(), Vec::new());
                }
            },
        },
    };
    if fresh_pre {
        set_cookies.push((names.pre, set_cookie(&state, names.pre, &csrf_token, None)));
    }

    let lang = user
        .as_ref()
        .and_then(|u| u.account.language.parse().ok())
        .or_else(|| cookie(req.headers(), LANG_COOKIE).and_then(|l| l.parse().ok()))
        .unwrap_or_default();
    let ctx = RequestContext {
        user,
        lang,
        csrf_token,
        path,
        client_addr: client_addr(&state, req.headers(), req.extensions()),
    };

    // Every state-changing request must carry the token.
    let mut req = req;
    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        let (parts, body) = req.into_parts();
        let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
            Ok(b) => b,
            Err(_) => {
                return finish(
                    &state,
                    &ctx,
                    Error::PayloadTooLarge.into_response(),
                    set_cookies,
                );
            }
        };
        let submitted = form_field(&bytes, "csrf_token").unwrap_or_default();
        let ok = !fresh_pre
            && !ctx.csrf_token.is_empty()
            && bool::from(submitted.as_bytes().ct_eq(ctx.csrf_token.as_bytes()));
        if !ok {
            return finish(&state, &ctx, Error::Csrf.into_response(), set_cookies);
        }
        req = Request::from_parts(parts, Body::from(bytes));
    }

    req.extensions_mut().insert(ctx.clone());
    let response = next.run(req).await;
    finish(&state, &ctx, response, set_cookies)
}

/// Renders a marked error page, adds cookies the handler did not set itself, and forbids
/// caching of pages (they show data a person is allowed to see, not the next one).
fn finish(
    state: &PortalState,
    ctx: &RequestContext,
    response: Response,
    set_cookies: Vec<(&'static str, Option<HeaderValue>)>,
) -> Response {
    let mut response = match response.extensions().get::<ErrorPage>().copied() {
        Some(page) => pages::error_page(state, ctx, page, response),
        None => response,
    };
    for (name, value) in set_cookies {
        let prefix = format!("{name}=");
        let already = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .any(|v| v.as_bytes().starts_with(prefix.as_bytes()));
        if let (false, Some(value)) = (already, value) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_and_unique() {
        let a = new_token().expect("token");
        let b = new_token().expect("token");
        assert!(is_token(&a) && is_token(&b));
        assert_ne!(a, b);
        assert_eq!(token_hash(&a).len(), 64);
    }

    #[test]
    fn form_fields_are_decoded() {
        let body = b"a=1&csrf_token=abc%2Dd+e&next=%2Faccount";
        assert_eq!(form_field(body, "csrf_token").as_deref(), Some("abc-d e"));
        assert_eq!(form_field(body, "next").as_deref(), Some("/account"));
        assert_eq!(form_field(body, "missing"), None);
        assert_eq!(form_field(b"x=%zz", "x"), None);
        assert_eq!(form_field(b"x", "x").as_deref(), Some(""));
    }

    #[test]
    fn cookies_are_found_among_several() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; insyn-session=xyz"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&h, "insyn-session"), Some("xyz"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "insyn"), None);
    }
}

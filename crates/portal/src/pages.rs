//! The pages that need no ledger data: login, logout, the role-aware start page, the account
//! page, the language switch, the administrators' account list and the error pages.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use insyn_domain::access;
use insyn_store::accounts::{self as store, AccountRole};

use crate::accounts::{self, LoginOutcome};
use crate::csv::Csv;
use crate::error::{Error, ErrorPage, bare_error_response};
use crate::extract::QueryParams;
use crate::format;
use crate::i18n::Language;
use crate::session::{self, CookieNames, LoggedIn, RequestContext};
use crate::state::PortalState;

/// One item of the main navigation.
#[derive(Debug, Serialize)]
struct NavItem {
    href: &'static str,
    /// Message key of the label.
    label: &'static str,
    current: bool,
}

/// The navigation a role sees. Pages for ledger data add their items here.
fn nav(ctx: &RequestContext) -> Vec<NavItem> {
    let Some(user) = &ctx.user else {
        return Vec::new();
    };
    let path = ctx.path.split('?').next().unwrap_or("/");
    let mut items = vec![("/", "nav.start")];
    if matches!(
        user.role(),
        access::Role::Auditor(_) | access::Role::Inspector
    ) {
        items.push(("/overview", "overview.nav"));
    }
    if access::can_verify_ledger(&user.role()) {
        items.push(("/ledger", "nav.ledger"));
    }
    if access::can_see_access_log(&user.role()) {
        items.push(("/access-log", "access_log.nav"));
    }
    if access::can_manage_accounts(&user.role()) {
        items.push(("/admin/accounts", "nav.accounts"));
    }
    items.push(("/account", "nav.account"));
    items
        .into_iter()
        .map(|(href, label)| NavItem {
            href,
            label,
            current: if href == "/" {
                path == "/"
            } else {
                path == href || path.starts_with(&format!("{href}/"))
            },
        })
        .collect()
}

/// How an account is shown on pages.
#[derive(Debug, Serialize)]
struct UserView {
    username: String,
    display_name: String,
    /// Message key of the role's name.
    role: &'static str,
    /// `Stockholm (0180)` for an auditor.
    municipality: Option<String>,
}

fn user_view(account: &store::Account) -> UserView {
    UserView {
        username: account.username.clone(),
        display_name: account.display_name.clone(),
        role: role_key(account.role),
        municipality: account
            .role
            .municipality()
            .map(|m| format!("{} ({})", m.name(), m.code())),
    }
}

fn role_key(role: AccountRole) -> &'static str {
    match role {
        AccountRole::Auditor(_) => "role.auditor",
        AccountRole::Inspector => "role.inspector",
        AccountRole::Administrator => "role.administrator",
    }
}

#[derive(Debug, Serialize)]
struct LanguageChoice {
    code: &'static str,
    name: &'static str,
    current: bool,
}

/// The variables every page has.
fn base_context(state: &PortalState, ctx: &RequestContext) -> Value {
    let languages: Vec<LanguageChoice> = Language::ALL
        .iter()
        .map(|l| LanguageChoice {
            code: l.code(),
            name: l.native_name(),
            current: *l == ctx.lang,
        })
        .collect();
    context! {
        lang => ctx.lang.code(),
        csrf_token => ctx.csrf_token,
        path => ctx.path,
        user => ctx.user.as_ref().map(|u| user_view(&u.account)),
        nav => nav(ctx),
        // Our own URLs, not user input: inserted without escaping so `/` stays readable.
        css_url => Value::from_safe_string(state.assets().url("portal.css")),
        favicon_url => Value::from_safe_string(state.assets().url("favicon.svg")),
        languages => languages,
    }
}

/// Renders `template` with the base context and `extra`.
pub(crate) fn render(
    state: &PortalState,
    ctx: &RequestContext,
    status: StatusCode,
    template: &str,
    extra: Value,
) -> Result<Response, Error> {
    let page = context! { ..extra, ..base_context(state, ctx) };
    let html = state.ui().render(template, page)?;
    Ok((status, Html(html)).into_response())
}

/// Replaces a marked error response with the rendered error page (see [`crate::error`]).
pub(crate) fn error_page(
    state: &PortalState,
    ctx: &RequestContext,
    page: ErrorPage,
    original: Response,
) -> Response {
    let extra = context! {
        error_title => format!("{}.title", page.key()),
        error_text => format!("{}.text", page.key()),
        status => page.status().as_u16(),
        forbidden => page == ErrorPage::Forbidden,
    };
    match render(state, ctx, page.status(), "error.html", extra) {
        Ok(mut response) => {
            // Keep headers the handler set (e.g. Retry-After), but not its content type.
            for (name, value) in original.headers() {
                if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                    response.headers_mut().insert(name.clone(), value.clone());
                }
            }
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "the error page itself failed to render");
            let mut response = bare_error_response(page);
            response.extensions_mut().remove::<ErrorPage>();
            response
        }
    }
}

/// A `303 See Other` to a local path.
pub(crate) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// `next` if it is a local path of this site, otherwise `/` (no open redirects).
pub(crate) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && n.len() <= 2048
                && !n.chars().any(|c| c.is_control() || c == '\\') =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// `GET /`: the start page for the account's role.
pub(crate) async fn landing(
    State(state): State<PortalState>,
    LoggedIn { user, ctx }: LoggedIn,
) -> Result<Response, Error> {
    let role = match user.account.role {
        AccountRole::Auditor(_) => "auditor",
        AccountRole::Inspector => "inspector",
        AccountRole::Administrator => "administrator",
    };
    render(
        &state,
        &ctx,
        StatusCode::OK,
        "landing.html",
        context! { role => role, session_expires_at => user.expires_at },
    )
}

/// Query of the login page.
#[derive(Debug, Deserialize)]
pub(crate) struct LoginQuery {
    next: Option<String>,
    logged_out: Option<String>,
}

/// `GET /login`.
pub(crate) async fn login_form(
    State(state): State<PortalState>,
    ctx: RequestContext,
    QueryParams(query): QueryParams<LoginQuery>,
) -> Result<Response, Error> {
    let next = safe_next(query.next.as_deref());
    if ctx.user.is_some() {
        return Ok(see_other(&next));
    }
    render(
        &state,
        &ctx,
        StatusCode::OK,
        "login.html",
        context! {
            next => next,
            username => "",
            logged_out => query.logged_out.is_some(),
        },
    )
}

/// The login form.
#[derive(Deserialize)]
pub(crate) struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

/// `POST /login`.
pub(crate) async fn login_submit(
    State(state): State<PortalState>,
    ctx: RequestContext,
    Form(form): Form<LoginForm>,
) -> Result<Response, Error> {
    let next = safe_next(form.next.as_deref());
    let outcome = accounts::login(
        state.db(),
        state.config(),
        state.now_ms(),
        &form.username,
        &form.password,
        &ctx.client_addr,
    )
    .await?;
    let (status, error, retry_minutes, retry_after) = match outcome {
        LoginOutcome::Success { token, .. } => {
            let names = CookieNames::new(state.config().cookies_secure());
            let mut response = see_other(&next);
            let max_age = i64::try_from(state.config().session_absolute.as_secs()).ok();
            for cookie in [
                session::set_cookie(&state, names.session, &token, max_age),
                session::clear_cookie(&state, names.pre),
            ]
            .into_iter()
            .flatten()
            {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            return Ok(response);
        }
        LoginOutcome::Failed => (StatusCode::OK, "login.failed", 0, None),
        LoginOutcome::Throttled { retry_after_secs } => (
            StatusCode::TOO_MANY_REQUESTS,
            "login.throttled",
            (retry_after_secs + 59) / 60,
            Some(retry_after_secs),
        ),
    };
    let mut response = render(
        &state,
        &ctx,
        status,
        "login.html",
        context! {
            next => next,
            username => form.username,
            error => error,
            retry_minutes => retry_minutes,
        },
    )?;
    if let Some(secs) = retry_after
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    Ok(response)
}

/// `POST /logout`.
pub(crate) async fn logout(
    State(state): State<PortalState>,
    ctx: RequestContext,
) -> Result<Response, Error> {
    let names = CookieNames::new(state.config().cookies_secure());
    if let Some(user) = &ctx.user {
        store::delete_session(state.db(), &user.token_hash).await?;
        tracing::info!(username = user.account.username, "logout");
    }
    let mut response = see_other("/login?logged_out=1");
    if let Some(c) = session::clear_cookie(&state, names.session) {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(response)
}

/// `GET /account`.
pub(crate) async fn account(
    State(state): State<PortalState>,
    LoggedIn { user, ctx }: LoggedIn,
) -> Result<Response, Error> {
    render(
        &state,
        &ctx,
        StatusCode::OK,
        "account.html",
        context! {
            session_expires_at => user.expires_at,
            account_created_at => user.account.created_at,
        },
    )
}

/// The language switch form.
#[derive(Debug, Deserialize)]
pub(crate) struct LanguageForm {
    language: String,
    next: Option<String>,
}

/// `POST /language`: stored with the account, or in a cookie for anonymous visitors.
pub(crate) async fn language(
    State(state): State<PortalState>,
    ctx: RequestContext,
    Form(form): Form<LanguageForm>,
) -> Result<Response, Error> {
    let lang: Language = form
        .language
        .parse()
        .map_err(|e: crate::i18n::UnknownLanguage| Error::BadRequest(e.to_string()))?;
    let mut response = see_other(&safe_next(form.next.as_deref()));
    match &ctx.user {
        Some(user) => store::set_language(state.db(), user.account.id, lang.code()).await?,
        None => {
            if let Some(c) = session::set_cookie(
                &state,
                session::LANG_COOKIE,
                lang.code(),
                Some(365 * 24 * 3600),
            ) {
                response.headers_mut().append(header::SET_COOKIE, c);
            }
        }
    }
    Ok(response)
}

/// `GET /admin/accounts`: administrators only.
pub(crate) async fn admin_accounts(
    State(state): State<PortalState>,
    LoggedIn { user, ctx }: LoggedIn,
) -> Result<Response, Error> {
    if !access::can_manage_accounts(&user.role()) {
        return Err(Error::Forbidden);
    }
    let accounts: Vec<Value> = store::list_accounts(state.db())
        .await?
        .iter()
        .map(|a| {
            let view = user_view(a);
            context! {
                username => view.username,
                display_name => view.display_name,
                role => view.role,
                municipality => view.municipality,
                language => Language::ALL.iter().find(|l| l.code() == a.language).map(|l| l.native_name()),
                disabled => a.disabled,
                created_at => a.created_at,
            }
        })
        .collect();
    render(
        &state,
        &ctx,
        StatusCode::OK,
        "admin_accounts.html",
        context! { accounts => accounts },
    )
}

/// `GET /admin/accounts.csv`: the same list as a spreadsheet.
pub(crate) async fn admin_accounts_csv(
    State(state): State<PortalState>,
    LoggedIn { user, ctx }: LoggedIn,
) -> Result<Response, Error> {
    if !access::can_manage_accounts(&user.role()) {
        return Err(Error::Forbidden);
    }
    let t = |key: &str| state.ui().translate(ctx.lang, key);
    let mut csv = Csv::new([
        t("account.username")?,
        t("account.display_name")?,
        t("account.role")?,
        t("account.municipality")?,
        t("account.language")?,
        t("admin.accounts.status")?,
        t("account.created")?,
    ]);
    for a in store::list_accounts(state.db()).await? {
        let status = if a.disabled {
            "admin.accounts.disabled"
        } else {
            "admin.accounts.active"
        };
        csv.row([
            a.username.clone(),
            a.display_name.clone(),
            t(role_key(a.role))?,
            a.role
                .municipality()
                .map(|m| format!("{} {}", m.code(), m.name()))
                .unwrap_or_default(),
            a.language.clone(),
            t(status)?,
            format::from_unix_ms(a.created_at)
                .map(|d| format::date_iso(format::stockholm_time(d).date()))
                .unwrap_or_default(),
        ]);
    }
    Ok(csv.into_download("insyn-konton.csv"))
}

/// Every path no route knows.
pub(crate) async fn not_found() -> Error {
    Error::NotFound
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_must_stay_on_this_site() {
        assert_eq!(safe_next(Some("/account?x=1")), "/account?x=1");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/a\nb")), "/");
        assert_eq!(safe_next(None), "/");
    }
}

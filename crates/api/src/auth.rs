//! API credentials: `Authorization: Bearer <token>` resolves to a role of the domain's access
//! policy. Providers prove their submissions by signatures; credentials are for reading payloads.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use insyn_domain::access::Role;

use crate::{ApiError, ApiState};

/// The authenticated caller: a credential and the role it carries.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The credential's number, the reader reference in the read audit (`credential:N`).
    pub credential: i32,
    /// What the caller may see.
    pub role: Role,
}

impl Caller {
    /// The reference recorded for reads: `credential:N`, never a person's name.
    #[must_use]
    pub fn reference(&self) -> String {
        format!("credential:{}", self.credential)
    }

    /// The role's name as recorded.
    #[must_use]
    pub fn role_name(&self) -> &'static str {
        match self.role {
            Role::Provider(_) => "provider",
            Role::Auditor(_) => "auditor",
            Role::Inspector => "inspector",
            Role::Administrator => "administrator",
            Role::Public => "public",
        }
    }
}

/// Turns a stored role and scope into the domain's role; `None` for a malformed row.
#[must_use]
pub fn role_of(role: &str, scope: &str) -> Option<Role> {
    match role {
        "provider" => scope.parse().ok().map(Role::Provider),
        "auditor" => scope.parse().ok().map(Role::Auditor),
        "inspector" if scope.is_empty() => Some(Role::Inspector),
        _ => None,
    }
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            ApiError::Unauthenticated(
                "this needs an API credential: send `Authorization: Bearer <token>`".into(),
            )
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthenticated(
                    "the Authorization header must be `Bearer <token>`".into(),
                )
            })?;
        let credential = state
            .store
            .credential_by_token(token)
            .await?
            .ok_or_else(|| ApiError::Unauthenticated("unknown or revoked API credential".into()))?;
        let role = role_of(&credential.role, &credential.scope).ok_or_else(|| {
            ApiError::internal(std::io::Error::other(format!(
                "credential {} has an unusable role {:?}/{:?}",
                credential.id, credential.role, credential.scope
            )))
        })?;
        Ok(Self {
            credential: credential.id,
            role,
        })
    }
}

//! Rate limiting at the API's edge: per client address on every API request, and per signing
//! actor (provider, municipality, …) on submissions. A request over its limit is answered `429`
//! problem+json with `Retry-After`, before any work is done for it.
//!
//! The limiter is `governor`'s GCRA (a token bucket without a timer task): each key may send
//! `burst` requests at once and then `per_second` requests a second. Keys that have been quiet
//! long enough to be back at a full bucket are forgotten now and then, so memory stays bounded by
//! the number of recently active clients.
//!
//! The per-actor limit is keyed by the actor the statement *claims*, before its signature is
//! checked (the sequencer checks signatures in bulk, later): whoever floods with statements in a
//! provider's name therefore eats that provider's allowance. The per-address limit bounds how fast
//! one client can do that; an operator who fears it can lower the per-address limit or turn the
//! per-actor one off.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use insyn_ledger::entry::Actor;

use crate::ApiError;

/// One limit: `burst` requests at once, refilled at `per_second` a second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Sustained requests per second.
    pub per_second: NonZeroU32,
    /// Requests allowed at once, after a quiet period.
    pub burst: NonZeroU32,
}

impl Rate {
    /// A rate of `per_second` with `burst`; `None` when either is 0 (the limit is off).
    #[must_use]
    pub fn new(per_second: u32, burst: u32) -> Option<Self> {
        Some(Self {
            per_second: NonZeroU32::new(per_second)?,
            burst: NonZeroU32::new(burst)?,
        })
    }

    fn quota(self) -> Quota {
        Quota::per_second(self.per_second).allow_burst(self.burst)
    }
}

/// Which limits apply; `None` turns one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Every API request, keyed by the client's address (IPv6 by its /64).
    pub per_address: Option<Rate>,
    /// Submissions, keyed by the statement's actor.
    pub per_actor: Option<Rate>,
}

impl RateLimitConfig {
    /// No limits (for load benchmarks).
    pub const OFF: Self = Self {
        per_address: None,
        per_actor: None,
    };

    /// Sustained requests per second per client address, by default.
    pub const DEFAULT_ADDRESS_PER_SECOND: u32 = 500;
    /// Burst per client address, by default.
    pub const DEFAULT_ADDRESS_BURST: u32 = 2_000;
    /// Sustained submissions per second per actor, by default.
    pub const DEFAULT_ACTOR_PER_SECOND: u32 = 50;
    /// Burst of submissions per actor, by default.
    pub const DEFAULT_ACTOR_BURST: u32 = 1_000;
}

impl Default for RateLimitConfig {
    /// Generous limits: far above what a provider or an inspector needs, low enough that one
    /// client cannot take the whole server.
    fn default() -> Self {
        Self {
            per_address: Rate::new(
                Self::DEFAULT_ADDRESS_PER_SECOND,
                Self::DEFAULT_ADDRESS_BURST,
            ),
            per_actor: Rate::new(Self::DEFAULT_ACTOR_PER_SECOND, Self::DEFAULT_ACTOR_BURST),
        }
    }
}

/// How many checks pass between two clean-ups of forgotten keys.
const CLEAN_EVERY: u64 = 4096;

/// The limiters of one server; shared by every request.
pub struct RateLimits {
    address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    actor: Option<DefaultKeyedRateLimiter<String>>,
    checks: AtomicU64,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("per_address", &self.address.is_some())
            .field("per_actor", &self.actor.is_some())
            .finish_non_exhaustive()
    }
}

impl RateLimits {
    /// Limiters for `config`.
    #[must_use]
    pub fn new(config: &RateLimitConfig) -> Self {
        Self {
            address: config.per_address.map(|r| RateLimiter::dashmap(r.quota())),
            actor: config.per_actor.map(|r| RateLimiter::dashmap(r.quota())),
            checks: AtomicU64::new(0),
        }
    }

    /// Counts one request from `ip`.
    ///
    /// # Errors
    /// [`ApiError::TooManyRequests`] when the address is over its limit.
    pub fn check_address(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.tick();
        let Some(limiter) = &self.address else {
            return Ok(());
        };
        check(limiter, &address_key(ip), "from your address")
    }

    /// Counts one submission signed in the name of `actor`.
    ///
    /// # Errors
    /// [`ApiError::TooManyRequests`] when the actor is over its limit.
    pub fn check_actor(&self, actor: &Actor) -> Result<(), ApiError> {
        let Some(limiter) = &self.actor else {
            return Ok(());
        };
        check(
            limiter,
            &insyn_store::actor_key(actor),
            "in the name of this signer",
        )
    }

    /// Forgets keys whose bucket is full again, every [`CLEAN_EVERY`] checks.
    fn tick(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % CLEAN_EVERY == CLEAN_EVERY - 1 {
            if let Some(l) = &self.address {
                l.retain_recent();
                l.shrink_to_fit();
            }
            if let Some(l) = &self.actor {
                l.retain_recent();
                l.shrink_to_fit();
            }
        }
    }
}

fn check<K>(limiter: &DefaultKeyedRateLimiter<K>, key: &K, whose: &str) -> Result<(), ApiError>
where
    K: std::hash::Hash + Eq + Clone,
{
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(limiter.clock().now());
        // Round up: a client that waits the whole seconds it was told will be let through.
        let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        ApiError::TooManyRequests {
            retry_after: retry_after.max(1),
            detail: format!("too many requests {whose}; nothing was stored"),
        }
    })
}

/// IPv4 addresses count one by one; IPv6 ones by their /64, which one client usually holds whole.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

/// Middleware: counts every request against its client address, and hands the limits on to the
/// submission handler (for the per-actor limit). Requests without a peer address (tests that
/// call the router directly) are not limited by address.
pub(crate) async fn limit(
    State(limits): State<Arc<RateLimits>>,
    mut req: Request,
    next: Next,
) -> Response {
    if let Some(ConnectInfo(addr)) = req.extensions().get::<ConnectInfo<SocketAddr>>()
        && let Err(e) = limits.check_address(addr.ip())
    {
        return e.into_response();
    }
    req.extensions_mut().insert(limits);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    use axum::body::Body;
    use axum::http::{Request as HttpRequest, StatusCode, header};
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as B64;
    use insyn_ledger::entry::{Body as EntryBody, Statement};
    use insyn_ledger::keys::SigningKey;
    use tower::ServiceExt;

    use crate::testing::{app, from, problem};

    #[tokio::test]
    async fn the_router_answers_429_problem_json_with_retry_after_per_address() {
        let dir = tempfile::tempdir().expect("tempdir");
        let app = app(
            dir.path(),
            RateLimitConfig {
                per_address: Rate::new(1, 3),
                per_actor: None,
            },
        )
        .await;
        let get = |addr: &str| {
            from(
                addr,
                HttpRequest::get("/checkpoint")
                    .body(Body::empty())
                    .expect("request"),
            )
        };
        for _ in 0..3 {
            let r = app
                .clone()
                .oneshot(get("192.0.2.1:1000"))
                .await
                .expect("answer");
            assert_eq!(r.status(), StatusCode::OK);
        }
        let r = app
            .clone()
            .oneshot(get("192.0.2.1:1001"))
            .await
            .expect("answer");
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
        let v = problem(r).await;
        assert_eq!(v["status"], 429);
        assert!(
            v["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("your address"),
            "{v}"
        );
        // Another client is not held up by the first.
        let r = app
            .clone()
            .oneshot(get("198.51.100.9:1000"))
            .await
            .expect("answer");
        assert_eq!(r.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn the_router_limits_submissions_per_signer_before_any_other_work() {
        let dir = tempfile::tempdir().expect("tempdir");
        let app = app(
            dir.path(),
            RateLimitConfig {
                per_address: None,
                per_actor: Rate::new(1, 2),
            },
        )
        .await;
        let provider: insyn_ledger::id::OrgNumber = "5599123451".parse().expect("org");
        let submit = |seed: u8| {
            // A statement the ledger refuses (the key was never added): 422 while under the limit.
            let key = SigningKey::from_seed(&[seed; 32]);
            let st = Statement::new(
                Actor::Provider(provider),
                key.key_id(),
                EntryBody::KeyAdded {
                    subject: Actor::Provider(provider),
                    public_key: key.public_key().to_bytes(),
                },
                None,
            )
            .expect("statement")
            .sign(&key);
            let body = serde_json::json!({
                "statement": B64.encode(st.statement().encode()),
                "signature": B64.encode(st.signature().to_bytes()),
                "payload": null,
            });
            HttpRequest::post("/api/v1/entries")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .expect("request")
        };
        for seed in 1..=2 {
            let r = app.clone().oneshot(submit(seed)).await.expect("answer");
            assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        }
        let r = app.clone().oneshot(submit(3)).await.expect("answer");
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(r.headers().contains_key(header::RETRY_AFTER));
        let v = problem(r).await;
        assert!(
            v["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("nothing was stored"),
            "{v}"
        );
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn a_burst_passes_then_429_with_retry_after_and_other_keys_are_unaffected() {
        let limits = RateLimits::new(&RateLimitConfig {
            per_address: Rate::new(1, 3),
            per_actor: None,
        });
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            limits.check_address(ip).unwrap();
        }
        match limits.check_address(ip) {
            Err(ApiError::TooManyRequests { retry_after, .. }) => assert_eq!(retry_after, 1),
            other => panic!("expected 429, got {other:?}"),
        }
        limits
            .check_address("192.0.2.2".parse().unwrap())
            .expect("another address has its own allowance");
        // Off means off.
        let off = RateLimits::new(&RateLimitConfig::OFF);
        for _ in 0..10_000 {
            off.check_address(ip).unwrap();
        }
    }
}

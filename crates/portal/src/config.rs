//! The portal's settings and its clock.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use crate::password::PasswordCost;

/// Login throttling thresholds. Failures older than `window` no longer count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// How long a failed attempt counts.
    pub window: Duration,
    /// Failed attempts for one username within the window before it is locked for the rest of
    /// the window. A successful login resets the count.
    pub max_failures_per_account: u64,
    /// Failed attempts from one client address within the window, whatever the username.
    pub max_failures_per_address: u64,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            window: Duration::from_secs(15 * 60),
            max_failures_per_account: 5,
            max_failures_per_address: 20,
        }
    }
}

/// How the portal runs. Built once at start (by `insyn serve`) and never changed.
#[derive(Debug, Clone)]
pub struct PortalConfig {
    /// The URL people use to reach the portal, e.g. `https://insyn.example.se`. When it starts
    /// with `https://` the portal is behind TLS: cookies are `Secure` and HSTS is sent.
    pub public_url: Option<String>,
    /// Forces the `Secure` cookie attribute on or off; `None` follows `public_url`. Turning it
    /// off is only for plain-HTTP development on localhost.
    pub secure_cookies: Option<bool>,
    /// Development mode: read templates, message catalogues and static files from this `web/`
    /// directory and reload them when they change. `None` (production) uses the copies compiled
    /// into the binary.
    pub web_dir: Option<PathBuf>,
    /// A session unused for this long ends.
    pub session_idle: Duration,
    /// A session ends this long after login, however active.
    pub session_absolute: Duration,
    /// Login throttling.
    pub throttle: ThrottleConfig,
    /// Take the client address for throttling from the last `X-Forwarded-For` entry (only
    /// behind a reverse proxy that sets it); otherwise the TCP peer address is used.
    pub trust_forwarded_for: bool,
    /// Argon2id cost for new password hashes.
    pub password_cost: PasswordCost,
}

impl Default for PortalConfig {
    fn default() -> Self {
        PortalConfig {
            public_url: None,
            secure_cookies: None,
            web_dir: None,
            session_idle: Duration::from_secs(30 * 60),
            session_absolute: Duration::from_secs(10 * 60 * 60),
            throttle: ThrottleConfig::default(),
            trust_forwarded_for: false,
            password_cost: PasswordCost::RECOMMENDED,
        }
    }
}

impl PortalConfig {
    /// Whether the portal is served over TLS (its public URL is `https://…`).
    #[must_use]
    pub fn behind_tls(&self) -> bool {
        self.public_url.as_deref().is_some_and(|u| {
            u.get(..8)
                .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
        })
    }

    /// Whether cookies get the `Secure` attribute.
    #[must_use]
    pub fn cookies_secure(&self) -> bool {
        self.secure_cookies.unwrap_or_else(|| self.behind_tls())
    }
}

/// The portal's source of the current time, in Unix milliseconds. The system clock in
/// production; a manual clock lets tests move time forward (session expiry, throttling windows).
#[derive(Debug, Clone, Default)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    /// The system clock.
    #[must_use]
    pub fn system() -> Self {
        Clock(None)
    }

    /// A clock that stands still at `start_ms` until [`Clock::advance`]d.
    #[must_use]
    pub fn manual(start_ms: i64) -> Self {
        Clock(Some(Arc::new(AtomicI64::new(start_ms))))
    }

    /// Moves a manual clock forward; does nothing to the system clock.
    pub fn advance(&self, by: Duration) {
        if let Some(t) = &self.0 {
            let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
            t.fetch_add(ms, Ordering::SeqCst);
        }
    }

    /// Now, in Unix milliseconds.
    #[must_use]
    pub fn now_ms(&self) -> i64 {
        match &self.0 {
            Some(t) => t.load(Ordering::SeqCst),
            None => {
                let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
                i64::try_from(nanos).unwrap_or(i64::MAX)
            }
        }
    }
}

/// A duration in milliseconds, saturating.
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_cookies_follow_the_public_url() {
        let mut c = PortalConfig::default();
        assert!(!c.cookies_secure() && !c.behind_tls());
        c.public_url = Some("HTTPS://insyn.example.se".into());
        assert!(c.cookies_secure() && c.behind_tls());
        c.secure_cookies = Some(false);
        assert!(!c.cookies_secure() && c.behind_tls());
        c.public_url = Some("http://localhost:8080".into());
        c.secure_cookies = None;
        assert!(!c.cookies_secure());
    }

    #[test]
    fn manual_clock_advances() {
        let c = Clock::manual(1_000);
        c.advance(Duration::from_secs(2));
        assert_eq!(c.now_ms(), 3_000);
        assert!(Clock::system().now_ms() > 1_700_000_000_000);
    }
}

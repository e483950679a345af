//! Typed configuration, loaded once from flags with `INSYN_*` environment fallbacks.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// A value that must never be printed, such as a database URL with a password in it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// The secret value, for the one place that needs it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(**redacted**)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// Where the server keeps its data and how it reaches its database.
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// Directory for the log's key and, by default, the SQLite database. Created if missing.
    #[arg(long, env = "INSYN_DATA_DIR", default_value = "insyn-data")]
    pub data_dir: PathBuf,

    /// Database URL: `sqlite://FILE` or `postgres://USER:PASSWORD@HOST/DB`. Default: an embedded
    /// SQLite database `insyn.sqlite3` in the data directory.
    #[arg(long, env = "INSYN_DATABASE_URL")]
    pub database_url: Option<Secret>,

    /// The log's origin: the first line of every checkpoint and the name of the log's key.
    #[arg(long, env = "INSYN_ORIGIN", default_value = "localhost/insyn")]
    pub origin: String,
}

impl DataArgs {
    /// The database URL to connect to: the configured one, or SQLite in the data directory.
    #[must_use]
    pub fn database_url(&self) -> Secret {
        match &self.database_url {
            Some(url) => url.clone(),
            None => Secret(format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("insyn.sqlite3").display()
            )),
        }
    }
}

/// `insyn serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "INSYN_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub data: DataArgs,

    /// Fill an empty ledger with a synthetic demo dataset and create demo portal accounts.
    #[arg(long)]
    pub demo: bool,

    /// The public URL the portal is reached at; `https://…` turns on Secure cookies and HSTS.
    #[arg(long, env = "INSYN_PUBLIC_URL")]
    pub public_url: Option<String>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub rate_limits: RateLimitArgs,

    /// Seconds that requests in flight get to finish after SIGTERM or Ctrl-C before their
    /// connections are closed (anything the sequencer already queued is integrated regardless).
    #[arg(long, env = "INSYN_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,

    /// A witness to push each new checkpoint to, as `'URL VKEY'`: its base URL (the server posts
    /// to `URL/add-checkpoint`, C2SP tlog-witness) and its cosigner verifier key. The returned
    /// cosignatures are checked, stored and published. Repeatable; `INSYN_WITNESS` holds one or
    /// more, separated by `;`.
    #[arg(long = "witness", env = "INSYN_WITNESS", value_delimiter = ';')]
    pub witness: Vec<insyn_api::WitnessTarget>,
}

/// Rate limits of the API (429 with `Retry-After` beyond them). 0 turns one limit off.
#[derive(Debug, Clone, clap::Args)]
pub struct RateLimitArgs {
    /// API requests per second per client address (IPv6: per /64), sustained.
    #[arg(long, env = "INSYN_RATE_LIMIT_ADDRESS_PER_SECOND",
          default_value_t = insyn_api::RateLimitConfig::DEFAULT_ADDRESS_PER_SECOND)]
    pub rate_limit_address_per_second: u32,

    /// API requests per client address allowed at once.
    #[arg(long, env = "INSYN_RATE_LIMIT_ADDRESS_BURST",
          default_value_t = insyn_api::RateLimitConfig::DEFAULT_ADDRESS_BURST)]
    pub rate_limit_address_burst: u32,

    /// Submissions per second in the name of one signer (provider, municipality, …), sustained.
    #[arg(long, env = "INSYN_RATE_LIMIT_ACTOR_PER_SECOND",
          default_value_t = insyn_api::RateLimitConfig::DEFAULT_ACTOR_PER_SECOND)]
    pub rate_limit_actor_per_second: u32,

    /// Submissions in the name of one signer allowed at once.
    #[arg(long, env = "INSYN_RATE_LIMIT_ACTOR_BURST",
          default_value_t = insyn_api::RateLimitConfig::DEFAULT_ACTOR_BURST)]
    pub rate_limit_actor_burst: u32,

    /// Turn every rate limit off (load benchmarks).
    #[arg(long, env = "INSYN_RATE_LIMIT_OFF")]
    pub rate_limit_off: bool,
}

impl RateLimitArgs {
    /// The limits these flags ask for.
    #[must_use]
    pub fn config(&self) -> insyn_api::RateLimitConfig {
        if self.rate_limit_off {
            return insyn_api::RateLimitConfig::OFF;
        }
        insyn_api::RateLimitConfig {
            per_address: insyn_api::Rate::new(
                self.rate_limit_address_per_second,
                self.rate_limit_address_burst,
            ),
            per_actor: insyn_api::Rate::new(
                self.rate_limit_actor_per_second,
                self.rate_limit_actor_burst,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn witnesses_come_from_flags_or_the_environment() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            serve: ServeArgs,
        }
        let key = insyn_ledger::keys::SigningKey::from_seed(&[5; 32]);
        let vkey = insyn_ledger::note::Cosigner::new("w.example/w", key)
            .unwrap()
            .verifier()
            .verifier_key();
        let one = format!("http://127.0.0.1:9001 {vkey}");
        let two = format!("https://w.example/tlog/ {vkey}");
        let cli = Cli::try_parse_from(["x", "--witness", &one, "--witness", &two]).unwrap();
        let urls: Vec<&str> = cli.serve.witness.iter().map(|w| w.url.as_str()).collect();
        assert_eq!(urls, ["http://127.0.0.1:9001", "https://w.example/tlog"]);
        let both = format!("{one};{two}");
        let cli = Cli::try_parse_from(["x", "--witness", &both]).unwrap();
        assert_eq!(cli.serve.witness.len(), 2);
        assert!(Cli::try_parse_from(["x", "--witness", "http://127.0.0.1:9001"]).is_err());
        assert!(Cli::try_parse_from(["x"]).unwrap().serve.witness.is_empty());
    }

    #[test]
    fn rate_limits_come_from_flags_with_generous_defaults_and_can_be_turned_off() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            limits: RateLimitArgs,
        }
        let default = Cli::try_parse_from(["x"]).unwrap().limits.config();
        assert_eq!(default, insyn_api::RateLimitConfig::default());
        let off = Cli::try_parse_from(["x", "--rate-limit-off"]).unwrap();
        assert_eq!(off.limits.config(), insyn_api::RateLimitConfig::OFF);
        let some = Cli::try_parse_from([
            "x",
            "--rate-limit-actor-per-second",
            "0",
            "--rate-limit-address-per-second",
            "5",
            "--rate-limit-address-burst",
            "9",
        ])
        .unwrap()
        .limits
        .config();
        assert_eq!(some.per_actor, None);
        assert_eq!(some.per_address, insyn_api::Rate::new(5, 9));
    }

    #[test]
    fn secrets_never_print() {
        let s: Secret = "postgres://u:hunter2@db/x".parse().unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}

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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s: Secret = "postgres://u:hunter2@db/x".parse().unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}

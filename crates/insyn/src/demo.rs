//! `insyn serve --demo`: fills an empty ledger with the domain's synthetic demo history through the
//! real append path (the sequencer, the ledger's rules, signatures), and creates demo accounts.
//!
//! The history spans two years, so entries must carry the times they would have had: a
//! [`DemoClock`] reports each planned time while the plan runs, then follows the system clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use anyhow::{Context, Result, anyhow};
use insyn_domain::demo::{DemoConfig, DemoDataset, DemoKey};
use insyn_ledger::id::MunicipalityCode;
use insyn_store::{Clock, SubmitError, SystemClock};

use crate::app::Ledger;

/// The seed of the demo history: the same seed gives the same providers, keys and figures.
pub const DEMO_SEED: u64 = 20_231_209;

/// A clock that reports set times while the demo history is written, then the system's time.
#[derive(Debug, Default)]
pub struct DemoClock {
    at_ms: AtomicU64,
    live: AtomicBool,
}

impl DemoClock {
    /// A clock that starts in replay mode.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn set(&self, ms: u64) {
        self.at_ms.store(ms, Ordering::SeqCst);
    }

    /// From now on, report the system's time.
    pub fn go_live(&self) {
        self.live.store(true, Ordering::SeqCst);
    }
}

impl Clock for DemoClock {
    fn now_ms(&self) -> u64 {
        let system = SystemClock.now_ms();
        if self.live.load(Ordering::SeqCst) {
            system
        } else {
            // Never ahead of real time, so live entries that follow keep time increasing.
            self.at_ms.load(Ordering::SeqCst).min(system)
        }
    }
}

/// A demo portal account, printed at start so a newcomer can log in.
#[derive(Debug, Clone)]
pub struct DemoAccount {
    /// Login name.
    pub username: String,
    /// Password (demo only).
    pub password: String,
    /// What the account is for.
    pub description: String,
}

/// Writes the demo history into an empty ledger. Returns the dataset (for the demo accounts and
/// the portal's municipality keys) and how many entries were written; writes nothing when the
/// ledger already has entries.
///
/// # Errors
/// When a planned submission is refused (a bug in the plan or the rules) or cannot be stored.
pub async fn fill(ledger: &Ledger, clock: &DemoClock) -> Result<Option<(DemoDataset, u64)>> {
    if ledger.store.size().await? > 0 {
        return Ok(None);
    }
    let now = time::OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(SystemClock.now_ms()) * 1_000_000,
    )
    .context("the system clock is out of range")?;
    let dataset = insyn_domain::demo::generate(&DemoConfig {
        seed: DEMO_SEED,
        now,
    });
    let mut written = 0;
    for planned in &dataset.submissions {
        let key = match planned.signer {
            DemoKey::Log => ledger.signer.signing_key().clone(),
            other => dataset
                .signing_key(other)
                .ok_or_else(|| anyhow!("the demo has no key for {other:?}"))?,
        };
        let signed = planned.sign(&key)?;
        let candidate = insyn_api::candidate(signed, planned.payload.clone())
            .map_err(|e| anyhow!("the demo plan made a submission the API refuses: {e}"))?;
        clock.set(planned.integrated_at_ms);
        match ledger.sequencer.submit(candidate).await {
            Ok(_) => written += 1,
            Err(SubmitError::Rejected(problems)) => {
                return Err(anyhow!(
                    "the demo plan broke the ledger's rules at step {written}: {problems:?}"
                ));
            }
            Err(e) => return Err(anyhow!("the demo could not be stored: {e}")),
        }
    }
    Ok(Some((dataset, written)))
}

/// The key the portal signs a municipality's reviews with in the demo.
#[must_use]
pub fn portal_key(
    dataset: &DemoDataset,
    m: MunicipalityCode,
) -> Option<insyn_ledger::keys::SigningKey> {
    dataset.signing_key(dataset.current_municipality_key(m))
}

/// Creates the demo portal accounts (an auditor per municipality, an inspector, an administrator)
/// unless they exist. Passwords are fixed and printed: this is a demo.
///
/// # Errors
/// When the database refuses the accounts.
pub async fn create_accounts(
    ledger: &Ledger,
    municipalities: &[MunicipalityCode],
) -> Result<Vec<DemoAccount>> {
    use insyn_portal::accounts::{AccountRole, CreateAccountError, NewAccount, create_account};
    let mut wanted: Vec<(String, String, AccountRole, String)> = municipalities
        .iter()
        .map(|m| {
            (
                format!("granskare.{}", m.code()),
                format!("Granskare {}", m.name()),
                AccountRole::Auditor(*m),
                format!("auditor for {} {}", m.code(), m.name()),
            )
        })
        .collect();
    wanted.push((
        "inspektor".into(),
        "Nationell inspektör".into(),
        AccountRole::Inspector,
        "national inspector".into(),
    ));
    wanted.push((
        "admin".into(),
        "Administratör".into(),
        AccountRole::Administrator,
        "administrator".into(),
    ));
    let mut out = Vec::new();
    for (username, display_name, role, description) in wanted {
        let password = format!("insyn-demo-{username}");
        let new = NewAccount {
            username: username.clone(),
            display_name,
            role,
            language: insyn_portal::i18n::Language::Sv,
            password: password.clone(),
        };
        match create_account(
            ledger.store.connection(),
            new,
            insyn_portal::PasswordCost::RECOMMENDED,
        )
        .await
        {
            Ok(_) | Err(CreateAccountError::UsernameTaken(_)) => {
                out.push(DemoAccount {
                    username,
                    password,
                    description,
                });
            }
            Err(e) => return Err(anyhow!("cannot create demo account {username}: {e}")),
        }
    }
    Ok(out)
}

/// What `--demo` did, for the start-up banner.
#[derive(Debug, Clone)]
pub struct DemoSummary {
    /// Entries written now (0 when the ledger already had entries).
    pub written: u64,
    /// The demo accounts.
    pub accounts: Vec<DemoAccount>,
}

/// Opens the ledger on a [`DemoClock`], fills it if empty, and creates the demo accounts.
///
/// # Errors
/// As [`fill`] and [`create_accounts`].
pub async fn open(data: &crate::config::DataArgs) -> Result<(Ledger, DemoSummary)> {
    let clock = Arc::new(DemoClock::new());
    let ledger = Ledger::open_with(data, Some(clock.clone())).await?;
    let filled = fill(&ledger, &clock).await;
    clock.go_live();
    let written = filled?.map_or(0, |(_, n)| n);
    let municipalities = insyn_domain::demo::generate(&DemoConfig {
        seed: DEMO_SEED,
        now: time::OffsetDateTime::now_utc(),
    })
    .municipalities;
    let accounts = create_accounts(&ledger, &municipalities).await?;
    Ok((ledger, DemoSummary { written, accounts }))
}

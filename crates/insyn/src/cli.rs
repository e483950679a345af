//! The command-line grammar and what each command does.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::app::{Application, Ledger};
use crate::config::{DataArgs, ServeArgs};

/// Insyn: a tamper-evident ledger of what private providers of municipal exit programs report.
#[derive(Debug, Parser)]
#[command(name = "insyn", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    #[allow(missing_docs)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: the API, the C2SP tiles and the portal.
    Serve(ServeArgs),
    /// Providers' tools: key generation, signing reports offline, submitting, receipts, keys.
    Provider(crate::provider::ProviderArgs),
    /// Municipalities' signing tools: register providers and contracts, manage provider keys.
    Municipality(crate::provider::MunicipalityArgs),
    /// Verify a whole log as an inspector, from a server or an export bundle.
    Verify(crate::inspect::VerifyArgs),
    /// Write a single-file export bundle of the log from the server's database.
    Export(crate::inspect::ExportArgs),
    /// An inspector's witness: cosign checkpoints after checking consistency (C2SP tlog-witness).
    Witness(crate::inspect::WitnessArgs),
    /// Operator commands that act on the server's data directory and database.
    Admin {
        #[command(flatten)]
        #[allow(missing_docs)]
        data: DataArgs,
        #[command(subcommand)]
        #[allow(missing_docs)]
        command: AdminCommand,
    },
}

/// `insyn admin …`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Register a municipality in the ledger together with its first public key.
    AddMunicipality {
        /// SCB municipality code, e.g. 0180.
        code: String,
        /// The municipality's Ed25519 public key, 64 hex characters.
        #[arg(long)]
        public_key: String,
    },
    /// Create the key the portal signs a municipality's reviews with: writes
    /// `<data-dir>/portal-keys/<code>.key` (mode 0600, never overwritten) and registers its public
    /// key for the municipality in the ledger, signed by the operator (registering the
    /// municipality first if needed). Restart `insyn serve` to load it.
    AddPortalKey {
        /// SCB municipality code, e.g. 0180.
        #[arg(long)]
        municipality: String,
    },
    /// Print the log's origin and verifier key.
    Identity,
    /// Create an API credential for reading payloads; the token is printed once, only its hash is
    /// kept.
    AddCredential {
        /// `inspector`, `auditor:<municipality code>` or `provider:<organisation number>`.
        role: String,
        /// What it is for, e.g. "Stockholm's audit unit".
        #[arg(long)]
        label: String,
    },
    /// Revoke an API credential by its number.
    RevokeCredential {
        /// The credential's number, as `add-credential` printed it.
        id: i32,
    },
    /// Create a portal account. Without `--password-stdin` a random password is generated and
    /// printed once.
    AddAccount {
        /// The login name: 1–64 characters of a–z, 0–9, `.`, `_`, `-`, `@`.
        username: String,
        /// `administrator`, `inspector` or `auditor:<municipality code>`.
        #[arg(long)]
        role: String,
        /// The name shown on the portal's pages.
        #[arg(long)]
        name: String,
        /// The account's interface language: `sv` or `en`.
        #[arg(long, default_value = "sv")]
        language: String,
        /// Read the password from the first line of standard input instead.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password for a portal account (its sessions stay open). Without
    /// `--password-stdin` a random password is generated and printed once.
    ResetPassword {
        /// The account's login name.
        username: String,
        /// Read the password from the first line of standard input instead.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// The server's database, for the admin commands that do not touch the ledger. The data directory
/// is created first when it holds the default SQLite database.
async fn open_store(data: &DataArgs) -> Result<insyn_store::Store> {
    if data.database_url.is_none() {
        std::fs::create_dir_all(&data.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                data.data_dir.display()
            )
        })?;
    }
    Ok(insyn_store::Store::connect(data.database_url().expose()).await?)
}

/// Parses `administrator`, `inspector` or `auditor:<municipality code>`.
fn account_role(text: &str) -> Result<insyn_portal::accounts::AccountRole> {
    use insyn_portal::accounts::AccountRole;
    match text.split_once(':') {
        None if text == "administrator" => Ok(AccountRole::Administrator),
        None if text == "inspector" => Ok(AccountRole::Inspector),
        Some(("auditor", code)) => {
            Ok(AccountRole::Auditor(code.parse().with_context(|| {
                format!("`{code}` is not a municipality code")
            })?))
        }
        _ => anyhow::bail!(
            "the role must be `administrator`, `inspector` or `auditor:<municipality code>`, not `{text}`"
        ),
    }
}

/// The password for `add-account` and `reset-password`: the first line of `input` (without its
/// line ending) with `--password-stdin`, otherwise a new random one that is also returned for
/// printing.
fn account_password(from_stdin: bool, input: &mut impl std::io::BufRead) -> Result<(String, bool)> {
    if from_stdin {
        let mut line = String::new();
        input
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        let password = line.trim_end_matches(['\n', '\r']).to_owned();
        if password.is_empty() {
            anyhow::bail!("standard input held no password");
        }
        Ok((password, false))
    } else {
        Ok((crate::keyfile::random_password(), true))
    }
}

/// Prints a password `account_password` generated (never one the operator gave).
fn print_generated(password: &str, generated: bool) {
    if generated {
        println!("password: {password}");
        println!("it is not shown again; only its Argon2id hash is kept");
    }
}

/// Runs a parsed command line.
///
/// # Errors
/// Whatever made the command fail, with a message for the person who ran it.
pub async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Admin { data, command } => admin(&data, command).await,
        Command::Provider(args) => crate::provider::run_provider(args).await,
        Command::Municipality(args) => crate::provider::run_municipality(args).await,
        Command::Verify(args) => crate::inspect::verify(args).await,
        Command::Export(args) => crate::inspect::export(args).await,
        Command::Witness(args) => crate::inspect::run_witness(args).await,
    }
}

async fn serve(args: ServeArgs) -> Result<()> {
    let app = Application::build(&args).await?;
    let ledger = app.ledger();
    if ledger.new_key {
        println!(
            "created the log's key in {}",
            args.data.data_dir.join(crate::app::LOG_KEY_FILE).display()
        );
    }
    if let Some(demo) = app.demo() {
        if demo.written > 0 {
            println!(
                "demo: wrote {} synthetic entries through the sequencer",
                demo.written
            );
        }
        println!("demo accounts for the portal (synthetic data, demo passwords):");
        for a in &demo.accounts {
            println!(
                "  {:<20} password {:<28} {}",
                a.username, a.password, a.description
            );
        }
    }
    println!("log origin: {}", ledger.signer.verifier().name());
    println!("log verifier key: {}", ledger.signer.verifier_key());
    println!("listening on http://{}", app.local_addr()?);
    app.run_until_stopped().await
}

async fn admin(data: &DataArgs, command: AdminCommand) -> Result<()> {
    match command {
        AdminCommand::Identity => {
            let (key, _) = crate::app::load_or_create_log_key(&data.data_dir)?;
            let signer = insyn_ledger::note::LogSigner::new(&data.origin, key)?;
            println!("log origin: {}", signer.verifier().name());
            println!("log verifier key: {}", signer.verifier_key());
            Ok(())
        }
        AdminCommand::AddCredential { role, label } => {
            let (role, scope) = role.split_once(':').unwrap_or((role.as_str(), ""));
            if insyn_api::auth::role_of(role, scope).is_none() {
                anyhow::bail!(
                    "the role must be `inspector`, `auditor:<municipality code>` or `provider:<organisation number>`"
                );
            }
            let store = open_store(data).await?;
            let token = crate::keyfile::random_token();
            let id = store.add_credential(&token, role, scope, &label).await?;
            println!(
                "credential {id} ({role}{}{scope}): {token}",
                if scope.is_empty() { "" } else { ":" }
            );
            println!("send it as `Authorization: Bearer {token}`; it is not shown again");
            Ok(())
        }
        AdminCommand::AddAccount {
            username,
            role,
            name,
            language,
            password_stdin,
        } => {
            use insyn_portal::accounts::{NewAccount, create_account};
            let role = account_role(&role)?;
            let language: insyn_portal::i18n::Language = language
                .parse()
                .map_err(|_| anyhow::anyhow!("the language must be `sv` or `en`"))?;
            let (password, generated) =
                account_password(password_stdin, &mut std::io::stdin().lock())?;
            let store = open_store(data).await?;
            let new = NewAccount {
                username,
                display_name: name,
                role,
                language,
                password: password.clone(),
            };
            let username = insyn_portal::accounts::normalize_username(&new.username)?;
            let id = create_account(
                store.connection(),
                new,
                insyn_portal::PasswordCost::RECOMMENDED,
            )
            .await?;
            let scope = role
                .municipality()
                .map(|m| format!(" for {} {}", m.code(), m.name()))
                .unwrap_or_default();
            println!("account {id}: {username} ({}{scope})", role.name());
            print_generated(&password, generated);
            Ok(())
        }
        AdminCommand::ResetPassword {
            username,
            password_stdin,
        } => {
            let username = insyn_portal::accounts::normalize_username(&username)?;
            let store = open_store(data).await?;
            let (account, _) =
                insyn_store::accounts::find_account_by_username(store.connection(), &username)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("there is no account named {username:?}"))?;
            let (password, generated) =
                account_password(password_stdin, &mut std::io::stdin().lock())?;
            insyn_portal::accounts::set_password(
                store.connection(),
                account.id,
                &password,
                insyn_portal::PasswordCost::RECOMMENDED,
            )
            .await?;
            println!("the password of {username} is changed");
            print_generated(&password, generated);
            Ok(())
        }
        AdminCommand::RevokeCredential { id } => {
            let store = open_store(data).await?;
            if store.revoke_credential(id).await? {
                println!("credential {id} is revoked");
                Ok(())
            } else {
                anyhow::bail!("there is no unrevoked credential {id}")
            }
        }
        AdminCommand::AddPortalKey { municipality } => {
            let municipality: insyn_ledger::id::MunicipalityCode = municipality.parse()?;
            let path = crate::ops::portal_key_path(&data.data_dir, municipality);
            if path.exists() {
                anyhow::bail!(
                    "{} already exists; refusing to overwrite the portal's key",
                    path.display()
                );
            }
            let ledger = Ledger::open(data).await?;
            let added = crate::ops::add_portal_key(&ledger, &data.data_dir, municipality).await?;
            for r in &added.receipts {
                println!("entry {} integrated", r.index);
            }
            println!(
                "portal key for {} {}: {} (key {})",
                municipality.code(),
                municipality.name(),
                added.path.display(),
                added.key_id
            );
            println!("restart `insyn serve` so that the portal signs reviews with it");
            Ok(())
        }
        AdminCommand::AddMunicipality { code, public_key } => {
            let municipality: insyn_ledger::id::MunicipalityCode = code.parse()?;
            let key = parse_public_key(&public_key)?;
            let ledger = Ledger::open(data).await?;
            let receipts = crate::ops::register_municipality(&ledger, municipality, key).await?;
            for r in receipts {
                println!("entry {} integrated", r.index);
            }
            println!(
                "{} {} is registered with key {}",
                municipality.code(),
                municipality.name(),
                key.key_id()
            );
            Ok(())
        }
    }
}

fn parse_public_key(text: &str) -> Result<insyn_ledger::keys::PublicKey> {
    let bytes = hex::decode(text.trim()).context("the public key must be 64 hex characters")?;
    insyn_ledger::keys::PublicKey::from_slice(&bytes).context("not a usable Ed25519 public key")
}

/// A path argument, for commands that take files.
pub type FilePath = PathBuf;

#[cfg(test)]
mod tests {
    use insyn_portal::accounts::AccountRole;

    use super::*;

    #[test]
    fn account_roles_parse_or_say_what_is_allowed() {
        assert_eq!(
            account_role("administrator").unwrap(),
            AccountRole::Administrator
        );
        assert_eq!(account_role("inspector").unwrap(), AccountRole::Inspector);
        assert_eq!(
            account_role("auditor:1480").unwrap(),
            AccountRole::Auditor("1480".parse().unwrap())
        );
        for bad in [
            "auditor",
            "auditor:",
            "auditor:0000",
            "Inspector",
            "root",
            "inspector:0180",
        ] {
            let e = account_role(bad).unwrap_err();
            assert!(
                format!("{e:#}").contains("the role must be")
                    || format!("{e:#}").contains("municipality code"),
                "{bad}: {e:#}"
            );
        }
    }

    #[test]
    fn a_password_from_stdin_is_its_first_line_and_a_generated_one_is_long() {
        let (p, generated) =
            account_password(true, &mut std::io::Cursor::new("correct horse 12\r\nnext")).unwrap();
        assert_eq!((p.as_str(), generated), ("correct horse 12", false));
        assert!(account_password(true, &mut std::io::Cursor::new("\n")).is_err());
        assert!(account_password(true, &mut std::io::Cursor::new("")).is_err());
        let (a, generated) = account_password(false, &mut std::io::Cursor::new("")).unwrap();
        let (b, _) = account_password(false, &mut std::io::Cursor::new("")).unwrap();
        assert!(generated && a.len() == 24 && a != b, "{a} {b}");
    }
}

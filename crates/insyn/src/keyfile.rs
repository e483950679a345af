//! Secret key files: created only-if-absent, readable by their owner alone.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Writes `text` to a new file at `path` that only its owner can read (mode 0600 on Unix).
/// Refuses to overwrite an existing file.
///
/// # Errors
/// When the file exists or cannot be written.
pub fn write_new_secret(path: &Path, text: &str) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| {
        if path.exists() {
            format!(
                "{} already exists; refusing to overwrite a key",
                path.display()
            )
        } else {
            format!("cannot create {}", path.display())
        }
    })?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// A new random portal password: 18 bytes from the operating system, 24 characters of URL-safe
/// base64 (144 bits).
#[must_use]
pub fn random_password() -> String {
    use base64::Engine;
    use rand_core::RngCore;
    let mut bytes = [0u8; 18];
    rand_core::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A new random bearer token: 32 bytes from the operating system, URL-safe base64, prefixed so a
/// leaked token is recognisable.
#[must_use]
pub fn random_token() -> String {
    use base64::Engine;
    use rand_core::RngCore;
    let mut bytes = [0u8; 32];
    rand_core::OsRng.fill_bytes(&mut bytes);
    format!(
        "insyn_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

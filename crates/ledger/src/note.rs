//! C2SP signed notes, the log's signing and verifying keys, signed checkpoints and C2SP
//! tlog-cosignature (v1, Ed25519, signature type 0x04).
//!
//! Note syntax is parsed by the `signed_note` crate, and our key types implement its `Verifier`
//! trait; the multi-signature rules (unknown keys ignored, every signature from a known key must
//! verify, the log must have signed) and every signature check are ours, through
//! [`crate::keys::verify`] (strict), because `signed_note`'s standard verifier is not strict and
//! it checks only the first signature per key.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};

use crate::checkpoint::{Checkpoint, CheckpointError, is_valid_name};
use crate::entry::{Actor, Body, EntryError, SignedStatement, Statement};
use crate::keys::{self, KeyError, PublicKey, Signature, SigningKey};

/// Signature type byte of an Ed25519 note signature (C2SP signed-note).
pub const ALG_ED25519: u8 = 0x01;

/// Signature type byte of an Ed25519 tlog-cosignature/v1 (C2SP tlog-cosignature).
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// Why a note, verifier key or cosignature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// A verifier key that is not `name+hex8+base64`, with a matching key hash.
    #[error("malformed verifier key {key:?}: {reason}")]
    VerifierKey {
        /// The key text.
        key: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A key name that is empty or has spaces, `+` or control characters.
    #[error("{0:?} is not a valid key name (non-empty, printable, no spaces or '+')")]
    KeyName(String),
    /// The public key inside a verifier key is refused.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Not a well-formed signed note.
    #[error("malformed signed note")]
    Malformed,
    /// A known key's signature does not verify: the whole note is rejected.
    #[error("invalid signature from known key {name}+{id:08x}")]
    InvalidSignature {
        /// Key name.
        name: String,
        /// Key hash.
        id: u32,
    },
    /// The note carries no signature from the log's key.
    #[error("the note is not signed by the log key {0}")]
    NotSignedByLog(String),
    /// The note text is not a checkpoint.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A checkpoint for another log.
    #[error("the checkpoint is for origin {found:?}, expected {expected:?}")]
    WrongOrigin {
        /// The log's origin.
        expected: String,
        /// The checkpoint's origin.
        found: String,
    },
}

/// The C2SP key hash of a note key: the first four bytes of
/// SHA-256(name || "\n" || signature type || public key), big-endian.
#[must_use]
pub fn note_key_id(name: &str, alg: u8, public_key: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([alg]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Parses `name+hex8+base64(alg || key)` strictly; returns the name, the key hash and the key.
fn parse_vkey(vkey: &str, want_alg: u8) -> Result<(String, u32, PublicKey), NoteError> {
    let err = |reason| NoteError::VerifierKey {
        key: vkey.to_owned(),
        reason,
    };
    // The name has no '+', the hash is hex; base64 may contain '+', so split only twice.
    let mut parts = vkey.splitn(3, '+');
    let (Some(name), Some(id16), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(err("expected name+keyhash+base64"));
    };
    if !is_valid_name(name) {
        return Err(NoteError::KeyName(name.to_owned()));
    }
    if id16.len() != 8
        || !id16
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(err("the key hash must be 8 lowercase hexadecimal digits"));
    }
    let id = u32::from_str_radix(id16, 16).map_err(|_| err("bad key hash"))?;
    let raw = B64.decode(b64).map_err(|_| err("the key is not base64"))?;
    let Some((&alg, key)) = raw.split_first() else {
        return Err(err("empty key"));
    };
    if alg != want_alg {
        return Err(err(if want_alg == ALG_ED25519 {
            "not an Ed25519 signed-note key (type 0x01)"
        } else {
            "not an Ed25519 cosignature/v1 key (type 0x04)"
        }));
    }
    let key: &[u8; 32] = key
        .try_into()
        .map_err(|_| err("an Ed25519 key is 32 bytes"))?;
    if note_key_id(name, alg, key) != id {
        return Err(err("the key hash does not match the name and key"));
    }
    let pk = PublicKey::from_bytes(key)?;
    Ok((name.to_owned(), id, pk))
}

fn format_vkey(name: &str, alg: u8, key: &PublicKey) -> String {
    let bytes = key.to_bytes();
    let mut raw = vec![alg];
    raw.extend_from_slice(&bytes);
    format!(
        "{name}+{:08x}+{}",
        note_key_id(name, alg, &bytes),
        B64.encode(raw)
    )
}

/// Verifies the log's signatures: on checkpoints (as signed notes) and on Operator statements.
#[derive(Clone, PartialEq, Eq)]
pub struct LogVerifier {
    name: String,
    id: u32,
    key: PublicKey,
}

impl LogVerifier {
    /// From the log's name (= checkpoint origin) and public key.
    ///
    /// # Errors
    /// [`NoteError::KeyName`] for an invalid name.
    pub fn new(name: &str, key: PublicKey) -> Result<Self, NoteError> {
        if !is_valid_name(name) {
            return Err(NoteError::KeyName(name.to_owned()));
        }
        let id = note_key_id(name, ALG_ED25519, &key.to_bytes());
        Ok(Self {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// Parses a verifier key `name+keyhash+base64` (signature type 0x01, Ed25519).
    ///
    /// # Errors
    /// [`NoteError::VerifierKey`], [`NoteError::KeyName`] or [`NoteError::Key`] (weak key).
    pub fn from_verifier_key(vkey: &str) -> Result<Self, NoteError> {
        let (name, id, key) = parse_vkey(vkey.trim_end(), ALG_ED25519)?;
        Ok(Self { name, id, key })
    }

    /// The verifier key string `name+keyhash+base64`.
    #[must_use]
    pub fn verifier_key(&self) -> String {
        format_vkey(&self.name, ALG_ED25519, &self.key)
    }

    /// The key name, which is also the checkpoint origin.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The four-byte note key hash.
    #[must_use]
    pub fn note_key_id(&self) -> u32 {
        self.id
    }

    /// The log's public key (which also signs Operator statements).
    #[must_use]
    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    /// Verifies a signed note: it must carry a valid signature from this key; signatures from
    /// unknown keys are ignored. Returns the note text.
    ///
    /// # Errors
    /// [`NoteError::Malformed`], [`NoteError::InvalidSignature`] or [`NoteError::NotSignedByLog`].
    pub fn verify_note(&self, note: &[u8]) -> Result<String, NoteError> {
        let (text, _) = verify_note_with(note, &[&self.strict()])?;
        Ok(text)
    }

    /// Verifies a signed checkpoint note from this log and parses the checkpoint, whose origin
    /// must be this key's name.
    ///
    /// # Errors
    /// As [`LogVerifier::verify_note`], plus [`NoteError::Checkpoint`] and
    /// [`NoteError::WrongOrigin`].
    pub fn verify_checkpoint(&self, note: &[u8]) -> Result<Checkpoint, NoteError> {
        let text = self.verify_note(note)?;
        let c = Checkpoint::parse(text.as_bytes())?;
        if c.origin() != self.name {
            return Err(NoteError::WrongOrigin {
                expected: self.name.clone(),
                found: c.origin().to_owned(),
            });
        }
        Ok(c)
    }

    /// Verifies a checkpoint signed by this log and checks the cosignatures of the given
    /// cosigners. Cosignatures from keys not listed are ignored; a listed cosigner's bad
    /// cosignature rejects the note.
    ///
    /// # Errors
    /// As [`LogVerifier::verify_checkpoint`].
    pub fn verify_cosigned_checkpoint(
        &self,
        note: &[u8],
        cosigners: &[CosignerVerifier],
    ) -> Result<CosignedCheckpoint, NoteError> {
        let log = self.strict();
        let strict: Vec<StrictCosignatureVerifier> = cosigners
            .iter()
            .cloned()
            .map(StrictCosignatureVerifier)
            .collect();
        let mut known: Vec<&dyn signed_note::Verifier> = vec![&log];
        known.extend(strict.iter().map(|c| c as &dyn signed_note::Verifier));
        let (text, verified) = verify_note_with(note, &known)?;
        let checkpoint = Checkpoint::parse(text.as_bytes())?;
        if checkpoint.origin() != self.name {
            return Err(NoteError::WrongOrigin {
                expected: self.name.clone(),
                found: checkpoint.origin().to_owned(),
            });
        }
        let cosignatures = verified
            .iter()
            .filter(|s| !(s.name() == self.name && s.id() == self.id))
            .filter_map(|s| {
                let ts = s.signature().get(..8)?;
                let mut b = [0u8; 8];
                b.copy_from_slice(ts);
                Some(Cosignature {
                    name: s.name().to_owned(),
                    timestamp: u64::from_be_bytes(b),
                })
            })
            .collect();
        Ok(CosignedCheckpoint {
            checkpoint,
            cosignatures,
        })
    }

    fn strict(&self) -> StrictNoteVerifier {
        StrictNoteVerifier(self.clone())
    }
}

impl fmt::Debug for LogVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LogVerifier({})", self.verifier_key())
    }
}

/// Parses a note and verifies it against `known`, of which the first is the log's key and must
/// have signed; returns the note text and the verified signatures.
///
/// `signed_note` parses the note (text and signature-line syntax, size limits). The signature
/// rules are applied here: lines from unknown keys (name and key hash) are ignored; **every** line
/// from a known key must verify, so a note carrying a good and a bad signature from the same key
/// is rejected (`signed_note` and Go's note package check only the first line per key); and the
/// log's key must have signed.
fn verify_note_with(
    note: &[u8],
    known: &[&dyn signed_note::Verifier],
) -> Result<(String, Vec<signed_note::Signature>), NoteError> {
    let Some(log) = known.first() else {
        return Err(NoteError::Malformed);
    };
    let parsed = signed_note::Note::from_bytes(note).map_err(|_| NoteError::Malformed)?;
    let sig_block = std::str::from_utf8(note)
        .ok()
        .and_then(|t| t.rsplit_once("\n\n"))
        .map(|(_, sigs)| sigs)
        .ok_or(NoteError::Malformed)?;
    let mut verified = Vec::new();
    for l in sig_block.lines() {
        let sig =
            signed_note::Signature::from_bytes(l.as_bytes()).map_err(|_| NoteError::Malformed)?;
        let Some(k) = known
            .iter()
            .find(|k| k.name() == sig.name() && k.key_id() == sig.id())
        else {
            continue;
        };
        if !k.verify(parsed.text(), sig.signature()) {
            return Err(NoteError::InvalidSignature {
                name: sig.name().to_owned(),
                id: sig.id(),
            });
        }
        verified.push(sig);
    }
    if !verified
        .iter()
        .any(|s| s.name() == log.name() && s.id() == log.key_id())
    {
        return Err(NoteError::NotSignedByLog(log.name().to_owned()));
    }
    let text = String::from_utf8(parsed.text().to_vec()).map_err(|_| NoteError::Malformed)?;
    Ok((text, verified))
}

/// The log key as a `signed_note` verifier, checking with [`keys::verify`].
#[derive(Clone)]
struct StrictNoteVerifier(LogVerifier);

impl signed_note::Verifier for StrictNoteVerifier {
    fn name(&self) -> &str {
        &self.0.name
    }
    fn key_id(&self) -> u32 {
        self.0.id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        Signature::from_slice(sig).is_ok_and(|s| keys::verify(&self.0.key, msg, &s).is_ok())
    }
}

/// The log's signing key: signs checkpoints (as C2SP signed notes) and Operator statements.
#[derive(Clone)]
pub struct LogSigner {
    verifier: LogVerifier,
    key: SigningKey,
}

impl LogSigner {
    /// A signer for the log named `origin` (the checkpoint origin and note key name).
    ///
    /// # Errors
    /// [`NoteError::KeyName`] for an invalid origin.
    pub fn new(origin: &str, key: SigningKey) -> Result<Self, NoteError> {
        let verifier = LogVerifier::new(origin, key.public_key())?;
        Ok(Self { verifier, key })
    }

    /// Parses a signer key in the form Go's `note` package and other C2SP tools use:
    /// `PRIVATE+KEY+<name>+<key hash>+<base64(0x01 || 32-byte seed)>`. The key hash must match the
    /// name and the derived public key.
    ///
    /// # Errors
    /// [`NoteError::VerifierKey`] (the message never contains the secret) or
    /// [`NoteError::KeyName`].
    pub fn from_note_signer_key(skey: &str) -> Result<Self, NoteError> {
        let err = |reason| NoteError::VerifierKey {
            key: "PRIVATE+KEY+…".to_owned(),
            reason,
        };
        let rest = skey
            .trim_end()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(err("expected PRIVATE+KEY+name+keyhash+base64"))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id16), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(err("expected PRIVATE+KEY+name+keyhash+base64"));
        };
        let raw =
            zeroize::Zeroizing::new(B64.decode(b64).map_err(|_| err("the key is not base64"))?);
        let Some((&ALG_ED25519, seed)) = raw.split_first() else {
            return Err(err("not an Ed25519 signer key (type 0x01)"));
        };
        let seed: &[u8; 32] = seed
            .try_into()
            .map_err(|_| err("an Ed25519 seed is 32 bytes"))?;
        let signer = Self::new(name, SigningKey::from_seed(seed))?;
        if format!("{:08x}", signer.verifier.id) != id16 {
            return Err(err("the key hash does not match the name and key"));
        }
        Ok(signer)
    }

    /// The signer key in Go's `note` form (see [`LogSigner::from_note_signer_key`]). Secret.
    #[must_use]
    pub fn to_note_signer_key(&self) -> zeroize::Zeroizing<String> {
        let mut raw = zeroize::Zeroizing::new(vec![ALG_ED25519]);
        raw.extend_from_slice(self.key.to_seed().as_slice());
        let b64 = zeroize::Zeroizing::new(B64.encode(raw.as_slice()));
        zeroize::Zeroizing::new(format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.verifier.name,
            self.verifier.id,
            b64.as_str()
        ))
    }

    /// The matching verifier.
    #[must_use]
    pub fn verifier(&self) -> &LogVerifier {
        &self.verifier
    }

    /// The verifier key string to publish.
    #[must_use]
    pub fn verifier_key(&self) -> String {
        self.verifier.verifier_key()
    }

    /// The signing key.
    #[must_use]
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// Signs note text (which must end in a newline) and returns the signed note.
    ///
    /// # Errors
    /// [`NoteError::Malformed`] when the text is not valid note text.
    pub fn sign_note(&self, text: &str) -> Result<Vec<u8>, NoteError> {
        let sig = self.key.sign(text.as_bytes());
        let line = signed_note::Signature::new(
            self.verifier.name.clone(),
            self.verifier.id,
            sig.0.to_vec(),
        )
        .map_err(|_| NoteError::Malformed)?;
        let note =
            signed_note::Note::new(text.as_bytes(), &[line]).map_err(|_| NoteError::Malformed)?;
        Ok(note.to_bytes())
    }

    /// Signs a checkpoint; returns the signed note bytes (what `/checkpoint` serves).
    ///
    /// # Errors
    /// [`NoteError::WrongOrigin`] when the checkpoint's origin is not this log's name.
    pub fn sign_checkpoint(&self, checkpoint: &Checkpoint) -> Result<Vec<u8>, NoteError> {
        if checkpoint.origin() != self.verifier.name {
            return Err(NoteError::WrongOrigin {
                expected: self.verifier.name.clone(),
                found: checkpoint.origin().to_owned(),
            });
        }
        self.sign_note(&checkpoint.to_text())
    }

    /// Builds and signs an Operator statement with the log key.
    ///
    /// # Errors
    /// As [`Statement::new`].
    pub fn sign_statement(
        &self,
        body: Body,
        payload_sha256: Option<[u8; 32]>,
    ) -> Result<SignedStatement, EntryError> {
        Statement::build_and_sign(Actor::Operator, body, payload_sha256, &self.key)
    }
}

impl fmt::Debug for LogSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "LogSigner({}, secret: <redacted>)",
            self.verifier.verifier_key()
        )
    }
}

/// A verified cosignature: who cosigned and when (POSIX seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosignature {
    /// The cosigner's key name.
    pub name: String,
    /// The cosignature's timestamp, seconds since the Unix epoch.
    pub timestamp: u64,
}

/// A checkpoint verified against the log key, with the cosignatures that verified.
#[derive(Debug, Clone, PartialEq)]
pub struct CosignedCheckpoint {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// Valid cosignatures from the cosigners asked about.
    pub cosignatures: Vec<Cosignature>,
}

/// The message a tlog-cosignature/v1 signs: `cosignature/v1\ntime <t>\n` then the checkpoint text.
#[must_use]
pub fn cosignature_message(checkpoint_text: &[u8], timestamp: u64) -> Vec<u8> {
    let mut m = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    m.extend_from_slice(checkpoint_text);
    m
}

/// A cosigner's public key (signature type 0x04).
#[derive(Clone, PartialEq, Eq)]
pub struct CosignerVerifier {
    name: String,
    id: u32,
    key: PublicKey,
}

impl CosignerVerifier {
    /// From a name and key.
    ///
    /// # Errors
    /// [`NoteError::KeyName`] for an invalid name.
    pub fn new(name: &str, key: PublicKey) -> Result<Self, NoteError> {
        if !is_valid_name(name) {
            return Err(NoteError::KeyName(name.to_owned()));
        }
        Ok(Self {
            name: name.to_owned(),
            id: note_key_id(name, ALG_COSIGNATURE_V1, &key.to_bytes()),
            key,
        })
    }

    /// Parses a cosigner verifier key `name+keyhash+base64(0x04 || key)`.
    ///
    /// # Errors
    /// As [`LogVerifier::from_verifier_key`].
    pub fn from_verifier_key(vkey: &str) -> Result<Self, NoteError> {
        let (name, id, key) = parse_vkey(vkey.trim_end(), ALG_COSIGNATURE_V1)?;
        Ok(Self { name, id, key })
    }

    /// The verifier key string.
    #[must_use]
    pub fn verifier_key(&self) -> String {
        format_vkey(&self.name, ALG_COSIGNATURE_V1, &self.key)
    }

    /// The cosigner's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cosigner's public key.
    #[must_use]
    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    /// The four-byte note key hash.
    #[must_use]
    pub fn note_key_id(&self) -> u32 {
        self.id
    }

    /// Checks one cosignature (`timestamp || signature`, 72 bytes) over checkpoint text.
    #[must_use]
    pub fn verify_raw(&self, checkpoint_text: &[u8], sig: &[u8]) -> bool {
        if sig.len() != 72 {
            return false;
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&sig[..8]);
        let timestamp = u64::from_be_bytes(ts);
        if timestamp > i64::MAX as u64 {
            return false;
        }
        Signature::from_slice(&sig[8..]).is_ok_and(|s| {
            keys::verify(
                &self.key,
                &cosignature_message(checkpoint_text, timestamp),
                &s,
            )
            .is_ok()
        })
    }
}

impl fmt::Debug for CosignerVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CosignerVerifier({})", self.verifier_key())
    }
}

#[derive(Clone)]
struct StrictCosignatureVerifier(CosignerVerifier);

impl signed_note::Verifier for StrictCosignatureVerifier {
    fn name(&self) -> &str {
        &self.0.name
    }
    fn key_id(&self) -> u32 {
        self.0.id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        self.0.verify_raw(msg, sig)
    }
}

/// A cosigner (witness or inspector) that cosigns checkpoints per tlog-cosignature/v1.
#[derive(Clone)]
pub struct Cosigner {
    verifier: CosignerVerifier,
    key: SigningKey,
}

impl Cosigner {
    /// A cosigner named `name` with `key`.
    ///
    /// # Errors
    /// [`NoteError::KeyName`] for an invalid name.
    pub fn new(name: &str, key: SigningKey) -> Result<Self, NoteError> {
        Ok(Self {
            verifier: CosignerVerifier::new(name, key.public_key())?,
            key,
        })
    }

    /// The matching verifier.
    #[must_use]
    pub fn verifier(&self) -> &CosignerVerifier {
        &self.verifier
    }

    /// The note signature line (`— name base64(keyhash || timestamp || signature)\n`) cosigning
    /// `checkpoint` at `timestamp` (POSIX seconds, at most 2^63 - 1).
    #[must_use]
    pub fn cosignature_line(&self, checkpoint: &Checkpoint, timestamp: u64) -> String {
        let timestamp = timestamp.min(i64::MAX as u64);
        let text = checkpoint.to_text();
        let sig = self
            .key
            .sign(&cosignature_message(text.as_bytes(), timestamp));
        let mut raw = self.verifier.id.to_be_bytes().to_vec();
        raw.extend_from_slice(&timestamp.to_be_bytes());
        raw.extend_from_slice(&sig.0);
        format!("\u{2014} {} {}\n", self.verifier.name, B64.encode(raw))
    }

    /// Adds this cosigner's cosignature to a signed checkpoint note (after checking the log's
    /// signature), replacing an earlier cosignature by the same key.
    ///
    /// # Errors
    /// As [`LogVerifier::verify_checkpoint`].
    pub fn cosign_note(
        &self,
        note: &[u8],
        log: &LogVerifier,
        timestamp: u64,
    ) -> Result<Vec<u8>, NoteError> {
        let checkpoint = log.verify_checkpoint(note)?;
        let line = self.cosignature_line(&checkpoint, timestamp);
        let text = std::str::from_utf8(note).map_err(|_| NoteError::Malformed)?;
        let prefix = format!("\u{2014} {} ", self.verifier.name);
        let id = self.verifier.id.to_be_bytes();
        let mut out = String::with_capacity(text.len() + line.len());
        let (body, sigs) = text.rsplit_once("\n\n").ok_or(NoteError::Malformed)?;
        out.push_str(body);
        out.push_str("\n\n");
        for l in sigs.lines() {
            let same_key = l
                .strip_prefix(&prefix)
                .and_then(|b| B64.decode(b).ok())
                .is_some_and(|raw| raw.starts_with(&id));
            if !same_key {
                out.push_str(l);
                out.push('\n');
            }
        }
        out.push_str(&line);
        Ok(out.into_bytes())
    }
}

impl fmt::Debug for Cosigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Cosigner({}, secret: <redacted>)",
            self.verifier.verifier_key()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::EMPTY_ROOT;

    fn log() -> LogSigner {
        LogSigner::new("localhost/insyn", SigningKey::from_seed(&[1; 32])).unwrap()
    }

    fn line(name: &str, id: u32, sig: &[u8]) -> String {
        let mut raw = id.to_be_bytes().to_vec();
        raw.extend_from_slice(sig);
        format!("\u{2014} {name} {}\n", B64.encode(raw))
    }

    #[test]
    fn several_signatures_unknown_ignored_bad_known_rejected() {
        let l = log();
        let v = l.verifier();
        let cp = Checkpoint::new("localhost/insyn", 7, EMPTY_ROOT).unwrap();
        let note = String::from_utf8(l.sign_checkpoint(&cp).unwrap()).unwrap();
        assert_eq!(v.verify_checkpoint(note.as_bytes()).unwrap(), cp);

        // Extra signatures from unknown keys, including same name with another key hash.
        let extra = format!(
            "{note}{}{}",
            line("someone.else", 1, &[0; 64]),
            line("localhost/insyn", v.note_key_id() ^ 1, &[0; 64])
        );
        assert_eq!(v.verify_checkpoint(extra.as_bytes()).unwrap(), cp);

        // A bad signature from the known key rejects, even next to a good one.
        let bad = format!(
            "{note}{}",
            line("localhost/insyn", v.note_key_id(), &[0; 64])
        );
        assert_eq!(
            v.verify_checkpoint(bad.as_bytes()).unwrap_err().to_string(),
            format!(
                "invalid signature from known key localhost/insyn+{:08x}",
                v.note_key_id()
            )
        );

        // Only unknown signatures: not signed by the log.
        let text = cp.to_text();
        let unsigned = format!("{text}\n{}", line("someone.else", 1, &[0; 64]));
        assert_eq!(
            v.verify_checkpoint(unsigned.as_bytes()).unwrap_err(),
            NoteError::NotSignedByLog("localhost/insyn".into())
        );
        for malformed in [
            "",
            "no signatures\n",
            "x\n\n\u{2014} a\n",
            "x\n\n\u{2014} a AAAA\n",
        ] {
            assert!(
                v.verify_note(malformed.as_bytes()).is_err(),
                "{malformed:?}"
            );
        }
    }

    #[test]
    fn checkpoints_must_be_for_this_log() {
        let l = log();
        let other = Checkpoint::new("example.com/other", 1, EMPTY_ROOT).unwrap();
        assert!(matches!(
            l.sign_checkpoint(&other),
            Err(NoteError::WrongOrigin { .. })
        ));
        let signed = l.sign_note(&other.to_text()).unwrap();
        assert_eq!(
            l.verifier()
                .verify_checkpoint(&signed)
                .unwrap_err()
                .to_string(),
            "the checkpoint is for origin \"example.com/other\", expected \"localhost/insyn\""
        );
        let not_cp = l.sign_note("hello\n").unwrap();
        assert!(matches!(
            l.verifier().verify_checkpoint(&not_cp),
            Err(NoteError::Checkpoint(_))
        ));
    }

    #[test]
    fn cosignatures_follow_tlog_cosignature_v1() {
        let l = log();
        let v = l.verifier();
        let cp = Checkpoint::new("localhost/insyn", 3, EMPTY_ROOT).unwrap();
        let note = l.sign_checkpoint(&cp).unwrap();
        let w = Cosigner::new("witness.example/w", SigningKey::from_seed(&[2; 32])).unwrap();
        let once = w.cosign_note(&note, v, 100).unwrap();
        // Cosigning again replaces the earlier cosignature.
        let twice = w.cosign_note(&once, v, 200).unwrap();
        assert_eq!(twice.len(), once.len());
        let got = v
            .verify_cosigned_checkpoint(&twice, std::slice::from_ref(w.verifier()))
            .unwrap();
        assert_eq!(
            got.cosignatures,
            vec![Cosignature {
                name: "witness.example/w".into(),
                timestamp: 200
            }]
        );
        // The signed message is exactly the spec's.
        let text = cp.to_text();
        let msg = cosignature_message(text.as_bytes(), 200);
        assert_eq!(
            msg,
            format!("cosignature/v1\ntime 200\n{text}").into_bytes()
        );
        // The key hash uses type 0x04.
        assert_eq!(
            w.verifier().note_key_id(),
            note_key_id("witness.example/w", 0x04, &w.verifier().key.to_bytes())
        );
        assert_ne!(
            w.verifier().note_key_id(),
            note_key_id("witness.example/w", 0x01, &w.verifier().key.to_bytes())
        );
        // A cosignature is not a log signature: a note with only a cosignature is not accepted.
        let only_cosig = format!("{text}\n{}", w.cosignature_line(&cp, 5));
        assert!(v.verify_checkpoint(only_cosig.as_bytes()).is_err());
        // Timestamps above 2^63 - 1 are refused.
        let mut raw = vec![0xff; 8];
        raw.extend_from_slice(&[0; 64]);
        assert!(!w.verifier().verify_raw(text.as_bytes(), &raw));
        // Cosigner keys round-trip through their verifier-key form.
        let vk = w.verifier().verifier_key();
        assert_eq!(
            CosignerVerifier::from_verifier_key(&vk).unwrap(),
            *w.verifier()
        );
    }
}

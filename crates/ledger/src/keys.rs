//! Ed25519 keys, key IDs and THE one signature acceptance rule of Insyn.
//!
//! Every place that decides whether a signature is valid (sequencer, CLI, portal, inspector)
//! calls [`verify`] (or [`verify_many`], which gives the same verdicts). It is built on
//! `ed25519-dalek`'s `verify_strict`, which rejects non-canonical signature scalars and
//! small-order `R` and `A` points. Public keys of small order or with a torsion component are
//! refused when a [`PublicKey`] is made, so such a key can never be registered.
//!
//! Batch verification is deliberately not used, not even as a shortcut: ed25519-dalek's batch check
//! folds the signatures into one random linear combination, so a signature whose `R` has a
//! torsion component (which strict verification always rejects) is accepted whenever the random
//! coefficient happens to cancel the torsion — half the time for a torsion point of order 2
//! (`tests/strictness.rs` shows it). A verdict that depends on the batch would differ between
//! verifiers. [`verify_many`] instead runs the strict check on each signature, in parallel, so its
//! verdicts are exactly [`verify`]'s.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rand_core::OsRng;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Why a public key, key ID, signature or secret key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not 32 bytes, or not the canonical encoding of a point on the curve.
    #[error("not an Ed25519 public key (32 bytes canonically encoding a curve point)")]
    Malformed,
    /// A point of small order, or one with a torsion component: such keys allow signatures that
    /// verify for many messages and are refused.
    #[error("weak Ed25519 public key (small order or not torsion-free) refused")]
    Weak,
    /// A key ID that is not 64 hex digits.
    #[error("{0:?} is not a key ID (64 lowercase hexadecimal digits)")]
    KeyId(String),
    /// A signature that is not 64 bytes.
    #[error("a signature must be 64 bytes, got {0}")]
    SignatureLength(usize),
    /// A secret key text that is not in the form [`SigningKey::to_text`] writes.
    #[error("not an Insyn secret key (expected {SECRET_KEY_PREFIX}<base64 of 32 bytes>)")]
    SecretKeyFormat,
}

/// Why a signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// Strict Ed25519 verification failed.
    #[error("the Ed25519 signature does not verify (strict verification)")]
    Invalid,
    /// The statement names a different key from the one it was checked against.
    #[error("the statement names key {named} but was checked with key {given}")]
    KeyMismatch {
        /// The key ID the statement names.
        named: KeyId,
        /// The key ID of the key it was checked with.
        given: KeyId,
    },
}

/// An Ed25519 public key that is safe to register: a valid point, not of small order, torsion-free.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl PublicKey {
    /// Parses and checks a 32-byte public key.
    ///
    /// # Errors
    /// [`KeyError::Malformed`] if the bytes are not a curve point, [`KeyError::Weak`] if the point
    /// has small order or a torsion component.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let vk = ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::Malformed)?;
        // Only the canonical encoding of a point is a key (a y coordinate of p or more, or a
        // "negative" x of zero, would give one point two encodings and two key IDs).
        if vk.to_edwards().compress().to_bytes() != *bytes {
            return Err(KeyError::Malformed);
        }
        if vk.is_weak() || !vk.to_edwards().is_torsion_free() {
            return Err(KeyError::Weak);
        }
        Ok(Self(vk))
    }

    /// Like [`PublicKey::from_bytes`] for a slice.
    ///
    /// # Errors
    /// [`KeyError::Malformed`] if the slice is not 32 bytes, otherwise as [`PublicKey::from_bytes`].
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        let arr: &[u8; 32] = bytes.try_into().map_err(|_| KeyError::Malformed)?;
        Self::from_bytes(arr)
    }

    /// The 32-byte encoding.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The key's ID: SHA-256 of the 32-byte key.
    #[must_use]
    pub fn key_id(&self) -> KeyId {
        KeyId(Sha256::digest(self.0.as_bytes()).into())
    }

    /// The underlying `ed25519-dalek` key.
    #[must_use]
    pub fn as_dalek(&self) -> &ed25519_dalek::VerifyingKey {
        &self.0
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

/// The standard base64 of the 32 key bytes (44 characters).
impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&B64.encode(self.0.as_bytes()))
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;

    /// Parses the standard base64 of 32 key bytes and checks the key like
    /// [`PublicKey::from_bytes`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = B64.decode(s).map_err(|_| KeyError::Malformed)?;
        Self::from_slice(&bytes)
    }
}

/// A key ID: SHA-256 of the 32-byte Ed25519 public key. Displayed as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub [u8; 32]);

impl KeyId {
    /// The 32 bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl FromStr for KeyId {
    type Err = KeyError;

    /// Parses exactly 64 lowercase hex digits (the one canonical form).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 64
            || !s
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(KeyError::KeyId(s.to_owned()));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| KeyError::KeyId(s.to_owned()))?;
        Ok(Self(out))
    }
}

/// A 64-byte Ed25519 signature, as bytes (not yet checked).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; 64]);

impl Signature {
    /// From a slice.
    ///
    /// # Errors
    /// [`KeyError::SignatureLength`] unless the slice is 64 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        let arr: [u8; 64] = bytes
            .try_into()
            .map_err(|_| KeyError::SignatureLength(bytes.len()))?;
        Ok(Self(arr))
    }

    /// The 64 bytes.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 64] {
        self.0
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", B64.encode(self.0))
    }
}

/// The prefix of a secret key's text form.
pub const SECRET_KEY_PREFIX: &str = "insyn-ed25519-secret-key-v1:";

/// An Ed25519 secret key. Zeroed when dropped; its `Debug` form never shows the secret.
#[derive(Clone)]
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// A fresh key from the operating system's random number generator.
    #[must_use]
    pub fn generate() -> Self {
        Self(ed25519_dalek::SigningKey::generate(&mut OsRng))
    }

    /// A key from its 32-byte seed (the RFC 8032 secret key).
    #[must_use]
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    /// The 32-byte seed. Handle with care.
    #[must_use]
    pub fn to_seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// The text form for a key file: [`SECRET_KEY_PREFIX`] followed by the base64 of the seed
    /// and a newline. The caller writes it (this crate does no I/O).
    #[must_use]
    pub fn to_text(&self) -> Zeroizing<String> {
        let seed = self.to_seed();
        let b64 = Zeroizing::new(B64.encode(*seed));
        let mut out = Zeroizing::new(String::with_capacity(
            SECRET_KEY_PREFIX.len() + b64.len() + 1,
        ));
        out.push_str(SECRET_KEY_PREFIX);
        out.push_str(&b64);
        out.push('\n');
        out
    }

    /// Parses [`SigningKey::to_text`]'s form; surrounding whitespace is ignored.
    ///
    /// # Errors
    /// [`KeyError::SecretKeyFormat`] when the text is not in that form.
    pub fn from_text(text: &str) -> Result<Self, KeyError> {
        let b64 = text
            .trim()
            .strip_prefix(SECRET_KEY_PREFIX)
            .ok_or(KeyError::SecretKeyFormat)?;
        let bytes = Zeroizing::new(B64.decode(b64).map_err(|_| KeyError::SecretKeyFormat)?);
        let seed: &[u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::SecretKeyFormat)?;
        Ok(Self::from_seed(seed))
    }

    /// The public half. Keys made from 32 random bytes are never weak.
    #[must_use]
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// The key ID of the public half.
    #[must_use]
    pub fn key_id(&self) -> KeyId {
        self.public_key().key_id()
    }

    /// Signs a message (plain Ed25519, RFC 8032).
    #[must_use]
    pub fn sign(&self, message: &[u8]) -> Signature {
        use ed25519_dalek::Signer as _;
        Signature(self.0.sign(message).to_bytes())
    }

    /// The underlying `ed25519-dalek` key.
    #[must_use]
    pub fn as_dalek(&self) -> &ed25519_dalek::SigningKey {
        &self.0
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SigningKey(public: {}, secret: <redacted>)",
            self.key_id()
        )
    }
}

/// THE acceptance rule for every signature in Insyn: strict Ed25519 verification
/// (`verify_strict`) of `signature` over `message` by `public_key`.
///
/// # Errors
/// [`SignatureError::Invalid`] when the signature is not accepted.
pub fn verify(
    public_key: &PublicKey,
    message: &[u8],
    signature: &Signature,
) -> Result<(), SignatureError> {
    let sig = ed25519_dalek::Signature::from_bytes(&signature.0);
    public_key
        .0
        .verify_strict(message, &sig)
        .map_err(|_| SignatureError::Invalid)
}

/// One signature to check with [`verify_many`].
#[derive(Debug, Clone, Copy)]
pub struct SignedMessage<'a> {
    /// The key that should have signed.
    pub public_key: &'a PublicKey,
    /// The signed message.
    pub message: &'a [u8],
    /// The signature.
    pub signature: &'a Signature,
}

/// Checks many signatures in parallel (rayon), each with [`verify`]: the verdicts are exactly
/// those of [`verify`], in the same order.
#[must_use]
pub fn verify_many(items: &[SignedMessage<'_>]) -> Vec<Result<(), SignatureError>> {
    items
        .par_iter()
        .map(|s| verify(s.public_key, s.message, s.signature))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_strictly() {
        let k = SigningKey::generate();
        let s = k.sign(b"hello");
        verify(&k.public_key(), b"hello", &s).unwrap();
        assert_eq!(
            verify(&k.public_key(), b"hellO", &s),
            Err(SignatureError::Invalid)
        );
        let other = SigningKey::generate();
        assert!(verify(&other.public_key(), b"hello", &s).is_err());
    }

    #[test]
    fn small_order_keys_are_refused() {
        // The identity point (y = 1) has order 1; the all-zero encoding (y = 0) has order 4.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(PublicKey::from_bytes(&identity), Err(KeyError::Weak));
        assert_eq!(PublicKey::from_bytes(&[0u8; 32]), Err(KeyError::Weak));
        // A real key plus a point of order 8 is not small order but has a torsion component.
        let k = SigningKey::from_seed(&[7u8; 32]).public_key();
        // A published point of order 8 (from the list of Ed25519 small-order encodings).
        let order8: [u8; 32] =
            hex::decode("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")
                .unwrap()
                .try_into()
                .unwrap();
        assert_eq!(PublicKey::from_bytes(&order8), Err(KeyError::Weak));
        let torsion = ed25519_dalek::VerifyingKey::from_bytes(&order8)
            .unwrap()
            .to_edwards();
        let mixed = (k.as_dalek().to_edwards() + torsion).compress().to_bytes();
        assert_eq!(PublicKey::from_bytes(&mixed), Err(KeyError::Weak));
        // Non-canonical encodings (y = p + k) are refused, whatever point they would denote.
        for k in 0u8..19 {
            let mut enc = [0xffu8; 32];
            enc[0] = 0xed + k;
            enc[31] = 0x7f;
            assert!(PublicKey::from_bytes(&enc).is_err(), "y = p + {k}");
        }
        // Not on the curve at all.
        let mut bad = [0xffu8; 32];
        bad[31] = 0x7f;
        bad[0] = 0xea; // y = p - 3 has no x
        assert!(PublicKey::from_bytes(&bad).is_err());
    }

    #[test]
    fn key_ids_are_sha256_of_the_key() {
        let k = SigningKey::from_seed(&[1u8; 32]);
        let pk = k.public_key();
        assert_eq!(pk.to_string().parse::<PublicKey>().unwrap(), pk);
        assert_eq!(pk.to_string().len(), 44);
        assert_eq!("AAAA".parse::<PublicKey>(), Err(KeyError::Malformed));
        let id = k.key_id();
        assert_eq!(
            id.0,
            <[u8; 32]>::from(Sha256::digest(k.public_key().to_bytes()))
        );
        assert_eq!(id.to_string().parse::<KeyId>().unwrap(), id);
        assert!(id.to_string().to_uppercase().parse::<KeyId>().is_err());
        assert!("abc".parse::<KeyId>().is_err());
    }

    #[test]
    fn secret_text_round_trips_and_debug_hides_the_secret() {
        let k = SigningKey::generate();
        let text = k.to_text();
        let k2 = SigningKey::from_text(&text).unwrap();
        assert_eq!(k.public_key(), k2.public_key());
        let dbg = format!("{k:?}");
        assert!(!dbg.contains(&B64.encode(*k.to_seed())));
        assert!(!dbg.contains(&hex::encode(*k.to_seed())));
        assert_eq!(
            SigningKey::from_text("nope").unwrap_err(),
            KeyError::SecretKeyFormat
        );
    }

    #[test]
    fn verify_many_agrees_with_verify() {
        let keys: Vec<SigningKey> = (0..8u8).map(|i| SigningKey::from_seed(&[i; 32])).collect();
        let pks: Vec<PublicKey> = keys.iter().map(SigningKey::public_key).collect();
        let msgs: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 10]).collect();
        let mut sigs: Vec<Signature> = keys.iter().zip(&msgs).map(|(k, m)| k.sign(m)).collect();
        sigs[3].0[0] ^= 1;
        let items: Vec<SignedMessage<'_>> = (0..8)
            .map(|i| SignedMessage {
                public_key: &pks[i],
                message: &msgs[i],
                signature: &sigs[i],
            })
            .collect();
        let got = verify_many(&items);
        for (i, r) in got.iter().enumerate() {
            assert_eq!(*r, verify(&pks[i], &msgs[i], &sigs[i]));
            assert_eq!(r.is_ok(), i != 3);
        }
    }
}

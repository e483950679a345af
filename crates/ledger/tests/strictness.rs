//! Why Insyn never uses batch verification: a signature whose `R` carries a torsion component
//! always fails the one acceptance rule (`verify_strict`, cofactorless), but ed25519-dalek's batch
//! check accepts it whenever its random coefficient happens to kill the torsion (half the time for
//! a torsion point of order 2). If the two were mixed, two honest verifiers could disagree about
//! the same log. Also: the rule is what notes, cosignatures and entries all use.

#![allow(
    clippy::unwrap_used,
    reason = "a test: a failed unwrap is a failed test"
)]

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::CompressedEdwardsY;
use curve25519_dalek::scalar::Scalar;
use insyn_ledger::keys::{self, PublicKey, Signature, SignedMessage};
use insyn_ledger::note::{LogVerifier, NoteError};
use sha2::{Digest, Sha512};

/// The point of order 2: (0, -1), y = p - 1 little-endian.
const ORDER_2: [u8; 32] = [
    0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
];

/// Signs `msg` with secret scalar `a`, but with the nonce point R = rB + T for a torsion point T.
fn torsioned_signature(a: Scalar, r: Scalar, msg: &[u8]) -> (PublicKey, Signature) {
    let big_a = a * ED25519_BASEPOINT_POINT;
    let t = CompressedEdwardsY(ORDER_2).decompress().unwrap();
    let big_r = r * ED25519_BASEPOINT_POINT + t;
    let mut h = Sha512::new();
    h.update(big_r.compress().as_bytes());
    h.update(big_a.compress().as_bytes());
    h.update(msg);
    let k = Scalar::from_hash(h);
    let s = r + k * a;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(big_r.compress().as_bytes());
    sig[32..].copy_from_slice(s.as_bytes());
    (
        PublicKey::from_bytes(&big_a.compress().to_bytes()).unwrap(),
        Signature(sig),
    )
}

#[test]
fn batch_verification_accepts_what_the_rule_rejects() {
    let msg = b"insyn/entry/v1\nexample";
    let a = Scalar::from_bytes_mod_order([11; 32]);
    let mut batch_accepted = 0;
    for i in 0..32u8 {
        let (pk, sig) = torsioned_signature(a, Scalar::from_bytes_mod_order([i; 32]), msg);
        // The one rule always rejects it, alone or in parallel.
        assert!(keys::verify(&pk, msg, &sig).is_err());
        let one = SignedMessage {
            public_key: &pk,
            message: msg,
            signature: &sig,
        };
        assert!(keys::verify_many(&[one])[0].is_err());
        // ed25519-dalek's batch verification accepts some of them.
        let dalek_sig = ed25519_dalek::Signature::from_bytes(&sig.0);
        if ed25519_dalek::verify_batch(&[msg.as_slice()], &[dalek_sig], &[*pk.as_dalek()]).is_ok() {
            batch_accepted += 1;
        }
    }
    assert!(
        batch_accepted > 0,
        "batch verification rejected all 32; the rationale would need revisiting"
    );
    assert!(batch_accepted < 32);
}

#[test]
fn notes_use_the_rule_too() {
    // A note signed with a torsioned R is rejected by our note verifier, although the key is known.
    let a = Scalar::from_bytes_mod_order([33; 32]);
    let text = "localhost/insyn\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n";
    let (pk, sig) = torsioned_signature(a, Scalar::from_bytes_mod_order([44; 32]), text.as_bytes());
    let v = LogVerifier::new("localhost/insyn", pk).unwrap();
    let mut raw = v.note_key_id().to_be_bytes().to_vec();
    raw.extend_from_slice(&sig.0);
    use base64::Engine as _;
    let note = format!(
        "{text}\n\u{2014} localhost/insyn {}\n",
        base64::engine::general_purpose::STANDARD.encode(raw)
    );
    assert!(matches!(
        v.verify_checkpoint(note.as_bytes()),
        Err(NoteError::InvalidSignature { .. })
    ));
}

//! Fuzz target bodies for every parser of untrusted input: entries and statements (and the
//! statement + signature pair the API receives), checkpoints, signed notes and verifier keys,
//! tile paths and entry bundles, receipts, and the text forms of identifiers and keys.
//!
//! Compiled only for tests and under `cfg(fuzzing)` (set by cargo-fuzz); the targets in
//! `crates/ledger/fuzz` call these functions, and this crate's tests run them over random and
//! mutated inputs on stable Rust. Each body must never panic, and wherever a parser accepts
//! input, re-encoding must give back exactly that input (one value, one encoding).

use crate::checkpoint::Checkpoint;
use crate::entry::{
    AuditorRef, ContractReference, Entry, InspectorName, SignedStatement, Statement,
};
use crate::id::{CountyCode, MunicipalityCode, OrgNumber, Period};
use crate::keys::{KeyId, PublicKey, SigningKey};
use crate::note::{CosignerVerifier, LogVerifier};
use crate::receipt::Receipt;
use crate::tile::{Tile, decode_bundle, encode_bundle};

/// Entries and statements: strict decoding, canonical re-encoding.
pub fn entry(data: &[u8]) {
    if let Ok(e) = Entry::decode(data) {
        assert_eq!(
            e.encode(),
            data,
            "an accepted entry must re-encode to its input"
        );
        let _ = e.leaf_hash();
    }
    if let Ok(s) = Statement::decode(data) {
        assert_eq!(
            s.encode(),
            data,
            "an accepted statement must re-encode to its input"
        );
    }
    // The API's form: statement bytes and a separate 64-byte signature.
    if let Some(split) = data.len().checked_sub(64)
        && let Ok(signed) = SignedStatement::from_parts(&data[..split], &data[split..])
    {
        assert_eq!(
            signed.statement().encode(),
            &data[..split],
            "an accepted statement must re-encode to its input"
        );
        assert_eq!(signed.signature().to_bytes().as_slice(), &data[split..]);
    }
}

/// Text forms of identifiers, names and keys: whatever parses has one canonical form that parses
/// back to the same value; the strictly canonical ones must equal their input.
pub fn text_forms(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    fn same<T: std::str::FromStr + ToString + PartialEq + std::fmt::Debug>(
        text: &str,
        exact: bool,
    ) {
        if let Ok(v) = text.parse::<T>() {
            let shown = v.to_string();
            if exact {
                assert_eq!(shown, text, "one value, one text form");
            }
            assert_eq!(
                shown.parse::<T>().ok(),
                Some(v),
                "the text form parses back"
            );
        }
    }
    same::<OrgNumber>(text, false);
    same::<MunicipalityCode>(text, true);
    same::<CountyCode>(text, true);
    same::<Period>(text, true);
    same::<ContractReference>(text, true);
    same::<InspectorName>(text, true);
    same::<AuditorRef>(text, true);
    same::<KeyId>(text, true);
    if let Ok(k) = text.parse::<PublicKey>() {
        assert_eq!(k.to_string(), text, "one key, one base64 form");
    }
    if let Ok(k) = SigningKey::from_text(text) {
        let again = SigningKey::from_text(&k.to_text())
            .ok()
            .map(|k| k.public_key());
        assert_eq!(
            again,
            Some(k.public_key()),
            "a secret key's text form parses back"
        );
    }
}

/// Checkpoint text.
pub fn checkpoint(data: &[u8]) {
    if let Ok(c) = Checkpoint::parse(data) {
        assert_eq!(
            c.to_text().as_bytes(),
            data,
            "an accepted checkpoint must re-encode to its input"
        );
    }
}

/// A fixed log verifier and cosigner, made once.
fn verifiers() -> Option<&'static (LogVerifier, CosignerVerifier)> {
    static V: std::sync::OnceLock<Option<(LogVerifier, CosignerVerifier)>> =
        std::sync::OnceLock::new();
    V.get_or_init(|| {
        let log = SigningKey::from_seed(&[1; 32]).public_key();
        let cosigner = SigningKey::from_seed(&[2; 32]).public_key();
        Some((
            LogVerifier::new("localhost/insyn", log).ok()?,
            CosignerVerifier::new("w", cosigner).ok()?,
        ))
    })
    .as_ref()
}

/// Signed notes (against a fixed log key and cosigner), verifier keys and receipts.
pub fn note(data: &[u8]) {
    if let Some((v, c)) = verifiers() {
        let _ = v.verify_note(data);
        let _ = v.verify_checkpoint(data);
        let _ = v.verify_cosigned_checkpoint(data, std::slice::from_ref(c));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(v) = LogVerifier::from_verifier_key(text) {
            assert_eq!(
                v.verifier_key(),
                text.trim_end(),
                "an accepted verifier key must re-encode"
            );
        }
        if let Ok(v) = CosignerVerifier::from_verifier_key(text) {
            assert_eq!(
                v.verifier_key(),
                text.trim_end(),
                "an accepted cosigner key must re-encode"
            );
        }
        if let Ok(r) = Receipt::from_json(text) {
            let _ = r.to_json();
        }
    }
}

/// Tile paths and entry bundles.
pub fn tile_path(data: &[u8]) {
    let text = std::str::from_utf8(data).ok();
    if let Some(Ok(t)) = text.map(Tile::parse_path) {
        assert_eq!(
            t.path(),
            text.unwrap_or_default(),
            "an accepted tile path must re-encode to its input"
        );
    }
    if let Ok(entries) = decode_bundle(data) {
        assert_eq!(
            encode_bundle(&entries).ok().as_deref(),
            Some(data),
            "bundles must re-encode"
        );
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::entry::{Actor, Body, ContractRef};
    use crate::hash::EMPTY_ROOT;
    use crate::note::LogSigner;

    /// Valid inputs for each target, to mutate from.
    fn seeds() -> Vec<Vec<u8>> {
        static SEEDS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
        SEEDS.get_or_init(make_seeds).clone()
    }

    fn make_seeds() -> Vec<Vec<u8>> {
        let key = SigningKey::from_seed(&[1; 32]);
        let signer = LogSigner::new("localhost/insyn", key.clone()).unwrap();
        let contract = ContractRef {
            municipality: "1480".parse().unwrap(),
            reference: "K-17".parse().unwrap(),
        };
        let entry = Statement::build_and_sign(
            Actor::Provider("5560360793".parse().unwrap()),
            Body::ReportSubmitted {
                contract,
                period: "2026-04".parse().unwrap(),
            },
            Some([5; 32]),
            &key,
        )
        .unwrap()
        .into_entry(1_764_000_000_000);
        let cp = Checkpoint::new("localhost/insyn", 1, entry.leaf_hash()).unwrap();
        let note = signer.sign_checkpoint(&cp).unwrap();
        let receipt = Receipt {
            entry: entry.clone(),
            index: 0,
            checkpoint: note.clone(),
            proof: vec![EMPTY_ROOT],
        };
        vec![
            entry.encode(),
            entry.statement().encode(),
            cp.to_text().into_bytes(),
            note,
            signer.verifier_key().into_bytes(),
            receipt.to_json().into_bytes(),
            b"tile/0/x001/x234/067.p/8".to_vec(),
            b"tile/entries/x123/456".to_vec(),
            encode_bundle(&[entry.encode(), vec![1, 2, 3]]).unwrap(),
            b"556036-0793".to_vec(),
            key.public_key().to_string().into_bytes(),
            key.key_id().to_string().into_bytes(),
        ]
    }

    fn all(data: &[u8]) {
        text_forms(data);
        entry(data);
        checkpoint(data);
        note(data);
        tile_path(data);
    }

    #[test]
    fn seeds_are_accepted_and_survive_the_targets() {
        let s = seeds();
        assert!(Entry::decode(&s[0]).is_ok());
        assert!(Statement::decode(&s[1]).is_ok());
        assert!(Checkpoint::parse(&s[2]).is_ok());
        let log = LogVerifier::new(
            "localhost/insyn",
            SigningKey::from_seed(&[1; 32]).public_key(),
        )
        .unwrap();
        assert!(log.verify_checkpoint(&s[3]).is_ok());
        assert!(LogVerifier::from_verifier_key(std::str::from_utf8(&s[4]).unwrap()).is_ok());
        assert!(Receipt::from_json(std::str::from_utf8(&s[5]).unwrap()).is_ok());
        assert!(Tile::parse_path(std::str::from_utf8(&s[6]).unwrap()).is_ok());
        assert!(Tile::parse_path(std::str::from_utf8(&s[7]).unwrap()).is_ok());
        assert_eq!(decode_bundle(&s[8]).unwrap().len(), 2);
        for seed in s {
            all(&seed);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            all(&data);
        }

        #[test]
        fn mutated_seeds_never_panic(
            which in 0usize..12,
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..6),
        ) {
            let mut data = seeds().swap_remove(which);
            for (at, byte, op) in edits {
                if data.is_empty() {
                    data.push(byte);
                    continue;
                }
                let i = at.index(data.len());
                match op {
                    0 => data[i] = byte,
                    1 => data[i] ^= 1 << (byte % 8),
                    2 => data.insert(i, byte),
                    _ => { data.truncate(i); }
                }
            }
            all(&data);
        }
    }
}

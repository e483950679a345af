//! Published reference values, checked against our implementation: the RFC 6962 test tree used
//! by certificate-transparency and transparency-dev/merkle, Go's and C2SP's signed-note and
//! cosignature examples, and the key hashes of real published verifier keys.

#![allow(
    clippy::unwrap_used,
    reason = "a test: a failed unwrap is a failed test"
)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use insyn_ledger::checkpoint::Checkpoint;
use insyn_ledger::hash::{Hash, from_hex, leaf_hash, to_hex};
use insyn_ledger::keys::SigningKey;
use insyn_ledger::merkle::{
    MemoryHashes, prove_consistency, prove_inclusion, root_from_leaves, tree_hash,
    verify_consistency, verify_inclusion,
};
use insyn_ledger::note::{CosignerVerifier, LogSigner, LogVerifier, NoteError, note_key_id};

/// The eight leaves of the RFC 6962 test tree.
const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// The roots of its first 1 to 8 leaves.
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn h(s: &str) -> Hash {
    from_hex(s).unwrap()
}

fn hs(v: &[&str]) -> Vec<Hash> {
    v.iter().map(|s| h(s)).collect()
}

fn reference_tree() -> (Vec<Hash>, MemoryHashes) {
    let leaves: Vec<Hash> = LEAVES
        .iter()
        .map(|l| leaf_hash(&hex::decode(l).unwrap()))
        .collect();
    let m = MemoryHashes::from_leaves(leaves.iter().copied());
    (leaves, m)
}

#[test]
fn rfc6962_reference_roots() {
    let (leaves, m) = reference_tree();
    assert_eq!(
        to_hex(&tree_hash(0, &m).unwrap()),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    for (i, want) in ROOTS.iter().enumerate() {
        let size = i as u64 + 1;
        assert_eq!(
            to_hex(&tree_hash(size, &m).unwrap()),
            *want,
            "stored root of size {size}"
        );
        assert_eq!(
            to_hex(&root_from_leaves(&leaves[..=i])),
            *want,
            "recursive root of size {size}"
        );
    }
}

#[test]
fn rfc6962_reference_inclusion_proofs() {
    let (leaves, m) = reference_tree();
    let cases: [(u64, u64, &[&str]); 5] = [
        (0, 1, &[]),
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for (index, size, want) in cases {
        let proof = prove_inclusion(size, index, &m).unwrap();
        assert_eq!(proof, hs(want), "inclusion of {index} in {size}");
        verify_inclusion(
            &proof,
            size,
            h(ROOTS[size as usize - 1]),
            index,
            leaves[index as usize],
        )
        .unwrap();
    }
}

#[test]
fn rfc6962_reference_consistency_proofs() {
    let (_, m) = reference_tree();
    let cases: [(u64, u64, &[&str]); 4] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for (old, new, want) in cases {
        let proof = prove_consistency(old, new, &m).unwrap();
        assert_eq!(proof, hs(want), "consistency {old} -> {new}");
        verify_consistency(
            &proof,
            old,
            h(ROOTS[old as usize - 1]),
            new,
            h(ROOTS[new as usize - 1]),
        )
        .unwrap();
        if !proof.is_empty() {
            assert!(
                verify_consistency(
                    &proof,
                    old,
                    h(ROOTS[new as usize - 1]),
                    new,
                    h(ROOTS[new as usize - 1])
                )
                .is_err()
            );
        }
    }
}

const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_SKEY_B64: &str = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PETER_TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_NOTE: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

#[test]
fn go_signed_note_example_verifies_and_is_reproduced() {
    let v = LogVerifier::from_verifier_key(PETER_VKEY).unwrap();
    assert_eq!(v.name(), "PeterNeumann");
    assert_eq!(v.note_key_id(), 0xc74f_20a3);
    assert_eq!(v.verifier_key(), PETER_VKEY);
    assert_eq!(v.verify_note(PETER_NOTE.as_bytes()).unwrap(), PETER_TEXT);

    // Ed25519 is deterministic: the published signing key reproduces the published note exactly.
    let raw = B64.decode(PETER_SKEY_B64).unwrap();
    assert_eq!(raw[0], 0x01);
    let signer = LogSigner::new(
        "PeterNeumann",
        SigningKey::from_seed(raw[1..].try_into().unwrap()),
    )
    .unwrap();
    assert_eq!(signer.verifier_key(), PETER_VKEY);
    assert_eq!(signer.sign_note(PETER_TEXT).unwrap(), PETER_NOTE.as_bytes());

    // The same key in Go's signer-key form.
    let skey = format!("PRIVATE+KEY+PeterNeumann+c74f20a3+{PETER_SKEY_B64}");
    let from_skey = LogSigner::from_note_signer_key(&skey).unwrap();
    assert_eq!(from_skey.verifier_key(), PETER_VKEY);
    assert_eq!(from_skey.to_note_signer_key().as_str(), skey);
    let wrong_hash = skey.replace("c74f20a3", "c74f20a4");
    let e = LogSigner::from_note_signer_key(&wrong_hash)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("the key hash does not match") && !e.contains(PETER_SKEY_B64),
        "{e}"
    );
    assert!(LogSigner::from_note_signer_key(PETER_VKEY).is_err());
    assert!(!format!("{from_skey:?}").contains(PETER_SKEY_B64));

    // A changed text fails; an unknown signer alone is not enough.
    let tampered = PETER_NOTE.replace("cryptography", "cryptographY");
    assert!(matches!(
        v.verify_note(tampered.as_bytes()),
        Err(NoteError::InvalidSignature { .. })
    ));
    let other = LogVerifier::from_verifier_key(
        "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop",
    )
    .unwrap();
    assert_eq!(
        other
            .verify_note(PETER_NOTE.as_bytes())
            .unwrap_err()
            .to_string(),
        "the note is not signed by the log key EnochRoot"
    );
}

#[test]
fn key_hashes_of_published_verifier_keys() {
    for (vkey, id) in [
        // The Go checksum database's key, as built into the go command. (A shortened form of it
        // circulating in notes, ending "s3Ekgq/8WZg1AV7XR", is not valid base64 of 33 bytes.)
        (
            "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8",
            0x033d_e0ae_u32,
        ),
        (PETER_VKEY, 0xc74f_20a3),
        (
            "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop",
            0xaf0c_fe78,
        ),
        // Its base64 contains a '+'.
        (
            "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6",
            0x7997_405c,
        ),
    ] {
        let v = LogVerifier::from_verifier_key(vkey).unwrap();
        assert_eq!(v.note_key_id(), id, "{vkey}");
        assert_eq!(note_key_id(v.name(), 0x01, &v.public_key().to_bytes()), id);
        assert_eq!(v.verifier_key(), vkey);
    }
    // A published tlog-cosignature/v1 (type 0x04) key.
    let cosigner = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2";
    let c = CosignerVerifier::from_verifier_key(cosigner).unwrap();
    assert_eq!(c.note_key_id(), 0xda77_ade7);
    assert_eq!(c.verifier_key(), cosigner);
    // Types are not interchangeable.
    assert!(LogVerifier::from_verifier_key(cosigner).is_err());
    assert!(CosignerVerifier::from_verifier_key(PETER_VKEY).is_err());
}

#[test]
fn mangled_verifier_keys_are_refused() {
    let b = PETER_VKEY.as_bytes();
    // Every proper substring and every single-byte change is refused.
    for i in 0..b.len() {
        for j in i + 1..=b.len() {
            if i == 0 && j == b.len() {
                continue;
            }
            let s = String::from_utf8_lossy(&b[i..j]);
            assert!(LogVerifier::from_verifier_key(&s).is_err(), "{s}");
        }
        let mut m = b.to_vec();
        m[i] = m[i].wrapping_add(1);
        if let Ok(s) = String::from_utf8(m) {
            assert!(LogVerifier::from_verifier_key(&s).is_err(), "{s}");
        }
    }
    assert_eq!(
        LogVerifier::from_verifier_key(
            "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        )
        .unwrap_err()
        .to_string(),
        "malformed verifier key \"PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW\": the key hash does not match the name and key"
    );
}

/// The cosigned checkpoint example of C2SP tlog-cosignature.
const C2SP_COSIGNED: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\u{2014} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";

#[test]
fn c2sp_cosignature_example_has_the_documented_layout() {
    let (text, sigs) = C2SP_COSIGNED.rsplit_once("\n\n").unwrap();
    let cp = Checkpoint::parse(format!("{text}\n").as_bytes()).unwrap();
    assert_eq!(
        (cp.origin(), cp.size()),
        ("example.com/behind-the-sofa", 20_852_163)
    );
    let line = sigs.lines().nth(1).unwrap();
    let b64 = line.rsplit(' ').next().unwrap();
    let raw = B64.decode(b64).unwrap();
    // key hash (4) || timestamp (8) || Ed25519 signature (64); the timestamp is the spec's
    // example "time 1679315147".
    assert_eq!(raw.len(), 4 + 8 + 64);
    assert_eq!(
        u64::from_be_bytes(raw[4..12].try_into().unwrap()),
        1_679_315_147
    );
    // Without the log's key the note cannot be accepted.
    let v = LogVerifier::from_verifier_key(PETER_VKEY).unwrap();
    assert!(matches!(
        v.verify_checkpoint(C2SP_COSIGNED.as_bytes()),
        Err(NoteError::NotSignedByLog(_))
    ));
}

/// The Go checksum database's verifier key, as built into the go command.
const SUMDB_VKEY: &str = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";

#[test]
fn real_signed_tree_heads_of_the_go_checksum_database_verify_strictly() {
    let v = LogVerifier::from_verifier_key(SUMDB_VKEY).unwrap();
    for (note, size) in [
        (
            "go.sum database tree\n65209736\n5+uGFjx6xBZG8ip1+wi77v+grwbhhukIrxEUS8PXvRo=\n\n\u{2014} sum.golang.org Az3grnbssgK7ubgFX36gVETtNv0U23qxyAhAMai2QUfeGa3nB/akvkMdlUErfcZz7l/R3cVtYspg3dxXABkGZZKdsQ8=\n",
            65_209_736,
        ),
        (
            "go.sum database tree\n31700353\nqINS1GRFhWHwdkUeqLEoP4yEMkTBBzxBkGwGQlVlVcs=\n\n\u{2014} sum.golang.org Az3grnmrIUEDFqHzAElIQCPNoRFRAAdFo47fooyWKMHb89k11GJh5zHIfNCOBmwn/C3YI8oW9/C8DJ87F61QqspBYwM=\n",
            31_700_353,
        ),
    ] {
        let text = v.verify_note(note.as_bytes()).unwrap();
        let cp = Checkpoint::parse(text.as_bytes()).unwrap();
        assert_eq!((cp.origin(), cp.size()), ("go.sum database tree", size));
        // Its origin is not its key name, so it is not a checkpoint of an Insyn-style log.
        assert!(matches!(
            v.verify_checkpoint(note.as_bytes()),
            Err(NoteError::WrongOrigin { .. })
        ));
        // One changed digit of the size breaks the signature.
        let forged = note.replacen(&size.to_string(), &(size + 1).to_string(), 1);
        assert!(matches!(
            v.verify_note(forged.as_bytes()),
            Err(NoteError::InvalidSignature { .. })
        ));
    }
}

/// A real checkpoint of a C2SP static-CT log (transparency.dev's staging "arche2025h1"), with the
/// log's RFC 6962 signature (type 0x05, ignored here), its Ed25519 note signature (type 0x01) and
/// cosignatures of public witnesses (type 0x04), one of them remora.n621.de.
const ARCHE: &str = "arche2025h1.staging.ct.transparency.dev
1432088532
U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=

\u{2014} arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=
\u{2014} arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=
\u{2014} transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYTzwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==
\u{2014} witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==
\u{2014} remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==
\u{2014} witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr+AJmIY/2TUFucgKi7lI7cUiOvKFYe/TmN9DAg==
";

#[test]
fn a_real_cosigned_checkpoint_verifies_with_its_log_key_and_a_witness_key() {
    let log = LogVerifier::from_verifier_key(
        "arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f",
    )
    .unwrap();
    let remora = CosignerVerifier::from_verifier_key(
        "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
    )
    .unwrap();
    // The log's other signature (same name, another key hash) and unknown witnesses are ignored.
    let cp = log.verify_checkpoint(ARCHE.as_bytes()).unwrap();
    assert_eq!(cp.size(), 1_432_088_532);
    let c = log
        .verify_cosigned_checkpoint(ARCHE.as_bytes(), std::slice::from_ref(&remora))
        .unwrap();
    assert_eq!(c.cosignatures.len(), 1);
    assert_eq!(c.cosignatures[0].name, "remora.n621.de");
    // The timestamp is the big-endian u64 after the key hash in the signature line.
    let line = ARCHE.lines().find(|l| l.contains("remora")).unwrap();
    let raw = B64.decode(line.rsplit(' ').next().unwrap()).unwrap();
    assert_eq!(
        c.cosignatures[0].timestamp,
        u64::from_be_bytes(raw[4..12].try_into().unwrap())
    );
    // A changed size breaks both the log's signature and the cosignature.
    let forged = ARCHE.replacen("1432088532", "1432088533", 1);
    assert!(log.verify_checkpoint(forged.as_bytes()).is_err());
    // The witness alone, as if it were the log, is not accepted: cosignatures sign another message.
    let as_log = LogVerifier::new("remora.n621.de", *remora.public_key()).unwrap();
    assert!(as_log.verify_note(ARCHE.as_bytes()).is_err());
}

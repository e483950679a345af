//! `docs/FORMAT.md` carries a worked example generated here. This test regenerates it and fails
//! if the page differs, and decodes and verifies the entry and receipt exactly as printed there,
//! so the page stays true. To refresh the page after a deliberate format change, run with
//! `INSYN_PRINT_FORMAT_EXAMPLE=1` and paste the printed block between the markers.

#![allow(
    clippy::unwrap_used,
    reason = "a test: a failed unwrap is a failed test"
)]

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use insyn_ledger::checkpoint::Checkpoint;
use insyn_ledger::entry::{Actor, Body, ContractRef, Entry, Statement};
use insyn_ledger::hash::{leaf_hash, sha256, to_hex};
use insyn_ledger::keys::SigningKey;
use insyn_ledger::merkle::{MemoryHashes, prove_inclusion};
use insyn_ledger::note::{Cosigner, LogSigner, LogVerifier};
use insyn_ledger::receipt::Receipt;

const BEGIN: &str = "<!-- BEGIN generated example: crates/ledger/tests/format_doc.rs -->\n";
const END: &str = "<!-- END generated example -->";

fn doc() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/FORMAT.md")).unwrap()
}

fn wrap(hex: &str) -> String {
    hex.as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8_lossy(c).into_owned() + "\n")
        .collect()
}

/// The example: a provider's report on a Stockholm contract, the second leaf of a small log.
fn example() -> String {
    let log = LogSigner::new("localhost/insyn", SigningKey::from_seed(&[1; 32])).unwrap();
    let provider_key = SigningKey::from_seed(&[2; 32]);
    let payload = br#"{"example":true}"#;
    let contract = ContractRef {
        municipality: "0180".parse().unwrap(),
        reference: "EXIT-2026-01".parse().unwrap(),
    };
    let signed = Statement::build_and_sign(
        Actor::Provider("5560360793".parse().unwrap()),
        Body::ReportSubmitted {
            contract,
            period: "2026-03".parse().unwrap(),
        },
        Some(sha256(payload)),
        &provider_key,
    )
    .unwrap();
    let st = signed.statement().encode();
    let entry = signed.clone().into_entry(1_764_000_000_000);
    let eb = entry.encode();

    // A tree of two leaves: a first entry (leaf 0, an operator statement) and the example (leaf 1).
    let first = log
        .sign_statement(
            Body::MunicipalityRegistered {
                municipality: "0180".parse().unwrap(),
            },
            None,
        )
        .unwrap()
        .into_entry(1_763_999_000_000);
    let tree = MemoryHashes::from_leaves([first.leaf_hash(), entry.leaf_hash()]);
    let cp = Checkpoint::new("localhost/insyn", 2, tree.root()).unwrap();
    let note = log.sign_checkpoint(&cp).unwrap();
    let receipt = Receipt {
        entry: entry.clone(),
        index: 1,
        checkpoint: note.clone(),
        proof: prove_inclusion(2, 1, &tree).unwrap(),
    };
    let witness = Cosigner::new("witness.example/w1", SigningKey::from_seed(&[3; 32])).unwrap();
    let cosigned = witness
        .cosign_note(&note, log.verifier(), 1_764_000_060)
        .unwrap();

    fn h(b: impl AsRef<[u8]>) -> String {
        hex::encode(b)
    }
    let mut o = String::new();
    let pk = provider_key.public_key().to_bytes();
    writeln!(
        o,
        "Keys (derived from fixed seeds, for this example only):\n"
    )
    .unwrap();
    writeln!(o, "- provider public key: `{}`", h(pk)).unwrap();
    writeln!(
        o,
        "- provider key ID = SHA-256(public key): `{}`",
        provider_key.key_id()
    )
    .unwrap();
    writeln!(o, "- log verifier key: `{}`", log.verifier_key()).unwrap();
    writeln!(
        o,
        "- cosigner verifier key: `{}`",
        witness.verifier().verifier_key()
    )
    .unwrap();
    writeln!(
        o,
        "- payload `{}`, SHA-256 `{}`\n",
        String::from_utf8_lossy(payload),
        h(sha256(payload))
    )
    .unwrap();

    writeln!(o, "Statement ({} bytes), field by field:\n", st.len()).unwrap();
    writeln!(o, "```text").unwrap();
    let rl = usize::from(st[49]);
    let fields: Vec<(&[u8], String)> = vec![
        (&st[0..1], "version 1".into()),
        (&st[1..2], "kind 6, ReportSubmitted".into()),
        (&st[2..3], "actor tag 3, provider".into()),
        (
            &st[3..13],
            "organisation number \"5560360793\" (ASCII)".into(),
        ),
        (&st[13..45], "key ID".into()),
        (&st[45..49], "contract municipality \"0180\" (ASCII)".into()),
        (&st[49..50], format!("contract reference length {rl}")),
        (
            &st[50..50 + rl],
            "contract reference \"EXIT-2026-01\" (ASCII)".into(),
        ),
        (&st[50 + rl..52 + rl], "period year 2026 (u16)".into()),
        (&st[52 + rl..53 + rl], "period month 3".into()),
        (&st[53 + rl..54 + rl], "payload flag 1".into()),
        (&st[54 + rl..], "SHA-256 of the payload".into()),
    ];
    for (bytes, what) in fields {
        writeln!(o, "{:<66}  {what}", h(bytes)).unwrap();
    }
    writeln!(o, "```\n").unwrap();
    writeln!(
        o,
        "Signed message = `insyn/entry/v1\\n` || statement:\n\n```hex\n{}```\n",
        wrap(&h(signed.statement().signing_message()))
    )
    .unwrap();
    writeln!(
        o,
        "Signature (Ed25519, 64 bytes):\n\n```hex\n{}```\n",
        wrap(&h(signed.signature().0))
    )
    .unwrap();
    writeln!(
        o,
        "Integration time 1764000000000 ms = `{}`.\n",
        h(1_764_000_000_000u64.to_be_bytes())
    )
    .unwrap();
    writeln!(
        o,
        "Entry = statement || signature || integration time ({} bytes):\n\n```hex entry\n{}```\n",
        eb.len(),
        wrap(&h(&eb))
    )
    .unwrap();
    writeln!(
        o,
        "Leaf hash = SHA-256(0x00 || entry): `{}`\n",
        to_hex(&leaf_hash(&eb))
    )
    .unwrap();
    writeln!(
        o,
        "Deduplication hash = SHA-256(statement || signature): `{}`\n",
        h(signed.dedupe_hash())
    )
    .unwrap();
    writeln!(o, "Leaf 0 of the example tree is an operator statement with leaf hash `{}`; the tree of size 2 has root `{}`. Signed checkpoint:\n", to_hex(&first.leaf_hash()), to_hex(&tree.root())).unwrap();
    writeln!(o, "```text\n{}```\n", String::from_utf8(note).unwrap()).unwrap();
    writeln!(
        o,
        "The same checkpoint cosigned by the cosigner at time 1764000060:\n\n```text\n{}```\n",
        String::from_utf8(cosigned).unwrap()
    )
    .unwrap();
    writeln!(
        o,
        "Receipt for leaf 1:\n\n```json receipt\n{}\n```",
        receipt.to_json()
    )
    .unwrap();
    o
}

fn between<'a>(doc: &'a str, open: &str) -> &'a str {
    let start = doc.find(open).unwrap() + open.len();
    let len = doc[start..].find("```").unwrap();
    &doc[start..start + len]
}

#[test]
fn the_worked_example_in_format_md_is_current() {
    let want = example();
    if std::env::var_os("INSYN_PRINT_FORMAT_EXAMPLE").is_some() {
        println!("{BEGIN}{want}{END}");
    }
    let d = doc();
    let start = d.find(BEGIN).expect("FORMAT.md has the BEGIN marker") + BEGIN.len();
    let end = d.find(END).expect("FORMAT.md has the END marker");
    assert!(
        d[start..end] == want,
        "docs/FORMAT.md's worked example is stale; regenerate it:\n{want}"
    );
}

#[test]
fn the_example_as_printed_decodes_and_verifies() {
    let d = doc();
    let hex: String = between(&d, "```hex entry\n").split_whitespace().collect();
    let bytes = hex::decode(hex).unwrap();
    let entry = Entry::decode(&bytes).unwrap();
    assert_eq!(entry.encode(), bytes);
    let provider = SigningKey::from_seed(&[2; 32]).public_key();
    entry.signed().verify_signature(&provider).unwrap();

    let vkey_line = d
        .lines()
        .find(|l| l.starts_with("- log verifier key: `"))
        .unwrap();
    let vkey = vkey_line
        .trim_start_matches("- log verifier key: `")
        .trim_end_matches('`');
    let verifier = LogVerifier::from_verifier_key(vkey).unwrap();
    let receipt = Receipt::from_json(between(&d, "```json receipt\n")).unwrap();
    assert_eq!(receipt.entry, entry);
    let cp = receipt.verify(&verifier).unwrap();
    assert_eq!(cp.size(), 2);
    let _ = B64.encode(&bytes);
}

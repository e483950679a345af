//! End to end through the public API: a small log built the way the sequencer builds it, then
//! checked the way an inspector and a provider check it.

#![allow(
    clippy::unwrap_used,
    reason = "a test: a failed unwrap is a failed test"
)]

use insyn_ledger::checkpoint::Checkpoint;
use insyn_ledger::entry::{Actor, Body, ContractRef, Entry, Statement};
use insyn_ledger::hash::sha256;
use insyn_ledger::history::{HistoryError, KeyHistory};
use insyn_ledger::keys::SigningKey;
use insyn_ledger::merkle::{self, MemoryHashes};
use insyn_ledger::note::{Cosigner, LogSigner, LogVerifier, NoteError};
use insyn_ledger::receipt::Receipt;

struct Log {
    signer: LogSigner,
    history: KeyHistory,
    tree: MemoryHashes,
    entries: Vec<Entry>,
}

impl Log {
    fn new() -> Self {
        let signer = LogSigner::new("localhost/insyn", SigningKey::from_seed(&[42; 32])).unwrap();
        let history = KeyHistory::new(signer.signing_key().public_key());
        Self {
            signer,
            history,
            tree: MemoryHashes::new(),
            entries: Vec::new(),
        }
    }

    fn append(&mut self, s: insyn_ledger::entry::SignedStatement) -> Result<u64, HistoryError> {
        self.history.check(&s)?;
        let e = s.into_entry(1_764_000_000_000 + self.tree.len());
        self.history.apply(&e)?;
        self.entries.push(e.clone());
        Ok(self.tree.push(e.leaf_hash()))
    }

    fn checkpoint(&self) -> Vec<u8> {
        let c = Checkpoint::new("localhost/insyn", self.tree.len(), self.tree.root()).unwrap();
        self.signer.sign_checkpoint(&c).unwrap()
    }
}

#[test]
fn a_log_from_registration_to_receipt() {
    let mut log = Log::new();
    let sthlm = Actor::Municipality("0180".parse().unwrap());
    let provider = Actor::Provider("5560360793".parse().unwrap());
    let muni_key = SigningKey::from_seed(&[1; 32]);
    let prov_key = SigningKey::from_seed(&[2; 32]);

    log.append(
        log.signer
            .sign_statement(
                Body::MunicipalityRegistered {
                    municipality: "0180".parse().unwrap(),
                },
                None,
            )
            .unwrap(),
    )
    .unwrap();
    log.append(
        log.signer
            .sign_statement(
                Body::KeyAdded {
                    subject: sthlm.clone(),
                    public_key: muni_key.public_key().to_bytes(),
                },
                None,
            )
            .unwrap(),
    )
    .unwrap();
    log.append(
        Statement::build_and_sign(
            sthlm.clone(),
            Body::ProviderRegistered {
                provider: "5560360793".parse().unwrap(),
            },
            Some(sha256(b"{}")),
            &muni_key,
        )
        .unwrap(),
    )
    .unwrap();
    log.append(
        Statement::build_and_sign(
            sthlm.clone(),
            Body::KeyAdded {
                subject: provider.clone(),
                public_key: prov_key.public_key().to_bytes(),
            },
            None,
            &muni_key,
        )
        .unwrap(),
    )
    .unwrap();
    let contract = ContractRef {
        municipality: "0180".parse().unwrap(),
        reference: "EXIT-2026-01".parse().unwrap(),
    };
    let report = Statement::build_and_sign(
        provider.clone(),
        Body::ReportSubmitted {
            contract: contract.clone(),
            period: "2026-01".parse().unwrap(),
        },
        Some(sha256(b"{\"caseload\":{}}")),
        &prov_key,
    )
    .unwrap();
    let index = log.append(report.clone()).unwrap();
    assert_eq!(index, 4);

    // A provider cannot register providers; an unknown key cannot sign.
    let e = log
        .append(
            Statement::build_and_sign(
                provider.clone(),
                Body::ProviderRegistered {
                    provider: "2021005489".parse().unwrap(),
                },
                None,
                &prov_key,
            )
            .unwrap(),
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "provider 556036-0793 may not sign ProviderRegistered entries"
    );
    let stranger = SigningKey::from_seed(&[9; 32]);
    let e = log
        .append(
            Statement::build_and_sign(
                provider.clone(),
                Body::ReportSubmitted {
                    contract,
                    period: "2026-02".parse().unwrap(),
                },
                Some([0; 32]),
                &stranger,
            )
            .unwrap(),
        )
        .unwrap_err();
    assert!(matches!(e, HistoryError::UnknownKey(_)));

    // The receipt verifies offline with the published verifier key only.
    let vkey = log.signer.verifier_key();
    let verifier = LogVerifier::from_verifier_key(&vkey).unwrap();
    let receipt = Receipt {
        entry: log.entries[4].clone(),
        index,
        checkpoint: log.checkpoint(),
        proof: merkle::prove_inclusion(log.tree.len(), index, &log.tree).unwrap(),
    };
    let cp = receipt.verify(&verifier).unwrap();
    assert_eq!(cp.size(), 5);
    receipt
        .verify_signed_by(&verifier, &prov_key.public_key())
        .unwrap();
    let json = receipt.to_json();
    let back = Receipt::from_json(&json).unwrap();
    assert_eq!(back, receipt);
    back.verify(&verifier).unwrap();

    // Tampering with anything breaks it.
    let mut bad = receipt.clone();
    bad.index = 3;
    assert!(bad.verify(&verifier).is_err());
    let mut bad = receipt.clone();
    bad.proof[0].0[0] ^= 1;
    assert!(bad.verify(&verifier).is_err());
    let mut bad = receipt.clone();
    let n = bad.checkpoint.len();
    bad.checkpoint[n - 10] ^= 1;
    assert!(bad.verify(&verifier).is_err());

    // Replaying the log from scratch reaches the same verdicts.
    let mut replay = KeyHistory::new(verifier.public_key().to_owned());
    for e in &log.entries {
        replay.apply(e).unwrap();
    }
    assert_eq!(replay.valid_keys(&provider).len(), 1);

    // A cosigner cosigns; the log verifier plus the cosigner's key see it.
    let witness = Cosigner::new("witness.example/w1", SigningKey::from_seed(&[3; 32])).unwrap();
    let cosigned = witness
        .cosign_note(&log.checkpoint(), &verifier, 1_764_000_000)
        .unwrap();
    let v = verifier
        .verify_cosigned_checkpoint(&cosigned, std::slice::from_ref(witness.verifier()))
        .unwrap();
    assert_eq!(v.cosignatures.len(), 1);
    assert_eq!(v.cosignatures[0].timestamp, 1_764_000_000);
    // The receipt re-issued with the cosigned checkpoint shows the cosignature.
    let mut cosigned_receipt = receipt.clone();
    cosigned_receipt.checkpoint = cosigned.clone();
    let c = cosigned_receipt
        .verify_cosigned(&verifier, std::slice::from_ref(witness.verifier()))
        .unwrap();
    assert_eq!(c.cosignatures.len(), 1);
    assert!(
        cosigned_receipt
            .verify_cosigned(&verifier, &[])
            .unwrap()
            .cosignatures
            .is_empty()
    );
    // Unknown cosigners are ignored by the plain verifier.
    verifier.verify_checkpoint(&cosigned).unwrap();
    // A bad cosignature from a known cosigner rejects the note.
    let text = String::from_utf8(cosigned).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let last = lines.pop().unwrap();
    let mut chars: Vec<char> = last.chars().collect();
    let k = chars.len() - 5;
    chars[k] = if chars[k] == 'A' { 'B' } else { 'A' };
    lines.push(chars.into_iter().collect());
    let tampered = lines.join("\n") + "\n";
    assert!(matches!(
        verifier.verify_cosigned_checkpoint(
            tampered.as_bytes(),
            std::slice::from_ref(witness.verifier())
        ),
        Err(NoteError::InvalidSignature { .. })
    ));
}

//! The providers' and inspectors' command line against the real server: keys made and kept in
//! files, reports signed offline and submitted later, receipts stored and proven, keys rotated
//! and revoked as ledger entries, whole-log verification that resumes, export bundles verified
//! offline, and a witness whose cosignatures the server publishes.

use std::path::{Path, PathBuf};

use insyn_ledger::note::{CosignerVerifier, LogVerifier};
use serde_json::{Value, json};

use crate::harness::{Db, databases, insyn};
use crate::submissions::{Client, World};

/// Runs `insyn` and insists on success, returning stdout.
pub fn ok(args: &[&str]) -> String {
    let (ok, out, err) = insyn(args);
    assert!(ok, "insyn {args:?} failed:\n{out}\n{err}");
    out
}

/// Runs `insyn` and insists on failure, returning stdout + stderr.
pub fn fails(args: &[&str]) -> String {
    let (ok, out, err) = insyn(args);
    assert!(!ok, "insyn {args:?} should have failed:\n{out}\n{err}");
    format!("{out}\n{err}")
}

/// The value after `prefix` on the first line that has it.
pub fn field(out: &str, prefix: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} in:\n{out}"))
        .trim()
        .to_owned()
}

pub fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

/// The `--data-dir` (and `--database-url`) arguments that reach a server's database.
pub fn data_args(c: &Client) -> Vec<String> {
    let mut v = vec!["--data-dir".to_owned(), s(&c.server.data_dir)];
    if let Some(url) = c.server.database_url() {
        v.extend(["--database-url".to_owned(), url]);
    }
    v
}

/// `--server`, `--log-key`, `--receipts`.
pub fn server_args(c: &Client, receipts: &Path) -> Vec<String> {
    vec![
        "--server".into(),
        c.server.url.clone(),
        "--log-key".into(),
        c.log.verifier_key(),
        "--receipts".into(),
        s(receipts),
    ]
}

fn run(args: &[String]) -> String {
    let v: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&v)
}

fn run_fails(args: &[String]) -> String {
    let v: Vec<&str> = args.iter().map(String::as_str).collect();
    fails(&v)
}

fn cmd(parts: &[&str], rest: &[String]) -> Vec<String> {
    parts
        .iter()
        .map(|p| (*p).to_owned())
        .chain(rest.iter().cloned())
        .collect()
}

struct Files {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Files {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        Self { _tmp: tmp, dir }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn municipality_key_file(w: &World, f: &Files) -> PathBuf {
    let p = f.path("municipality.key");
    std::fs::write(&p, w.municipality_key.to_text().as_bytes()).unwrap();
    p
}

#[tokio::test]
async fn a_provider_keeps_its_key_signs_offline_submits_proves_rotates_and_revokes() {
    for db in databases("cli_provider") {
        let c = Client::start(&db).await;
        let w = World::register(&c).await;
        let f = Files::new();
        let receipts = f.path("receipts");
        let srv = server_args(&c, &receipts);
        let mkey = municipality_key_file(&w, &f);
        let org = w.provider.to_string();

        // keygen: 0600, refuses to overwrite, prints the public key and key ID.
        let key1 = f.path("provider.key");
        let out = ok(&["provider", "keygen", "--out", &s(&key1)]);
        let pk1 = field(&out, "public key:");
        let id1 = field(&out, "key ID:");
        assert_eq!(pk1.len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key1).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "the key file is readable by its owner only");
        }
        let before = std::fs::read(&key1).unwrap();
        let out = fails(&["provider", "keygen", "--out", &s(&key1)]);
        assert!(out.contains("refusing to overwrite"), "{out}");
        assert_eq!(std::fs::read(&key1).unwrap(), before);

        // The municipality registers the key, through the command line too.
        run(&cmd(
            &[
                "municipality",
                "--key",
                &s(&mkey),
                "--municipality",
                "0180",
                "add-provider-key",
                &org,
                "--public-key",
                &pk1,
            ],
            &srv,
        ));

        // Signing validates like the server and lists every problem; nothing is written then.
        let mut bad: Value = serde_json::from_slice(&w.report("2026-03")).unwrap();
        bad["caseload"]["active"] = json!(-1);
        bad["costs_sek"] = json!("a lot");
        let bad_path = f.path("bad.json");
        std::fs::write(&bad_path, serde_json::to_vec(&bad).unwrap()).unwrap();
        let out = fails(&[
            "provider",
            "sign",
            &s(&bad_path),
            "--key",
            &s(&key1),
            "--out",
            &s(&f.path("bad.signed")),
        ]);
        assert!(
            out.contains("/caseload/active") && out.contains("/costs_sek"),
            "every problem listed:\n{out}"
        );
        assert!(!f.path("bad.signed").exists());
        // A contract that is not the report's is refused as the server would.
        let report = f.path("2026-03.json");
        std::fs::write(&report, w.report("2026-03")).unwrap();
        let out = fails(&[
            "provider",
            "sign",
            &s(&report),
            "--key",
            &s(&key1),
            "--contract",
            "0180/OTHER-1",
            "--out",
            &s(&f.path("x.signed")),
        ]);
        assert!(out.contains("/contract"), "{out}");

        // Sign offline, submit later: the same bytes; the receipt is verified and stored.
        let signed = f.path("2026-03.signed.json");
        ok(&[
            "provider",
            "sign",
            &s(&report),
            "--key",
            &s(&key1),
            "--contract",
            "0180/SOC-2025-017",
            "--period",
            "2026-03",
            "--out",
            &s(&signed),
        ]);
        let out = run(&cmd(&["provider", "submit", &s(&signed)], &srv));
        assert!(out.contains("integrated as entry"), "{out}");
        let index: u64 = out
            .split("entry ")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let again = run(&cmd(&["provider", "submit", &s(&signed)], &srv));
        assert!(
            again.contains(&format!("already in the log as entry {index}")),
            "{again}"
        );
        let list = ok(&["provider", "receipts", "--receipts", &s(&receipts)]);
        assert!(
            list.contains("ReportSubmitted") && list.contains(&index.to_string()),
            "{list}"
        );

        // The log grows; the receipt is proven against the latest checkpoint.
        let r4 = f.path("2026-04.json");
        std::fs::write(&r4, w.report("2026-04")).unwrap();
        let s4 = f.path("2026-04.signed.json");
        ok(&[
            "provider",
            "sign",
            &s(&r4),
            "--key",
            &s(&key1),
            "--out",
            &s(&s4),
        ]);
        run(&cmd(&["provider", "submit", &s(&s4)], &srv));
        let out = run(&cmd(&["provider", "prove", &index.to_string()], &srv));
        assert!(
            out.contains("is consistent with the latest checkpoint"),
            "{out}"
        );
        // A receipt tampered with on disk does not prove.
        let rpath = receipts.join(format!("entry-{index}.json"));
        let text = std::fs::read_to_string(&rpath).unwrap();
        let mut v: Value = serde_json::from_str(&text).unwrap();
        v["index"] = json!(index + 1);
        std::fs::write(&rpath, v.to_string()).unwrap();
        let out = run_fails(&cmd(&["provider", "prove", &index.to_string()], &srv));
        assert!(out.contains("verification failed"), "{out}");
        std::fs::write(&rpath, text).unwrap();

        // Rotation: a new key added by the provider itself, then the old one revoked with it.
        let key2 = f.path("provider2.key");
        let out = ok(&["provider", "keygen", "--out", &s(&key2)]);
        let pk2 = field(&out, "public key:");
        run(&cmd(
            &[
                "provider",
                "add-key",
                "--key",
                &s(&key1),
                "--provider",
                &org,
                "--new-public-key",
                &pk2,
            ],
            &srv,
        ));
        // A report signed with the old key before its revocation, submitted after it, is refused.
        let r5 = f.path("2026-05.json");
        std::fs::write(&r5, w.report("2026-05")).unwrap();
        let s5_old = f.path("2026-05.old.signed.json");
        ok(&[
            "provider",
            "sign",
            &s(&r5),
            "--key",
            &s(&key1),
            "--out",
            &s(&s5_old),
        ]);
        run(&cmd(
            &[
                "provider",
                "revoke-key",
                "--key",
                &s(&key2),
                "--provider",
                &org,
                "--key-id",
                &id1,
            ],
            &srv,
        ));
        let out = run_fails(&cmd(&["provider", "submit", &s(&s5_old)], &srv));
        assert!(out.contains("refused") && out.contains("revoked"), "{out}");
        let s5 = f.path("2026-05.signed.json");
        ok(&[
            "provider",
            "sign",
            &s(&r5),
            "--key",
            &s(&key2),
            "--out",
            &s(&s5),
        ]);
        run(&cmd(&["provider", "submit", &s(&s5)], &srv));

        // The whole log verifies, with every signature against the key history.
        let state = f.path("inspector");
        let out = ok(&[
            "verify",
            "--server",
            &c.server.url,
            "--log-key",
            &c.log.verifier_key(),
            "--state",
            &s(&state),
            "--quiet",
        ]);
        assert!(out.contains("OK: the log verifies"), "{out}");
        let _ = &db;
    }
}

fn verify_args(c: &Client, state: &Path) -> Vec<String> {
    vec![
        "verify".into(),
        "--server".into(),
        c.server.url.clone(),
        "--log-key".into(),
        c.log.verifier_key(),
        "--state".into(),
        s(state),
        "--quiet".into(),
    ]
}

async fn submit_reports(c: &Client, w: &World, months: std::ops::RangeInclusive<u32>) {
    for m in months {
        let p = format!("2026-{m:02}");
        let r = w.report(&p);
        c.must_submit(&w.report_statement(&p, &r), Some(&r)).await;
    }
}

#[tokio::test]
async fn an_inspector_verifies_resumes_exports_and_a_witness_cosigns() {
    for db in databases("cli_inspector") {
        let c = Client::start(&db).await;
        let w = World::register(&c).await;
        submit_reports(&c, &w, 1..=3).await;
        let f = Files::new();
        let state = f.path("inspector");

        let out = run(&verify_args(&c, &state));
        assert!(out.contains("OK: the log verifies; state saved"), "{out}");
        let size1: u64 = field(&out, "checkpoint: size")
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();

        // Resume: only the new entries are read from the server.
        submit_reports(&c, &w, 4..=6).await;
        let out = run(&verify_args(&c, &state));
        assert!(out.contains("OK"), "{out}");
        assert!(
            out.contains(&format!(
                "previously verified by this inspector: {size1} entries"
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "entries verified from the log: 3 (from index {size1})"
            )),
            "{out}"
        );
        // Nothing new: nothing to read.
        let out = run(&verify_args(&c, &state));
        assert!(
            out.contains(&format!(
                "entries verified from the log: 0 (from index {})",
                size1 + 3
            )),
            "{out}"
        );
        // --full re-reads everything and compares it with what was verified before.
        let mut full = verify_args(&c, &state);
        full.push("--full".into());
        let out = run(&full);
        assert!(
            out.contains(&format!(
                "entries verified from the log: {} (from index 0)",
                size1 + 3
            )),
            "{out}"
        );

        // The wrong log key is refused outright.
        let other = insyn_ledger::note::LogSigner::new(
            "localhost/insyn",
            insyn_ledger::keys::SigningKey::generate(),
        )
        .unwrap();
        let out = fails(&[
            "verify",
            "--server",
            &c.server.url,
            "--log-key",
            &other.verifier_key(),
            "--no-state",
            "--quiet",
        ]);
        assert!(
            out.contains("does not verify with the given log key"),
            "{out}"
        );

        // A witness cosigns; the server verifies, stores and publishes the cosignature.
        let wkey = f.path("witness.key");
        let out = ok(&[
            "witness",
            "keygen",
            "--out",
            &s(&wkey),
            "--name",
            "inspector.example/witness",
        ]);
        let wvkey = field(&out, "witness verifier key:");
        let witness_args = |more: &[&str]| -> Vec<String> {
            let mut v: Vec<String> = vec![
                "witness".into(),
                "cosign".into(),
                "--key".into(),
                s(&wkey),
                "--name".into(),
                "inspector.example/witness".into(),
                "--log-key".into(),
                c.log.verifier_key(),
                "--state".into(),
                s(&f.path("witness.json")),
                "--server".into(),
                c.server.url.clone(),
            ];
            v.extend(more.iter().map(|m| (*m).to_owned()));
            v
        };
        let out = run(&witness_args(&[]));
        assert!(out.contains("cosigned checkpoint size"), "{out}");
        submit_reports(&c, &w, 7..=7).await;
        let out = run(&witness_args(&[]));
        assert!(out.contains("consistent with size"), "{out}");
        let note = reqwest::get(c.server.at("/api/v1/checkpoints/latest/cosigned"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let cv = CosignerVerifier::from_verifier_key(&wvkey).unwrap();
        let verified = c
            .log
            .verify_cosigned_checkpoint(note.as_bytes(), &[cv])
            .unwrap();
        assert_eq!(verified.cosignatures.len(), 1, "{note}");
        assert_eq!(verified.cosignatures[0].name, "inspector.example/witness");

        // Export (server side, from the database) and verify offline with the same engine.
        let bundle = f.path("log.insyn");
        let mut export = vec!["export".to_owned(), "--out".into(), s(&bundle)];
        export.extend(data_args(&c));
        let out = run(&export);
        assert!(out.contains("1 cosignatures"), "{out}");
        let out = ok(&[
            "verify",
            "--bundle",
            &s(&bundle),
            "--log-key",
            &c.log.verifier_key(),
            "--no-state",
            "--quiet",
        ]);
        assert!(out.contains("OK: the log verifies"), "{out}");
        // The bundle resumes the inspector's state too.
        let out = ok(&[
            "verify",
            "--bundle",
            &s(&bundle),
            "--log-key",
            &c.log.verifier_key(),
            "--state",
            &s(&state),
            "--quiet",
        ]);
        assert!(out.contains("OK"), "{out}");
        // A damaged bundle is refused.
        let mut bytes = std::fs::read(&bundle).unwrap();
        bytes.truncate(bytes.len() - 1);
        let cut = f.path("cut.insyn");
        std::fs::write(&cut, &bytes).unwrap();
        let out = fails(&[
            "verify",
            "--bundle",
            &s(&cut),
            "--log-key",
            &c.log.verifier_key(),
            "--no-state",
            "--quiet",
        ]);
        assert!(out.contains("truncated"), "{out}");
        let _: (&Db, &LogVerifier) = (&db, &c.log);
    }
}

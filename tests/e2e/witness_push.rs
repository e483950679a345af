//! `insyn serve --witness 'URL VKEY'`: the server pushes each new checkpoint to an
//! `insyn witness serve` (C2SP tlog-witness), checks the cosignature it gets back with the
//! witness's key, stores it and publishes it at `/api/v1/checkpoints/latest/cosigned`; it learns
//! the witness's size from a 409 after a restart, and keeps retrying a witness that is down.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use insyn_ledger::keys::SigningKey;
use insyn_ledger::note::{CosignedCheckpoint, CosignerVerifier, LogSigner, LogVerifier};

use crate::cli::{field, ok, s};
use crate::harness::{Db, Server, databases};
use crate::submissions::{Client, World};

const WITNESS: &str = "witness.example/w1";

/// A running `insyn witness serve`, killed when dropped.
struct WitnessProc {
    child: Child,
    url: String,
}

impl WitnessProc {
    fn start(key: &Path, state: &Path, log_key: &str, listen: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_insyn"))
            .args(["witness", "serve", "--key", &s(key), "--name", WITNESS])
            .args([
                "--log-key",
                log_key,
                "--state",
                &s(state),
                "--listen",
                listen,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("insyn witness serve starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("the witness says where it listens")
                .unwrap();
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.trim().to_owned();
            }
        };
        // Keep reading so the witness never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, url }
    }
}

impl Drop for WitnessProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A data directory whose log key exists before the server starts, so the witness can be told
/// the log's verifier key first.
fn data_dir_with_log_key(dir: &Path) -> (PathBuf, LogVerifier) {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let key = SigningKey::generate();
    std::fs::write(data.join("log.key"), key.to_text().as_bytes()).unwrap();
    let log = LogSigner::new("localhost/insyn", key)
        .unwrap()
        .verifier()
        .clone();
    (data, log)
}

fn witness_key(dir: &Path) -> (PathBuf, CosignerVerifier) {
    let key = dir.join("witness.key");
    let out = ok(&["witness", "keygen", "--out", &s(&key), "--name", WITNESS]);
    let vkey = field(&out, "witness verifier key:");
    (key, CosignerVerifier::from_verifier_key(&vkey).unwrap())
}

async fn latest_cosigned(c: &Client, witness: &CosignerVerifier) -> CosignedCheckpoint {
    let note = reqwest::get(c.server.at("/api/v1/checkpoints/latest/cosigned"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // A listed witness's bad cosignature would make this fail.
    c.log
        .verify_cosigned_checkpoint(note.as_bytes(), std::slice::from_ref(witness))
        .unwrap_or_else(|e| panic!("the cosigned checkpoint does not verify: {e}\n{note}"))
}

/// Waits until the latest published checkpoint has `size` entries and the witness's cosignature.
async fn wait_cosigned(c: &Client, witness: &CosignerVerifier, size: u64, within: Duration) {
    let start = Instant::now();
    loop {
        let cp = latest_cosigned(c, witness).await;
        if cp.checkpoint.size() == size && cp.cosignatures.iter().any(|x| x.name == WITNESS) {
            return;
        }
        assert!(
            start.elapsed() < within,
            "no cosignature of size {size} after {within:?}; latest: size {} with {:?}",
            cp.checkpoint.size(),
            cp.cosignatures
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn report(c: &Client, w: &World, month: u32) {
    let p = format!("2026-{month:02}");
    let r = w.report(&p);
    c.must_submit(&w.report_statement(&p, &r), Some(&r)).await;
}

fn serve(data: &Path, db: &Db, witness_url: &str, witness: &CosignerVerifier) -> Server {
    let target = format!("{witness_url} {}", witness.verifier_key());
    Server::start_in(data, db, &["--witness", &target])
}

fn witness_size(state: &Path) -> u64 {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state).unwrap()).unwrap();
    v["size"].as_u64().unwrap()
}

#[tokio::test]
async fn a_server_pushes_its_checkpoints_to_a_witness_and_publishes_the_cosignatures() {
    for db in databases("witness_push") {
        let tmp = tempfile::tempdir().unwrap();
        let (data, log) = data_dir_with_log_key(tmp.path());
        let (wkey, wv) = witness_key(tmp.path());
        let wstate = tmp.path().join("witness.json");
        let witness = WitnessProc::start(&wkey, &wstate, &log.verifier_key(), "127.0.0.1:0");

        let c = Client::attach(serve(&data, &db, &witness.url, &wv), log.clone());
        let w = World::register(&c).await;
        report(&c, &w, 1).await;
        report(&c, &w, 2).await;
        let size = c.size().await;
        wait_cosigned(&c, &wv, size, Duration::from_secs(30)).await;
        assert_eq!(witness_size(&wstate), size);

        // After a restart the server no longer knows the witness's size: the witness answers
        // 409 with it, and the server proves consistency from there.
        drop(c);
        let c = Client::attach(serve(&data, &db, &witness.url, &wv), log.clone());
        report(&c, &w, 3).await;
        let size2 = c.size().await;
        assert!(size2 > size);
        wait_cosigned(&c, &wv, size2, Duration::from_secs(30)).await;
        assert_eq!(witness_size(&wstate), size2);
    }
}

#[tokio::test]
async fn a_witness_that_is_down_at_first_cosigns_once_it_is_up() {
    for db in databases("witness_push_down") {
        let tmp = tempfile::tempdir().unwrap();
        let (data, log) = data_dir_with_log_key(tmp.path());
        let (wkey, wv) = witness_key(tmp.path());
        let wstate = tmp.path().join("witness.json");
        // A port nobody listens on yet.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let url = format!("http://{addr}");

        let c = Client::attach(serve(&data, &db, &url, &wv), log.clone());
        let w = World::register(&c).await;
        report(&c, &w, 1).await;
        let size = c.size().await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let cp = latest_cosigned(&c, &wv).await;
        assert_eq!(cp.checkpoint.size(), size);
        assert!(cp.cosignatures.is_empty(), "{:?}", cp.cosignatures);

        let _witness = WitnessProc::start(&wkey, &wstate, &log.verifier_key(), &addr.to_string());
        wait_cosigned(&c, &wv, size, Duration::from_secs(60)).await;
    }
}

//! Graceful shutdown of the real binary: SIGTERM (or Ctrl-C) while submitters are busy. The
//! process exits 0 in bounded time; every submission answered 201 is in the log after a restart,
//! and every one that was not answered with a receipt is not.

use std::collections::{BTreeMap, VecDeque};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use insyn_ledger::receipt::Receipt;

use crate::crash::{Item, Mirror, Seen, presign_reports, verifier_of};
use crate::harness::{Db, Server, databases};
use crate::submissions::{Client, World};

/// Item id -> status (0: no answer) and, for 200/201, the receipt.
type Outcomes = BTreeMap<usize, (u16, Option<Receipt>)>;

/// How long the server may take to stop after the signal.
const STOP_WITHIN: Duration = Duration::from_secs(30);

async fn stop_under_load(db: &Db, signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let server = Server::start_in(&data_dir, db, &[]);
    let log = verifier_of(&server);
    let c = Client::attach(server, log.clone());
    let w = World::register(&c).await;
    let items = presign_reports(&c, &w, 400, "TERM").await;
    let setup = c.size().await;
    let mut server = c.server;
    let url = server.url.clone();

    let queue: Arc<Mutex<VecDeque<Item>>> = Arc::new(Mutex::new(items.iter().cloned().collect()));
    // Item id -> status (0: no answer) and, for 200/201, the receipt's index.
    let outcomes: Arc<Mutex<Outcomes>> = Arc::default();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (queue, outcomes, url) = (queue.clone(), outcomes.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            loop {
                let Some(item) = queue.lock().unwrap().pop_front() else {
                    break;
                };
                let sent = http
                    .post(format!("{url}/api/v1/entries"))
                    .json(&*item.body)
                    .timeout(Duration::from_secs(60))
                    .send()
                    .await;
                let outcome = match sent {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        match r.text().await {
                            Ok(text) if status == 201 || status == 200 => {
                                (status, Some(Receipt::from_json(&text).unwrap()))
                            }
                            Ok(_) => (status, None),
                            Err(_) => (0, None),
                        }
                    }
                    Err(_) => (0, None),
                };
                let refused = outcome.0 != 201;
                outcomes.lock().unwrap().insert(item.id, outcome);
                if refused {
                    // The server is going away: stop sending.
                    break;
                }
            }
        }));
    }
    // Let the load build up, then ask the server to stop.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let sent_at = Instant::now();
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(server.pid().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::block_in_place(|| server.wait_exit(STOP_WITHIN));
    let took = sent_at.elapsed();
    let exit = exit.unwrap_or_else(|| {
        panic!("insyn serve did not stop within {STOP_WITHIN:?} of SIG{signal}")
    });
    assert!(
        exit.success(),
        "insyn serve exited with {exit} after SIG{signal}"
    );
    for t in tasks {
        t.await.unwrap();
    }
    drop(server);

    let outcomes = outcomes.lock().unwrap().clone();
    let created = outcomes.values().filter(|(s, _)| *s == 201).count();
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for (s, _) in outcomes.values() {
        *by_status.entry(*s).or_default() += 1;
    }
    assert!(
        created > 0,
        "the load had begun before the signal: {by_status:?}"
    );

    let server = Server::start_in(&data_dir, db, &[]);
    let mut seen = Seen::default();
    let mut prove = Vec::new();
    for (id, (_, receipt)) in &outcomes {
        if let Some(r) = receipt {
            let cp = r.verify(&log).unwrap();
            seen.checkpoint(cp.size(), cp.root());
            seen.receipts
                .entry(*id)
                .or_default()
                .push((r.index, r.entry.leaf_hash()));
            prove.push((r.index, r.entry.leaf_hash()));
        }
    }
    let mut mirror = Mirror::default();
    let fresh: Vec<u64> = seen.checkpoints.keys().copied().collect();
    let size = mirror.check(&server.url, &log, &seen, &fresh, &prove).await;
    // Exactly the acknowledged ones are in the log: nothing half-done, nothing unacknowledged.
    assert_eq!(
        size as usize,
        setup as usize + created,
        "the log holds exactly the submissions answered 201 ({by_status:?})"
    );
    for item in &items {
        let in_log = mirror.dedupes.contains_key(&item.dedupe);
        match outcomes.get(&item.id) {
            Some((201, _)) => assert!(
                in_log,
                "report {} was answered 201 but is not in the log",
                item.id
            ),
            Some((status, _)) => assert!(
                !in_log,
                "report {} was answered {status} (0 = no answer) but is in the log",
                item.id
            ),
            None => assert!(
                !in_log,
                "report {} was never sent but is in the log",
                item.id
            ),
        }
    }
    eprintln!(
        "SHUTDOWN {db:?} SIG{signal}: exited 0 after {took:?}; answers {by_status:?} (0 = no answer); log size {size} = {setup} + {created} acknowledged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_finishes_or_refuses_every_submission_and_exits_0() {
    for db in databases("shutdown") {
        stop_under_load(&db, "TERM").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ctrl_c_under_load_finishes_or_refuses_every_submission_and_exits_0() {
    stop_under_load(&Db::Sqlite, "INT").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_request_cannot_hold_shutdown_forever() {
    use std::io::Write;
    let mut server = Server::start(&Db::Sqlite, &["--shutdown-grace-secs", "2"]);
    let addr = server.url.trim_start_matches("http://").to_owned();
    // Half a request: headers promise a body that never comes.
    let mut stuck = std::net::TcpStream::connect(&addr).unwrap();
    stuck
        .write_all(
            b"POST /api/v1/entries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"st",
        )
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent_at = Instant::now();
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(server.pid().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::block_in_place(|| server.wait_exit(Duration::from_secs(20)))
        .expect("insyn serve stops although a request never finished");
    assert!(exit.success(), "{exit}");
    let took = sent_at.elapsed();
    assert!(
        took >= Duration::from_secs(2),
        "the request got its grace period: {took:?}"
    );
    eprintln!("SHUTDOWN with a stuck request: exited 0 after {took:?} (grace 2 s)");
    drop(stuck);
}

//! Rate limits of the real server: per signing actor on submissions and per client address on
//! every API request; `429` problem+json with `Retry-After`, nothing stored, and the client gets
//! through once it has waited as told.

use std::time::Duration;

use crate::crash::{presign_reports, verifier_of};
use crate::faults::{Answer, get, post_item};
use crate::harness::{Db, Server};
use crate::submissions::{Client, World};

fn assert_too_many(a: &Answer, what: &str) -> u64 {
    assert_eq!(a.status, 429, "{what}: {}", a.body);
    assert_eq!(a.content_type, "application/problem+json", "{what}");
    assert_eq!(a.body["status"], 429, "{what}");
    assert!(
        a.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("too many requests")),
        "{what}: {}",
        a.body
    );
    a.retry_after
        .as_deref()
        .and_then(|s| s.parse().ok())
        .filter(|s| *s >= 1)
        .unwrap_or_else(|| panic!("{what}: a 429 carries Retry-After in whole seconds"))
}

#[tokio::test]
async fn a_signer_over_its_limit_gets_429_with_retry_after_and_nothing_is_stored() {
    let server = Server::start(
        &Db::Sqlite,
        &[
            "--rate-limit-actor-per-second",
            "1",
            "--rate-limit-actor-burst",
            "5",
        ],
    );
    let log = verifier_of(&server);
    let c = Client::attach(server, log);
    // The municipality signs 4 statements here (provider, contract, key, one more contract).
    let w = World::register(&c).await;
    let items = presign_reports(&c, &w, 8, "RATE").await;
    let url = c.server.url.clone();
    let mut created = 0;
    let mut limited = None;
    for item in &items {
        let a = post_item(&url, item).await;
        match a.status {
            201 => created += 1,
            429 => {
                limited = Some((
                    item,
                    assert_too_many(&a, "the provider's 6th report at once"),
                ));
                break;
            }
            other => panic!("unexpected {other}: {}", a.body),
        }
    }
    let (item, retry_after) = limited.expect("the provider was limited");
    assert!(
        (5..=6).contains(&created),
        "the burst of 5 passed (one more may have refilled): {created}"
    );
    let size = c.size().await;
    // Waiting as told lets the same submission through; it was not stored before (201, not 200).
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    let a = post_item(&url, item).await;
    assert_eq!(a.status, 201, "after Retry-After: {}", a.body);
    assert_eq!(c.size().await, size + 1);
}

#[tokio::test]
async fn a_client_address_over_its_limit_gets_429_on_every_api_route() {
    let server = Server::start(
        &Db::Sqlite,
        &[
            "--rate-limit-address-per-second",
            "1",
            "--rate-limit-address-burst",
            "15",
        ],
    );
    let url = server.url.clone();
    let mut answered = 0;
    let retry_after = loop {
        let a = get(&url, "/checkpoint").await;
        if a.status == 429 {
            break assert_too_many(&a, "the 16th request at once");
        }
        assert_eq!(a.status, 200, "{}", a.body);
        answered += 1;
        assert!(answered <= 16, "the address was never limited");
    };
    // The limit is the address's, whatever the route.
    assert_too_many(&get(&url, "/api/v1/log").await, "another API route");
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    assert_eq!(get(&url, "/api/v1/log").await.status, 200);
    drop(server);
}

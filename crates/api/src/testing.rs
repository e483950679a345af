//! Test support: the real router over a fresh SQLite store, requests from a client address, and
//! problem+json bodies.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request as HttpRequest, header};
use axum::response::Response;
use insyn_ledger::keys::SigningKey;
use insyn_ledger::note::LogSigner;
use insyn_store::{Sequencer, SequencerConfig, Store};

use crate::policy::LedgerPolicy;
use crate::ratelimit::RateLimitConfig;
use crate::{ApiState, router_with_limits};

pub(crate) async fn app(dir: &std::path::Path, limits: RateLimitConfig) -> axum::Router {
    let url = format!("sqlite://{}?mode=rwc", dir.join("insyn.db").display());
    let store = Store::connect(&url).await.expect("store");
    let signer =
        LogSigner::new("localhost/insyn", SigningKey::from_seed(&[7; 32])).expect("signer");
    let log_key = *signer.verifier().public_key();
    let (sequencer, _task) = Sequencer::start(
        store.clone(),
        signer.clone(),
        move || LedgerPolicy::new(log_key),
        SequencerConfig::default(),
    )
    .await
    .expect("sequencer");
    router_with_limits(
        ApiState {
            store,
            log: Arc::new(signer.verifier().clone()),
            sequencer: Arc::new(sequencer),
        },
        &limits,
    )
}

pub(crate) fn from(addr: &str, req: HttpRequest<Body>) -> HttpRequest<Body> {
    let mut req = req;
    let addr: SocketAddr = addr.parse().expect("address");
    req.extensions_mut().insert(ConnectInfo(addr));
    req
}

pub(crate) async fn problem(r: Response) -> serde_json::Value {
    assert_eq!(
        r.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );
    let bytes = axum::body::to_bytes(r.into_body(), 1 << 20)
        .await
        .expect("body");
    serde_json::from_slice(&bytes).expect("json")
}

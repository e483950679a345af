//! A provider's life through the real server: registration by its municipality, a signed report,
//! a receipt that verifies offline, resubmission, and refusals that leave the log unchanged.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use insyn_ledger::entry::{Actor, Body, ContractRef, SignedStatement, Statement};
use insyn_ledger::hash::sha256;
use insyn_ledger::id::{MunicipalityCode, OrgNumber, Period, Sek};
use insyn_ledger::keys::SigningKey;
use insyn_ledger::note::LogVerifier;
use insyn_ledger::receipt::Receipt;
use serde_json::{Value, json};

use crate::harness::{Db, Server, databases, insyn};

/// A client of one running server.
pub struct Client {
    http: reqwest::Client,
    pub server: Server,
    pub log: LogVerifier,
}

/// A cheap, clonable way to submit to a server from spawned tasks.
#[derive(Clone)]
pub struct Handle {
    http: reqwest::Client,
    url: String,
}

impl Handle {
    pub async fn submit(&self, signed: &SignedStatement, payload: Option<&[u8]>) -> (u16, Value) {
        submit_to(&self.http, &self.url, signed, payload).await
    }
}

async fn submit_to(
    http: &reqwest::Client,
    base: &str,
    signed: &SignedStatement,
    payload: Option<&[u8]>,
) -> (u16, Value) {
    let body = json!({
        "statement": B64.encode(signed.statement().encode()),
        "signature": B64.encode(signed.signature().to_bytes()),
        "payload": payload.map(|p| B64.encode(p)),
    });
    let r = http
        .post(format!("{base}/api/v1/entries"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

impl Client {
    /// A client of an already started server whose verifier key is known.
    pub fn attach(server: Server, log: LogVerifier) -> Self {
        Self {
            http: reqwest::Client::new(),
            server,
            log,
        }
    }

    pub fn handle(&self) -> Handle {
        Handle {
            http: self.http.clone(),
            url: self.server.url.clone(),
        }
    }

    /// The inclusion proof of `index` in the tree of `size`, from the server.
    pub async fn inclusion(&self, index: u64, size: u64) -> Vec<insyn_ledger::hash::Hash> {
        let v: Value = self
            .http
            .get(self.server.at(&format!(
                "/api/v1/proofs/inclusion?index={index}&size={size}"
            )))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| insyn_ledger::hash::from_base64(h.as_str().unwrap()).unwrap())
            .collect()
    }

    pub async fn start(db: &Db) -> Self {
        let server = Server::start(db, &[]);
        let vkey = server
            .banner
            .iter()
            .find_map(|l| l.strip_prefix("log verifier key: "))
            .expect("the server prints its verifier key")
            .to_owned();
        let log = LogVerifier::from_verifier_key(&vkey).expect("a valid verifier key");
        Self {
            http: reqwest::Client::new(),
            server,
            log,
        }
    }

    pub async fn submit(&self, signed: &SignedStatement, payload: Option<&[u8]>) -> (u16, Value) {
        let body = json!({
            "statement": B64.encode(signed.statement().encode()),
            "signature": B64.encode(signed.signature().to_bytes()),
            "payload": payload.map(|p| B64.encode(p)),
        });
        let r = self
            .http
            .post(self.server.at("/api/v1/entries"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    pub async fn size(&self) -> u64 {
        let v: Value = self
            .http
            .get(self.server.at("/api/v1/log"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["size"].as_u64().unwrap()
    }

    pub async fn checkpoint(&self) -> String {
        self.http
            .get(self.server.at("/checkpoint"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Submits and insists on success, returning the verified receipt.
    pub async fn must_submit(&self, signed: &SignedStatement, payload: Option<&[u8]>) -> Receipt {
        let (status, body) = self.submit(signed, payload).await;
        assert_eq!(status, 201, "submission refused: {body:#}");
        let receipt = Receipt::from_json(&body.to_string()).expect("the answer is a receipt");
        receipt
            .verify(&self.log)
            .expect("the receipt verifies offline");
        receipt
    }
}

/// A municipality with a registered provider and contract, ready for reports.
pub struct World {
    pub municipality: MunicipalityCode,
    pub municipality_key: SigningKey,
    pub provider: OrgNumber,
    pub provider_key: SigningKey,
    pub contract: ContractRef,
}

pub fn sign(key: &SigningKey, actor: Actor, body: Body, payload: Option<&[u8]>) -> SignedStatement {
    Statement::new(actor, key.key_id(), body, payload.map(sha256))
        .unwrap()
        .sign(key)
}

impl World {
    pub async fn register(c: &Client) -> Self {
        let municipality: MunicipalityCode = "0180".parse().unwrap();
        let municipality_key = SigningKey::generate();
        let data_dir = c.server.data_dir.to_str().unwrap().to_owned();
        let mut args = vec!["admin", "--data-dir", &data_dir];
        let db_url;
        if let Some(url) = c.server.database_url() {
            db_url = url;
            args.extend(["--database-url", &db_url]);
        }
        let pk = hex::encode(municipality_key.public_key().to_bytes());
        args.extend(["add-municipality", "0180", "--public-key", &pk]);
        let (ok, out, err) = insyn(&args);
        assert!(ok, "admin add-municipality failed: {out}{err}");

        let provider: OrgNumber = "5599123451".parse().unwrap();
        let provider_key = SigningKey::generate();
        let contract = ContractRef {
            municipality,
            reference: "SOC-2025-017".parse().unwrap(),
        };
        let m = Actor::Municipality(municipality);
        c.must_submit(
            &sign(
                &municipality_key,
                m.clone(),
                Body::ProviderRegistered { provider },
                None,
            ),
            None,
        )
        .await;
        c.must_submit(
            &sign(
                &municipality_key,
                m.clone(),
                Body::ContractRegistered {
                    contract: contract.clone(),
                    provider,
                    first: "2026-01".parse().unwrap(),
                    last: "2026-12".parse().unwrap(),
                    budget: Sek(2_400_000),
                },
                None,
            ),
            None,
        )
        .await;
        c.must_submit(
            &sign(
                &municipality_key,
                m,
                Body::KeyAdded {
                    subject: Actor::Provider(provider),
                    public_key: provider_key.public_key().to_bytes(),
                },
                None,
            ),
            None,
        )
        .await;
        Self {
            municipality,
            municipality_key,
            provider,
            provider_key,
            contract,
        }
    }

    /// The example report, for `period`.
    pub fn report(&self, period: &str) -> Vec<u8> {
        let mut v: Value =
            serde_json::from_str(insyn_domain::report::example_report_json()).unwrap();
        v["period"] = json!(period);
        serde_json::to_vec(&v).unwrap()
    }

    pub fn report_statement(&self, period: &str, payload: &[u8]) -> SignedStatement {
        let period: Period = period.parse().unwrap();
        sign(
            &self.provider_key,
            Actor::Provider(self.provider),
            Body::ReportSubmitted {
                contract: self.contract.clone(),
                period,
            },
            Some(payload),
        )
    }
}

#[tokio::test]
async fn a_signed_report_gets_a_receipt_that_verifies_offline_and_resubmission_returns_it() {
    for db in databases("receipt") {
        let c = Client::start(&db).await;
        let w = World::register(&c).await;
        let report = w.report("2026-03");
        let signed = w.report_statement("2026-03", &report);

        let receipt = c.must_submit(&signed, Some(&report)).await;
        assert_eq!(receipt.entry.signed(), &signed);
        let size = c.size().await;

        // The same signed bytes again: the same entry, no second one.
        let (status, body) = c.submit(&signed, Some(&report)).await;
        assert_eq!(status, 200, "{body:#}");
        let again = Receipt::from_json(&body.to_string()).unwrap();
        assert_eq!(again.index, receipt.index);
        assert_eq!(
            c.size().await,
            size,
            "a resubmission must not add an entry ({db:?})"
        );

        // The checkpoint the server publishes verifies with the verifier key it printed.
        let cp = c
            .log
            .verify_checkpoint(c.checkpoint().await.as_bytes())
            .unwrap();
        assert_eq!(cp.size(), size);
    }
}

#[tokio::test]
async fn bad_submissions_are_refused_with_every_problem_and_change_nothing() {
    for db in databases("refusals") {
        let c = Client::start(&db).await;
        let w = World::register(&c).await;
        let good = w.report("2026-03");
        c.must_submit(&w.report_statement("2026-03", &good), Some(&good))
            .await;
        let size = c.size().await;
        let checkpoint = c.checkpoint().await;

        // A report that breaks the schema in two places: both are listed.
        let mut v: Value = serde_json::from_slice(&w.report("2026-04")).unwrap();
        v["caseload"]["active"] = json!(-1);
        v["costs"]["total"] = json!("a lot");
        let bad = serde_json::to_vec(&v).unwrap();
        let (status, body) = c
            .submit(&w.report_statement("2026-04", &bad), Some(&bad))
            .await;
        assert_eq!(status, 422, "{body:#}");
        let errors = body["errors"].as_array().unwrap();
        assert!(errors.len() >= 2, "every problem is listed: {body:#}");
        assert!(
            errors
                .iter()
                .any(|e| e["pointer"].as_str().unwrap().contains("/caseload/active")),
            "{body:#}"
        );

        // A second report for the same period that is not a correction.
        let dup = w.report("2026-03");
        let mut v: Value = serde_json::from_slice(&dup).unwrap();
        v["services"]["counselling_sessions"] = json!(86);
        let dup = serde_json::to_vec(&v).unwrap();
        let (status, body) = c
            .submit(&w.report_statement("2026-03", &dup), Some(&dup))
            .await;
        assert_eq!(status, 422, "{body:#}");
        assert!(body.to_string().contains("already"), "{body:#}");

        // A report for an unknown contract.
        let other = ContractRef {
            municipality: w.municipality,
            reference: "NO-SUCH-CONTRACT".parse().unwrap(),
        };
        // The report and its statement agree on it, so the ledger's own rule is what refuses it.
        let mut v: Value = serde_json::from_slice(&w.report("2026-05")).unwrap();
        v["contract"]["reference"] = json!("NO-SUCH-CONTRACT");
        let unknown = serde_json::to_vec(&v).unwrap();
        let st = sign(
            &w.provider_key,
            Actor::Provider(w.provider),
            Body::ReportSubmitted {
                contract: other,
                period: "2026-05".parse().unwrap(),
            },
            Some(&unknown),
        );
        let (status, body) = c.submit(&st, Some(&unknown)).await;
        assert_eq!(status, 422, "{body:#}");
        let codes: Vec<&str> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["code"].as_str())
            .collect();
        assert_eq!(codes, ["unknown_contract"], "{body:#}");
        let report = w.report("2026-05");

        // A period outside the contract (it runs 2026-01 to 2026-12).
        let early = w.report("2025-12");
        let (status, body) = c
            .submit(&w.report_statement("2025-12", &early), Some(&early))
            .await;
        assert_eq!(status, 422, "{body:#}");
        assert!(body.to_string().contains("period"), "{body:#}");

        // A report signed by a key that is not the provider's.
        let stranger = SigningKey::generate();
        let st = sign(
            &stranger,
            Actor::Provider(w.provider),
            Body::ReportSubmitted {
                contract: w.contract.clone(),
                period: "2026-05".parse().unwrap(),
            },
            Some(&report),
        );
        let (status, body) = c.submit(&st, Some(&report)).await;
        assert_eq!(status, 422, "{body:#}");

        // A valid signature over different bytes: the payload does not match its hash.
        let st = w.report_statement("2026-05", &report);
        let (status, body) = c.submit(&st, Some(&good)).await;
        assert_eq!(status, 422, "{body:#}");

        // Malformed requests.
        let r = reqwest::Client::new()
            .post(c.server.at("/api/v1/entries"))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let r = reqwest::Client::new()
            .post(c.server.at("/api/v1/entries"))
            .header("content-type", "application/json")
            .body(vec![b'['; 300_000])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 413);

        assert_eq!(
            c.size().await,
            size,
            "refusals must not change the log ({db:?})"
        );
        assert_eq!(c.checkpoint().await, checkpoint);
    }
}

#[tokio::test]
async fn a_revoked_key_signs_nothing_more_and_a_rotated_key_takes_over() {
    for db in databases("revocation") {
        let c = Client::start(&db).await;
        let w = World::register(&c).await;
        let provider = Actor::Provider(w.provider);

        // Rotation: the provider adds a second key, signed with its current one.
        let new_key = SigningKey::generate();
        c.must_submit(
            &sign(
                &w.provider_key,
                provider.clone(),
                Body::KeyAdded {
                    subject: provider.clone(),
                    public_key: new_key.public_key().to_bytes(),
                },
                None,
            ),
            None,
        )
        .await;
        // The municipality revokes the old key.
        c.must_submit(
            &sign(
                &w.municipality_key,
                Actor::Municipality(w.municipality),
                Body::KeyRevoked {
                    subject: provider.clone(),
                    key_id: w.provider_key.key_id(),
                },
                None,
            ),
            None,
        )
        .await;
        let size = c.size().await;

        let report = w.report("2026-03");
        let (status, body) = c
            .submit(&w.report_statement("2026-03", &report), Some(&report))
            .await;
        assert_eq!(
            status, 422,
            "a report signed with a revoked key is refused: {body:#}"
        );
        assert!(
            body.to_string().to_lowercase().contains("revoked"),
            "{body:#}"
        );
        assert_eq!(c.size().await, size);

        let st = sign(
            &new_key,
            provider,
            Body::ReportSubmitted {
                contract: w.contract.clone(),
                period: "2026-03".parse().unwrap(),
            },
            Some(&report),
        );
        c.must_submit(&st, Some(&report)).await;
    }
}

#[tokio::test]
async fn a_correction_supersedes_its_report_and_nothing_is_edited() {
    for db in databases("correction") {
        let c = Client::start(&db).await;
        let w = World::register(&c).await;
        let first = w.report("2026-03");
        let original = c
            .must_submit(&w.report_statement("2026-03", &first), Some(&first))
            .await;

        let mut v: Value = serde_json::from_slice(&first).unwrap();
        v["services"]["counselling_sessions"] = json!(90);
        let fixed = serde_json::to_vec(&v).unwrap();
        let correction = |supersedes: u64| {
            sign(
                &w.provider_key,
                Actor::Provider(w.provider),
                Body::ReportCorrected {
                    contract: w.contract.clone(),
                    period: "2026-03".parse().unwrap(),
                    supersedes,
                },
                Some(&fixed),
            )
        };
        // Pointing at something that is not that report is refused.
        let (status, body) = c
            .submit(&correction(original.index - 1), Some(&fixed))
            .await;
        assert_eq!(status, 422, "{body:#}");

        let corrected = c
            .must_submit(&correction(original.index), Some(&fixed))
            .await;
        assert!(corrected.index > original.index);
        // The original is still there, byte for byte.
        let v: Value = reqwest::get(c.server.at(&format!("/api/v1/entries/{}", original.index)))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["entry"], json!(B64.encode(original.entry.encode())));
    }
}

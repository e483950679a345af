//! Hostile input against the real server, for the rows of `docs/SECURITY.md` that no other test
//! covers: malformed, oversized, deeply nested and mistyped bodies, non-canonical statements,
//! malleable and small-order signatures and keys, reports for another provider's contract, path
//! tricks in tile URLs, and SQL- and template-injection strings in every text field the API
//! takes. Every refusal is checked for its status and problem type, and for leaving the log
//! exactly as it was.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use insyn_ledger::entry::{Actor, Body, Statement, signing_message};
use insyn_ledger::hash::sha256;
use insyn_ledger::keys::SigningKey;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{databases, insyn};
use crate::submissions::{Client, World, sign};

/// Strings that would do harm if any layer pasted them into SQL, a template or HTML.
const INJECTIONS: [&str; 6] = [
    "'; DROP TABLE entries; --",
    "\" OR \"1\"=\"1",
    "1 OR 1=1; UPDATE checkpoints SET note = ''",
    "{{ 7 * 7 }}{% for x in range(9) %}x{% endfor %}",
    "${7*7} #{7*7} <%= 7*7 %>",
    "<script>alert(1)</script><img src=x onerror=alert(1)>",
];

/// The group order of Ed25519, little-endian.
const ORDER_L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
];

/// The log as it was before the hostile requests.
struct Before {
    size: u64,
    checkpoint: String,
}

impl Before {
    async fn take(c: &Client) -> Self {
        Self {
            size: c.size().await,
            checkpoint: c.checkpoint().await,
        }
    }

    async fn unchanged(&self, c: &Client, what: &str) {
        assert_eq!(c.size().await, self.size, "{what}: the log grew");
        assert_eq!(
            c.checkpoint().await,
            self.checkpoint,
            "{what}: the checkpoint changed"
        );
    }
}

/// Posts raw bytes to the submission endpoint; the status and the problem document.
async fn post_raw(c: &Client, content_type: Option<&str>, body: Vec<u8>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(c.server.at("/api/v1/entries"))
        .body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = r.bytes().await.unwrap();
    if status >= 400 {
        assert_eq!(
            ct.as_deref(),
            Some("application/problem+json"),
            "refusals speak problem+json (status {status})"
        );
    }
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// Submits raw statement and signature bytes.
async fn submit_bytes(
    c: &Client,
    statement: &[u8],
    signature: &[u8],
    payload: Option<&[u8]>,
) -> (u16, Value) {
    let body = json!({
        "statement": B64.encode(statement),
        "signature": B64.encode(signature),
        "payload": payload.map(|p| B64.encode(p)),
    });
    post_raw(
        c,
        Some("application/json"),
        serde_json::to_vec(&body).unwrap(),
    )
    .await
}

/// Signs any bytes as a statement would be signed (domain-separated), so the decoder, not the
/// signature check, is what must refuse them.
fn sign_bytes(key: &SigningKey, statement: &[u8]) -> Vec<u8> {
    key.sign(&signing_message(statement)).to_bytes().to_vec()
}

/// One request as raw HTTP/1.1, so that the path reaches the server byte for byte (HTTP client
/// libraries normalise `..` and percent-encoding). The status code and the body.
async fn raw_request(
    c: &Client,
    method: &str,
    path: &str,
    headers: &str,
    body: &[u8],
) -> (u16, String) {
    let addr = c.server.url.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{headers}\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (413) and close before it has read everything.
    let _ = s.write_all(body).await;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line for {method} {path}: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

async fn raw_get(c: &Client, path: &str) -> (u16, String) {
    raw_request(c, "GET", path, "", b"").await
}

fn problem_type(v: &Value) -> &str {
    v["type"].as_str().unwrap_or("")
}

#[tokio::test]
async fn malformed_oversized_nested_and_mistyped_bodies_are_refused() {
    for db in databases("hostile-bodies") {
        let c = Client::start(&db).await;
        let w = World::register(&c).await;
        let before = Before::take(&c).await;
        let good = w.report("2026-03");
        let st = w.report_statement("2026-03", &good);
        let valid = serde_json::to_vec(&json!({
            "statement": B64.encode(st.statement().encode()),
            "signature": B64.encode(st.signature().to_bytes()),
            "payload": B64.encode(&good),
        }))
        .unwrap();

        let mut nested = vec![b'['; 100_000];
        nested.extend(vec![b']'; 100_000]);
        let mut nested_object = Vec::new();
        for _ in 0..20_000 {
            nested_object.extend_from_slice(br#"{"a":"#);
        }
        nested_object.extend_from_slice(b"1");
        nested_object.extend(vec![b'}'; 20_000]);
        let mut invalid_utf8 = br#"{"statement":""#.to_vec();
        invalid_utf8.extend_from_slice(&[0xff, 0xfe, 0xc3, 0x28]);
        invalid_utf8.extend_from_slice(br#"","signature":"","payload":null}"#);
        let huge_string = serde_json::to_vec(&json!({
            "statement": "A".repeat(300 * 1024),
            "signature": "",
            "payload": null,
        }))
        .unwrap();
        let huge_number = format!(
            r#"{{"statement":"AA==","signature":"AA==","payload":{}}}"#,
            "9".repeat(10_000)
        );

        let cases: Vec<(&str, Option<&str>, Vec<u8>, u16)> = vec![
            (
                "not JSON",
                Some("application/json"),
                b"{not json".to_vec(),
                400,
            ),
            ("empty body", Some("application/json"), Vec::new(), 400),
            (
                "truncated JSON",
                Some("application/json"),
                valid[..valid.len() / 2].to_vec(),
                400,
            ),
            ("JSON array", Some("application/json"), b"[]".to_vec(), 400),
            (
                "nested arrays 100k deep",
                Some("application/json"),
                nested,
                400,
            ),
            (
                "nested objects 20k deep",
                Some("application/json"),
                nested_object,
                400,
            ),
            ("invalid UTF-8", Some("application/json"), invalid_utf8, 400),
            (
                "huge number",
                Some("application/json"),
                huge_number.into_bytes(),
                400,
            ),
            (
                "unknown field",
                Some("application/json"),
                br#"{"statement":"","signature":"","payload":null,"index":0}"#.to_vec(),
                400,
            ),
            (
                "missing field",
                Some("application/json"),
                br#"{"statement":""}"#.to_vec(),
                400,
            ),
            (
                "wrong field type",
                Some("application/json"),
                br#"{"statement":1,"signature":[],"payload":{}}"#.to_vec(),
                400,
            ),
            (
                "duplicate field",
                Some("application/json"),
                br#"{"statement":"","statement":"","signature":"","payload":null}"#.to_vec(),
                400,
            ),
            (
                "oversized body (300 KiB)",
                Some("application/json"),
                huge_string,
                413,
            ),
            ("text/plain", Some("text/plain"), valid.clone(), 415),
            (
                "form content type",
                Some("application/x-www-form-urlencoded"),
                valid.clone(),
                415,
            ),
            ("no content type", None, valid.clone(), 415),
        ];
        for (what, ct, body, expected) in cases {
            let (status, problem) = post_raw(&c, ct, body).await;
            assert_eq!(status, expected, "{what}: {problem:#}");
            assert!(!problem_type(&problem).is_empty(), "{what}: a problem type");
            before.unchanged(&c, what).await;
        }

        // A body without a length, in chunks that add up to more than the limit.
        let mut chunked = Vec::new();
        for _ in 0..40 {
            chunked.extend_from_slice(format!("{:x}\r\n", 16 * 1024).as_bytes());
            chunked.extend(vec![b' '; 16 * 1024]);
            chunked.extend_from_slice(b"\r\n");
        }
        chunked.extend_from_slice(b"0\r\n\r\n");
        let (status, _) = raw_request(
            &c,
            "POST",
            "/api/v1/entries",
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n",
            &chunked,
        )
        .await;
        assert_eq!(status, 413, "chunked oversized body");
        before.unchanged(&c, "chunked oversized body").await;

        // Bad base64 in each field.
        for (field, body) in [
            (
                "statement",
                json!({"statement": "***", "signature": "", "payload": null}),
            ),
            (
                "signature",
                json!({"statement": "", "signature": "!!", "payload": null}),
            ),
            (
                "payload",
                json!({"statement": "", "signature": "", "payload": "%%%"}),
            ),
        ] {
            let (status, problem) = post_raw(
                &c,
                Some("application/json"),
                serde_json::to_vec(&body).unwrap(),
            )
            .await;
            assert_eq!(status, 400, "bad base64 in {field}: {problem:#}");
            assert!(problem["detail"].to_string().contains(field), "{problem:#}");
        }
        before.unchanged(&c, "bad base64").await;

        // The valid body still goes in afterwards: nothing above broke the server.
        let (status, _) = post_raw(&c, Some("application/json"), valid).await;
        assert_eq!(status, 201);
    }
}

#[tokio::test]
async fn non_canonical_statements_are_refused_even_when_validly_signed() {
    for db in databases("hostile-encoding") {
        let c = Client::start(&db).await;
        let w = World::register(&c).await;
        let before = Before::take(&c).await;
        let report = w.report("2026-03");
        let good = w.report_statement("2026-03", &report).statement().encode();
        let n = usize::from(good[49]);
        let period_at = 50 + n;
        let flag_at = good.len() - 33;
        assert_eq!(good[flag_at], 1, "the layout of docs/FORMAT.md section 4");

        let edit = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut b = good.clone();
            f(&mut b);
            b
        };
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("a trailing byte", edit(&|b| b.push(0))),
            (
                "one byte short",
                edit(&|b| {
                    b.pop();
                }),
            ),
            ("empty statement", Vec::new()),
            ("version 2", edit(&|b| b[0] = 2)),
            ("version 0", edit(&|b| b[0] = 0)),
            ("kind 0", edit(&|b| b[1] = 0)),
            ("kind 200", edit(&|b| b[1] = 200)),
            ("actor tag 9", edit(&|b| b[2] = 9)),
            (
                "org number with a wrong check digit",
                edit(&|b| b[12] = b'0' + (b[12] - b'0' + 1) % 10),
            ),
            ("org number with a non-digit", edit(&|b| b[5] = b'a')),
            (
                "municipality code that SCB never issued",
                edit(&|b| b[45..49].copy_from_slice(b"0000")),
            ),
            (
                "contract reference with a quote (SQL)",
                edit(&|b| b[50] = b'\''),
            ),
            (
                "contract reference with a brace (template)",
                edit(&|b| b[50] = b'{'),
            ),
            ("contract reference with a NUL", edit(&|b| b[50] = 0)),
            (
                "contract reference with a non-ASCII byte",
                edit(&|b| b[50] = 0xc3),
            ),
            (
                "contract reference length 0",
                edit(&|b| {
                    b[49] = 0;
                    b.drain(50..50 + n);
                }),
            ),
            (
                "contract reference length past the end",
                edit(&|b| b[49] = 250),
            ),
            ("month 13", edit(&|b| b[period_at + 2] = 13)),
            ("month 0", edit(&|b| b[period_at + 2] = 0)),
            (
                "year 1999",
                edit(&|b| b[period_at..period_at + 2].copy_from_slice(&1999u16.to_be_bytes())),
            ),
            ("has_payload 2", edit(&|b| b[flag_at] = 2)),
            (
                "has_payload 0 on a report (hash left as trailing bytes)",
                edit(&|b| b[flag_at] = 0),
            ),
            (
                "has_payload 0 on a report",
                edit(&|b| {
                    b[flag_at] = 0;
                    b.truncate(flag_at + 1);
                }),
            ),
            (
                "a 70,000-byte statement",
                edit(&|b| b.extend(vec![0u8; 70_000])),
            ),
        ];
        for (what, bytes) in cases {
            let sig = sign_bytes(&w.provider_key, &bytes);
            let (status, problem) = submit_bytes(&c, &bytes, &sig, Some(&report)).await;
            assert_eq!(status, 400, "{what}: {problem:#}");
            assert!(
                problem["detail"]
                    .as_str()
                    .unwrap_or("")
                    .contains("does not decode"),
                "{what}: {problem:#}"
            );
            before.unchanged(&c, what).await;
        }

        // Signatures of the wrong length.
        let sig = sign_bytes(&w.provider_key, &good);
        for len in [0usize, 63, 65, 128] {
            let mut s = sig.clone();
            s.resize(len, 0);
            let (status, problem) = submit_bytes(&c, &good, &s, Some(&report)).await;
            assert_eq!(status, 400, "a {len}-byte signature: {problem:#}");
        }
        before.unchanged(&c, "signature lengths").await;
    }
}

/// The signature of `statement` by `key`, with a mutation applied to its 64 bytes.
fn mutated_signature(
    key: &SigningKey,
    statement: &Statement,
    f: impl Fn(&mut [u8; 64]),
) -> Vec<u8> {
    let mut sig = statement.clone().sign(key).signature().to_bytes();
    f(&mut sig);
    sig.to_vec()
}

/// `s + L` over the scalar half of a signature: the same point equation, a second encoding.
fn add_order(sig: &mut [u8; 64]) {
    let mut carry = 0u16;
    for (i, l) in ORDER_L.iter().enumerate() {
        let sum = u16::from(sig[32 + i]) + u16::from(*l) + carry;
        sig[32 + i] = (sum & 0xff) as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0, "s + L fits in 256 bits");
}

#[tokio::test]
async fn forged_malleable_and_small_order_signatures_and_keys_are_refused() {
    for db in databases("hostile-signatures") {
        let c = Client::start(&db).await;
        let w = World::register(&c).await;
        let report = w.report("2026-03");
        let st = w.report_statement("2026-03", &report).statement().clone();
        let before = Before::take(&c).await;

        let identity = {
            let mut p = [0u8; 32];
            p[0] = 1;
            p
        };
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "malleable: s + L",
                mutated_signature(&w.provider_key, &st, add_order),
            ),
            (
                "s = L exactly",
                mutated_signature(&w.provider_key, &st, |s| {
                    s[32..].copy_from_slice(&ORDER_L);
                }),
            ),
            (
                "s all ones",
                mutated_signature(&w.provider_key, &st, |s| s[32..].fill(0xff)),
            ),
            ("R is the identity (small order), s = 0", {
                let mut s = [0u8; 64];
                s[..32].copy_from_slice(&identity);
                s.to_vec()
            }),
            ("R of order 8, s = 0", {
                let mut s = [0u8; 64];
                s[..32].copy_from_slice(&hex::decode(ORDER_8).unwrap());
                s.to_vec()
            }),
            (
                "R not on the curve",
                mutated_signature(&w.provider_key, &st, |s| {
                    s[..32].fill(0xff);
                    s[31] = 0x7f;
                    s[0] = 0xea;
                }),
            ),
            ("all zeros", vec![0u8; 64]),
            (
                "one bit flipped",
                mutated_signature(&w.provider_key, &st, |s| s[7] ^= 0x10),
            ),
            (
                "signed by another key",
                mutated_signature(&SigningKey::generate(), &st, |_| {}),
            ),
            (
                "signed by the municipality's key",
                mutated_signature(&w.municipality_key, &st, |_| {}),
            ),
        ];
        for (what, sig) in cases {
            let (status, problem) = submit_bytes(&c, &st.encode(), &sig, Some(&report)).await;
            assert_eq!(status, 422, "{what}: {problem:#}");
            assert!(
                problem["errors"].to_string().contains("signature"),
                "{what}: {problem:#}"
            );
            before.unchanged(&c, what).await;
        }

        // A valid signature moved onto other bytes: the statement of another period.
        let other = w.report("2026-04");
        let other_st = w.report_statement("2026-04", &other).statement().encode();
        let sig = st.clone().sign(&w.provider_key).signature().to_bytes();
        let (status, problem) = submit_bytes(&c, &other_st, &sig, Some(&other)).await;
        assert_eq!(status, 422, "a signature over different bytes: {problem:#}");
        before.unchanged(&c, "signature over different bytes").await;

        // Small-order keys cannot be registered, even by the right registrar (a real key plus a
        // torsion point is refused by the same check: crates/ledger/src/keys.rs,
        // `small_order_keys_are_refused`).
        for (what, key) in [
            ("the identity point", identity),
            ("the all-zero encoding (order 4)", [0u8; 32]),
            (
                "a point of order 8",
                hex::decode(ORDER_8).unwrap().try_into().unwrap(),
            ),
        ] {
            let add = sign(
                &w.municipality_key,
                Actor::Municipality(w.municipality),
                Body::KeyAdded {
                    subject: Actor::Provider(w.provider),
                    public_key: key,
                },
                None,
            );
            let (status, problem) = c.submit(&add, None).await;
            assert!(
                status == 422 || status == 400,
                "KeyAdded with {what}: {status} {problem:#}"
            );
            assert!(problem.to_string().contains("weak"), "{what}: {problem:#}");
            before.unchanged(&c, what).await;
        }

        // Replays: the same signed statement again is the same receipt, not a second entry;
        // with another payload it is refused.
        let first = c
            .must_submit(&w.report_statement("2026-03", &report), Some(&report))
            .await;
        let after = Before::take(&c).await;
        let (status, again) = c
            .submit(&w.report_statement("2026-03", &report), Some(&report))
            .await;
        assert_eq!(status, 200, "{again:#}");
        assert_eq!(again["index"].as_u64(), Some(first.index));
        let (status, problem) = c
            .submit(&w.report_statement("2026-03", &report), Some(&other))
            .await;
        assert_eq!(status, 422, "a replay with another payload: {problem:#}");
        after.unchanged(&c, "replays").await;
    }
}

/// A published Ed25519 point of order 8.
const ORDER_8: &str = "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05";

#[tokio::test]
async fn reports_for_another_providers_contract_are_refused() {
    for db in databases("hostile-contract") {
        let c = Client::start(&db).await;
        let w = World::register(&c).await;
        // A second provider of the same municipality, with its own key and contract.
        let other: insyn_ledger::id::OrgNumber = "5560360793".parse().unwrap();
        let other_key = SigningKey::generate();
        let m = Actor::Municipality(w.municipality);
        c.must_submit(
            &sign(
                &w.municipality_key,
                m.clone(),
                Body::ProviderRegistered { provider: other },
                None,
            ),
            None,
        )
        .await;
        c.must_submit(
            &sign(
                &w.municipality_key,
                m,
                Body::KeyAdded {
                    subject: Actor::Provider(other),
                    public_key: other_key.public_key().to_bytes(),
                },
                None,
            ),
            None,
        )
        .await;
        let before = Before::take(&c).await;

        // The other provider reports, under its own name and key, on the first one's contract.
        let mut v: Value = serde_json::from_slice(&w.report("2026-03")).unwrap();
        v["provider"] = json!(other.digits());
        let report = serde_json::to_vec(&v).unwrap();
        let st = sign(
            &other_key,
            Actor::Provider(other),
            Body::ReportSubmitted {
                contract: w.contract.clone(),
                period: "2026-03".parse().unwrap(),
            },
            Some(&report),
        );
        let (status, problem) = c.submit(&st, Some(&report)).await;
        assert_eq!(status, 422, "{problem:#}");
        before.unchanged(&c, "another provider's contract").await;

        // Or pretends to be the first provider, signing with its own key.
        let report = w.report("2026-03");
        let st = sign(
            &other_key,
            Actor::Provider(w.provider),
            Body::ReportSubmitted {
                contract: w.contract.clone(),
                period: "2026-03".parse().unwrap(),
            },
            Some(&report),
        );
        let (status, problem) = c.submit(&st, Some(&report)).await;
        assert_eq!(status, 422, "{problem:#}");
        before.unchanged(&c, "another provider's name").await;

        // A report whose JSON names another contract than the statement it is signed under.
        let mut v: Value = serde_json::from_slice(&w.report("2026-03")).unwrap();
        v["contract"]["reference"] = json!("OTHER-1");
        let report = serde_json::to_vec(&v).unwrap();
        let (status, problem) = c
            .submit(&w.report_statement("2026-03", &report), Some(&report))
            .await;
        assert_eq!(status, 422, "{problem:#}");
        before
            .unchanged(&c, "a report naming another contract")
            .await;
    }
}

/// Injection strings in every text field the API takes: stored and returned as inert bytes
/// where the field allows any text, refused where it does not, and never reaching SQL.
#[tokio::test]
async fn sql_and_template_injection_strings_are_inert_everywhere() {
    for db in databases("hostile-injection") {
        let c = Client::start(&db).await;
        let w = World::register(&c).await;
        let inspector = credential(&c, "inspector", INJECTIONS[0]);

        // Report text fields take any text: the report is stored byte for byte.
        let mut periods = Vec::new();
        for (i, text) in INJECTIONS.iter().enumerate() {
            let period = format!("2026-{:02}", i + 1);
            let mut v: Value = serde_json::from_slice(&w.report(&period)).unwrap();
            v["free_text"]["narrative"] = json!(text);
            v["free_text"]["message_to_municipality"] = json!(text);
            v["subcontractors"][0]["delivered"] = json!(text);
            let report = serde_json::to_vec(&v).unwrap();
            let receipt = c
                .must_submit(&w.report_statement(&period, &report), Some(&report))
                .await;
            let r = reqwest::Client::new()
                .get(c.server.at(&format!(
                    "/api/v1/payloads/{}",
                    hex::encode(sha256(&report))
                )))
                .bearer_auth(&inspector)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(
                r.bytes().await.unwrap().as_ref(),
                report.as_slice(),
                "{text}"
            );
            periods.push(receipt.index);
        }
        // Each was one new entry at the next index: nothing was dropped, duplicated or run.
        assert!(periods.windows(2).all(|p| p[1] == p[0] + 1), "{periods:?}");
        let before = Before::take(&c).await;
        assert_eq!(before.size, periods[periods.len() - 1] + 1);

        // Text in the report's identifier fields is checked, not stored.
        for text in INJECTIONS {
            for (field, set) in [
                ("provider", json!({"provider": text})),
                ("period", json!({"period": text})),
                (
                    "contract reference",
                    json!({"contract": {"municipality": "0180", "reference": text}}),
                ),
                (
                    "contract municipality",
                    json!({"contract": {"municipality": text, "reference": "SOC-2025-017"}}),
                ),
                ("county", json!({"relocations_by_county": {text: 1}})),
                (
                    "subcontractor",
                    json!({"subcontractors": [{"org_number": text, "delivered": "x"}]}),
                ),
            ] {
                let mut v: Value = serde_json::from_slice(&w.report("2026-09")).unwrap();
                for (k, val) in set.as_object().unwrap() {
                    v[k] = val.clone();
                }
                let report = serde_json::to_vec(&v).unwrap();
                let (status, problem) = c
                    .submit(&w.report_statement("2026-09", &report), Some(&report))
                    .await;
                assert_eq!(status, 422, "{field} = {text}: {problem:#}");
            }
        }
        before.unchanged(&c, "injection in identifier fields").await;

        // Query parameters, path parameters and the credential header.
        let bearer = |t: &str| format!("Authorization: Bearer {t}\r\n");
        for text in INJECTIONS {
            let q = enc(text);
            for (path, expected) in [
                (format!("/api/v1/entries/{q}"), 400),
                (format!("/api/v1/entries/0{q}"), 400),
                (format!("/api/v1/proofs/inclusion?index={q}&size=1"), 400),
                (
                    format!("/api/v1/proofs/inclusion?leaf_hash={q}&size=1"),
                    400,
                ),
                (format!("/api/v1/proofs/consistency?from={q}&to=1"), 400),
                (format!("/api/v1/payloads/{q}"), 400),
                (format!("/api/v1/payloads/{q}/reads"), 400),
                (format!("/tile/0/{q}"), 400),
                (format!("/api/{q}"), 404),
            ] {
                let (status, body) = raw_request(&c, "GET", &path, &bearer(&inspector), b"").await;
                assert_eq!(status, expected, "GET {path}: {body}");
                assert!(
                    !body.contains("49"),
                    "GET {path} evaluated a template: {body}"
                );
            }
            let (status, _) = raw_request(
                &c,
                "GET",
                &format!("/api/v1/payloads/{}", "00".repeat(32)),
                &bearer(&enc(text)),
                b"",
            )
            .await;
            assert_eq!(status, 401, "a credential of {text}");
        }
        before
            .unchanged(&c, "injection in query and path parameters")
            .await;
    }
}

/// Percent-encodes everything but unreserved characters.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `insyn admin <args>` on the server's data directory and database.
fn admin(c: &Client, args: &[&str]) -> (bool, String, String) {
    let data_dir = c.server.data_dir.to_str().unwrap().to_owned();
    let mut all = vec!["admin".to_owned(), "--data-dir".to_owned(), data_dir];
    if let Some(u) = c.server.database_url() {
        all.extend(["--database-url".to_owned(), u]);
    }
    all.extend(args.iter().map(|a| (*a).to_owned()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    insyn(&all)
}

/// An API credential made with `insyn admin add-credential` (its label may be hostile too):
/// its number and its token.
fn credential_with_id(c: &Client, role: &str, label: &str) -> (i32, String) {
    let (ok, out, err) = admin(c, &["add-credential", role, "--label", label]);
    assert!(ok, "add-credential {role} failed: {out}{err}");
    let first = out.lines().next().expect("a line");
    let id = first
        .strip_prefix("credential ")
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the credential's number is printed");
    let token = first
        .rsplit(' ')
        .next()
        .expect("the token is printed")
        .to_owned();
    (id, token)
}

fn credential(c: &Client, role: &str, label: &str) -> String {
    credential_with_id(c, role, label).1
}

#[tokio::test]
async fn tile_path_tricks_and_huge_indices_are_refused() {
    for db in databases("hostile-tiles") {
        let c = Client::start(&db).await;
        let _w = World::register(&c).await;
        // The log has a few entries: tile/0/000.p/N and tile/entries/000.p/N exist.
        let size = c.size().await;
        let (status, _) = raw_get(&c, &format!("/tile/0/000.p/{size}")).await;
        assert_eq!(status, 200);
        let (status, _) = raw_get(&c, &format!("/tile/entries/000.p/{size}")).await;
        assert_eq!(status, 200);

        for (path, expected) in [
            ("/tile/0/../000", 400),
            ("/tile/0/./000", 400),
            ("/tile/../checkpoint", 400),
            ("/tile/../../etc/passwd", 400),
            ("/tile/0/%2e%2e/000", 400),
            ("/tile/0/%2E%2E%2F000", 400),
            ("/tile/0/x001%2F234", 400),
            ("/tile/0%2F000", 400),
            ("/tile/0/000%00", 400),
            ("/tile/0/000%20", 400),
            ("/tile/0//000", 400),
            ("/tile//0/000", 400),
            ("/tile/0/000/", 400),
            ("/tile/0/000.p/", 400),
            ("/tile/0/000.p/0", 400),
            ("/tile/0/000.p/256", 400),
            ("/tile/0/000.p/01", 400),
            ("/tile/entries/000.p/0", 400),
            ("/tile/0/0000", 400),
            ("/tile/0/00", 400),
            ("/tile/00/000", 400),
            ("/tile/01/000", 400),
            ("/tile/-1/000", 400),
            ("/tile/8/000", 400),
            ("/tile/0/x1/000", 400),
            ("/tile/0/x0001/000", 400),
            ("/tile/0/x000/000", 400),
            ("/tile/0/X001/000", 400),
            ("/tile/0/001/000", 400),
            ("/tile/0/x001/x000", 400),
            ("/tile/0/+01", 400),
            ("/tile/0/%EF%BC%90%EF%BC%90%EF%BC%90", 400),
            // Indices past u64 and absurd depths.
            ("/tile/0/x018/x446/x744/x073/x709/x551/615", 400),
            ("/tile/0/x999/x999/x999/x999/x999/x999/999", 400),
            (
                "/tile/0/x999/x999/x999/x999/x999/x999/x999/x999/x999/999",
                400,
            ),
            ("/tile/entries/x018/x446/x744/x073/x709/x551/615", 400),
            // Well-formed but far past the log's end.
            ("/tile/0/x001/x000/x000/x000/x000/000", 404),
            ("/tile/0/x018/x014/x398/x509/x481/983", 404),
            // One past the last tile of the largest tree the ledger handles (2^62 leaves).
            ("/tile/0/x018/x014/x398/x509/x481/984", 400),
            ("/tile/0/x072/x057/x594/x037/x927/935", 400),
            ("/tile/entries/x999/999", 404),
            ("/tile/0/001", 404),
            ("/tile/0/000", 404),
            ("/tile/1/000", 404),
        ] {
            let (status, body) = raw_get(&c, path).await;
            assert_eq!(status, expected, "GET {path}: {body}");
            if expected == 400 {
                assert!(
                    body.contains("problem") || body.contains("tile"),
                    "GET {path}: {body}"
                );
            }
        }
        // The proof and entry endpoints with indices past the end or past u64.
        let mut failures = Vec::new();
        for (path, expected) in [
            ("/api/v1/entries/1000000", 404),
            ("/api/v1/entries/18446744073709551615", 400),
            ("/api/v1/entries/18446744073709551616", 400),
            ("/api/v1/entries/-1", 400),
            ("/api/v1/entries/0x10", 400),
            (
                "/api/v1/proofs/inclusion?index=18446744073709551615&size=18446744073709551615",
                404,
            ),
            (
                "/api/v1/proofs/inclusion?index=0&size=18446744073709551615",
                400,
            ),
            ("/api/v1/proofs/inclusion?index=0&size=1000000", 400),
            ("/api/v1/proofs/inclusion?index=5&size=2", 404),
            (
                "/api/v1/proofs/inclusion?index=0&size=18446744073709551616",
                400,
            ),
            (
                "/api/v1/proofs/consistency?from=18446744073709551615&to=1",
                400,
            ),
            (
                "/api/v1/proofs/consistency?from=1&to=18446744073709551615",
                400,
            ),
            ("/api/v1/proofs/consistency?from=1&to=1000000", 400),
            // Without a credential the API says so before it reads the query.
            ("/api/v1/payloads/reads?after=18446744073709551616", 401),
        ] {
            let (status, body) = raw_get(&c, path).await;
            if status != expected {
                failures.push(format!(
                    "GET {path}: expected {expected}, got {status}: {body}"
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}

/// Every API route (from the server's own OpenAPI document, so a new route without a row
/// fails) × every kind of credential, with the status each gets.
#[tokio::test]
async fn api_routes_for_every_credential() {
    let db = databases("hostile-api-matrix").swap_remove(0);
    let c = Client::start(&db).await;
    let w = World::register(&c).await;
    let report = w.report("2026-03");
    let receipt = c
        .must_submit(&w.report_statement("2026-03", &report), Some(&report))
        .await;
    let size = c.size().await;
    let sha = hex::encode(sha256(&report));

    let (revoked_id, revoked) = credential_with_id(&c, "inspector", "revoked");
    let (ok, out, err) = admin(&c, &["revoke-credential", &revoked_id.to_string()]);
    assert!(ok, "revoke-credential failed: {out}{err}");
    let credentials: [(&str, Option<String>); 8] = [
        ("none", None),
        (
            "unknown token",
            Some("insyn_0000000000000000000000".to_owned()),
        ),
        ("revoked inspector", Some(revoked)),
        ("inspector", Some(credential(&c, "inspector", "i"))),
        (
            "auditor of the contracting municipality",
            Some(credential(&c, "auditor:0180", "a")),
        ),
        (
            "auditor of another municipality",
            Some(credential(&c, "auditor:1480", "b")),
        ),
        (
            "the reporting provider",
            Some(credential(
                &c,
                &format!("provider:{}", w.provider.digits()),
                "p",
            )),
        ),
        (
            "another provider",
            Some(credential(&c, "provider:5560360793", "q")),
        ),
    ];

    // (method, OpenAPI path, concrete path, body, status per credential above)
    type RouteRow<'a> = (&'a str, &'a str, String, Option<&'a str>, [u16; 8]);
    let rows: Vec<RouteRow> = vec![
        ("get", "/checkpoint", "/checkpoint".into(), None, [200; 8]),
        (
            "get",
            "/verifier-key",
            "/verifier-key".into(),
            None,
            [200; 8],
        ),
        ("get", "/healthz", "/healthz".into(), None, [200; 8]),
        (
            "get",
            "/tile/{path}",
            format!("/tile/0/000.p/{size}"),
            None,
            [200; 8],
        ),
        ("get", "/api/v1/log", "/api/v1/log".into(), None, [200; 8]),
        (
            "post",
            "/api/v1/entries",
            "/api/v1/entries".into(),
            Some("{}"),
            [400; 8],
        ),
        (
            "get",
            "/api/v1/entries/{index}",
            format!("/api/v1/entries/{}", receipt.index),
            None,
            [200; 8],
        ),
        (
            "post",
            "/api/v1/cosignatures",
            "/api/v1/cosignatures".into(),
            Some("{}"),
            [400; 8],
        ),
        (
            "get",
            "/api/v1/checkpoints/latest/cosigned",
            "/api/v1/checkpoints/latest/cosigned".into(),
            None,
            [200; 8],
        ),
        (
            "get",
            "/api/v1/payloads/{sha256}",
            format!("/api/v1/payloads/{sha}"),
            None,
            [401, 401, 401, 200, 200, 403, 200, 403],
        ),
        (
            "get",
            "/api/v1/payloads/{sha256}/reads",
            format!("/api/v1/payloads/{sha}/reads"),
            None,
            [401, 401, 401, 200, 403, 403, 403, 403],
        ),
        (
            "get",
            "/api/v1/proofs/inclusion",
            format!(
                "/api/v1/proofs/inclusion?index={}&size={size}",
                receipt.index
            ),
            None,
            [200; 8],
        ),
        (
            "get",
            "/api/v1/proofs/consistency",
            format!("/api/v1/proofs/consistency?from=1&to={size}"),
            None,
            [200; 8],
        ),
        (
            "get",
            "/api/v1/schema/report-v1.json",
            "/api/v1/schema/report-v1.json".into(),
            None,
            [200; 8],
        ),
    ];

    // Every operation the server documents has a row, and every row is documented.
    let doc: Value = reqwest::get(c.server.at("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut documented = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            documented.push((method.clone(), path.clone()));
        }
    }
    for (method, path) in &documented {
        assert!(
            rows.iter().any(|r| r.0 == method && r.1 == path),
            "{method} {path} is in the OpenAPI document but not in this matrix"
        );
    }
    for r in &rows {
        assert!(
            documented.iter().any(|(m, p)| m == r.0 && p == r.1),
            "{} {} is in the matrix but not in the OpenAPI document",
            r.0,
            r.1
        );
    }

    let http = reqwest::Client::new();
    let mut failures = Vec::new();
    for (method, _, path, body, expected) in &rows {
        for ((who, token), want) in credentials.iter().zip(expected) {
            let mut req = match *method {
                "post" => http
                    .post(c.server.at(path))
                    .header("content-type", "application/json")
                    .body(body.unwrap_or_default().to_owned()),
                _ => http.get(c.server.at(path)),
            };
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let got = req.send().await.unwrap().status().as_u16();
            if got != *want {
                failures.push(format!(
                    "{who}: {method} {path}: expected {want}, got {got}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

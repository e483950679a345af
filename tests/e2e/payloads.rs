//! Who may read a report's contents through the API, and that every read is recorded.

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{databases, insyn};
use crate::submissions::{Client, World};

fn credential(c: &Client, role: &str) -> String {
    let data_dir = c.server.data_dir.to_str().unwrap().to_owned();
    let mut args = vec!["admin", "--data-dir", &data_dir];
    let url;
    if let Some(u) = c.server.database_url() {
        url = u;
        args.extend(["--database-url", &url]);
    }
    args.extend(["add-credential", role, "--label", "e2e test"]);
    let (ok, out, err) = insyn(&args);
    assert!(ok, "add-credential {role} failed: {out}{err}");
    out.lines()
        .next()
        .and_then(|l| l.rsplit(' ').next())
        .expect("the token is printed")
        .to_owned()
}

async fn get(c: &Client, path: &str, token: Option<&str>) -> (StatusCode, Vec<u8>) {
    let mut req = reqwest::Client::new().get(c.server.at(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    (r.status(), r.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn payloads_are_read_only_by_roles_that_may_and_every_read_is_recorded() {
    for db in databases("payloads") {
        let c = Client::start(&db).await;
        let w = World::register(&c).await;
        let report = w.report("2026-03");
        c.must_submit(&w.report_statement("2026-03", &report), Some(&report))
            .await;
        let path = format!(
            "/api/v1/payloads/{}",
            hex::encode(insyn_ledger::hash::sha256(&report))
        );

        let inspector = credential(&c, "inspector");
        let own_auditor = credential(&c, "auditor:0180");
        let other_auditor = credential(&c, "auditor:1480");
        let own_provider = credential(&c, &format!("provider:{}", w.provider.digits()));
        let other_provider = credential(&c, "provider:5560360793");

        assert_eq!(get(&c, &path, None).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(
            get(&c, &path, Some("insyn_not-a-token")).await.0,
            StatusCode::UNAUTHORIZED
        );
        for allowed in [&inspector, &own_auditor, &own_provider] {
            let (status, body) = get(&c, &path, Some(allowed)).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(body, report, "the payload comes back byte for byte");
        }
        for refused in [&other_auditor, &other_provider] {
            assert_eq!(get(&c, &path, Some(refused)).await.0, StatusCode::FORBIDDEN);
        }
        assert_eq!(
            get(&c, "/api/v1/payloads/zz", Some(&inspector)).await.0,
            StatusCode::BAD_REQUEST
        );
        let unknown = format!("/api/v1/payloads/{}", "00".repeat(32));
        assert_eq!(
            get(&c, &unknown, Some(&inspector)).await.0,
            StatusCode::NOT_FOUND
        );

        // Three reads happened, by three credentials; refused attempts read nothing.
        let (status, body) = get(&c, &format!("{path}/reads"), Some(&inspector)).await;
        assert_eq!(status, StatusCode::OK);
        let reads: Vec<Value> = serde_json::from_slice(&body).unwrap();
        assert_eq!(reads.len(), 3, "{reads:#?}");
        let roles: Vec<&str> = reads.iter().map(|r| r["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["inspector", "auditor", "provider"]);
        assert!(
            reads
                .iter()
                .all(|r| r["reader"].as_str().unwrap().starts_with("credential:"))
        );
        // Only inspectors see the audit.
        assert_eq!(
            get(&c, &format!("{path}/reads"), Some(&own_auditor))
                .await
                .0,
            StatusCode::FORBIDDEN
        );
    }
}

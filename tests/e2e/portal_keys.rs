//! `insyn admin add-portal-key`: the operator creates the key the portal signs a municipality's
//! reviews with; after a restart of `insyn serve`, an auditor's review made in the portal is a
//! ledger entry signed with that key, and the whole log still verifies.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use insyn_ledger::entry::{Actor, Body, Decision, Entry, Kind};
use insyn_ledger::keys::SigningKey;
use insyn_ledger::note::LogVerifier;
use serde_json::Value;

use crate::cli::{fails, field, ok, s};
use crate::harness::{Db, Server, databases};
use crate::submissions::{Client, World};

const PASSWORD: &str = "a long enough test password";

/// A minimal browser: follows no redirects, keeps cookies, posts forms.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
}

struct Answer {
    status: u16,
    location: Option<String>,
    body: String,
}

impl Browser {
    fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.to_owned(),
            cookies: BTreeMap::new(),
        }
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Answer {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let req = if cookie.is_empty() {
            req
        } else {
            req.header("cookie", cookie)
        };
        let r = req.send().await.unwrap();
        for c in r.headers().get_all("set-cookie") {
            let first = c.to_str().unwrap().split(';').next().unwrap();
            if let Some((k, v)) = first.split_once('=') {
                if v.is_empty() {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_owned(), v.to_owned());
                }
            }
        }
        Answer {
            status: r.status().as_u16(),
            location: r
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_owned()),
            body: r.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Answer {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let req = self.http.post(format!("{}{path}", self.base)).form(fields);
        self.send(req).await
    }
}

/// The first CSRF token in a page's forms.
fn csrf(page: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = page.find(marker).expect("a form") + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

fn admin_args<'a>(data_dir: &'a str, db: &'a Db) -> Vec<&'a str> {
    let mut v = vec!["admin", "--data-dir", data_dir];
    if let Db::Postgres(url) = db {
        v.extend(["--database-url", url.as_str()]);
    }
    v
}

#[tokio::test]
async fn an_admin_made_portal_key_signs_reviews_that_verify() {
    for db in databases("portal_keys") {
        let tmp = tempfile::tempdir().unwrap();
        let data_dir = tmp.path().join("data");
        let dir = s(&data_dir);

        // The command writes the key file and registers the key, before the server starts.
        let mut args = admin_args(&dir, &db);
        args.extend(["add-portal-key", "--municipality", "0180"]);
        let out = ok(&args);
        assert!(out.contains("entry 0 integrated"), "{out}");
        assert!(out.contains("entry 1 integrated"), "{out}");
        let path = data_dir.join("portal-keys").join("0180.key");
        assert!(out.contains(&s(&path)), "{out}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "the key file is private");
        }
        let key = SigningKey::from_text(std::fs::read_to_string(&path).unwrap().trim())
            .expect("the file holds an Insyn secret key");
        assert!(out.contains(&key.key_id().to_string()), "{out}");

        // It never overwrites a key, and appends nothing when it refuses.
        let again = fails(&args);
        assert!(again.contains("already exists"), "{again}");
        assert_eq!(
            SigningKey::from_text(std::fs::read_to_string(&path).unwrap().trim())
                .unwrap()
                .key_id(),
            key.key_id()
        );
        // A code that is not a municipality is refused.
        let mut bad = admin_args(&dir, &db);
        bad.extend(["add-portal-key", "--municipality", "0000"]);
        fails(&bad);

        // The server loads the key at start.
        let server = Server::start_in(&data_dir, &db, &[]);
        let vkey = server
            .banner
            .iter()
            .find_map(|l| l.strip_prefix("log verifier key: "))
            .unwrap()
            .to_owned();
        let c = Client::attach(server, LogVerifier::from_verifier_key(&vkey).unwrap());
        assert_eq!(c.size().await, 2, "the refused attempts appended nothing");
        let w = World::register(&c).await;
        let report = w.report("2026-03");
        let receipt = c
            .must_submit(&w.report_statement("2026-03", &report), Some(&report))
            .await;

        // A Stockholm auditor's account, made by the operator's command.
        let mut args = admin_args(&dir, &db);
        args.extend([
            "add-account",
            "revisor",
            "--role",
            "auditor:0180",
            "--name",
            "Revisor Stockholm",
        ]);
        let out = ok(&args);
        let password = field(&out, "password:");

        // The auditor logs in, opens the report and accepts it.
        let mut b = Browser::new(&c.server.url);
        assert_eq!(log_in(&mut b, "revisor", &password).await, 303, "login");
        let page = b.get(&format!("/reports/{}", receipt.index)).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("Verifierad"), "{}", page.body);
        let r = b
            .post(
                &format!("/reports/{}/review", receipt.index),
                &[
                    ("csrf_token", &csrf(&page.body)),
                    ("decision", "accepted"),
                    ("comment", "Granskad och godkänd."),
                ],
            )
            .await;
        assert_eq!(r.status, 303, "review: {}", r.body);
        let location = r.location.unwrap();
        let review: u64 = location
            .split("review=")
            .nth(1)
            .and_then(|v| v.split('#').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("the review's index in {location}"));

        // The review is an entry of the municipality, signed with the portal key.
        let v: Value = reqwest::get(c.server.at(&format!("/api/v1/entries/{review}")))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let entry = Entry::decode(&B64.decode(v["entry"].as_str().unwrap()).unwrap()).unwrap();
        let st = entry.statement();
        assert_eq!(st.kind(), Kind::ReportReviewed);
        assert_eq!(*st.actor(), Actor::Municipality("0180".parse().unwrap()));
        assert_eq!(st.key_id(), key.key_id(), "signed with the portal key");
        match st.body() {
            Body::ReportReviewed {
                report, decision, ..
            } => {
                assert_eq!(*report, receipt.index);
                assert_eq!(*decision, Decision::Accepted);
            }
            other => panic!("not a review: {other:?}"),
        }

        // And the whole log, review included, verifies as an inspector checks it.
        let out = ok(&[
            "verify",
            "--server",
            &c.server.url,
            "--log-key",
            &vkey,
            "--no-state",
            "--quiet",
        ]);
        assert!(out.contains("OK: the log verifies"), "{out}");
        assert!(
            out.contains(&format!("checkpoint: size {}", review + 1)),
            "{out}"
        );
    }
}

/// Logs in through the form; the status of the answer (303 when logged in).
async fn log_in(b: &mut Browser, username: &str, password: &str) -> u16 {
    let login = b.get("/login").await;
    b.post(
        "/login",
        &[
            ("csrf_token", &csrf(&login.body)),
            ("username", username),
            ("password", password),
            ("next", "/"),
        ],
    )
    .await
    .status
}

/// `insyn admin add-account` and `reset-password`: the accounts a real deployment starts with,
/// their refusals, and a reset that replaces the old password.
#[tokio::test]
async fn operators_create_portal_accounts_and_reset_their_passwords() {
    for db in databases("accounts") {
        let tmp = tempfile::tempdir().unwrap();
        let data_dir = tmp.path().join("data");
        let dir = s(&data_dir);
        let add = |extra: &[&str]| {
            let mut args = admin_args(&dir, &db);
            args.push("add-account");
            args.extend(extra);
            args.iter()
                .map(|a| (*a).to_owned())
                .collect::<Vec<String>>()
        };
        let run = |args: Vec<String>| ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let run_fails =
            |args: Vec<String>| fails(&args.iter().map(String::as_str).collect::<Vec<_>>());

        let out = run(add(&[
            "inspektor.1",
            "--role",
            "inspector",
            "--name",
            "Inspektör",
        ]));
        assert!(out.contains("inspektor.1 (inspector)"), "{out}");
        let first = field(&out, "password:");
        assert!(first.len() >= 24, "a long random password: {first}");
        let out = run(add(&[
            "Granskare.0180",
            "--role",
            "auditor:0180",
            "--name",
            "Granskare",
            "--language",
            "en",
        ]));
        assert!(
            out.contains("granskare.0180 (auditor for 0180 Stockholm)"),
            "{out}"
        );

        // Refusals, each with its reason.
        let e = run_fails(add(&[
            "inspektor.1",
            "--role",
            "inspector",
            "--name",
            "Again",
        ]));
        assert!(e.contains("already exists"), "{e}");
        let e = run_fails(add(&["x", "--role", "auditor:9999", "--name", "X"]));
        assert!(e.contains("municipality code"), "{e}");
        let e = run_fails(add(&["x", "--role", "superuser", "--name", "X"]));
        assert!(e.contains("the role must be"), "{e}");
        let e = run_fails(add(&["bad name!", "--role", "inspector", "--name", "X"]));
        assert!(e.contains("username must be"), "{e}");
        let e = run_fails(add(&[
            "x",
            "--role",
            "inspector",
            "--name",
            "X",
            "--language",
            "fi",
        ]));
        assert!(e.contains("`sv` or `en`"), "{e}");

        let server = Server::start_in(&data_dir, &db, &[]);
        let mut b = Browser::new(&server.url);
        assert_eq!(log_in(&mut b, "inspektor.1", &first).await, 303);
        assert_ne!(
            log_in(&mut Browser::new(&server.url), "inspektor.1", PASSWORD).await,
            303
        );

        // A reset while the server runs: the old password stops working, the new one works.
        let mut reset = admin_args(&dir, &db);
        reset.extend(["reset-password", "inspektor.1"]);
        let out = ok(&reset);
        let second = field(&out, "password:");
        assert_ne!(first, second);
        assert_ne!(
            log_in(&mut Browser::new(&server.url), "inspektor.1", &first).await,
            303
        );
        assert_eq!(
            log_in(&mut Browser::new(&server.url), "inspektor.1", &second).await,
            303
        );
        let mut unknown = admin_args(&dir, &db);
        unknown.extend(["reset-password", "nobody"]);
        let e = fails(&unknown);
        assert!(e.contains("there is no account named"), "{e}");
    }
}

//! The portal in a real browser: Debian's headless Chromium driven over WebDriver
//! (`chromedriver`, on 127.0.0.1 only). Logs in, walks the main pages, saves a screenshot of
//! each in `target/browser-artifacts/`, and runs axe-core (from `tests/browser`, installed with
//! `npm ci`) in every page, failing on any serious or critical WCAG 2.1 A/AA finding.
//!
//! Without `chromium`/`chromedriver` the test prints a loud SKIPPED line and passes, except
//! under `CI=true`, where it fails.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

use crate::helpers::PASSWORD;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}

fn skip_or_fail(why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("browser test cannot run under CI=true: {why}");
    }
    // Written to the real stderr, not through `eprintln!`, which the test harness captures
    // and hides for passing tests.
    let line = "=".repeat(72);
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("\n{line}\nSKIPPED: portal browser test: {why}\n{line}\n\n").as_bytes(),
    );
}

/// axe-core's source, installing it with `npm ci` first if needed.
fn axe_source() -> Result<String, String> {
    let dir = workspace_root().join("tests/browser");
    let script = dir.join("node_modules/axe-core/axe.min.js");
    if !script.is_file() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status()
            .map_err(|e| format!("npm ci in tests/browser could not start: {e}"))?;
        if !status.success() {
            return Err(format!("npm ci in tests/browser failed: {status}"));
        }
    }
    std::fs::read_to_string(&script).map_err(|e| format!("{}: {e}", script.display()))
}

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn start_browser(profile: &Path) -> (Driver, Client) {
    let port = free_port();
    let child = Command::new("chromedriver")
        .args([
            format!("--port={port}"),
            "--allowed-ips=127.0.0.1".to_owned(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver(child);
    let binary = on_path("chromium").expect("chromium");
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": binary,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.display()),
            ]
        }
    });
    let caps = match caps {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object"),
    };
    let url = format!("http://127.0.0.1:{port}");
    let mut last_error = String::new();
    for _ in 0..100 {
        // Plain HTTP to chromedriver on 127.0.0.1: no TLS stack needed.
        match ClientBuilder::new(HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => return (driver, client),
            Err(e) => {
                last_error = e.to_string();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    panic!("could not connect to chromedriver at {url}: {last_error}");
}

struct Session {
    client: Client,
    base: String,
    axe: String,
    artifacts: PathBuf,
}

impl Session {
    async fn open(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .expect("navigate");
    }

    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(self.artifacts.join(format!("{name}.png")), png).expect("write screenshot");
    }

    /// Runs axe-core in the current page; returns the serious and critical violations.
    async fn axe(&self, name: &str) -> Vec<String> {
        self.client
            .execute(&format!("{}\n;return true;", self.axe), vec![])
            .await
            .expect("inject axe-core");
        let result = self
            .client
            .execute_async(
                r"const done = arguments[arguments.length - 1];
                  axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } })
                    .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' ')) }))))
                    .catch(e => done({ error: String(e) }));",
                vec![],
            )
            .await
            .expect("run axe-core");
        if let Some(err) = result.get("error") {
            panic!("{name}: axe-core failed: {err}");
        }
        let violations = result.as_array().cloned().unwrap_or_default();
        std::fs::write(
            self.artifacts.join(format!("{name}.axe.json")),
            serde_json::to_string_pretty(&violations).unwrap_or_default(),
        )
        .expect("write axe report");
        violations
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .map(|v| {
                format!(
                    "{name}: {} ({}): {} at {}",
                    v["id"], v["impact"], v["help"], v["nodes"]
                )
            })
            .collect()
    }

    /// Screenshot and accessibility check of the current page.
    async fn check(&self, name: &str, problems: &mut Vec<String>) {
        self.screenshot(name).await;
        problems.extend(self.axe(name).await);
    }

    /// Finds `locator`, waiting up to ten seconds for it to appear (a loaded machine can be
    /// slow to render); on failure, panics with the page the browser is actually showing.
    async fn find_waiting(
        &self,
        locator: Locator<'_>,
        what: &str,
    ) -> fantoccini::elements::Element {
        for _ in 0..200 {
            if let Ok(element) = self.client.find(locator).await {
                return element;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let url = self.client.current_url().await.map(|u| u.to_string());
        let source = self.client.source().await.unwrap_or_default();
        let excerpt: String = source.chars().take(2000).collect();
        panic!("{what} never appeared; the browser shows {url:?}:\n{excerpt}");
    }

    async fn login(&self, username: &str) {
        self.open("/login").await;
        self.find_waiting(Locator::Id("username"), "the username field")
            .await
            .send_keys(username)
            .await
            .expect("type username");
        self.client
            .find(Locator::Id("password"))
            .await
            .expect("password field")
            .send_keys(PASSWORD)
            .await
            .expect("type password");
        self.client
            .find(Locator::Css("form.form button[type=submit]"))
            .await
            .expect("login button")
            .click()
            .await
            .expect("submit");
    }

    async fn logout(&self) {
        self.client
            .find(Locator::Css("header form[action='/logout'] button"))
            .await
            .expect("logout button")
            .click()
            .await
            .expect("log out");
    }

    /// Waits (up to five seconds, across page loads) until the element `css` contains
    /// `expected`, and returns its text.
    async fn wait_text(&self, css: &str, expected: &str) -> String {
        let mut last = String::new();
        for _ in 0..100 {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
            {
                if text.contains(expected) {
                    return text;
                }
                last = text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{css} never contained {expected:?}; last text {last:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn main_pages_work_and_pass_axe_in_chromium() {
    if on_path("chromium").is_none() || on_path("chromedriver").is_none() {
        skip_or_fail(
            "chromium or chromedriver is not installed (apt-get install chromium chromium-driver)",
        );
        return;
    }
    let axe = match axe_source() {
        Ok(source) => source,
        Err(why) => {
            skip_or_fail(&why);
            return;
        }
    };
    let artifacts = workspace_root().join("target/browser-artifacts");
    std::fs::create_dir_all(&artifacts).expect("artifacts dir");

    let portal = crate::ledger::portal_with_history().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = portal
        .router
        .clone()
        .into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let profile = tempfile::tempdir().expect("profile dir");
    let (_driver, client) = start_browser(profile.path()).await;
    let s = Session {
        client,
        base: format!("http://{addr}"),
        axe,
        artifacts,
    };
    let mut problems = Vec::new();

    // Anonymous: the login page, and a failed login.
    s.open("/").await;
    assert!(s.client.current_url().await.expect("url").path() == "/login");
    s.check("01-login", &mut problems).await;
    s.open("/login").await;
    s.client
        .find(Locator::Id("username"))
        .await
        .expect("username")
        .send_keys("anna")
        .await
        .expect("type");
    s.client
        .find(Locator::Id("password"))
        .await
        .expect("password")
        .send_keys("wrong password!")
        .await
        .expect("type");
    s.client
        .find(Locator::Css("form.form button[type=submit]"))
        .await
        .expect("button")
        .click()
        .await
        .expect("submit");
    s.wait_text("#login-error", "Fel användarnamn eller lösenord")
        .await;
    s.check("02-login-failed", &mut problems).await;

    // An auditor.
    s.login("anna").await;
    s.wait_text("h1", "Välkommen, Anna Granskare").await;
    s.check("03-start-auditor", &mut problems).await;
    s.open("/account").await;
    s.check("04-account", &mut problems).await;
    s.open("/admin/accounts").await;
    s.wait_text("h1", "Du har inte behörighet").await;
    s.check("05-forbidden", &mut problems).await;
    s.open("/no/such/page").await;
    s.check("06-not-found", &mut problems).await;

    // Switch to English from the footer, then back to Swedish on the account page.
    s.open("/account").await;
    s.client
        .find(Locator::Css("footer button[value=en]"))
        .await
        .expect("English button")
        .click()
        .await
        .expect("switch language");
    s.wait_text("h1", "My account").await;
    s.check("07-account-english", &mut problems).await;
    s.client
        .find(Locator::Css("label[for=lang-sv]"))
        .await
        .expect("Swedish radio")
        .click()
        .await
        .expect("choose Swedish");
    s.client
        .find(Locator::Css("main form button[type=submit]"))
        .await
        .expect("save")
        .click()
        .await
        .expect("save language");
    s.wait_text("h1", "Mitt konto").await;
    s.logout().await;
    s.wait_text(".notice-success", "Du är utloggad").await;

    // An inspector and an administrator.
    s.login("ivar").await;
    s.wait_text("h1", "Välkommen, Ivar Inspektör").await;
    s.check("08-start-inspector", &mut problems).await;
    s.open("/ledger").await;
    s.wait_text("h1", "Liggaren").await;
    s.check("08b-ledger", &mut problems).await;
    // The chart's table alternative opens from the keyboard-reachable summary.
    s.client
        .find(Locator::Css(".chart-data summary"))
        .await
        .expect("table summary")
        .click()
        .await
        .expect("open the table");
    s.wait_text(".chart-data caption", "Antal poster").await;
    s.check("08c-ledger-table", &mut problems).await;
    let figure = s
        .client
        .find(Locator::Css(".chart-figure"))
        .await
        .expect("chart figure")
        .screenshot()
        .await
        .expect("chart screenshot");
    std::fs::write(s.artifacts.join("08d-ledger-chart.png"), figure).expect("write");
    s.logout().await;
    s.login("ada").await;
    s.wait_text("h1", "Välkommen, Ada Administratör").await;
    s.check("09-start-administrator", &mut problems).await;
    s.open("/admin/accounts").await;
    s.wait_text("h1", "Konton").await;
    s.check("10-admin-accounts", &mut problems).await;

    // A phone-sized window: the layout reflows (WCAG 1.4.10) and stays accessible.
    s.client.set_window_size(390, 844).await.expect("resize");
    s.open("/").await;
    s.check("10b-start-narrow", &mut problems).await;
    s.open("/admin/accounts").await;
    s.check("10c-admin-accounts-narrow", &mut problems).await;
    s.client.set_window_size(1280, 1000).await.expect("resize");

    // Keyboard: the first Tab reaches the skip link, which leads to the main content.
    s.open("/account").await;
    s.client
        .find(Locator::Css("body"))
        .await
        .expect("body")
        .send_keys("\u{E004}")
        .await
        .expect("tab");
    let focused = s
        .client
        .execute("return document.activeElement.className;", vec![])
        .await
        .expect("active element");
    assert_eq!(focused.as_str(), Some("skip-link"));
    s.screenshot("11-skip-link-focused").await;

    s.client.close().await.expect("close browser");
    server.abort();
    assert!(
        problems.is_empty(),
        "serious or critical accessibility problems:\n{}",
        problems.join("\n")
    );
}

/// The data pages over the demo ledger: an auditor opens the overview, a provider and a report,
/// sees it verified, accepts it and sees the decision (and its ledger entry); an auditor of
/// another municipality is refused; an inspector verifies the whole ledger and reads the access
/// log; every data page passes axe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_pages_review_flow_and_axe_in_chromium() {
    if on_path("chromium").is_none() || on_path("chromedriver").is_none() {
        skip_or_fail(
            "chromium or chromedriver is not installed (apt-get install chromium chromium-driver)",
        );
        return;
    }
    let axe = match axe_source() {
        Ok(source) => source,
        Err(why) => {
            skip_or_fail(&why);
            return;
        }
    };
    let artifacts = workspace_root().join("target/browser-artifacts");
    std::fs::create_dir_all(&artifacts).expect("artifacts dir");

    let demo = crate::data::demo_portal().await;
    let stockholm = crate::helpers::municipality("0180");
    let provider = crate::data::provider_only_of(
        &demo.dataset,
        stockholm,
        crate::helpers::municipality("1480"),
    );
    let report = crate::data::latest_report_of(&demo.store, stockholm, provider).await;
    let size = demo.store.size().await.expect("size");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = demo
        .portal
        .router
        .clone()
        .into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let profile = tempfile::tempdir().expect("profile dir");
    let (_driver, client) = start_browser(profile.path()).await;
    let s = Session {
        client,
        base: format!("http://{addr}"),
        axe,
        artifacts,
    };
    let mut problems = Vec::new();

    s.login("anna").await;
    s.wait_text("h1", "Välkommen").await;
    s.open("/overview").await;
    s.wait_text("h1", "Översikt: Stockholm (0180)").await;
    s.check("20-overview", &mut problems).await;
    s.open(&format!("/providers/{}", provider.digits())).await;
    s.wait_text("h1", "Utförare").await;
    s.check("21-provider", &mut problems).await;
    s.open(&format!("/reports/{report}")).await;
    s.wait_text("#verify-result", "Verifierad").await;
    s.check("22-report", &mut problems).await;

    // Accept the report with a comment.
    s.client
        .find(Locator::Css("label[for=decision-accepted]"))
        .await
        .expect("accept radio")
        .click()
        .await
        .expect("choose accept");
    s.client
        .find(Locator::Id("review-comment"))
        .await
        .expect("comment field")
        .send_keys("Stämmer med avtalet.")
        .await
        .expect("type comment");
    s.client
        .find(Locator::Css("form[action$='/review'] button[type=submit]"))
        .await
        .expect("review button")
        .click()
        .await
        .expect("submit review");
    s.wait_text(
        ".notice-success[role=status]",
        "Ditt beslut är infört i liggaren",
    )
    .await;
    let row = s.wait_text(&format!("#review-{size}"), "Godkänd").await;
    assert!(row.contains("Stämmer med avtalet."), "{row}");
    s.check("23-report-reviewed", &mut problems).await;
    assert_eq!(demo.store.size().await.expect("size"), size + 1);
    s.logout().await;

    // Göteborg's auditor is refused Stockholm's report.
    s.login("goran").await;
    s.wait_text("h1", "Välkommen").await;
    s.open(&format!("/reports/{report}")).await;
    s.wait_text("h1", "Du har inte behörighet").await;
    s.check("24-report-forbidden", &mut problems).await;
    s.logout().await;

    // The inspector verifies the whole ledger and reads the access log, which shows Anna's
    // reads and her review comment.
    s.login("ivar").await;
    s.wait_text("h1", "Välkommen").await;
    s.open("/ledger/verification").await;
    s.wait_text("main", "Ingen kontroll har gjorts").await;
    s.check("25-verification-none", &mut problems).await;
    s.open("/ledger").await;
    s.wait_text("h1", "Liggaren").await;
    s.check("26-ledger-with-data", &mut problems).await;
    s.client
        .find(Locator::Css(
            "form[action='/ledger/verify'] button[type=submit]",
        ))
        .await
        .expect("verify button")
        .click()
        .await
        .expect("start the verification");
    // The status page (updated by its script, or showing the result at once).
    let mut verified = false;
    for _ in 0..1200 {
        if let Ok(main) = s.client.find(Locator::Css("main")).await
            && let Ok(text) = main.text().await
            && text.contains("Liggaren är verifierad.")
        {
            verified = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(verified, "the verification did not finish in two minutes");
    s.check("27-verification-verified", &mut problems).await;
    s.open("/access-log").await;
    s.wait_text("h1", "Åtkomstlogg").await;
    let table = s.wait_text("#reads-caption", "Läsningar").await;
    assert!(!table.is_empty());
    s.wait_text("main", "Anna Granskare (anna)").await;
    s.check("28-access-log", &mut problems).await;

    s.client.close().await.expect("close browser");
    server.abort();
    assert!(
        problems.is_empty(),
        "serious or critical accessibility problems:\n{}",
        problems.join("\n")
    );
}

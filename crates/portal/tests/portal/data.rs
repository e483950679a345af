//! The data pages over a real ledger: the domain's demo history run through the real sequencer
//! with the real admission policy (`insyn_api::policy::LedgerPolicy`), as `insyn serve --demo`
//! does; then overview, provider and report pages, access across municipalities, the live
//! verification, the review form (CSRF, a new ledger entry, escaping) and the read audit.

use std::sync::Arc;

use axum::http::StatusCode;
use insyn_api::ApiSequencer;
use insyn_api::policy::LedgerPolicy;
use insyn_domain::demo::{DemoConfig, DemoDataset, DemoKey};
use insyn_ledger::entry::{Body, ContractRef, Kind};
use insyn_ledger::id::{MunicipalityCode, OrgNumber};
use insyn_ledger::keys::SigningKey;
use insyn_ledger::note::LogSigner;
use insyn_portal::{PortalConfig, PortalKeys};
use insyn_store::{ManualClock, Page, ReportQuery, Sequencer, SequencerConfig, Store};

use crate::helpers::{START_MS, TestPortal, municipality, redact};

pub(crate) struct DemoPortal {
    pub(crate) portal: TestPortal,
    pub(crate) store: Store,
    pub(crate) dataset: DemoDataset,
    _sequencer: Arc<ApiSequencer>,
}

/// A portal over the demo history (ending before [`START_MS`]) with reviews enabled: the
/// portal signs with each demo municipality's current key.
pub(crate) async fn demo_portal() -> DemoPortal {
    demo_portal_on(None).await
}

/// [`demo_portal`] on the database at `url` (an empty PostgreSQL database), or on a fresh
/// SQLite file when `None`.
pub(crate) async fn demo_portal_on(url: Option<&str>) -> DemoPortal {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = url.map_or_else(
        || {
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("insyn.db").display()
            )
        },
        str::to_owned,
    );
    let start = u64::try_from(START_MS).expect("positive");
    let clock = Arc::new(ManualClock::new(0));
    let store = Store::connect(&url)
        .await
        .expect("store")
        .with_clock(clock.clone());
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
    let sequencer = Arc::new(sequencer);
    let now = time::OffsetDateTime::from_unix_timestamp(START_MS / 1000).expect("time");
    let dataset = insyn_domain::demo::generate(&DemoConfig { seed: 11, now });
    for planned in &dataset.submissions {
        let key = match planned.signer {
            DemoKey::Log => signer.signing_key().clone(),
            other => dataset.signing_key(other).expect("demo key"),
        };
        let signed = planned.sign(&key).expect("sign");
        clock.set(planned.integrated_at_ms);
        sequencer
            .submit(insyn_api::candidate(signed, planned.payload.clone()).expect("candidate"))
            .await
            .expect("the demo plan is admitted");
    }
    clock.set(start);
    let mut keys = PortalKeys::new();
    for m in &dataset.municipalities {
        keys.insert(
            *m,
            dataset
                .signing_key(dataset.current_municipality_key(*m))
                .expect("municipality key"),
        );
    }
    let portal = TestPortal::with_store(store.clone(), PortalConfig::default(), dir).await;
    // The state is shared with the router, so enabling reviews now reaches every request.
    let _ = portal.state.clone().with_reviews(sequencer.clone(), keys);
    DemoPortal {
        portal,
        store,
        dataset,
        _sequencer: sequencer,
    }
}

/// Contracts of the demo: (contract, provider).
fn contracts(d: &DemoDataset) -> Vec<(ContractRef, OrgNumber)> {
    d.submissions
        .iter()
        .filter_map(|s| match &s.body {
            Body::ContractRegistered {
                contract, provider, ..
            } => Some((contract.clone(), *provider)),
            _ => None,
        })
        .collect()
}

/// A provider contracted by `m` and not by `other`.
pub(crate) fn provider_only_of(
    d: &DemoDataset,
    m: MunicipalityCode,
    other: MunicipalityCode,
) -> OrgNumber {
    let all = contracts(d);
    all.iter()
        .map(|(_, p)| *p)
        .find(|p| {
            all.iter().any(|(c, q)| q == p && c.municipality == m)
                && !all.iter().any(|(c, q)| q == p && c.municipality == other)
        })
        .expect("a provider of one city only")
}

/// The latest version of some report of `provider` on a contract of `m`.
pub(crate) async fn latest_report_of(
    store: &Store,
    m: MunicipalityCode,
    provider: OrgNumber,
) -> u64 {
    let rows = store
        .reports(
            &ReportQuery {
                municipality: Some(m),
                provider: Some(provider),
                ..ReportQuery::default()
            },
            Page::first(1000),
        )
        .await
        .expect("reports");
    let first = rows.first().expect("a report");
    let versions = store
        .report_versions(&first.contract, first.period)
        .await
        .expect("versions");
    versions.last().expect("a version").index
}

async fn reads_of(store: &Store, index: u64) -> usize {
    let entry = store.entry(index).await.expect("entry").expect("exists");
    let sha = entry.entry.statement().payload_sha256().expect("a payload");
    store
        .payload_reads(&sha, Page::first(1000))
        .await
        .expect("reads")
        .len()
}

#[tokio::test]
async fn auditors_see_their_own_municipality_verified_and_every_read_is_recorded() {
    auditors_see_their_own_municipality_verified_and_every_read_is_recorded_on(
        &demo_portal().await,
    )
    .await;
}

pub(crate) async fn auditors_see_their_own_municipality_verified_and_every_read_is_recorded_on(
    demo: &DemoPortal,
) {
    let stockholm = municipality("0180");
    let provider = provider_only_of(&demo.dataset, stockholm, municipality("1480"));
    let report = latest_report_of(&demo.store, stockholm, provider).await;
    let mut anna = demo.portal.logged_in("anna").await;

    let page = anna.get("/overview").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Översikt: Stockholm (0180)"));
    assert!(
        page.body
            .contains(&format!("href=\"/providers/{}\"", provider.digits()))
    );
    assert!(page.body.contains("<svg "), "charts");
    assert!(
        page.body.contains("Visa siffrorna som tabell"),
        "chart tables"
    );
    assert!(
        page.body.contains("class=\"status status-"),
        "status badges"
    );
    // An auditor cannot pick another municipality.
    assert_eq!(
        anna.get("/overview?municipality=1480").await.status,
        StatusCode::FORBIDDEN
    );
    let csv = anna.get("/overview.csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(
        csv.body
            .starts_with("\u{feff}Kommun;Avtal;Utförare;Månad;Status"),
        "{}",
        csv.body
    );

    let page = anna.get(&format!("/providers/{}", provider.digits())).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Nycklar"));
    assert!(page.body.contains(&format!("href=\"/reports/{report}\"")));
    let csv = anna
        .get(&format!("/providers/{}/reports.csv", provider.digits()))
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.body.contains(&format!("\r\n{report};0180;"))
            || csv.body.contains(&format!("{report};0180"))
    );
    // Every table of the provider page has its CSV.
    let csv = anna
        .get(&format!("/providers/{}/contracts.csv", provider.digits()))
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(
        csv.body
            .starts_with("\u{feff}Avtal;Kommun;Avtalsperiod;Budget för hela avtalet;"),
        "{}",
        csv.body
    );
    assert!(csv.body.contains(";Stockholm (0180);"), "{}", csv.body);
    let csv = anna
        .get(&format!("/providers/{}/keys.csv", provider.digits()))
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.body
            .starts_with("\u{feff}Nyckel-id;Tillagd i post;Återkallad i post"),
        "{}",
        csv.body
    );
    assert!(csv.body.lines().count() >= 2, "{}", csv.body);

    let before = reads_of(&demo.store, report).await;
    let page = anna.get(&format!("/reports/{report}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("Verifierad: rapporten är äkta"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Ej godkänd"));
    assert!(page.body.contains("Fakturerat totalt"));
    assert!(page.body.contains("Granska rapporten"));
    assert_eq!(
        reads_of(&demo.store, report).await,
        before + 1,
        "opening the report records one read"
    );
    let csv = anna.get(&format!("/reports/{report}/fields.csv")).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.body.contains("Kostnader;Fakturerat totalt;"));
    assert_eq!(reads_of(&demo.store, report).await, before + 2);
    // The report page's other tables: its versions and its reviews.
    let csv = anna.get(&format!("/reports/{report}/versions.csv")).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.body
            .starts_with("\u{feff}Post i liggaren;Införd i liggaren;Version"),
        "{}",
        csv.body
    );
    assert!(csv.body.contains(&format!("\r\n{report};")), "{}", csv.body);
    assert!(csv.body.contains("gällande"), "{}", csv.body);
    let csv = anna.get(&format!("/reports/{report}/reviews.csv")).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.body.starts_with(
            "\u{feff}Post i liggaren;Beslut;Gäller post;Granskare (konto);Tid;Kommentar"
        ),
        "{}",
        csv.body
    );

    // The inspector sees it too, and chooses municipalities.
    let mut ivar = demo.portal.logged_in("ivar").await;
    let page = ivar.get("/overview").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<option value=\"1480\""));
    assert_eq!(
        ivar.get("/overview?municipality=0180").await.status,
        StatusCode::OK
    );
    let page = ivar.get(&format!("/reports/{report}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Verifierad"));
    assert!(
        page.body.contains("Bara granskare i den kommun"),
        "inspectors do not review"
    );
}

#[tokio::test]
async fn another_municipalitys_auditor_and_administrators_are_refused_everywhere() {
    another_municipalitys_auditor_and_administrators_are_refused_everywhere_on(
        &demo_portal().await,
    )
    .await;
}

pub(crate) async fn another_municipalitys_auditor_and_administrators_are_refused_everywhere_on(
    demo: &DemoPortal,
) {
    let stockholm = municipality("0180");
    let provider = provider_only_of(&demo.dataset, stockholm, municipality("1480"));
    let report = latest_report_of(&demo.store, stockholm, provider).await;
    let before = reads_of(&demo.store, report).await;
    let size = demo.store.size().await.expect("size");
    let paths = [
        format!("/providers/{}", provider.digits()),
        format!("/providers/{}/reports.csv", provider.digits()),
        format!("/reports/{report}"),
        format!("/reports/{report}/fields.csv"),
        format!("/providers/{}/contracts.csv", provider.digits()),
        format!("/providers/{}/keys.csv", provider.digits()),
        format!("/reports/{report}/versions.csv"),
        format!("/reports/{report}/reviews.csv"),
        "/overview?municipality=0180".to_owned(),
        "/overview.csv?municipality=0180".to_owned(),
    ];
    for user in ["goran", "ada"] {
        let mut c = demo.portal.logged_in(user).await;
        for path in &paths {
            let r = c.get(path).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{user}: {path}");
            // The page says why, and shows nothing of the record (the typed address is echoed
            // only in the language form's return path).
            assert!(r.body.contains("Du har inte behörighet"), "{user}: {path}");
            for data in ["Nycklar", "Verifierad", "Fakturerat", "Avtalsperiod"] {
                assert!(!r.body.contains(data), "{user}: {path} shows {data}");
            }
        }
        let csrf = c.csrf_of("/account").await;
        let r = c
            .post(
                &format!("/reports/{report}/review"),
                &[("csrf_token", &csrf), ("decision", "accepted")],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{user}: review");
    }
    // Göteborg's own overview does not list Stockholm's provider.
    let mut goran = demo.portal.logged_in("goran").await;
    let page = goran.get("/overview").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains(provider.digits()));
    assert_eq!(
        reads_of(&demo.store, report).await,
        before,
        "nothing was read"
    );
    assert_eq!(
        demo.store.size().await.expect("size"),
        size,
        "nothing was written"
    );
    // Unknown records are 404; malformed ones too.
    let mut anna = demo.portal.logged_in("anna").await;
    assert_eq!(
        anna.get("/reports/999999").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        anna.get("/reports/0").await.status,
        StatusCode::NOT_FOUND,
        "not a report"
    );
    assert_eq!(
        anna.get("/providers/123").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_review_needs_the_csrf_token_and_becomes_a_ledger_entry() {
    a_review_needs_the_csrf_token_and_becomes_a_ledger_entry_on(&demo_portal().await).await;
}

pub(crate) async fn a_review_needs_the_csrf_token_and_becomes_a_ledger_entry_on(demo: &DemoPortal) {
    let stockholm = municipality("0180");
    let provider = provider_only_of(&demo.dataset, stockholm, municipality("1480"));
    let report = latest_report_of(&demo.store, stockholm, provider).await;
    let mut anna = demo.portal.logged_in("anna").await;
    let size = demo.store.size().await.expect("size");
    let path = format!("/reports/{report}/review");

    let r = anna
        .post(&path, &[("decision", "question"), ("comment", "x")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("Formuläret kunde inte skickas"));
    let r = anna
        .post(
            &path,
            &[
                ("csrf_token", "wrong"),
                ("decision", "question"),
                ("comment", "x"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(demo.store.size().await.expect("size"), size);

    let csrf = anna.csrf_of(&format!("/reports/{report}")).await;
    // A question needs a comment.
    let r = anna
        .post(&path, &[("csrf_token", &csrf), ("decision", "question")])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let comment = "Varför ökade kostnaderna? <script>alert('x')</script> & \"mer\"";
    let r = anna
        .post(
            &path,
            &[
                ("csrf_token", &csrf),
                ("decision", "question"),
                ("comment", comment),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let location = r.header("location").expect("location").to_owned();
    assert_eq!(location, format!("/reports/{report}?review={size}#reviews"));
    assert_eq!(demo.store.size().await.expect("size"), size + 1);
    let entry = demo
        .store
        .entry(size)
        .await
        .expect("entry")
        .expect("new entry");
    assert_eq!(entry.entry.statement().kind(), Kind::ReportReviewed);
    match entry.entry.statement().body() {
        Body::ReportReviewed {
            report: r, auditor, ..
        } => {
            assert_eq!(*r, report);
            assert!(auditor.as_str().starts_with("account-"), "{auditor:?}");
        }
        other => panic!("not a review: {other:?}"),
    }

    let page = anna.get(&format!("/reports/{report}?review={size}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Ditt beslut är infört i liggaren som"));
    assert!(page.body.contains(&format!("id=\"review-{size}\"")));
    assert!(page.body.contains("Fråga till utföraren"));
    assert!(
        page.body.contains(
            "&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2f;script&gt; &amp; &quot;mer&quot;"
        ),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<script>alert"));
    // The provider page lists the open question.
    let page = anna.get(&format!("/providers/{}", provider.digits())).await;
    assert!(page.body.contains(&format!("href=\"/reports/{report}\"")));
    assert!(!page.body.contains("Det finns inga obesvarade frågor"));
    // The inspector sees the decision too.
    let mut ivar = demo.portal.logged_in("ivar").await;
    let page = ivar.get(&format!("/reports/{report}")).await;
    assert!(page.body.contains(&format!("id=\"review-{size}\"")));
}

/// The data routes of `ROUTES` over a real ledger, for every role.
#[tokio::test]
async fn data_routes_for_every_role() {
    data_routes_for_every_role_on(&demo_portal().await).await;
}

pub(crate) async fn data_routes_for_every_role_on(demo: &DemoPortal) {
    use insyn_portal::{Audience, ROUTES};
    let stockholm = municipality("0180");
    let provider = provider_only_of(&demo.dataset, stockholm, municipality("1480"));
    let report = latest_report_of(&demo.store, stockholm, provider).await;
    for (username, allowed) in [
        (None, false),
        (Some("anna"), true),
        (Some("goran"), false),
        (Some("ivar"), true),
        (Some("ada"), false),
    ] {
        let mut c = match username {
            Some(u) => demo.portal.logged_in(u).await,
            None => demo.portal.client(),
        };
        for route in ROUTES.iter().filter(|r| {
            matches!(
                r.audience,
                Audience::LedgerReaders | Audience::LedgerRecords
            ) && r.method == "GET"
        }) {
            let mut path = route
                .path
                .replace("5560360793", provider.digits())
                .replace("/42", &format!("/{report}"));
            if route.audience == Audience::LedgerReaders {
                path.push_str("?municipality=0180");
            }
            let r = c.get(&path).await;
            let expected = match (username, allowed) {
                (None, _) => StatusCode::SEE_OTHER,
                (Some(_), true) => StatusCode::OK,
                (Some(_), false) => StatusCode::FORBIDDEN,
            };
            assert_eq!(r.status, expected, "{username:?}: GET {path}");
        }
    }
}

/// Snapshots of the three pages (the demo history is deterministic; tokens are redacted).
#[tokio::test]
async fn snapshots_of_the_data_pages() {
    let demo = demo_portal().await;
    let stockholm = municipality("0180");
    let provider = provider_only_of(&demo.dataset, stockholm, municipality("1480"));
    let report = latest_report_of(&demo.store, stockholm, provider).await;
    let mut anna = demo.portal.logged_in("anna").await;
    insta::assert_snapshot!("data_overview", redact(&anna.get("/overview").await.body));
    insta::assert_snapshot!(
        "data_provider",
        redact(
            &anna
                .get(&format!("/providers/{}", provider.digits()))
                .await
                .body
        )
    );
    insta::assert_snapshot!(
        "data_report",
        redact(&anna.get(&format!("/reports/{report}")).await.body)
    );
}

#[tokio::test]
async fn the_overview_pages_through_contracts_and_charts_the_whole_municipality() {
    the_overview_pages_through_contracts_and_charts_the_whole_municipality_on(&demo_portal().await)
        .await;
}

/// The text between `start` and the next `end` after it.
fn between<'a>(body: &'a str, start: &str, end: &str) -> &'a str {
    let from = body.find(start).expect("start marker");
    let rest = &body[from..];
    &rest[..rest.find(end).expect("end marker")]
}

/// The contract headings of an overview page, in order.
fn contract_headings(body: &str) -> Vec<String> {
    body.split("<h3 id=\"contract-")
        .skip(1)
        .map(|h| h[..h.find("</h3>").expect("heading end")].to_owned())
        .map(|h| h[h.find('>').expect("tag end") + 1..].to_owned())
        .collect()
}

async fn stockholm_reads(store: &Store) -> usize {
    store
        .payload_read_log(&insyn_store::ReadLogQuery {
            reader: None,
            municipality: Some(municipality("0180")),
            before: None,
            limit: 1000,
        })
        .await
        .expect("read log")
        .len()
}

pub(crate) async fn the_overview_pages_through_contracts_and_charts_the_whole_municipality_on(
    demo: &DemoPortal,
) {
    let mut anna = demo.portal.logged_in("anna").await;
    let before = stockholm_reads(&demo.store).await;
    let full = anna.get("/overview").await;
    assert_eq!(full.status, StatusCode::OK, "{}", full.body);
    let all_reads = stockholm_reads(&demo.store).await - before;
    let everything = contract_headings(&full.body);
    assert!(
        everything.len() >= 2,
        "the demo gives Stockholm several contracts"
    );
    let total = everything.len();
    assert!(full.body.contains(&format!("Avtal 1–{total} av {total}")));
    assert!(
        !full.body.contains("rel=\"next\""),
        "one page holds them all"
    );
    let charts = between(
        &full.body,
        "<section aria-labelledby=\"charts-heading\"",
        "</section>",
    );

    // One contract per page: follow the next links to the end.
    let mut url = "/overview?per_page=1".to_owned();
    let mut seen = Vec::new();
    loop {
        let reads_before = stockholm_reads(&demo.store).await;
        let page = anna.get(&url).await;
        assert_eq!(page.status, StatusCode::OK, "{url}: {}", page.body);
        let reads = stockholm_reads(&demo.store).await - reads_before;
        let headings = contract_headings(&page.body);
        assert_eq!(headings.len(), 1, "{url}");
        let n = seen.len() + 1;
        assert!(
            page.body.contains(&format!("Avtal {n}–{n} av {total}")),
            "{url}"
        );
        // The page reads only its own contract's reports; the charts still cover every contract.
        assert!(
            reads > 0 && reads < all_reads,
            "{url}: {reads} of {all_reads} reads"
        );
        assert_eq!(
            between(
                &page.body,
                "<section aria-labelledby=\"charts-heading\"",
                "</section>"
            ),
            charts,
            "{url}"
        );
        seen.extend(headings);
        match crate::helpers::next_link(&page.body) {
            Some(next) => {
                assert!(next.contains("municipality=0180"), "{next}");
                assert!(next.contains("per_page=1"), "{next}");
                url = next;
            }
            None => break,
        }
        assert!(seen.len() <= total, "the pages end");
    }
    assert_eq!(seen, everything, "every contract once, in order");

    // A malformed page parameter is a clear 400, not a server error.
    let bad = anna.get("/overview?after=abc").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

/// The data pages' scenarios above, on PostgreSQL: one demo ledger, each scenario in turn.
#[tokio::test]
async fn data_pages_on_postgresql() {
    let Some(db) = crate::helpers::PgDatabase::create("data").await else {
        return;
    };
    {
        let demo = demo_portal_on(Some(&db.url)).await;
        auditors_see_their_own_municipality_verified_and_every_read_is_recorded_on(&demo).await;
        another_municipalitys_auditor_and_administrators_are_refused_everywhere_on(&demo).await;
        data_routes_for_every_role_on(&demo).await;
        a_review_needs_the_csrf_token_and_becomes_a_ledger_entry_on(&demo).await;
        the_overview_pages_through_contracts_and_charts_the_whole_municipality_on(&demo).await;
        crate::access_log::the_access_log_lists_every_read_newest_first_on(&demo).await;
        crate::verification::the_whole_ledger_verifies_from_the_ledger_page_on(&demo).await;
    }
    db.drop_now().await;
}

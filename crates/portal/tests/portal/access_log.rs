//! The inspectors' access log over the demo ledger: reads made through the portal appear newest
//! first with who, role, what and when; filters, pages, CSV, escaping and access for every role.

use axum::http::StatusCode;

use insyn_portal::accounts::AccountRole;

use crate::data::{DemoPortal, demo_portal, latest_report_of, provider_only_of};
use crate::helpers::{municipality, redact};

/// The rows of the access log's table (the `<tbody>`), one string per row.
fn rows(body: &str) -> Vec<String> {
    let Some(start) = body.find("<tbody>") else {
        return Vec::new();
    };
    let end = body[start..]
        .find("</tbody>")
        .map_or(body.len(), |e| start + e);
    body[start..end]
        .split("<tr>")
        .skip(1)
        .map(|r| r.trim().to_owned())
        .collect()
}

#[tokio::test]
async fn the_access_log_lists_every_read_newest_first() {
    the_access_log_lists_every_read_newest_first_on(&demo_portal().await).await;
}

pub(crate) async fn the_access_log_lists_every_read_newest_first_on(demo: &DemoPortal) {
    let stockholm = municipality("0180");
    let goteborg = municipality("1480");
    let provider = provider_only_of(&demo.dataset, stockholm, goteborg);
    let report = latest_report_of(&demo.store, stockholm, provider).await;

    // Anna reads a Stockholm report twice; Göran reads Göteborg's overview.
    let mut anna = demo.portal.logged_in("anna").await;
    assert_eq!(
        anna.get(&format!("/reports/{report}")).await.status,
        StatusCode::OK
    );
    let mut goran = demo.portal.logged_in("goran").await;
    assert_eq!(goran.get("/overview").await.status, StatusCode::OK);
    assert_eq!(
        anna.get(&format!("/reports/{report}/fields.csv"))
            .await
            .status,
        StatusCode::OK
    );

    let mut ivar = demo.portal.logged_in("ivar").await;
    let page = ivar.get("/access-log").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let all = rows(&page.body);
    assert!(!all.is_empty());
    // Newest first: Anna's CSV download is the latest read.
    let newest = &all[0];
    assert!(newest.contains("Anna Granskare (anna)"), "{newest}");
    assert!(newest.contains("Granskare"), "{newest}");
    assert!(newest.contains("Stockholm (0180)"), "{newest}");
    assert!(
        newest.contains(&format!("href=\"/reports/{report}\"")),
        "{newest}"
    );
    assert!(newest.contains(&format!("(post {report})")), "{newest}");
    // The page shows a bounded number of rows and links on.
    assert!(all.len() <= 50);

    // Filter by reader (username or reference).
    let page = ivar.get("/access-log?reader=anna").await;
    let mine = rows(&page.body);
    // The report page reads the report and any review comments; the CSV reads the report.
    assert!(mine.len() >= 2, "Anna read at least twice: {}", page.body);
    assert!(mine.iter().all(|r| r.contains("Anna Granskare (anna)")));
    let anna_ref = mine[0]
        .split("<code>")
        .nth(1)
        .and_then(|r| r.split("</code>").next())
        .expect("the reference")
        .to_owned();
    assert!(anna_ref.starts_with("account:"), "{anna_ref}");
    let page = ivar.get(&format!("/access-log?reader={anna_ref}")).await;
    assert_eq!(rows(&page.body), mine);
    let page = ivar.get("/access-log?reader=nobody-here").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("Det finns inget konto med det användarnamnet.")
    );
    assert!(rows(&page.body).is_empty());

    // Filter by municipality: Göteborg's reads do not include Anna's Stockholm report.
    let page = ivar.get("/access-log?municipality=1480").await;
    assert_eq!(page.status, StatusCode::OK);
    let gbg = rows(&page.body);
    assert!(!gbg.is_empty(), "Göran's overview read Göteborg's reports");
    assert!(gbg.iter().all(|r| r.contains("Göteborg (1480)")), "{gbg:?}");
    // (A payload is addressed by its hash, so identical bytes signed in two municipalities,
    // such as a common review comment, belong to both; Anna's Stockholm report does not.)
    assert!(
        !gbg.iter()
            .any(|r| r.contains(&format!("href=\"/reports/{report}\"")))
    );
    assert!(page.body.contains("<option value=\"1480\" selected>"));
    let page = ivar.get("/access-log?municipality=0180&reader=goran").await;
    assert!(rows(&page.body).is_empty());
    assert!(page.body.contains("Inga läsningar matchar."));
    assert_eq!(
        ivar.get("/access-log?municipality=99").await.status,
        StatusCode::BAD_REQUEST
    );

    // Pages of one row: the second page starts after the first, and links back.
    let first = ivar.get("/access-log?per_page=1").await;
    let first_rows = rows(&first.body);
    assert_eq!(first_rows.len(), 1);
    let next = crate::helpers::next_link(&first.body).expect("a next link");
    assert!(next.starts_with("/access-log?"), "{next}");
    assert!(next.contains("before="), "{next}");
    let second = ivar.get(&next).await;
    let second_rows = rows(&second.body);
    assert_eq!(second_rows.len(), 1);
    assert_ne!(first_rows[0], second_rows[0]);
    assert_eq!(
        all[1], second_rows[0],
        "the second page continues the first"
    );
    assert!(second.body.contains("Första sidan"));

    // CSV of the filtered log.
    let csv = ivar.get("/access-log.csv?reader=anna").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(
        csv.header("content-disposition")
            .is_some_and(|d| d.contains("insyn-atkomstlogg.csv"))
    );
    let lines: Vec<&str> = csv.body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(
        lines[0].starts_with("\u{feff}Tid;Läsare;Referens;Roll;Kommun;Innehåll"),
        "{}",
        lines[0]
    );
    // Every one of Anna's reads (the page shows at most one page of them).
    assert!(
        lines.len() > mine.len(),
        "header and Anna's reads: {}",
        csv.body
    );
    assert!(lines[1..].iter().all(|l| l.contains(&anna_ref)));
    assert!(lines[1].contains("Anna Granskare (anna)"));
    assert!(lines[1].contains(&anna_ref));
    let whole = ivar.get("/access-log.csv").await;
    assert!(
        whole.body.split("\r\n").filter(|l| !l.is_empty()).count() > all.len(),
        "the CSV holds every read, not one page"
    );

    // Only inspectors.
    for user in ["anna", "goran", "ada"] {
        let mut c = demo.portal.logged_in(user).await;
        for path in ["/access-log", "/access-log.csv", "/access-log?reader=anna"] {
            let r = c.get(path).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{user}: {path}");
            assert!(!r.body.contains("Anna Granskare (anna)"), "{user}: {path}");
        }
    }
}

/// A display name with markup is shown as text in the access log (and defused in the CSV).
#[tokio::test]
async fn reader_names_are_escaped() {
    let demo = demo_portal().await;
    demo.portal
        .account(
            "eve",
            "<script>alert(1)</script> =SUM(A1)",
            AccountRole::Auditor(municipality("0180")),
        )
        .await;
    let stockholm = municipality("0180");
    let provider = provider_only_of(&demo.dataset, stockholm, municipality("1480"));
    let report = latest_report_of(&demo.store, stockholm, provider).await;
    let mut eve = demo.portal.logged_in("eve").await;
    assert_eq!(
        eve.get(&format!("/reports/{report}")).await.status,
        StatusCode::OK
    );
    let mut ivar = demo.portal.logged_in("ivar").await;
    let page = ivar.get("/access-log?reader=eve").await;
    assert!(!page.body.contains("<script>alert(1)"));
    assert!(
        page.body
            .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;")
    );
    let csv = ivar.get("/access-log.csv?reader=eve").await;
    assert!(
        csv.body
            .contains("<script>alert(1)</script> =SUM(A1) (eve)")
    );
}

/// Snapshot of the access log after one read.
#[tokio::test]
async fn snapshot_of_the_access_log() {
    let demo = demo_portal().await;
    let stockholm = municipality("0180");
    let provider = provider_only_of(&demo.dataset, stockholm, municipality("1480"));
    let report = latest_report_of(&demo.store, stockholm, provider).await;
    let mut anna = demo.portal.logged_in("anna").await;
    anna.get(&format!("/reports/{report}")).await;
    let mut ivar = demo.portal.logged_in("ivar").await;
    insta::assert_snapshot!(
        "access_log",
        redact(&ivar.get("/access-log?reader=anna").await.body)
    );
}

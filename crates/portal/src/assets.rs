//! Static files (`web/static/`): compiled in for production, read from disk in development.
//!
//! Pages link to `/static/<name>?v=<hash of the content>`. A request with the current hash is
//! cached for a year (`immutable`), so browsers fetch a file again only when it changes; any
//! other request gets `no-cache`.

use std::path::PathBuf;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::state::PortalState;

/// The static files compiled into the binary: name, content type, content.
const EMBEDDED: &[(&str, &str, &[u8])] = &[
    (
        "portal.css",
        "text/css; charset=utf-8",
        include_bytes!("../../../web/static/portal.css"),
    ),
    (
        "verification.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../web/static/verification.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../../../web/static/favicon.svg"),
    ),
];

/// The static files and where they come from.
pub(crate) struct Assets {
    disk: Option<PathBuf>,
}

impl Assets {
    pub(crate) fn new(web_dir: Option<PathBuf>) -> Self {
        Assets {
            disk: web_dir.map(|d| d.join("static")),
        }
    }

    fn get(&self, name: &str) -> Option<(&'static str, std::borrow::Cow<'static, [u8]>)> {
        let (_, content_type, bytes) = EMBEDDED.iter().find(|(n, _, _)| *n == name)?;
        match &self.disk {
            // Only names in the list are served, so a request can never reach other files.
            Some(dir) => std::fs::read(dir.join(name))
                .ok()
                .map(|b| (*content_type, std::borrow::Cow::Owned(b))),
            None => Some((*content_type, std::borrow::Cow::Borrowed(*bytes))),
        }
    }

    /// The URL of a static file, with its content hash as the cache-busting version.
    pub(crate) fn url(&self, name: &str) -> String {
        match self.get(name) {
            Some((_, bytes)) => format!("/static/{name}?v={}", version(&bytes)),
            None => format!("/static/{name}"),
        }
    }
}

fn version(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    hex::encode(&digest[..6])
}

#[derive(Debug, Deserialize)]
pub(crate) struct VersionQuery {
    v: Option<String>,
}

/// `GET /static/{name}`.
pub(crate) async fn serve(
    State(state): State<PortalState>,
    Path(name): Path<String>,
    Query(query): Query<VersionQuery>,
) -> Response {
    let Some((content_type, bytes)) = state.assets().get(&name) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let cache = if query.v.as_deref() == Some(version(&bytes).as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        bytes.into_owned(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_assets_match_the_directory() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/static");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .expect("web/static")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = EMBEDDED.iter().map(|(n, _, _)| (*n).to_owned()).collect();
        embedded.sort();
        assert_eq!(
            embedded, on_disk,
            "add new static files to assets::EMBEDDED"
        );
    }

    #[test]
    fn urls_carry_a_content_version() {
        let a = Assets::new(None);
        let url = a.url("portal.css");
        assert!(url.starts_with("/static/portal.css?v="), "{url}");
        assert_eq!(url.len(), "/static/portal.css?v=".len() + 12);
    }
}

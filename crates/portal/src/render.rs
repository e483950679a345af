//! The one minijinja environment: templates from `web/templates/*.html`, the `t` translation
//! function and the Swedish formatting filters.
//!
//! In production the templates and catalogues compiled into the binary are used. In development
//! (`PortalConfig::web_dir`), they are read from disk and the environment is rebuilt whenever a
//! file's modification time or size changes, so edits show on the next request. Every template
//! name ends in `.html`, which keeps HTML auto-escaping on for all of them.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, ErrorKind, State, UndefinedBehavior};
use time::{Date, OffsetDateTime, format_description::well_known::Rfc3339};

use crate::error::Error;
use crate::format;
use crate::i18n::{Catalogues, Language};

/// The templates compiled into the binary. A test checks this list against `web/templates/`.
pub(crate) const EMBEDDED_TEMPLATES: &[(&str, &str)] = &[
    (
        "base.html",
        include_str!("../../../web/templates/base.html"),
    ),
    (
        "macros.html",
        include_str!("../../../web/templates/macros.html"),
    ),
    (
        "login.html",
        include_str!("../../../web/templates/login.html"),
    ),
    (
        "landing.html",
        include_str!("../../../web/templates/landing.html"),
    ),
    (
        "account.html",
        include_str!("../../../web/templates/account.html"),
    ),
    (
        "admin_accounts.html",
        include_str!("../../../web/templates/admin_accounts.html"),
    ),
    (
        "error.html",
        include_str!("../../../web/templates/error.html"),
    ),
    (
        "ledger.html",
        include_str!("../../../web/templates/ledger.html"),
    ),
    (
        "overview.html",
        include_str!("../../../web/templates/overview.html"),
    ),
    (
        "provider.html",
        include_str!("../../../web/templates/provider.html"),
    ),
    (
        "report.html",
        include_str!("../../../web/templates/report.html"),
    ),
    (
        "review.html",
        include_str!("../../../web/templates/review.html"),
    ),
    (
        "verification.html",
        include_str!("../../../web/templates/verification.html"),
    ),
    (
        "access_log.html",
        include_str!("../../../web/templates/access_log.html"),
    ),
];

/// Why the templates could not be prepared at start.
#[derive(Debug, thiserror::Error)]
pub enum TemplateSetupError {
    /// A template does not compile.
    #[error("template {name}: {source:#}")]
    Template {
        /// The template's name.
        name: String,
        /// The compiler's complaint.
        source: minijinja::Error,
    },
    /// A message catalogue is broken.
    #[error(transparent)]
    Catalogue(#[from] crate::i18n::CatalogueError),
    /// The development `web/` directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// The rendering environment, embedded or reloading from disk.
pub(crate) struct Ui {
    source: Source,
}

/// An environment with the catalogues its `t` function uses.
type Loaded = (Arc<Environment<'static>>, Arc<Catalogues>);

enum Source {
    Embedded(Loaded),
    Disk {
        web_dir: PathBuf,
        cache: Mutex<Option<(Vec<FileStamp>, Loaded)>>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    path: PathBuf,
    modified: Option<std::time::SystemTime>,
    len: u64,
}

impl Ui {
    /// The environment compiled into the binary.
    pub(crate) fn embedded() -> Result<Self, TemplateSetupError> {
        let catalogues = Arc::new(Catalogues::embedded()?);
        let sources = EMBEDDED_TEMPLATES
            .iter()
            .map(|(n, s)| ((*n).to_owned(), (*s).to_owned()));
        let env = Arc::new(build(sources, Arc::clone(&catalogues))?);
        Ok(Ui {
            source: Source::Embedded((env, catalogues)),
        })
    }

    /// An environment that reads `web_dir` and reloads on change. Fails at once if the
    /// directory's templates are broken now.
    pub(crate) fn from_disk(web_dir: PathBuf) -> Result<Self, TemplateSetupError> {
        let ui = Ui {
            source: Source::Disk {
                web_dir,
                cache: Mutex::new(None),
            },
        };
        ui.env()?;
        Ok(ui)
    }

    fn env(&self) -> Result<Loaded, TemplateSetupError> {
        match &self.source {
            Source::Embedded((env, c)) => Ok((Arc::clone(env), Arc::clone(c))),
            Source::Disk { web_dir, cache } => {
                let stamps = stamps(web_dir)?;
                let mut guard = cache
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some((old, (env, c))) = guard.as_ref()
                    && *old == stamps
                {
                    return Ok((Arc::clone(env), Arc::clone(c)));
                }
                let (env, c) = load_dir(web_dir)?;
                let env = Arc::new(env);
                *guard = Some((stamps, (Arc::clone(&env), Arc::clone(&c))));
                Ok((env, c))
            }
        }
    }

    /// The message in `lang` for `key` (for text made outside templates, e.g. CSV headers).
    pub(crate) fn translate(&self, lang: Language, key: &str) -> Result<String, Error> {
        let (_, catalogues) = self.env().map_err(|e| Error::Internal(e.to_string()))?;
        Ok(catalogues.translate(lang, key, &[]))
    }

    /// Like [`Ui::translate`], with `{name}` placeholders filled from `args`.
    pub(crate) fn translate_with(
        &self,
        lang: Language,
        key: &str,
        args: &[(&str, String)],
    ) -> Result<String, Error> {
        let (_, catalogues) = self.env().map_err(|e| Error::Internal(e.to_string()))?;
        Ok(catalogues.translate(lang, key, args))
    }

    /// Renders template `name` with `ctx`.
    pub(crate) fn render(&self, name: &str, ctx: Value) -> Result<String, Error> {
        let (env, _) = self.env().map_err(|e| Error::Internal(e.to_string()))?;
        let template = env.get_template(name)?;
        Ok(template.render(ctx)?)
    }
}

fn stamps(web_dir: &Path) -> Result<Vec<FileStamp>, TemplateSetupError> {
    let mut out = Vec::new();
    for sub in ["templates", "i18n"] {
        let dir = web_dir.join(sub);
        let entries = std::fs::read_dir(&dir).map_err(|source| TemplateSetupError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        for entry in entries.flatten() {
            let meta = entry.metadata().ok();
            out.push(FileStamp {
                path: entry.path(),
                modified: meta.as_ref().and_then(|m| m.modified().ok()),
                len: meta.map_or(0, |m| m.len()),
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn load_dir(web_dir: &Path) -> Result<(Environment<'static>, Arc<Catalogues>), TemplateSetupError> {
    let catalogues = Arc::new(Catalogues::load_dir(&web_dir.join("i18n"))?);
    let dir = web_dir.join("templates");
    let io = |source| TemplateSetupError::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut sources = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.ends_with(".html") {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|source| TemplateSetupError::Io {
            path: path.display().to_string(),
            source,
        })?;
        sources.push((name.to_owned(), text));
    }
    let env = build(sources.into_iter(), Arc::clone(&catalogues))?;
    Ok((env, catalogues))
}

/// Builds an environment from `(name, source)` pairs.
fn build(
    sources: impl Iterator<Item = (String, String)>,
    catalogues: Arc<Catalogues>,
) -> Result<Environment<'static>, TemplateSetupError> {
    let mut env = Environment::new();
    // Printing an undefined value is an error (a template bug shows up in tests), while
    // `{% if x %}` on an undefined value stays allowed.
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    for (name, source) in sources {
        env.add_template_owned(name.clone(), source)
            .map_err(|source| TemplateSetupError::Template { name, source })?;
    }
    let c = Arc::clone(&catalogues);
    env.add_function(
        "t",
        move |state: &State, key: &str, kwargs: Kwargs| -> Result<String, minijinja::Error> {
            let lang = lang_of(state);
            let mut args = Vec::new();
            for name in kwargs.args() {
                let value: Value = kwargs.get(name)?;
                args.push((name, display_value(&value, lang)));
            }
            kwargs.assert_all_used()?;
            if !c.contains(key) {
                return Err(minijinja::Error::new(
                    ErrorKind::UndefinedError,
                    format!("unknown message key {key:?}"),
                ));
            }
            Ok(c.translate(lang, key, &args))
        },
    );
    env.add_filter("number", |state: &State, v: i64| {
        format::number(v, lang_of(state))
    });
    env.add_filter("sek", |state: &State, v: i64| {
        format::sek(v, lang_of(state))
    });
    env.add_filter(
        "percent",
        |state: &State, ratio: f64, decimals: Option<u8>| {
            format::percent(ratio, decimals.unwrap_or(1), lang_of(state))
        },
    );
    env.add_filter("date", |v: Value| -> Result<String, minijinja::Error> {
        Ok(format::date_iso(to_date(&v)?))
    });
    env.add_filter(
        "date_long",
        |state: &State, v: Value| -> Result<String, minijinja::Error> {
            Ok(format::date_long(to_date(&v)?, lang_of(state)))
        },
    );
    env.add_filter("datetime", |v: Value| -> Result<String, minijinja::Error> {
        Ok(format::datetime(to_instant(&v)?))
    });
    env.add_filter(
        "period",
        |state: &State, v: &str| -> Result<String, minijinja::Error> {
            let parsed = v
                .split_once('-')
                .and_then(|(y, m)| Some((y.parse::<u16>().ok()?, m.parse::<u8>().ok()?)))
                .and_then(|(y, m)| format::period_long(y, m, lang_of(state)));
            parsed.ok_or_else(|| {
                minijinja::Error::new(ErrorKind::InvalidOperation, format!("not a period: {v:?}"))
            })
        },
    );
    Ok(env)
}

/// The page's language, from the `lang` variable every page context carries.
fn lang_of(state: &State) -> Language {
    state
        .lookup("lang")
        .and_then(|v| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_default()
}

fn display_value(v: &Value, lang: Language) -> String {
    match i64::try_from(v.clone()) {
        Ok(n) if v.is_integer() => format::number(n, lang),
        _ => v.to_string(),
    }
}

/// A date from `YYYY-MM-DD`, an RFC 3339 instant, or Unix milliseconds (Swedish local date).
fn to_date(v: &Value) -> Result<Date, minijinja::Error> {
    if let Some(s) = v.as_str()
        && let Ok(d) = Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
    {
        return Ok(d);
    }
    to_instant(v).map(|t| format::stockholm_time(t).date())
}

/// An instant from an RFC 3339 string or Unix milliseconds.
fn to_instant(v: &Value) -> Result<OffsetDateTime, minijinja::Error> {
    let bad = || minijinja::Error::new(ErrorKind::InvalidOperation, format!("not a time: {v}"));
    if let Some(s) = v.as_str() {
        return OffsetDateTime::parse(s, &Rfc3339).map_err(|_| bad());
    }
    let ms = i64::try_from(v.clone()).map_err(|_| bad())?;
    format::from_unix_ms(ms).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    fn env() -> Environment<'static> {
        let catalogues = Arc::new(Catalogues::embedded().expect("catalogues"));
        build(std::iter::empty(), catalogues).expect("env")
    }

    #[test]
    fn filters_format_the_swedish_way() {
        let env = env();
        let out = env
            .render_str(
                "{{ 1234567|number }}|{{ 1234567|sek }}|{{ 0.125|percent }}|{{ '2026-03-15'|date_long }}|{{ 1773532800000|date }}|{{ '2026-03'|period }}",
                context! { lang => "sv" },
            )
            .expect("render");
        assert_eq!(
            out,
            "1\u{a0}234\u{a0}567|1\u{a0}234\u{a0}567\u{a0}kr|12,5\u{a0}%|15 mars 2026|2026-03-15|mars 2026"
        );
        let out = env
            .render_str(
                "{{ 1234567|sek }} {{ '2026-03-15'|date_long }}",
                context! { lang => "en" },
            )
            .expect("render");
        assert_eq!(out, "SEK\u{a0}1,234,567 15 March 2026");
    }

    #[test]
    fn unknown_message_keys_are_errors() {
        let env = env();
        assert!(
            env.render_str("{{ t('no.such.key') }}", context! { lang => "sv" })
                .is_err()
        );
        let out = env
            .render_str("{{ t('nav.account') }}", context! { lang => "en" })
            .expect("render");
        assert_eq!(out, "My account");
    }

    #[test]
    fn embedded_templates_match_the_directory() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/templates");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .expect("web/templates")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".html"))
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = EMBEDDED_TEMPLATES
            .iter()
            .map(|(n, _)| (*n).to_owned())
            .collect();
        embedded.sort();
        assert_eq!(embedded, on_disk, "add new templates to EMBEDDED_TEMPLATES");
    }

    #[test]
    fn every_message_key_used_in_a_template_exists() {
        let catalogues = Catalogues::embedded().expect("catalogues");
        for (name, source) in EMBEDDED_TEMPLATES {
            for (i, _) in source.match_indices("t('") {
                // Only calls of the `t` function, not e.g. `hint('`.
                if i > 0 && source.as_bytes()[i - 1].is_ascii_alphanumeric() {
                    continue;
                }
                let rest = &source[i + 3..];
                let Some(end) = rest.find('\'') else { continue };
                let key = &rest[..end];
                assert!(catalogues.contains(key), "{name}: unknown key {key:?}");
            }
        }
    }

    #[test]
    fn macros_render_charts_statuses_and_pagers() {
        let catalogues = Arc::new(Catalogues::embedded().expect("catalogues"));
        let sources = EMBEDDED_TEMPLATES
            .iter()
            .map(|(n, s)| ((*n).to_owned(), (*s).to_owned()))
            .chain(std::iter::once((
                "page.html".to_owned(),
                r#"{% import "macros.html" as m %}{{ m.chart(chart, t('chart.show_table')) }}{{ m.status("late", t('status.late')) }}{{ m.pager(pager, t('pager.label'), t('pager.first'), t('pager.next')) }}"#.to_owned(),
            )));
        let env = build(sources, catalogues).expect("env");
        let chart = crate::chart::Chart {
            kind: crate::chart::ChartKind::Bar,
            id: "caseload".to_owned(),
            title: "Aktiva deltagare".to_owned(),
            description: "Antal aktiva deltagare per månad".to_owned(),
            category_label: "Månad".to_owned(),
            categories: vec!["2026-01".to_owned(), "2026-02".to_owned()],
            axis_labels: Vec::new(),
            series: vec![crate::chart::Series {
                name: "Aktiva".to_owned(),
                values: vec![Some(12), Some(1_500)],
            }],
            unit: crate::chart::Unit::Count,
        }
        .render(Language::Sv);
        let pager = crate::paging::Pager::new(
            "/reports",
            crate::paging::PageQuery {
                after: Some(100),
                per_page: None,
            },
            Some(150),
            &[],
        );
        let html = env
            .get_template("page.html")
            .and_then(|t| t.render(context! { lang => "sv", chart => chart, pager => pager }))
            .expect("render");
        assert!(html.contains("<svg "), "{html}");
        assert!(html.contains("<summary>Visa siffrorna som tabell</summary>"));
        assert!(html.contains("<td class=\"num\">1\u{a0}500</td>"), "{html}");
        assert!(html.contains("<span class=\"status status-late\">Försenad</span>"));
        assert!(
            html.contains("<a href=\"&#x2f;reports\">Första sidan</a>"),
            "{html}"
        );
        assert!(html.contains("rel=\"next\">Nästa sida</a>"));
        insta::assert_snapshot!(html);
    }

    #[test]
    fn disk_mode_reloads_changed_templates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/i18n");
        std::fs::create_dir_all(dir.path().join("i18n")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("templates")).expect("mkdir");
        for lang in ["sv", "en"] {
            std::fs::copy(
                src.join(format!("{lang}.toml")),
                dir.path().join(format!("i18n/{lang}.toml")),
            )
            .expect("copy");
        }
        let page = dir.path().join("templates/page.html");
        std::fs::write(&page, "one {{ x }}").expect("write");
        let ui = Ui::from_disk(dir.path().to_owned()).expect("ui");
        assert_eq!(
            ui.render("page.html", Value::from_serialize(context! { x => "<b>" }))
                .expect("render"),
            "one &lt;b&gt;"
        );
        std::fs::write(&page, "second version {{ x }}").expect("write");
        assert_eq!(
            ui.render("page.html", Value::from_serialize(context! { x => 1 }))
                .expect("render"),
            "second version 1"
        );
    }
}

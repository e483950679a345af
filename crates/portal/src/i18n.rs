//! Interface languages and the message catalogues (`web/i18n/<code>.toml`).
//!
//! Swedish is the default and the reference: every key must exist in Swedish, and a test checks
//! that every catalogue has exactly the same keys and that every key a template uses exists.
//! Messages are plain text with `{name}` placeholders; templates escape them like any value.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// An interface language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Swedish, the default.
    #[default]
    Sv,
    /// English.
    En,
}

impl Language {
    /// Every language, Swedish first.
    pub const ALL: [Language; 2] = [Language::Sv, Language::En];

    /// The ISO 639-1 code, as used in `lang` attributes and stored with accounts.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Language::Sv => "sv",
            Language::En => "en",
        }
    }

    /// The language's own name for itself (for the language switch).
    #[must_use]
    pub fn native_name(self) -> &'static str {
        match self {
            Language::Sv => "Svenska",
            Language::En => "English",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A language code that is not one of the interface languages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an interface language (sv, en)")]
pub struct UnknownLanguage(pub String);

impl FromStr for Language {
    type Err = UnknownLanguage;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sv" => Ok(Language::Sv),
            "en" => Ok(Language::En),
            other => Err(UnknownLanguage(other.to_owned())),
        }
    }
}

/// Why a catalogue could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// The file is not valid TOML.
    #[error("message catalogue {lang}: {source}")]
    Parse {
        /// The catalogue's language.
        lang: Language,
        /// The parser's complaint.
        source: toml::de::Error,
    },
    /// A value is not a string or a table of strings.
    #[error("message catalogue {lang}: {key} must be a string")]
    NotAString {
        /// The catalogue's language.
        lang: Language,
        /// The offending key.
        key: String,
    },
    /// The catalogues do not have the same keys.
    #[error("message catalogue {lang} lacks {missing:?} and has extra {extra:?}")]
    KeysDiffer {
        /// The catalogue that differs from Swedish.
        lang: Language,
        /// Keys in Swedish, not in this one.
        missing: Vec<String>,
        /// Keys in this one, not in Swedish.
        extra: Vec<String>,
    },
    /// A catalogue file could not be read (development mode only).
    #[error("message catalogue {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// The messages of every interface language, by flattened key (`nav.overview`).
#[derive(Debug, Clone, Default)]
pub struct Catalogues {
    messages: HashMap<Language, HashMap<String, String>>,
}

/// The catalogues compiled into the binary.
pub(crate) const EMBEDDED: [(Language, &str); 2] = [
    (Language::Sv, include_str!("../../../web/i18n/sv.toml")),
    (Language::En, include_str!("../../../web/i18n/en.toml")),
];

impl Catalogues {
    /// Parses one TOML source per language and checks they have the same keys.
    ///
    /// # Errors
    /// A [`CatalogueError`] naming the file and the problem.
    pub fn parse<'a>(
        sources: impl IntoIterator<Item = (Language, &'a str)>,
    ) -> Result<Self, CatalogueError> {
        let mut messages = HashMap::new();
        for (lang, source) in sources {
            let table: toml::Table =
                toml::from_str(source).map_err(|source| CatalogueError::Parse { lang, source })?;
            let mut flat = HashMap::new();
            flatten(lang, "", &table, &mut flat)?;
            messages.insert(lang, flat);
        }
        let catalogues = Catalogues { messages };
        catalogues.check_same_keys()?;
        Ok(catalogues)
    }

    /// The catalogues compiled into the binary.
    ///
    /// # Errors
    /// A [`CatalogueError`] if the embedded files are broken (a test guards against that).
    pub fn embedded() -> Result<Self, CatalogueError> {
        Self::parse(EMBEDDED)
    }

    /// Loads `<dir>/<code>.toml` for every language (development mode).
    ///
    /// # Errors
    /// A [`CatalogueError`] for an unreadable or invalid file.
    pub fn load_dir(dir: &std::path::Path) -> Result<Self, CatalogueError> {
        let mut sources = Vec::new();
        for lang in Language::ALL {
            let path = dir.join(format!("{}.toml", lang.code()));
            let text = std::fs::read_to_string(&path).map_err(|source| CatalogueError::Io {
                path: path.display().to_string(),
                source,
            })?;
            sources.push((lang, text));
        }
        Self::parse(sources.iter().map(|(l, s)| (*l, s.as_str())))
    }

    fn check_same_keys(&self) -> Result<(), CatalogueError> {
        let empty = HashMap::new();
        let reference = self.messages.get(&Language::Sv).unwrap_or(&empty);
        for lang in Language::ALL {
            let other = self.messages.get(&lang).unwrap_or(&empty);
            let mut missing: Vec<String> = reference
                .keys()
                .filter(|k| !other.contains_key(*k))
                .cloned()
                .collect();
            let mut extra: Vec<String> = other
                .keys()
                .filter(|k| !reference.contains_key(*k))
                .cloned()
                .collect();
            if !missing.is_empty() || !extra.is_empty() {
                missing.sort();
                extra.sort();
                return Err(CatalogueError::KeysDiffer {
                    lang,
                    missing,
                    extra,
                });
            }
        }
        Ok(())
    }

    /// The message for `key` in `lang`, `None` if the key is unknown.
    #[must_use]
    pub fn get(&self, lang: Language, key: &str) -> Option<&str> {
        self.messages
            .get(&lang)
            .and_then(|m| m.get(key))
            .or_else(|| self.messages.get(&Language::Sv).and_then(|m| m.get(key)))
            .map(String::as_str)
    }

    /// Whether `key` exists (in Swedish, and therefore in every language).
    #[must_use]
    pub fn contains(&self, key: &str) -> bool {
        self.messages
            .get(&Language::Sv)
            .is_some_and(|m| m.contains_key(key))
    }

    /// The message for `key` in `lang` with each `{name}` replaced by its argument. An unknown
    /// key yields the key itself, so a missing translation is visible but never breaks a page.
    #[must_use]
    pub fn translate(&self, lang: Language, key: &str, args: &[(&str, String)]) -> String {
        let Some(template) = self.get(lang, key) else {
            tracing::warn!(key, "missing message key");
            return key.to_owned();
        };
        let mut out = template.to_owned();
        for (name, value) in args {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }
}

fn flatten(
    lang: Language,
    prefix: &str,
    table: &toml::Table,
    out: &mut HashMap<String, String>,
) -> Result<(), CatalogueError> {
    for (key, value) in table {
        let full = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::String(s) => {
                out.insert(full, s.clone());
            }
            toml::Value::Table(t) => flatten(lang, &full, t, out)?,
            _ => return Err(CatalogueError::NotAString { lang, key: full }),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalogues_load_and_agree() {
        let c = Catalogues::embedded().expect("embedded catalogues");
        assert!(c.contains("nav.account"));
        assert_eq!(c.get(Language::Sv, "nav.account"), Some("Mitt konto"));
        assert_eq!(c.get(Language::En, "nav.account"), Some("My account"));
    }

    #[test]
    fn differing_keys_are_refused() {
        let err = Catalogues::parse([
            (Language::Sv, "a = \"x\"\nb = \"y\""),
            (Language::En, "a = \"x\"\nc = \"z\""),
        ])
        .expect_err("keys differ");
        assert!(matches!(err, CatalogueError::KeysDiffer { .. }));
    }

    #[test]
    fn placeholders_are_replaced_and_unknown_keys_show() {
        let c = Catalogues::parse([
            (Language::Sv, "[x]\nhello = \"Hej {name}!\""),
            (Language::En, "[x]\nhello = \"Hello {name}!\""),
        ])
        .expect("valid");
        assert_eq!(
            c.translate(Language::En, "x.hello", &[("name", "Ada".to_owned())]),
            "Hello Ada!"
        );
        assert_eq!(c.translate(Language::Sv, "x.nope", &[]), "x.nope");
    }

    #[test]
    fn language_codes_round_trip() {
        for lang in Language::ALL {
            assert_eq!(lang.code().parse::<Language>(), Ok(lang));
        }
        assert!("de".parse::<Language>().is_err());
    }
}

//! Translations: Japanese first, English second, both in Fluent files
//! compiled into the binary (`i18n/ja.ftl`, `i18n/en.ftl`).

use axum::http::Uri;
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    Ja,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    /// `?lang=en` selects English; anything else is Japanese.
    pub fn from_uri(uri: &Uri) -> Lang {
        Self::query(uri).unwrap_or(Lang::Ja)
    }

    /// The language asked for in the query (`lang=en` or `lang=ja`), if any.
    pub fn query(uri: &Uri) -> Option<Lang> {
        uri.query().and_then(|q| {
            q.split('&').find_map(|pair| match pair {
                "lang=en" => Some(Lang::En),
                "lang=ja" => Some(Lang::Ja),
                _ => None,
            })
        })
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Lang::from_uri(&parts.uri))
    }
}

const JA: &str = include_str!("../i18n/ja.ftl");
const EN: &str = include_str!("../i18n/en.ftl");

pub struct I18n {
    ja: FluentBundle<FluentResource>,
    en: FluentBundle<FluentResource>,
}

fn bundle(locale: &str, source: &'static str) -> FluentBundle<FluentResource> {
    let lang = locale.parse().expect("a valid locale literal");
    let mut bundle = FluentBundle::new_concurrent(vec![lang]);
    // No Unicode isolation marks around values: the pages are not bidi.
    bundle.set_use_isolating(false);
    let resource = FluentResource::try_new(source.to_owned())
        .unwrap_or_else(|(_, errs)| panic!("{locale}.ftl does not parse: {errs:?}"));
    bundle.add_resource(resource).unwrap_or_else(|errs| panic!("{locale}.ftl has duplicates: {errs:?}"));
    bundle
}

impl I18n {
    /// Loads the embedded translations. They are part of the binary and
    /// checked by tests, so a failure here is a build defect.
    pub fn load() -> Self {
        I18n { ja: bundle("ja", JA), en: bundle("en", EN) }
    }

    pub fn tr(&self, lang: Lang) -> Tr<'_> {
        let bundle = match lang {
            Lang::Ja => &self.ja,
            Lang::En => &self.en,
        };
        Tr { bundle, lang }
    }
}

/// A value shown to people, by its translation key: every closed set's
/// keys are in [`crate::labels`] and [`crate::record_labels`].
pub trait Label: Copy {
    fn key(self) -> &'static str;
}

/// Translator for one language, handed to templates as `t`.
#[derive(Clone, Copy)]
pub struct Tr<'a> {
    bundle: &'a FluentBundle<FluentResource>,
    pub lang: Lang,
}

impl Tr<'_> {
    pub fn get(&self, key: &str) -> String {
        self.format(key, None)
    }

    pub fn with(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut fa = FluentArgs::new();
        for (k, v) in args {
            fa.set(*k, *v);
        }
        self.format(key, Some(&fa))
    }

    /// The name of a value of a closed set, in this language.
    pub fn label(&self, value: impl Label) -> String {
        self.format(value.key(), None)
    }

    /// Whether this language has a message of that key (for tests that
    /// check the keys the code names).
    #[cfg(test)]
    pub(crate) fn has(&self, key: &str) -> bool {
        self.bundle.has_message(key)
    }

    pub fn code(&self) -> &'static str {
        self.lang.code()
    }

    fn format(&self, key: &str, args: Option<&FluentArgs>) -> String {
        let Some(pattern) = self.bundle.get_message(key).and_then(|m| m.value()) else {
            tracing::warn!(key, lang = self.lang.code(), "missing translation");
            return key.to_owned();
        };
        let mut errors = Vec::new();
        let s = self.bundle.format_pattern(pattern, args, &mut errors).into_owned();
        if !errors.is_empty() {
            tracing::warn!(key, ?errors, "translation did not format cleanly");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fluent_bundle::FluentResource;
    use std::collections::BTreeSet;

    fn ids(source: &str) -> BTreeSet<String> {
        let res = FluentResource::try_new(source.to_owned()).unwrap();
        res.entries()
            .filter_map(|e| match e {
                fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_owned()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn both_languages_have_the_same_messages() {
        let ja = ids(JA);
        let en = ids(EN);
        assert_eq!(ja.difference(&en).collect::<Vec<_>>(), Vec::<&String>::new(), "only in ja.ftl");
        assert_eq!(en.difference(&ja).collect::<Vec<_>>(), Vec::<&String>::new(), "only in en.ftl");
    }

    /// Every key written in the code and the templates (`get("…")`,
    /// `with("…"`) exists in both languages, and no key is built at run time.
    #[test]
    fn every_key_the_code_uses_exists_in_both_languages() {
        let (ja, en) = (ids(JA), ids(EN));
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let files = mamori_testkit::files_under(&[root.join("src"), root.join("templates")]);
        let mut used = 0;
        // This file names the patterns it looks for.
        for path in files.into_iter().filter(|p| !p.ends_with("i18n.rs")) {
            let text = std::fs::read_to_string(&path).unwrap();
            for call in ["get(&format!(", "with(&format!("] {
                assert!(!text.contains(call), "{}: a key built with format!", path.display());
            }
            for opener in ["t.get(\"", "t.with(\""] {
                for (i, _) in text.match_indices(opener) {
                    let rest = &text[i + opener.len()..];
                    let key = &rest[..rest.find('"').unwrap()];
                    used += 1;
                    assert!(ja.contains(key) && en.contains(key), "{}: {key}", path.display());
                }
            }
        }
        assert!(used > 300, "the scan found the keys ({used})");
    }

    #[test]
    fn loads_and_formats() {
        let i18n = I18n::load();
        assert_eq!(i18n.tr(Lang::Ja).get("error-404-title"), "ページが見つかりません");
        assert_eq!(i18n.tr(Lang::En).get("error-404-title"), "Page not found");
        assert_eq!(i18n.tr(Lang::Ja).get("no-such-key"), "no-such-key");
    }

    #[test]
    fn language_from_query() {
        assert_eq!(Lang::from_uri(&"/?lang=en".parse().unwrap()), Lang::En);
        assert_eq!(Lang::from_uri(&"/?a=1&lang=en".parse().unwrap()), Lang::En);
        assert_eq!(Lang::from_uri(&"/?lang=english".parse().unwrap()), Lang::Ja);
        assert_eq!(Lang::from_uri(&"/".parse().unwrap()), Lang::Ja);
    }
}

//! Vulnerability information matched against the software inventory (item
//! 63): advisories from JVN iPedia / MyJVN and NVD name the products they
//! affect (by CPE, with version ranges where NVD gives them); a component
//! is affected when its CPE, or else its normalised vendor and product,
//! names such a product and its version falls in the range.

use crate::inventory::{normalise, ComponentInput, Cpe};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

crate::closed_set!(
    /// Where an advisory comes from.
    VulnSource { Jvn = "jvn", Nvd = "nvd" }
);

crate::closed_set!(
    /// What was decided about a match.
    MatchState { Open = "open", Fixed = "fixed", NotAffected = "not_affected" }
);

crate::closed_set!(
    /// How a component was matched: by its CPE, or by its vendor and product names.
    MatchedBy { Cpe = "cpe", Name = "name" }
);

/// The versions of a product an advisory says are affected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Versions {
    /// Every version (NVD's `*` without bounds).
    Any,
    /// This version only.
    Exact(String),
    /// Between bounds (NVD's versionStart/End Including/Excluding).
    Range { start: Option<Bound>, end: Option<Bound> },
    /// The advisory says nothing of versions (JVN's overview): a match
    /// must be confirmed by a person.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bound {
    pub version: String,
    pub included: bool,
}

/// A product an advisory affects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Affected {
    /// `a`, `o`, `h`, or none when unknown.
    pub part: Option<char>,
    pub vendor: String,
    pub product: String,
    pub versions: Versions,
    /// Only when running on (or with) these: each entry one platform
    /// condition, met by any product it lists (NVD's `AND` configurations:
    /// Firefox on Windows, a firmware on its hardware). Empty: always.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on: Vec<Vec<Affected>>,
}

/// One advisory, as imported.
#[derive(Debug, Clone, PartialEq)]
pub struct Advisory {
    pub source: VulnSource,
    /// `JVNDB-2023-012345`, `CVE-2023-44487`.
    pub ident: String,
    pub title: String,
    pub link: String,
    /// The CVSS base score (the newest version the advisory gives).
    pub cvss: Option<f64>,
    /// The CVE ids it is about (for JVN; an NVD advisory is its own).
    pub cves: Vec<String>,
    /// When it was last changed, as the source says it; an unchanged one is
    /// not imported again.
    pub modified: String,
    pub affected: Vec<Affected>,
}

/// Words that mark a version before its release (`2.0.0-rc9` < `2.0.0`),
/// in the order they come. Any other word is a mark after a release
/// (OpenSSL's `1.1.1t` > `1.1.1`, OpenSSH's `8.9p1` > `8.9`).
const BEFORE_RELEASE: [&str; 7] = ["dev", "snapshot", "alpha", "beta", "pre", "preview", "rc"];

/// One run of a version: digits, or letters.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Run {
    /// A word before the release, by its place in [`BEFORE_RELEASE`].
    Before(usize),
    /// Another word, after a release; at the same place a number is newer
    /// (`1.0.1` > `1.0.a`), as it was.
    After(String),
    /// Digits, by value (leading zeros gone; longer is larger).
    Number(usize, String),
}

/// The runs of a version: digits and letters apart (`9p1` is 9, p, 1),
/// the separators (`. - _ + ~`) dropped, a leading `v` and a Debian epoch
/// (`1:`) taken off: advisories name upstream versions.
fn runs(version: &str) -> Vec<Run> {
    let v = version.trim().trim_start_matches(['v', 'V']);
    let v =
        v.split_once(':').filter(|(e, _)| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())).map_or(v, |(_, r)| r);
    let mut out = Vec::new();
    let mut chars = v.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_digit() {
            let mut digits = String::new();
            while let Some(d) = chars.next_if(char::is_ascii_digit) {
                digits.push(d);
            }
            let digits = digits.trim_start_matches('0').to_owned();
            out.push(Run::Number(digits.len(), digits));
        } else if c.is_alphabetic() {
            let mut word = String::new();
            while let Some(l) = chars.next_if(|c| c.is_alphabetic()) {
                word.extend(l.to_lowercase());
            }
            out.push(match BEFORE_RELEASE.iter().position(|w| *w == word) {
                Some(i) => Run::Before(i),
                None => Run::After(word),
            });
        } else {
            chars.next();
        }
    }
    out
}

/// Orders versions as people read them: numbers by value (`1.9` <
/// `1.10`, `1.24` = `1.24.0`), a pre-release before its release
/// (`1.0-rc1` < `1.0` < `1.0.1`, `rc9` < `rc10`), a letter after a release
/// after it (`1.1.1` < `1.1.1s` < `1.1.1t`, `8.9` < `8.9p1` < `8.10`).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (ra, rb) = (runs(a), runs(b));
    for i in 0..ra.len().max(rb.len()) {
        let o = match (ra.get(i), rb.get(i)) {
            (Some(x), Some(y)) => x.cmp(y),
            // Where one version ends, the other's next run decides: a
            // number as if this one went on with 0, a word before the
            // release makes it the older, a word after the newer.
            (Some(x), None) => end_against(x).reverse(),
            (None, Some(y)) => end_against(y),
            (None, None) => Ordering::Equal,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// A version that has ended, against the other's next run `next`.
fn end_against(next: &Run) -> Ordering {
    match next {
        Run::Before(_) => Ordering::Greater,
        Run::Number(0, _) => Ordering::Equal,
        Run::Number(..) | Run::After(_) => Ordering::Less,
    }
}

impl Versions {
    /// Is `version` affected? `None` when the advisory cannot say.
    pub fn holds(&self, version: &str) -> Option<bool> {
        let version = distribution_build(version).map_or(version, |(upstream, _)| upstream);
        match self {
            Versions::Any => Some(true),
            Versions::Unknown => None,
            // A version with no number (`不明`, `-`, `latest`) cannot be
            // compared: the person checks it.
            _ if !version.chars().any(|c| c.is_ascii_digit()) => None,
            Versions::Exact(v) => Some(compare_versions(version, v) == Ordering::Equal),
            Versions::Range { start, end } => {
                let after = start.as_ref().is_none_or(|b| match compare_versions(version, &b.version) {
                    Ordering::Greater => true,
                    Ordering::Equal => b.included,
                    Ordering::Less => false,
                });
                let before = end.as_ref().is_none_or(|b| match compare_versions(version, &b.version) {
                    Ordering::Less => true,
                    Ordering::Equal => b.included,
                    Ordering::Greater => false,
                });
                Some(after && before)
            }
        }
    }
}

/// A component an advisory's product names: how, and whether its version
/// was checked (`false`: the advisory gives no versions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub by: MatchedBy,
    pub version_checked: bool,
}

/// Does `affected` name this component, and is its version affected? By
/// CPE where the component has one (part, vendor and product equal), else
/// by the normalised names (the vendor too, unless the component has
/// none).
pub fn hit(c: &ComponentInput, affected: &Affected) -> Option<Hit> {
    let cpe = c.cpe.as_deref().and_then(Cpe::parse);
    let by = match &cpe {
        Some(cpe) => {
            let same = cpe.vendor == affected.vendor
                && cpe.product == affected.product
                && affected.part.is_none_or(|p| p == cpe.part);
            same.then_some(MatchedBy::Cpe)?
        }
        None => {
            let name = normalise(&c.product);
            let product = name == normalise(&affected.product);
            let vendor = c.vendor.trim().is_empty() || normalise(&c.vendor) == normalise(&affected.vendor);
            // `Apache Tomcat` is apache:tomcat.
            let whole = name == format!("{}{}", normalise(&affected.vendor), normalise(&affected.product));
            ((product && vendor) || whole).then_some(MatchedBy::Name)?
        }
    };
    let version = match &cpe {
        Some(cpe) if !matches!(cpe.version.as_str(), "*" | "-") => cpe.plain_version(),
        _ => c.version.clone(),
    };
    match affected.versions.holds(&version) {
        Some(true) => Some(Hit { by, version_checked: true }),
        Some(false) => None,
        None => Some(Hit { by, version_checked: false }),
    }
}

/// The platform conditions of `affected` that no component of the system
/// (`system`: all of its components) meets, each named by the products it
/// lists ("microsoft windows"). Empty when it has none or all are met. A
/// platform's version is not compared: the inventory names the platform
/// the system runs on, and NVD names platforms mostly without versions.
pub fn unmet_platforms(affected: &Affected, system: &[ComponentInput]) -> Vec<String> {
    affected
        .on
        .iter()
        .filter(|any_of| {
            !any_of.iter().any(|p| {
                let any_version = Affected { versions: Versions::Any, on: Vec::new(), ..p.clone() };
                system.iter().any(|c| hit(c, &any_version).is_some())
            })
        })
        .map(|any_of| {
            let mut names: Vec<String> = any_of.iter().map(|p| format!("{} {}", p.vendor, p.product)).collect();
            names.dedup();
            names.truncate(3);
            names.join(" / ")
        })
        .collect()
}

/// The names under which an advisory's product is looked up: its
/// product, and its vendor and product together (see [`hit`]).
pub fn product_keys(a: &Affected) -> [String; 2] {
    [normalise(&a.product), format!("{}{}", normalise(&a.vendor), normalise(&a.product))]
}

/// The name under which a component looks for advisories.
pub fn component_key(c: &ComponentInput) -> String {
    match c.cpe.as_deref().and_then(Cpe::parse) {
        Some(cpe) => normalise(&cpe.product),
        None => normalise(&c.product),
    }
}

/// A distribution's package version as its upstream version and the
/// distribution's build (`2.4.57` and `2+deb12u1` of `1:2.4.57-2+deb12u1`,
/// `2.4.37` and `56.module+el8.8.0` of RHEL's, `1.18.0` and `6ubuntu14.4`,
/// `1.24.0` and `r3` of Alpine's `1.24.0-r3`). A distribution backports
/// fixes into its packages without moving the upstream version: advisories
/// name upstream versions, so the package is compared by its upstream
/// part, and the person checks the distributor's own advisory. `None` for
/// an upstream version (`2.4.57`, `1.0-rc1`, `3.1.0-beta.2`).
pub fn distribution_build(version: &str) -> Option<(&str, &str)> {
    // Debian's epoch (`1:2.4.57-2`) stands before the upstream version.
    let v = version.trim();
    let v = v.split_once(':').filter(|(e, _)| e.bytes().all(|b| b.is_ascii_digit())).map_or(v, |(_, rest)| rest);
    let (upstream, build) = v.split_once('-')?;
    let lower = build.to_ascii_lowercase();
    let marked =
        ["deb", "ubuntu", "module+el", "amzn", "sles", "suse", "bpo", "dfsg"].iter().any(|m| lower.contains(m))
            || ["el", "fc", "ph", "mga"].iter().any(|m| {
                lower.match_indices(m).any(|(i, _)| {
                    let before = lower[..i].chars().last();
                    let after = lower[i + m.len()..].chars().next();
                    !before.is_some_and(|c| c.is_ascii_alphabetic()) && after.is_some_and(|c| c.is_ascii_digit())
                })
            })
            || (lower.starts_with('r') && lower.len() > 1 && lower[1..].bytes().all(|b| b.is_ascii_digit()))
            || (build.bytes().next().is_some_and(|b| b.is_ascii_digit())
                && build.bytes().all(|b| b.is_ascii_digit() || b == b'.'));
    (marked && !upstream.is_empty()).then_some((upstream, build))
}

/// The most affected product entries an advisory may list.
pub const MAX_AFFECTED: usize = 2_000;

/// The most matches one system holds. Components are one per product and
/// place, and one without a version matches every advisory of its
/// product: two thousand hosts' kernels, each under every kernel advisory,
/// were millions of rows from one vendor's sheet, read again at each save
/// and each import. Past this, new matches are not recorded, and the
/// system's inventory says so.
pub const MAX_MATCHES_PER_SYSTEM: usize = 10_000;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::ComponentFields;

    fn component(vendor: &str, product: &str, version: &str, cpe: &str) -> ComponentInput {
        ComponentInput::parse(&ComponentFields { vendor, product, version, cpe, ..Default::default() }).unwrap()
    }

    fn affected(versions: Versions) -> Affected {
        Affected { part: Some('a'), vendor: "f5".into(), product: "nginx".into(), versions, on: vec![] }
    }

    fn bound(v: &str, included: bool) -> Option<Bound> {
        Some(Bound { version: v.into(), included })
    }

    #[test]
    fn a_distribution_s_package_version_is_told_from_an_upstream_one() {
        for (version, build) in [
            ("2.4.57-2+deb12u1", Some(("2.4.57", "2+deb12u1"))),
            ("1:2.4.57-2+deb12u1", Some(("2.4.57", "2+deb12u1"))),
            ("1.18.0-6ubuntu14.4", Some(("1.18.0", "6ubuntu14.4"))),
            ("2.4.37-56.module+el8.8.0+18758+b3a9c8da", Some(("2.4.37", "56.module+el8.8.0+18758+b3a9c8da"))),
            ("8.0.34-1.el9", Some(("8.0.34", "1.el9"))),
            ("3.0.9-1.fc38", Some(("3.0.9", "1.fc38"))),
            ("1.24.0-r3", Some(("1.24.0", "r3"))),
            ("1.22.1-9", Some(("1.22.1", "9"))),
            ("2.4.57", None),
            ("1.0-rc1", None),
            ("3.1.0-beta.2", None),
            ("5.0.0-SNAPSHOT", None),
            ("11.0.20-release", None),
            ("", None),
        ] {
            assert_eq!(distribution_build(version), build, "{version}");
        }
    }

    /// Debian's Apache 2.4.57-2+deb12u1 is upstream 2.4.57: an advisory for
    /// exactly 2.4.57, or up to 2.4.57 included, holds for it (before, the
    /// build's parts ranked it above 2.4.57 and both were missed).
    #[test]
    fn a_distribution_s_package_is_compared_by_its_upstream_version() {
        let exact = Versions::Exact("2.4.57".into());
        let up_to = Versions::Range { start: None, end: bound("2.4.57", true) };
        let before = Versions::Range { start: bound("2.4.0", true), end: bound("2.4.58", false) };
        for v in ["2.4.57-2+deb12u1", "1:2.4.57-2+deb12u1", "2.4.57-1.el9", "2.4.57-r0"] {
            for versions in [&exact, &up_to, &before] {
                assert_eq!(versions.holds(v), Some(true), "{v} {versions:?}");
            }
        }
        for v in ["2.4.58-1+deb12u1", "2.4.58"] {
            for versions in [&exact, &up_to, &before] {
                assert_eq!(versions.holds(v), Some(false), "{v} {versions:?}");
            }
        }
        // Not a distribution's build: compared whole, as before.
        assert_eq!(Versions::Exact("1.0".into()).holds("1.0-rc1"), Some(false));
    }

    #[test]
    fn versions_order_by_number_then_text() {
        use Ordering::*;
        for (a, b, o) in [
            ("1.9", "1.10", Less),
            ("1.24", "1.24.0", Equal),
            ("2.4.57", "2.4.58", Less),
            ("1.0-rc1", "1.0.1", Less),
            ("v3.7.1", "3.7.1", Equal),
            ("10.0", "9.9.9", Greater),
            ("8.0.35", "8.0.4", Greater),
            // A letter after a release (OpenSSL, OpenSSH) comes after it.
            ("1.1.1", "1.1.1t", Less),
            ("1.1.1s", "1.1.1t", Less),
            ("1.1.1s", "1.1.1", Greater),
            ("8.9p1", "8.9", Greater),
            ("8.9p1", "8.10", Less),
            ("8.9p1", "8.5", Greater),
            // A pre-release before its release, numbered by value.
            ("2.0.0-rc9", "2.0.0-rc10", Less),
            ("2.0.0-rc10", "2.0.0", Less),
            ("3.1.0-beta.2", "3.1.0-rc.1", Less),
            ("1.0~rc1", "1.0", Less),
            // An epoch is the distribution's: advisories name upstream versions.
            ("1:2.4.57", "2.4.57", Equal),
            ("1:2.4.57", "2.4.58", Less),
            ("007", "7", Equal),
            ("12345678901234567890123", "9", Greater),
        ] {
            assert_eq!(compare_versions(a, b), o, "{a} {b}");
        }
    }

    #[test]
    fn a_range_holds_at_its_included_ends_and_not_at_its_excluded_ones() {
        let r = Versions::Range { start: bound("1.9.5", true), end: bound("1.25.3", false) };
        for (v, want) in [
            ("1.9.4", false),
            ("1.9.5", true),
            ("1.24.0", true),
            ("1.25.2", true),
            ("1.25.3", false),
            ("1.26.0", false),
        ] {
            assert_eq!(r.holds(v), Some(want), "{v}");
        }
        let r = Versions::Range { start: bound("2.0", false), end: bound("2.4.57", true) };
        for (v, want) in [("2.0", false), ("2.0.1", true), ("2.4.57", true), ("2.4.58", false)] {
            assert_eq!(r.holds(v), Some(want), "{v}");
        }
        assert_eq!(Versions::Exact("1.2.3".into()).holds("1.2.3"), Some(true));
        assert_eq!(Versions::Exact("1.2.3".into()).holds("1.2.4"), Some(false));
        assert_eq!(Versions::Any.holds("0.1"), Some(true));
        assert_eq!(Versions::Unknown.holds("0.1"), None);
    }

    /// The shapes NVD gives for OpenSSL and OpenSSH, a Debian epoch, a
    /// release candidate, and a version that says no number: each once
    /// read as unaffected (a letter or a word ranked below every number),
    /// so that no match was made and no alert raised.
    #[test]
    fn vulnerable_versions_with_letters_epochs_or_release_candidates_are_held() {
        let openssl = Versions::Range { start: bound("1.1.1", true), end: bound("1.1.1t", false) };
        for (v, want) in [("1.1.1", true), ("1.1.1k", true), ("1.1.1s", true), ("1.1.1t", false), ("1.1.1u", false)] {
            assert_eq!(openssl.holds(v), Some(want), "{v}");
        }
        let openssh = Versions::Range { start: bound("8.5", true), end: bound("9.8", false) };
        for (v, want) in [("8.9p1", true), ("1:8.9p1-3ubuntu0.10", true), ("9.8p1", false), ("8.4p1", false)] {
            assert_eq!(openssh.holds(v), Some(want), "{v}");
        }
        let httpd = Versions::Range { start: bound("2.4.0", true), end: bound("2.4.58", false) };
        assert_eq!(httpd.holds("1:2.4.57"), Some(true), "an epoch without a build");
        assert_eq!(Versions::Exact("2.4.57".into()).holds("1:2.4.57"), Some(true));
        let rc = Versions::Range { start: None, end: bound("2.0.0-rc10", false) };
        assert_eq!(rc.holds("2.0.0-rc9"), Some(true));
        for unknown in ["不明", "-", "latest", ""] {
            assert_eq!(httpd.holds(unknown), None, "{unknown:?}: the person checks it");
        }
    }

    #[test]
    fn a_component_is_hit_by_its_cpe_or_else_by_its_names() {
        let range = affected(Versions::Range { start: None, end: bound("1.25.3", false) });
        let by_cpe = component("F5", "nginx", "1.24.0", "cpe:2.3:a:f5:nginx:1.24.0:*:*:*:*:*:*:*");
        assert_eq!(hit(&by_cpe, &range), Some(Hit { by: MatchedBy::Cpe, version_checked: true }));
        // The CPE's version is the one compared when it has one.
        let fixed = component("F5", "nginx", "1.24.0", "cpe:2.3:a:f5:nginx:1.25.3:*:*:*:*:*:*:*");
        assert_eq!(hit(&fixed, &range), None);
        // A CPE of another product is not overruled by the names.
        let other = component("F5", "nginx", "1.24.0", "cpe:2.3:a:igor_sysoev:nginx:1.24.0:*:*:*:*:*:*:*");
        assert_eq!(hit(&other, &range), None);
        let by_name = component("F5", "NGINX", "1.25.2", "");
        assert_eq!(hit(&by_name, &range), Some(Hit { by: MatchedBy::Name, version_checked: true }));
        assert_eq!(hit(&component("", "nginx", "1.25.2", ""), &range).map(|h| h.by), Some(MatchedBy::Name));
        assert_eq!(hit(&component("Apache", "nginx", "1.25.2", ""), &range), None, "another vendor's product");
        assert_eq!(
            hit(&component("", "F5 NGINX", "1.25.2", ""), &range).map(|h| h.by),
            Some(MatchedBy::Name),
            "vendor and product in one name"
        );
        let key = |c: &ComponentInput| component_key(c);
        assert!(product_keys(&range).contains(&key(&component("", "F5 NGINX", "1", ""))));
        assert!(product_keys(&range).contains(&key(&by_cpe)));
        assert_eq!(hit(&component("F5", "nginx", "1.25.3", ""), &range), None, "the fixed version");
        let unknown = affected(Versions::Unknown);
        assert_eq!(hit(&by_name, &unknown), Some(Hit { by: MatchedBy::Name, version_checked: false }));
    }

    #[test]
    fn a_platform_condition_is_met_by_any_component_of_the_system_that_names_one_of_its_products() {
        let platform = |vendor: &str, product: &str| Affected {
            part: Some('o'),
            vendor: vendor.into(),
            product: product.into(),
            versions: Versions::Exact("-".into()),
            on: vec![],
        };
        let firefox = Affected {
            part: Some('a'),
            vendor: "mozilla".into(),
            product: "firefox".into(),
            versions: Versions::Range { start: None, end: bound("120.0", false) },
            on: vec![vec![platform("microsoft", "windows"), platform("microsoft", "windows_server")]],
        };
        let browser = component("Mozilla", "Firefox", "115.0", "");
        assert!(hit(&browser, &firefox).is_some(), "the product and version are hit either way");
        let linux = component("", "Linux kernel", "6.1", "cpe:2.3:o:linux:linux_kernel:6.1:*:*:*:*:*:*:*");
        assert_eq!(
            unmet_platforms(&firefox, &[browser.clone(), linux.clone()]),
            vec!["microsoft windows / microsoft windows_server".to_owned()]
        );
        // Any of the condition's products meets it, whatever its version.
        let server = component("Microsoft", "Windows Server", "2022", "");
        assert!(unmet_platforms(&firefox, &[browser.clone(), linux, server]).is_empty());
        let by_cpe = component("", "Windows", "10", "cpe:2.3:o:microsoft:windows:10:*:*:*:*:*:*:*");
        assert!(unmet_platforms(&firefox, &[browser.clone(), by_cpe]).is_empty());
        // No condition: nothing to meet.
        let plain = Affected { on: vec![], ..firefox };
        assert!(unmet_platforms(&plain, std::slice::from_ref(&browser)).is_empty());
        // Written without the field when it is empty: advisories stored before read the same.
        let json = serde_json::to_string(&plain).unwrap();
        assert!(!json.contains("\"on\""), "{json}");
        assert_eq!(serde_json::from_str::<Affected>(&json).unwrap(), plain);
    }
}

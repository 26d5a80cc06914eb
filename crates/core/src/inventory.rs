//! The software a system runs (items 62 and 68): each component with its
//! version, where it runs, its CPE where known and the date its support
//! ends, and how close that date is. Support-end dates come from the
//! person, or from release data the office imports (endoflife.date), whose
//! cycles are matched to a component's product and version here.

use crate::identity::{parse_multiline, parse_text, FieldError};
use time::Date;

crate::closed_set!(
    /// What a component is.
    ComponentKind { Os = "os", Middleware = "middleware", Framework = "framework", Library = "library", Other = "other" }
);

impl ComponentKind {
    /// The kind by its code or its Japanese word (an imported sheet's
    /// column); an empty cell is `Other`.
    pub fn from_word(s: &str) -> Option<ComponentKind> {
        let s = s.trim();
        if s.is_empty() {
            return Some(ComponentKind::Other);
        }
        let lower = s.to_ascii_lowercase();
        ComponentKind::parse(&lower).or(match s {
            "ミドルウェア" => Some(ComponentKind::Middleware),
            "フレームワーク" => Some(ComponentKind::Framework),
            "ライブラリ" => Some(ComponentKind::Library),
            "その他" => Some(ComponentKind::Other),
            _ => None,
        })
    }

    /// The kind in the sheet's words (`OS`, `ミドルウェア` …).
    pub fn word(self) -> &'static str {
        match self {
            ComponentKind::Os => "OS",
            ComponentKind::Middleware => "ミドルウェア",
            ComponentKind::Framework => "フレームワーク",
            ComponentKind::Library => "ライブラリ",
            ComponentKind::Other => "その他",
        }
    }
}

crate::closed_set!(
    /// Where a component's support-end date comes from.
    SupportSource { Manual = "manual", Feed = "feed" }
);

/// A component as a person types it or a sheet's row holds it.
#[derive(Debug, Clone, Default)]
pub struct ComponentFields<'a> {
    pub kind: &'a str,
    pub product: &'a str,
    pub vendor: &'a str,
    pub version: &'a str,
    pub runs_on: &'a str,
    pub cpe: &'a str,
    pub support_end: &'a str,
    pub reason: &'a str,
}

/// A component, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentInput {
    pub kind: ComponentKind,
    pub product: String,
    pub vendor: String,
    pub version: String,
    /// The server or place it runs on (`Web サーバ`, `db01`), free text.
    pub runs_on: String,
    /// CPE 2.3 formatted string, when known.
    pub cpe: Option<String>,
    /// Set by the person; `None` lets release data fill it.
    pub support_end: Option<Date>,
    /// Why it is not the newest version, when it is not.
    pub reason: String,
}

/// The checklist items the inventory answers: the software and its
/// versions (62), the vulnerability information matched against it (63),
/// the yearly report's software list (68).
pub const ITEMS: [u32; 3] = [62, 63, 68];

/// The most components one system may list.
pub const MAX_COMPONENTS: usize = 2_000;

impl ComponentInput {
    /// Every problem at once, by field.
    pub fn parse(f: &ComponentFields<'_>) -> Result<ComponentInput, Vec<(&'static str, FieldError)>> {
        let mut problems = Vec::new();
        let mut keep = |field: &'static str, r: Result<String, FieldError>| match r {
            Ok(v) => v,
            Err(e) => {
                problems.push((field, e));
                String::new()
            }
        };
        let product = keep("product", parse_text(f.product, 1, 200));
        let vendor = keep("vendor", parse_text(f.vendor, 0, 200));
        let version = keep("version", parse_text(f.version, 1, 100));
        let runs_on = keep("runs_on", parse_text(f.runs_on, 0, 200));
        let reason = keep("reason", parse_multiline(f.reason, 0, 2_000));
        let kind = ComponentKind::from_word(f.kind).unwrap_or_else(|| {
            problems.push(("kind", FieldError::BadFormat));
            ComponentKind::Other
        });
        let cpe = match f.cpe.trim() {
            "" => None,
            s => match Cpe::parse(s) {
                Some(c) => Some(c.to_string()),
                None => {
                    problems.push(("cpe", FieldError::BadFormat));
                    None
                }
            },
        };
        let support_end = match f.support_end.trim() {
            "" => None,
            s => crate::jst::parse_date(s).or_else(|| {
                problems.push(("support_end", FieldError::BadFormat));
                None
            }),
        };
        if problems.is_empty() {
            Ok(ComponentInput { kind, product, vendor, version, runs_on, cpe, support_end, reason })
        } else {
            Err(problems)
        }
    }

    /// What makes two rows the same component: an imported row with this
    /// key replaces the one listed (a new version of the same software on
    /// the same server is an upgrade, not a second component).
    pub fn key(&self) -> (String, String, String) {
        (normalise(&self.vendor), normalise(&self.product), normalise(&self.runs_on))
    }
}

/// Lower case, letters and digits only: `Red Hat Enterprise Linux` and
/// `red-hat-enterprise-linux` are the same product.
pub fn normalise(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// A CPE name, read from its 2.3 formatted string
/// (`cpe:2.3:a:nginx:nginx:1.24.0:*:*:*:*:*:*:*`) or its 2.2 URI
/// (`cpe:/a:nginx:nginx:1.24.0`); the parts vulnerability data matches on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpe {
    /// `a` application, `o` operating system, `h` hardware.
    pub part: char,
    pub vendor: String,
    pub product: String,
    /// `*` or `-` when any or none.
    pub version: String,
    /// The remaining attributes of the 2.3 form (update … other).
    pub rest: [String; 7],
}

impl Cpe {
    pub fn parse(s: &str) -> Option<Cpe> {
        let s = s.trim();
        if s.len() > 500 || s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return None;
        }
        let fields: Vec<String> = if let Some(rest) = s.strip_prefix("cpe:2.3:") {
            let f = split_escaped(rest);
            if f.len() != 11 {
                return None;
            }
            f
        } else if let Some(rest) = s.strip_prefix("cpe:/") {
            let mut f: Vec<String> =
                rest.split(':').map(|p| if p.is_empty() { "*".to_owned() } else { p.to_owned() }).collect();
            if f.len() < 3 || f.len() > 7 {
                return None;
            }
            f.resize(11, "*".to_owned());
            f
        } else {
            return None;
        };
        let part = match fields[0].as_str() {
            "a" => 'a',
            "o" => 'o',
            "h" => 'h',
            _ => return None,
        };
        if fields[1..].iter().any(String::is_empty) || fields[1] == "*" || fields[2] == "*" {
            return None;
        }
        let mut rest: [String; 7] = Default::default();
        for (slot, v) in rest.iter_mut().zip(&fields[4..]) {
            slot.clone_from(v);
        }
        Some(Cpe {
            part,
            vendor: fields[1].to_ascii_lowercase(),
            product: fields[2].to_ascii_lowercase(),
            version: fields[3].clone(),
            rest,
        })
    }

    /// The version without the 2.3 form's escapes (`1.0\-rc1` → `1.0-rc1`).
    pub fn plain_version(&self) -> String {
        self.version.replace('\\', "")
    }
}

/// The 2.3 formatted string.
impl std::fmt::Display for Cpe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cpe:2.3:{}:{}:{}:{}:{}", self.part, self.vendor, self.product, self.version, self.rest.join(":"))
    }
}

/// Splits at each `:` that no backslash escapes.
fn split_escaped(s: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut escaped = false;
    for c in s.chars() {
        match c {
            ':' if !escaped => out.push(String::new()),
            _ => {
                escaped = c == '\\' && !escaped;
                out.last_mut().expect("starts with one").push(c);
            }
        }
    }
    out
}

/// How close a component's support end is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// No date known.
    Unknown,
    /// Supported past the warning window.
    Supported { until: Date },
    /// Support ends within the warning window; `days` left (0: today is
    /// the last day).
    Ending { on: Date, days: i64 },
    /// Support ended on `on` (the day after the last supported day).
    Ended { on: Date },
}

crate::closed_set!(
    /// The state of a component's support, as lists filter and alerts name it.
    SupportState { Unknown = "unknown", Supported = "supported", Ending = "ending", Ended = "ended" }
);

/// The default warning window before a support end, in days.
pub const WARN_DAYS: u32 = 180;

/// `end` is the last day of support, as endoflife.date and vendors publish
/// it: support has ended from the day after.
pub fn support(end: Option<Date>, today: Date, warn_days: u32) -> Support {
    let Some(end) = end else { return Support::Unknown };
    let days = (end - today).whole_days();
    if days < 0 {
        Support::Ended { on: end.next_day().unwrap_or(end) }
    } else if days <= i64::from(warn_days) {
        Support::Ending { on: end, days }
    } else {
        Support::Supported { until: end }
    }
}

impl Support {
    /// The state in the words of the reports (Japanese only, as the ward's
    /// documents are).
    pub fn word(self) -> String {
        match self {
            Support::Unknown => "不明".into(),
            Support::Supported { .. } => "サポート中".into(),
            Support::Ending { days, .. } => format!("サポート終了まで {days} 日"),
            Support::Ended { .. } => "サポート終了".into(),
        }
    }

    /// Is this a step not alerted yet, given the step last alerted for the
    /// same date? Each of 'ending' and 'ended' is alerted once; nothing goes
    /// back from ended to ending.
    pub fn newly_due(self, warned: Option<SupportState>) -> bool {
        let s = self.state();
        matches!(s, SupportState::Ending | SupportState::Ended)
            && warned != Some(s)
            && !(warned == Some(SupportState::Ended) && s == SupportState::Ending)
    }

    pub fn state(self) -> SupportState {
        match self {
            Support::Unknown => SupportState::Unknown,
            Support::Supported { .. } => SupportState::Supported,
            Support::Ending { .. } => SupportState::Ending,
            Support::Ended { .. } => SupportState::Ended,
        }
    }
}

/// A product in release data: its names and cycles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EolProduct {
    /// endoflife.date's name (`rhel`, `nginx`).
    pub name: String,
    /// Its label (`Red Hat Enterprise Linux`).
    pub label: String,
    /// Other names it goes by.
    pub aliases: Vec<String>,
    /// CPE vendor:product pairs the product is known by.
    pub cpes: Vec<(String, String)>,
    pub releases: Vec<EolRelease>,
}

/// One release cycle (`22.04`, `1.24`, `8`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EolRelease {
    pub cycle: String,
    pub released: Option<Date>,
    /// The last day of support, when the data gives one.
    pub eol: Option<Date>,
    /// The newest version of the cycle.
    pub latest: Option<String>,
}

impl EolProduct {
    /// Is this the product a component names (by name, label or alias, or
    /// by its CPE's vendor and product)?
    pub fn names(&self, product: &str, cpe: Option<&Cpe>) -> bool {
        let key = normalise(product);
        let by_name = !key.is_empty()
            && std::iter::once(&self.name).chain([&self.label]).chain(&self.aliases).any(|n| normalise(n) == key);
        by_name || cpe.is_some_and(|c| self.cpes.iter().any(|(v, p)| *v == c.vendor && *p == c.product))
    }

    /// The cycle a version belongs to: the longest cycle that is the
    /// version itself or a leading part of it at a dot (`22.04.3` is in
    /// `22.04`, `1.24.0` in `1.24`, `8.6` in `8`; `1.2` is not in `1.20`).
    pub fn cycle_of(&self, version: &str) -> Option<&EolRelease> {
        let v = version.trim().trim_start_matches(['v', 'V']);
        self.releases
            .iter()
            .filter(|r| {
                let c = r.cycle.trim();
                !c.is_empty()
                    && (v == c || v.strip_prefix(c).is_some_and(|rest| rest.starts_with(['.', '-', '_', '+'])))
            })
            .max_by_key(|r| r.cycle.len())
    }
}

/// The release data's support end for a component, if one product and
/// cycle match it.
pub fn feed_support_end<'a>(
    products: &'a [EolProduct],
    product: &str,
    version: &str,
    cpe: Option<&Cpe>,
) -> Option<(&'a EolProduct, &'a EolRelease)> {
    products.iter().filter(|p| p.names(product, cpe)).find_map(|p| p.cycle_of(version).map(|r| (p, r)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn fields<'a>(product: &'a str, version: &'a str) -> ComponentFields<'a> {
        ComponentFields { product, version, ..Default::default() }
    }

    #[test]
    fn a_component_needs_a_product_and_a_version_and_says_every_problem() {
        let ok = ComponentInput::parse(&ComponentFields {
            kind: "ミドルウェア",
            product: " nginx ",
            vendor: "F5",
            version: "1.24.0",
            runs_on: "Web サーバ",
            cpe: "cpe:/a:f5:nginx:1.24.0",
            support_end: "2025/4/23",
            reason: "",
        })
        .unwrap();
        assert_eq!(ok.product, "nginx");
        assert_eq!(ok.kind, ComponentKind::Middleware);
        assert_eq!(ok.cpe.as_deref(), Some("cpe:2.3:a:f5:nginx:1.24.0:*:*:*:*:*:*:*"));
        assert_eq!(ok.support_end, Some(date!(2025 - 04 - 23)));
        let bad = ComponentInput::parse(&ComponentFields {
            kind: "ハードウェア",
            product: "",
            version: "1\u{0}",
            cpe: "nginx",
            support_end: "来年",
            ..Default::default()
        })
        .unwrap_err();
        let named: Vec<&str> = bad.iter().map(|(f, _)| *f).collect();
        assert_eq!(named, ["product", "version", "kind", "cpe", "support_end"]);
        assert_eq!(ComponentInput::parse(&fields("x", &"1".repeat(101))).unwrap_err()[0].0, "version");
    }

    #[test]
    fn the_same_product_on_the_same_server_is_one_component_whatever_its_spelling() {
        let a = ComponentInput::parse(&ComponentFields {
            runs_on: "Web サーバ",
            ..fields("Apache HTTP Server", "2.4.57")
        });
        let b = ComponentInput::parse(&ComponentFields {
            runs_on: "web サーバ",
            ..fields("apache-http-server", "2.4.58")
        });
        assert_eq!(a.unwrap().key(), b.unwrap().key());
    }

    #[test]
    fn cpe_names_in_both_forms_and_escapes() {
        let c = Cpe::parse("cpe:2.3:a:apache:http_server:2.4.57:*:*:*:*:*:*:*").unwrap();
        assert_eq!(
            (c.part, c.vendor.as_str(), c.product.as_str(), c.version.as_str()),
            ('a', "apache", "http_server", "2.4.57")
        );
        assert_eq!(c.to_string(), "cpe:2.3:a:apache:http_server:2.4.57:*:*:*:*:*:*:*");
        let e = Cpe::parse(r"cpe:2.3:a:vendor:prod\:uct:1.0\-rc1:*:*:*:*:*:*:*").unwrap();
        assert_eq!((e.product.as_str(), e.plain_version().as_str()), (r"prod\:uct", "1.0-rc1"));
        assert_eq!(
            Cpe::parse("cpe:/o:canonical:ubuntu_linux:22.04").unwrap().to_string(),
            "cpe:2.3:o:canonical:ubuntu_linux:22.04:*:*:*:*:*:*:*"
        );
        for bad in [
            "",
            "cpe:2.3:a:x:y",
            "cpe:2.3:x:v:p:1:*:*:*:*:*:*:*",
            "cpe:2.3:a:*:p:1:*:*:*:*:*:*:*",
            "cpe:/a",
            "cpe:2.3:a:v:p:1:*:*:*:*:*:*:* x",
            "nginx",
        ] {
            assert_eq!(Cpe::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn each_step_is_due_once_and_never_back_from_ended() {
        use SupportState::*;
        let ending = Support::Ending { on: date!(2027 - 01 - 01), days: 3 };
        let ended = Support::Ended { on: date!(2027 - 01 - 02) };
        assert!(ending.newly_due(None) && !ending.newly_due(Some(Ending)) && !ending.newly_due(Some(Ended)));
        assert!(ended.newly_due(None) && ended.newly_due(Some(Ending)) && !ended.newly_due(Some(Ended)));
        assert!(
            !Support::Unknown.newly_due(None) && !Support::Supported { until: date!(2027 - 01 - 01) }.newly_due(None)
        );
    }

    #[test]
    fn support_ends_after_its_last_day_and_warns_within_the_window() {
        let end = date!(2027 - 04 - 30);
        assert_eq!(support(None, end, 180), Support::Unknown);
        // 181 days before, supported; 180 days before is the warning's first day.
        assert_eq!(support(Some(end), date!(2026 - 10 - 31), 180), Support::Supported { until: end });
        assert_eq!(support(Some(end), date!(2026 - 10 - 31), 180).state(), SupportState::Supported);
        assert_eq!(support(Some(end), date!(2026 - 11 - 01), 180), Support::Ending { on: end, days: 180 });
        assert_eq!(support(Some(end), date!(2026 - 11 - 01), 180).state(), SupportState::Ending);
        assert_eq!(support(Some(end), end, 180), Support::Ending { on: end, days: 0 });
        assert_eq!(support(Some(end), date!(2027 - 05 - 01), 180), Support::Ended { on: date!(2027 - 05 - 01) });
        assert_eq!(support(Some(end), end, 0), Support::Ending { on: end, days: 0 });
    }

    fn product(name: &str, label: &str, cycles: &[(&str, Date)]) -> EolProduct {
        EolProduct {
            name: name.into(),
            label: label.into(),
            aliases: vec![],
            cpes: vec![("canonical".into(), "ubuntu_linux".into())],
            releases: cycles
                .iter()
                .map(|(c, d)| EolRelease { cycle: (*c).into(), released: None, eol: Some(*d), latest: None })
                .collect(),
        }
    }

    #[test]
    fn a_version_falls_in_its_longest_cycle_at_a_dot_boundary() {
        let p = product(
            "demo",
            "Demo",
            &[("1", date!(2030 - 01 - 01)), ("1.2", date!(2027 - 01 - 01)), ("1.20", date!(2029 - 01 - 01))],
        );
        let cycle = |v: &str| p.cycle_of(v).map(|r| r.cycle.as_str());
        assert_eq!(cycle("1.2.9"), Some("1.2"));
        assert_eq!(cycle("1.20.1"), Some("1.20"));
        assert_eq!(cycle("1.2"), Some("1.2"));
        assert_eq!(cycle("v1.2.3"), Some("1.2"));
        assert_eq!(cycle("1.3"), Some("1"));
        assert_eq!(cycle("12.0"), None);
        assert_eq!(cycle("2"), None);
    }

    #[test]
    fn release_data_names_a_product_by_name_label_alias_or_cpe() {
        let ubuntu = product("ubuntu", "Ubuntu", &[("22.04", date!(2027 - 04 - 01))]);
        let rhel = EolProduct {
            aliases: vec!["RHEL".into()],
            cpes: vec![],
            ..product("rhel", "Red Hat Enterprise Linux", &[("8", date!(2029 - 05 - 31))])
        };
        let all = [ubuntu, rhel];
        let found = |prod: &str, v: &str, cpe: Option<&str>| {
            let cpe = cpe.and_then(Cpe::parse);
            feed_support_end(&all, prod, v, cpe.as_ref()).map(|(p, r)| (p.name.clone(), r.eol))
        };
        assert_eq!(found("Ubuntu Server", "22.04.3", None), None, "a different name, no CPE");
        assert_eq!(
            found("Ubuntu Server", "22.04.3", Some("cpe:/o:canonical:ubuntu_linux:22.04")),
            Some(("ubuntu".into(), Some(date!(2027 - 04 - 01))))
        );
        assert_eq!(found("Red Hat Enterprise Linux", "8.6", None), Some(("rhel".into(), Some(date!(2029 - 05 - 31)))));
        assert_eq!(found("rhel", "8.6", None).map(|f| f.0), Some("rhel".into()));
        assert_eq!(found("RHEL", "9.2", None), None, "no such cycle");
    }
}

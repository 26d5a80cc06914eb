//! The facts behind the checklist's reporting duties, kept per system as
//! records with dates mamori watches (items 8, 10–13, 19–21, 69–79):
//! maintenance contracts, the contact chart for failures, where the system
//! runs, the cloud provider's certifications and terms, backups, disposal
//! and domains. Each kind declares its fields (type, length, whether
//! required) and the date it is watched by; one form, one list and one
//! warning rule serve them all.

use crate::identity::FieldError;
use std::collections::BTreeMap;
use time::{Date, Duration};

/// The most records of one kind one system keeps.
pub const MAX_PER_KIND: usize = 200;

crate::closed_set!(
    /// What a record is about.
    RecordKind {
        Contract = "contract",
        Contact = "contact",
        Site = "site",
        Certification = "certification",
        Cloud = "cloud",
        Backup = "backup",
        Disposal = "disposal",
        Domain = "domain",
    }
);

crate::closed_set!(
    /// Where a record stands with the security office: reviewed like an
    /// answer, and pending again after any change.
    RecordReview {
        Pending = "pending",
        Approved = "approved",
        Returned = "returned",
    }
);

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// One line of at most this many characters.
    Text(usize),
    /// Several lines of at most this many characters.
    Multiline(usize),
    Date,
    /// An `https://` or `http://` address.
    Url,
    /// Digits, `+`, `-`, spaces and parentheses.
    Phone,
    /// An e-mail address, checked as an account's is.
    Email,
    /// A whole number in this range.
    Number(i64, i64),
    /// One of these codes.
    Choice(&'static [&'static str]),
    /// `yes` or `no`.
    YesNo,
}

/// One field of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    pub name: &'static str,
    pub ty: FieldType,
    pub required: bool,
}

const fn f(name: &'static str, ty: FieldType, required: bool) -> FieldSpec {
    FieldSpec { name, ty, required }
}

use FieldType::*;

const CONTRACT: &[FieldSpec] = &[
    f("scope", Choice(&["software", "hardware", "both"]), true),
    f("vendor", Text(200), true),
    f("starts", Date, false),
    f("ends", Date, true),
    f("description", Multiline(2_000), false),
    f("document", Text(200), false),
];
const CONTACT: &[FieldSpec] = &[
    f("order", Number(1, 99), true),
    f("person", Text(100), true),
    f("role", Text(100), false),
    f("phone", Phone, true),
    f("hours", Text(100), false),
    f("email", Email, false),
];
const SITE: &[FieldSpec] = &[
    f("place", Choice(&["ward", "datacentre", "cloud"]), true),
    f("site_name", Text(200), true),
    f("region", Text(100), false),
    f("ismap_number", Text(20), false),
    f("in_japan", YesNo, true),
];
const CERTIFICATION: &[FieldSpec] = &[
    f("scheme", Choice(&["pmark", "isms", "ismap", "other"]), true),
    f("holder", Text(200), true),
    f("cert_number", Text(100), true),
    f("expires", Date, false),
];
const CLOUD: &[FieldSpec] = &[
    f("service", Text(200), true),
    f("governing_law", Text(100), false),
    f("court", Text(100), false),
    f("sla", Multiline(2_000), false),
    f("measures_url", Url, false),
    f("contact_point", Text(200), false),
];
const BACKUP: &[FieldSpec] = &[
    f("frequency", Text(100), true),
    f("generations", Number(1, 9_999), true),
    f("remote_location", Text(200), false),
    f("last_restore_test", Date, false),
];
const DISPOSAL: &[FieldSpec] = &[
    f("what", Text(200), true),
    f("disposed_on", Date, true),
    f("method", Text(200), true),
    f("certificate", Text(200), false),
];
const DOMAIN: &[FieldSpec] = &[
    f("domain", Text(253), true),
    f("registrar", Text(200), false),
    f("expires", Date, true),
    f("domain_method", Text(200), false),
    f("planned", Multiline(2_000), false),
    f("retired", YesNo, true),
];

/// How a kind's date is watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watch {
    Nothing,
    /// The field is the last day; warned this many days before.
    Until(&'static str, i64),
    /// The field must be renewed within `every` days; warned `before` days
    /// before that (a restore test older than a year).
    Every {
        field: &'static str,
        every: i64,
        before: i64,
    },
}

impl RecordKind {
    pub fn fields(self) -> &'static [FieldSpec] {
        match self {
            RecordKind::Contract => CONTRACT,
            RecordKind::Contact => CONTACT,
            RecordKind::Site => SITE,
            RecordKind::Certification => CERTIFICATION,
            RecordKind::Cloud => CLOUD,
            RecordKind::Backup => BACKUP,
            RecordKind::Disposal => DISPOSAL,
            RecordKind::Domain => DOMAIN,
        }
    }

    /// The checklist items records of this kind answer.
    pub fn items(self) -> &'static [u32] {
        match self {
            RecordKind::Contract => &[8, 10, 11, 12],
            RecordKind::Contact => &[8, 10],
            RecordKind::Site => &[13],
            RecordKind::Certification => &[72, 73, 74, 75, 76, 77],
            RecordKind::Cloud => &[72, 73, 74, 75, 76, 77],
            RecordKind::Backup => &[19, 20, 21],
            RecordKind::Disposal => &[79],
            RecordKind::Domain => &[69, 70, 71],
        }
    }

    pub fn watch(self) -> Watch {
        match self {
            RecordKind::Contract => Watch::Until("ends", 90),
            RecordKind::Certification => Watch::Until("expires", 90),
            RecordKind::Domain => Watch::Until("expires", 60),
            RecordKind::Backup => Watch::Every { field: "last_restore_test", every: 365, before: 30 },
            _ => Watch::Nothing,
        }
    }

    /// The field that names a record in lists and alerts; kept in clear,
    /// so never a personal one (a contact is named by its place in the order).
    pub fn title_field(self) -> &'static str {
        match self {
            RecordKind::Contract => "vendor",
            RecordKind::Contact => "order",
            RecordKind::Site => "site_name",
            RecordKind::Domain => "domain",
            RecordKind::Certification => "cert_number",
            RecordKind::Cloud => "service",
            RecordKind::Backup => "frequency",
            RecordKind::Disposal => "what",
        }
    }

    /// The kind in Japanese, for alerts and reports (mail and the yearly
    /// report are Japanese only).
    pub fn word(self) -> &'static str {
        match self {
            RecordKind::Contract => "保守契約",
            RecordKind::Contact => "連絡体制",
            RecordKind::Site => "設置場所",
            RecordKind::Certification => "認証",
            RecordKind::Cloud => "クラウドサービスの条件",
            RecordKind::Backup => "バックアップ",
            RecordKind::Disposal => "廃棄",
            RecordKind::Domain => "ドメイン",
        }
    }

    /// The kinds that answer item `number`.
    pub fn answering(number: u32) -> Vec<RecordKind> {
        RecordKind::ALL.iter().copied().filter(|k| k.items().contains(&number)).collect()
    }
}

/// A service of the ISMAP cloud service list (ISMAP クラウドサービスリスト),
/// as the office imports the published file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsmapService {
    pub number: String,
    pub service: String,
    pub provider: String,
}

/// An ISMAP registration number as compared: upper case, no spaces, the
/// full-width forms people paste from Japanese documents made half-width
/// (`ｃ２１－０００１－１` is `C21-0001-1`).
pub fn ismap_number(s: &str) -> String {
    s.chars()
        .filter_map(|c| {
            let c = match c {
                '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0)?,
                '\u{2212}' | '\u{2010}' | '\u{2011}' | '\u{2013}' | '\u{2014}' | '\u{30FC}' => '-',
                c => c,
            };
            (!c.is_whitespace()).then(|| c.to_ascii_uppercase())
        })
        .collect()
}

/// A record's values by field, checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Values(pub BTreeMap<String, String>);

impl Values {
    pub fn get(&self, field: &str) -> &str {
        self.0.get(field).map_or("", String::as_str)
    }

    pub fn date(&self, field: &str) -> Option<Date> {
        crate::jst::parse_date(self.get(field))
    }
}

fn check(spec: &FieldSpec, raw: &str) -> Result<String, FieldError> {
    let v = match spec.ty {
        Multiline(_) => raw.trim().replace("\r\n", "\n"),
        _ => raw.trim().to_owned(),
    };
    if v.is_empty() {
        return if spec.required { Err(FieldError::Empty) } else { Ok(v) };
    }
    let controls =
        |allow_newline: bool| v.chars().any(|c| crate::text::hidden(c) && !(allow_newline && matches!(c, '\n' | '\t')));
    match spec.ty {
        Text(max) | Multiline(max) if v.chars().count() > max => Err(FieldError::TooLong { max }),
        Text(_) if controls(false) => Err(FieldError::BadCharacters),
        Multiline(_) if controls(true) => Err(FieldError::BadCharacters),
        Text(_) | Multiline(_) => Ok(v),
        Date => crate::jst::parse_date(&v).map(|d| d.to_string()).ok_or(FieldError::BadFormat),
        Email => crate::identity::parse_email(&v),
        Url => {
            let ok = (v.starts_with("https://") || v.starts_with("http://"))
                && v.len() <= 2_000
                && !v.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>'));
            if ok {
                Ok(v)
            } else {
                Err(FieldError::BadFormat)
            }
        }
        Phone => {
            let ok = v.len() <= 30
                && v.chars().any(|c| c.is_ascii_digit())
                && v.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'));
            if ok {
                Ok(v)
            } else {
                Err(FieldError::BadFormat)
            }
        }
        Number(min, max) => match v.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n.to_string()),
            _ => Err(FieldError::BadFormat),
        },
        Choice(codes) if codes.contains(&v.as_str()) => Ok(v),
        YesNo if matches!(v.as_str(), "yes" | "no") => Ok(v),
        Choice(_) | YesNo => Err(FieldError::BadFormat),
    }
}

/// Checks every field of a kind from the form's values; every problem at
/// once. Fields the kind does not have are ignored.
pub fn parse(kind: RecordKind, get: impl Fn(&str) -> String) -> Result<Values, Vec<(&'static str, FieldError)>> {
    let mut values = BTreeMap::new();
    let mut problems = Vec::new();
    for spec in kind.fields() {
        match check(spec, &get(spec.name)) {
            Ok(v) if v.is_empty() => {}
            Ok(v) => {
                values.insert(spec.name.to_owned(), v);
            }
            Err(e) => problems.push((spec.name, e)),
        }
    }
    if let (RecordKind::Contract, Some(s), Some(e)) =
        (kind, crate::jst::parse_date(&get("starts")), crate::jst::parse_date(&get("ends")))
    {
        if e < s {
            problems.push(("ends", FieldError::BadFormat));
        }
    }
    if problems.is_empty() {
        Ok(Values(values))
    } else {
        Err(problems)
    }
}

/// The day a record needs attention by (a contract's last day, a
/// certificate's or domain's expiry, a year after the last restore test),
/// and how many days before it to warn.
/// A record's facts in one line of Japanese, for the yearly report. The
/// contact chart is personal data and says only who comes in which order
/// by role, never names or numbers.
pub fn summary(kind: RecordKind, v: &Values) -> String {
    let choice = |field: &str| -> &str {
        match v.get(field) {
            "software" => "ソフトウェア",
            "hardware" => "ハードウェア",
            "both" => "ソフトウェア・ハードウェア",
            "ward" => "庁舎内",
            "datacentre" => "データセンター",
            "cloud" => "クラウド",
            "pmark" => "プライバシーマーク",
            "isms" => "ISMS",
            "ismap" => "ISMAP",
            "other" => "その他",
            other => other,
        }
    };
    let yes = |field: &str| v.get(field) == "yes";
    let parts: Vec<String> = match kind {
        RecordKind::Contract => vec![
            format!("対象: {}", choice("scope")),
            format!("期間: {}〜{}", v.get("starts"), v.get("ends")),
            v.get("document").to_owned(),
        ],
        RecordKind::Contact => {
            vec![format!("{}番目", v.get("order")), v.get("role").to_owned(), v.get("hours").to_owned()]
        }
        RecordKind::Site => vec![
            choice("place").to_owned(),
            v.get("region").to_owned(),
            v.get("ismap_number").to_owned(),
            if yes("in_japan") { "国内".into() } else { "国外".into() },
        ],
        RecordKind::Certification => vec![
            choice("scheme").to_owned(),
            v.get("holder").to_owned(),
            match v.get("expires") {
                "" => String::new(),
                d => format!("有効期限: {d}"),
            },
        ],
        RecordKind::Cloud => vec![
            match (v.get("governing_law"), v.get("court")) {
                ("", "") => String::new(),
                (law, court) => format!("準拠法: {law} / 管轄: {court}"),
            },
            v.get("measures_url").to_owned(),
        ],
        RecordKind::Backup => vec![
            format!("{} 世代", v.get("generations")),
            v.get("remote_location").to_owned(),
            match v.get("last_restore_test") {
                "" => "復元テスト: 記録なし".into(),
                d => format!("最終復元テスト: {d}"),
            },
        ],
        RecordKind::Disposal => {
            vec![format!("{} {}", v.get("disposed_on"), v.get("method")), v.get("certificate").to_owned()]
        }
        RecordKind::Domain => vec![
            v.get("registrar").to_owned(),
            format!("有効期限: {}", v.get("expires")),
            if yes("retired") { "廃止済 (保有継続)".into() } else { String::new() },
        ],
    };
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect::<Vec<_>>().join(" / ")
}

pub fn due(kind: RecordKind, v: &Values) -> Option<(Date, i64)> {
    match kind.watch() {
        Watch::Nothing => None,
        Watch::Until(field, before) => Some((v.date(field)?, before)),
        Watch::Every { field, every, before } => Some((v.date(field)?.checked_add(Duration::days(every))?, before)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn form<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> String + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned()).unwrap_or_default()
    }

    #[test]
    fn a_contact_summary_names_no_person_and_no_number() {
        let v = parse(
            RecordKind::Contact,
            form(&[("order", "1"), ("person", "山田太郎"), ("role", "保守窓口"), ("phone", "03-1234-5678")]),
        )
        .unwrap();
        let s = summary(RecordKind::Contact, &v);
        assert_eq!(s, "1番目 / 保守窓口");
        let b = parse(RecordKind::Backup, form(&[("frequency", "毎日"), ("generations", "7")])).unwrap();
        assert_eq!(summary(RecordKind::Backup, &b), "7 世代 / 復元テスト: 記録なし");
    }

    #[test]
    fn ismap_numbers_compare_whatever_width_or_case() {
        assert_eq!(ismap_number(" ｃ２１－０００１－１ "), "C21-0001-1");
        assert_eq!(ismap_number("c21-0001-1"), "C21-0001-1");
        assert_eq!(ismap_number("C21ー0001−1"), "C21-0001-1");
    }

    #[test]
    fn a_field_name_means_one_thing_in_every_kind() {
        let mut seen: BTreeMap<&str, FieldType> = BTreeMap::new();
        for k in RecordKind::ALL {
            for f in k.fields() {
                assert_eq!(*seen.entry(f.name).or_insert(f.ty), f.ty, "{}", f.name);
            }
        }
    }

    #[test]
    fn every_kind_answers_items_and_names_itself_by_one_of_its_fields() {
        for k in RecordKind::ALL {
            assert!(!k.items().is_empty(), "{k:?}");
            assert!(k.fields().iter().any(|f| f.name == k.title_field() && f.required), "{k:?}");
            if let Watch::Until(field, _) | Watch::Every { field, .. } = k.watch() {
                assert!(k.fields().iter().any(|f| f.name == field && f.ty == Date), "{k:?}");
            }
        }
        assert_eq!(RecordKind::answering(79), [RecordKind::Disposal]);
        assert_eq!(RecordKind::answering(13), [RecordKind::Site]);
    }

    #[test]
    fn a_record_says_every_problem_and_keeps_only_its_own_fields() {
        let bad = parse(
            RecordKind::Contact,
            form(&[("order", "100"), ("person", ""), ("phone", "03-1234-5678<script>"), ("email", &"a".repeat(300))]),
        )
        .unwrap_err();
        let named: Vec<&str> = bad.iter().map(|(f, _)| *f).collect();
        assert_eq!(named, ["order", "person", "phone", "email"]);
        let ok = parse(
            RecordKind::Contact,
            form(&[("order", " 1 "), ("person", "山田 太郎"), ("phone", "+81 3-1234-5678"), ("stray", "x")]),
        )
        .unwrap();
        assert_eq!((ok.get("order"), ok.get("phone"), ok.get("stray")), ("1", "+81 3-1234-5678", ""));
        let bad = parse(
            RecordKind::Contact,
            form(&[("order", "2"), ("person", "x"), ("phone", "03-1234-5678"), ("email", "taro@")]),
        )
        .unwrap_err();
        assert_eq!(bad, [("email", FieldError::BadFormat)]);
        let bad =
            parse(RecordKind::Cloud, form(&[("service", "x"), ("measures_url", "javascript:alert(1)")])).unwrap_err();
        assert_eq!(bad[0].0, "measures_url");
        let bad =
            parse(RecordKind::Site, form(&[("place", "moon"), ("site_name", "x"), ("in_japan", "maybe")])).unwrap_err();
        assert_eq!(bad.iter().map(|p| p.0).collect::<Vec<_>>(), ["place", "in_japan"]);
        let bad = parse(
            RecordKind::Contract,
            form(&[("scope", "both"), ("vendor", "保守ベンダー"), ("starts", "2027-04-01"), ("ends", "2027/3/31")]),
        )
        .unwrap_err();
        assert_eq!(bad[0].0, "ends", "ends before it starts");
    }

    #[test]
    fn each_watched_kind_is_due_on_its_date() {
        let v =
            |pairs: &[(&str, &str)]| Values(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect());
        assert_eq!(due(RecordKind::Contract, &v(&[("ends", "2027-03-31")])), Some((date!(2027 - 03 - 31), 90)));
        assert_eq!(due(RecordKind::Domain, &v(&[("expires", "2027-01-10")])), Some((date!(2027 - 01 - 10), 60)));
        assert_eq!(
            due(RecordKind::Backup, &v(&[("last_restore_test", "2026-01-15")])),
            Some((date!(2027 - 01 - 15), 30))
        );
        assert_eq!(due(RecordKind::Backup, &v(&[])), None);
        assert_eq!(due(RecordKind::Contact, &v(&[("ends", "2027-03-31")])), None);
    }
}

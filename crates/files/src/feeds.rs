//! Reference data the security office imports into an offline server,
//! recognised from its content: endoflife.date's release data (API v1, one
//! product or the full list, or the older per-product array of cycles),
//! NVD's CVE JSON 2.0 (the API's answer or a data feed file) and JVN
//! iPedia / MyJVN's RSS (RDF) overview. Every count is bounded; a file that
//! is not one of these is refused.

use crate::lenient::{Capped, Keep, Kept, Object, Seen, Text};
use mamori_core::inventory::{Cpe, EolProduct, EolRelease};
use mamori_core::records::{ismap_number, IsmapService};
use mamori_core::vulns::{Advisory, Affected, Bound, Versions, VulnSource, MAX_AFFECTED};
use serde::de::IgnoredAny;
use serde::Deserialize;

/// The largest file the web page takes (endoflife.date's full list is a
/// few MB; NVD's pages of 2,000 CVEs some 10 MB). The console takes
/// [`MAX_CONSOLE_BYTES`], enough for a year of NVD's data feed.
pub const MAX_BYTES: usize = 64 * 1024 * 1024;
pub const MAX_CONSOLE_BYTES: usize = 1024 * 1024 * 1024;
const MAX_PRODUCTS: usize = 10_000;

/// The ISMAP list's rows read at the most: the heading (within the first
/// ten rows), the services allowed and one more (to say there are too many).
const ISMAP_ROWS: usize = MAX_PRODUCTS + 11;
const MAX_RELEASES: usize = 5_000;
const MAX_ADVISORIES: usize = 500_000;

/// What a file turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Feed {
    /// Release cycles and their support ends, per product.
    EndOfLife(Vec<EolProduct>),
    /// Vulnerability advisories of one source.
    Advisories(VulnSource, Vec<Advisory>),
    /// The ISMAP cloud service list.
    Ismap(Vec<IsmapService>),
}

impl Feed {
    /// The kind as the audit log and the console name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Feed::EndOfLife(_) => "endoflife",
            Feed::Advisories(VulnSource::Nvd, _) => "nvd",
            Feed::Advisories(VulnSource::Jvn, _) => "jvn",
            Feed::Ismap(_) => "ismap",
        }
    }
}

/// Why a file was not taken, for the person (Japanese, then English).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedError(pub String);

impl std::fmt::Display for FeedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn refused(s: &str) -> FeedError {
    FeedError(s.to_owned())
}

/// Reads a feed file. `name` is the file's own name, read only when the
/// content does not name its product (the older endoflife.date files,
/// `nginx.json`); it is never used as a path.
pub fn read(bytes: &[u8], name: &str) -> Result<Feed, FeedError> {
    if bytes.len() > MAX_CONSOLE_BYTES {
        return Err(refused("ファイルが大きすぎます (file too large)"));
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(bytes);
    if bytes.starts_with(b"PK\x03\x04") {
        let table = crate::inventory::xlsx_table(bytes, ISMAP_ROWS).map_err(|e| FeedError(e[0].located()))?;
        return ismap(table).map(Feed::Ismap);
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(2048)]).into_owned();
    let sjis_head = encoding_rs::SHIFT_JIS.decode(&bytes[..bytes.len().min(2048)]).0.into_owned();
    if head.contains("登録番号") || sjis_head.contains("登録番号") {
        let table = crate::inventory::csv_table(bytes, ISMAP_ROWS).map_err(|e| FeedError(e[0].located()))?;
        return ismap(table).map(Feed::Ismap);
    }
    let none = |a: Vec<Advisory>| {
        if a.is_empty() {
            Err(refused("脆弱性情報が 1 件もありません。空のファイルか、対応していない形式です (no advisories)"))
        } else {
            Ok(a)
        }
    };
    if head.trim_start().starts_with('<') {
        return jvn(bytes).and_then(none).map(|a| Feed::Advisories(VulnSource::Jvn, a));
    }
    if head.contains("\"NVD_CVE\"") || head.contains("\"vulnerabilities\"") {
        return nvd(bytes).and_then(none).map(|a| Feed::Advisories(VulnSource::Nvd, a));
    }
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => endoflife_v1(bytes),
        Some(b'[') => endoflife_v0(bytes, name),
        _ if serde_json::from_slice::<IgnoredAny>(bytes).is_ok() => Err(unknown()),
        _ => Err(unreadable()),
    }
}

fn unreadable() -> FeedError {
    refused("読めません。対応する形式: endoflife.date、NVD (CVE JSON 2.0)、JVN (RSS) (not a known feed)")
}

fn unknown() -> FeedError {
    refused("対応していない形式です。対応する形式: endoflife.date、NVD (CVE JSON 2.0)、JVN (RSS) (not a known feed)")
}

// ----- endoflife.date -----------------------------------------------------------

/// endoflife.date's API v1: one product, or the full list.
#[derive(Deserialize)]
struct EolFile {
    #[serde(default)]
    schema_version: Seen,
    #[serde(default)]
    result: EolResult,
}

/// The entries a file may give in all (products, and their aliases, CPEs
/// and cycles): each product is counted as it is read, so that the bounds
/// of its lists do not multiply (10,000 products of 5,000 cycles each
/// were held as 50 times the file).
const MAX_ENTRIES: usize = 200_000;

#[derive(Default)]
enum EolResult {
    #[default]
    None,
    One(EolProductRaw),
    Many(Vec<EolProductRaw>),
    TooMany,
}

impl<'de> Deserialize<'de> for EolResult {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = EolResult;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a product or a list of products")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<EolResult, A::Error> {
                EolProductRaw::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(EolResult::One)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<EolResult, A::Error> {
                let (mut products, mut entries) = (Vec::new(), 0);
                while let Some(p) = seq.next_element::<Object<EolProductRaw>>()? {
                    let Some(p) = p.0 else { continue };
                    entries += 1 + p.aliases.items.len() + p.identifiers.items.len() + p.releases.items.len();
                    if products.len() == MAX_PRODUCTS || entries > MAX_ENTRIES {
                        while seq.next_element::<IgnoredAny>()?.is_some() {}
                        return Ok(EolResult::TooMany);
                    }
                    products.push(p);
                }
                Ok(EolResult::Many(products))
            }
            crate::lenient::others_default!(bool, number, str, unit);
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EolProductRaw {
    name: Text,
    label: Text,
    aliases: Kept<Texts, 100>,
    identifiers: Kept<CpeIds, 100>,
    releases: Kept<NamedReleases, MAX_RELEASES>,
}

/// An alias: text only.
struct Texts;

impl Keep for Texts {
    type From = Text;
    type To = String;
    fn keep(t: Text) -> Option<String> {
        t.0
    }
}

/// An identifier: a CPE's vendor and product only.
struct CpeIds;

impl Keep for CpeIds {
    type From = Object<Identifier>;
    type To = (String, String);
    fn keep(i: Object<Identifier>) -> Option<(String, String)> {
        let i = i.0.filter(|i| i.kind.0.as_deref() == Some("cpe"))?;
        cpe_vendor_product(i.id.0.as_deref()?)
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Identifier {
    #[serde(rename = "type")]
    kind: Text,
    id: Text,
}

/// A release cycle: one with a name only.
struct NamedReleases;

impl Keep for NamedReleases {
    type From = Object<EolReleaseRaw>;
    type To = EolRelease;
    fn keep(r: Object<EolReleaseRaw>) -> Option<EolRelease> {
        let r = r.0?;
        Some(EolRelease {
            cycle: r.name.0?,
            released: date(r.release_date),
            eol: date(r.eol_from),
            latest: r.latest.0.and_then(|l| l.name.0),
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct EolReleaseRaw {
    name: Text,
    release_date: Text,
    eol_from: Text,
    latest: Object<Named>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Named {
    name: Text,
}

/// The older per-product array of cycles.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct V0Cycle {
    cycle: Seen,
    release_date: Text,
    /// A date, or true/false when the data has no date.
    eol: Text,
    latest: Text,
}

fn endoflife_v1(bytes: &[u8]) -> Result<Feed, FeedError> {
    let file: EolFile = serde_json::from_slice(bytes).map_err(|_| unreadable())?;
    if file.schema_version.0.is_none() {
        return Err(unknown());
    }
    match file.result {
        EolResult::One(p) => Ok(Feed::EndOfLife(vec![v1_product(p)?])),
        EolResult::TooMany => Err(refused("製品またはサイクルが多すぎます (too many products or cycles)")),
        EolResult::Many(ps) => Ok(Feed::EndOfLife(ps.into_iter().map(v1_product).collect::<Result<_, _>>()?)),
        EolResult::None => Err(refused("endoflife.date の形式ではありません (no result)")),
    }
}

fn endoflife_v0(bytes: &[u8], name: &str) -> Result<Feed, FeedError> {
    let cycles: Capped<Object<V0Cycle>, MAX_RELEASES> = serde_json::from_slice(bytes).map_err(|_| unreadable())?;
    if cycles.items.is_empty() || !cycles.items.iter().all(|c| c.0.as_ref().is_some_and(|c| c.cycle.0.is_some())) {
        return Err(unknown());
    }
    if cycles.more {
        return Err(refused("サイクルが多すぎます (too many cycles)"));
    }
    let product = product_of_name(name).ok_or_else(|| {
        refused("この形式では製品名をファイル名から読みます (例: nginx.json)。ファイル名が製品名ではありません (name the file after the product)")
    })?;
    // A cycle without a name (`"cycle": null`) is no release: kept, it
    // replaced the product's cycles with none.
    let releases: Vec<EolRelease> = cycles
        .items
        .into_iter()
        .filter_map(|c| c.0)
        .filter_map(|c| {
            Some(EolRelease {
                cycle: c.cycle.0.and_then(|t| t.0).filter(|t| !t.is_empty())?,
                released: date(c.release_date),
                eol: date(c.eol),
                latest: c.latest.0,
            })
        })
        .collect();
    if releases.is_empty() {
        return Err(refused("名前のあるサイクルがありません (no named cycle)"));
    }
    Ok(Feed::EndOfLife(vec![EolProduct {
        label: product.clone(),
        name: product,
        aliases: vec![],
        cpes: vec![],
        releases,
    }]))
}

/// `nginx` from `nginx.json`: lower-case letters, digits, `.`, `-`, `_`.
fn product_of_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next()?.strip_suffix(".json")?;
    let ok = !base.is_empty()
        && base.len() <= 100
        && base.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_'));
    ok.then(|| base.to_owned())
}

fn date(t: Text) -> Option<time::Date> {
    t.0.as_deref().and_then(mamori_core::jst::parse_date)
}

fn v1_product(p: EolProductRaw) -> Result<EolProduct, FeedError> {
    let name = p.name.0.filter(|n| !n.is_empty()).ok_or_else(|| refused("製品名 (name) がありません"))?;
    if p.releases.more {
        return Err(refused("サイクルが多すぎます (too many cycles)"));
    }
    Ok(EolProduct {
        label: p.label.0.unwrap_or_else(|| name.clone()),
        aliases: p.aliases.items,
        cpes: p.identifiers.items,
        releases: p.releases.items,
        name,
    })
}

/// The vendor and product of a CPE name without a version
/// (`cpe:/o:canonical:ubuntu_linux`, `cpe:2.3:a:f5:nginx`).
fn cpe_vendor_product(id: &str) -> Option<(String, String)> {
    let rest = id.strip_prefix("cpe:2.3:").or_else(|| id.strip_prefix("cpe:/"))?;
    let mut parts = rest.split(':');
    let (_part, vendor, product) = (parts.next()?, parts.next()?, parts.next()?);
    (!vendor.is_empty() && !product.is_empty()).then(|| (vendor.to_ascii_lowercase(), product.to_ascii_lowercase()))
}

// ----- The ISMAP cloud service list -------------------------------------------

/// The published list's table: a heading row (within the first ten) with
/// 登録番号 and the service's name, then one service per row.
fn ismap(table: crate::inventory::Table) -> Result<Vec<IsmapService>, FeedError> {
    let at = |row: &[String], names: &[&str]| row.iter().position(|h| names.iter().any(|n| h.trim().contains(n)));
    let table: Vec<Vec<String>> = table.into_iter().map(|(_, row)| row).collect();
    let (start, number, service, provider) = table
        .iter()
        .take(10)
        .enumerate()
        .find_map(|(i, row)| {
            let n = at(row, &["登録番号"])?;
            let s = at(row, &["クラウドサービス名", "サービス名"])?;
            Some((i + 1, n, s, at(row, &["事業者名", "事業者"])))
        })
        .ok_or_else(|| refused("ISMAP クラウドサービスリストの見出し (登録番号、クラウドサービス名) が見つかりません (not the ISMAP list)"))?;
    let cell = |row: &Vec<String>, i: usize| row.get(i).map_or(String::new(), |c| clip(c.trim(), 300));
    let listed: Vec<&Vec<String>> = table[start..].iter().filter(|row| !cell(row, number).is_empty()).collect();
    if listed.len() > MAX_PRODUCTS {
        return Err(refused(&format!("サービスが多すぎます。{MAX_PRODUCTS} 件までです (too many services)")));
    }
    let list: Vec<IsmapService> = listed
        .into_iter()
        .map(|row| IsmapService {
            number: ismap_number(&cell(row, number)),
            service: cell(row, service),
            provider: provider.map(|p| cell(row, p)).unwrap_or_default(),
        })
        .collect();
    if list.is_empty() {
        return Err(refused("ISMAP クラウドサービスリストにサービスがありません (the list is empty)"));
    }
    Ok(list)
}

// ----- NVD CVE JSON 2.0 -------------------------------------------------------
//
// Read one record at a time: each CVE is made an advisory as it is read,
// holding no more of it than the advisory keeps. A CVE's configurations
// are read into their vulnerable products (the first `MAX_AFFECTED`) and
// the platform conditions they share; the conditions are copied to each
// product only when the advisory is made, within a budget for the file.

/// The platform products a file's advisories may carry in all, at least
/// [`MIN_CONDITION_COPIES`] and one for every [`FILE_BYTES_PER_COPY`] bytes of
/// the file (NVD's records take some 5 KB a CVE). Each
/// vulnerable product of an `AND` configuration carries its own copy of
/// the configuration's conditions: 2,000 products on 4 conditions of 20
/// platforms are 160,000 copies from 60 KB. Past the budget a product
/// keeps no condition: mamori then matches more, never less.
const MIN_CONDITION_COPIES: usize = 100_000;
const FILE_BYTES_PER_COPY: usize = 128;

/// A seed that is its own visitor: `$how` (`deserialize_map`,
/// `deserialize_seq`) hands what is read to the visit method given, and
/// `$expecting` says what was wanted. serde's derive cannot carry the
/// state these read with (what is left of a budget), so they are written
/// out; the macro keeps each to its one method.
macro_rules! seeded {
    ($ty:ty => $value:ty, $how:ident, $expecting:literal, $visit:item) => {
        impl<'de> serde::de::DeserializeSeed<'de> for $ty {
            type Value = $value;
            fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<$value, D::Error> {
                d.$how(self)
            }
        }

        impl<'de> serde::de::Visitor<'de> for $ty {
            type Value = $value;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($expecting)
            }
            $visit
        }
    };
}

fn nvd(bytes: &[u8]) -> Result<Vec<Advisory>, FeedError> {
    use serde::de::DeserializeSeed;
    let copies = MIN_CONDITION_COPIES.max(bytes.len() / FILE_BYTES_PER_COPY);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let read =
        NvdFile { copies_left: copies }.deserialize(&mut de).and_then(|r| de.end().map(|()| r)).map_err(|e| {
            FeedError(format!("NVD (CVE JSON 2.0) として読めません (not NVD CVE JSON 2.0): {}行目", e.line()))
        })?;
    if read.too_many {
        return Err(refused("脆弱性情報が多すぎます (too many advisories)"));
    }
    Ok(read.advisories)
}

#[derive(Default)]
struct NvdRead {
    advisories: Vec<Advisory>,
    too_many: bool,
}

/// The file: only its `vulnerabilities` are read.
struct NvdFile {
    copies_left: usize,
}

seeded!(NvdFile => NvdRead, deserialize_map, "NVD's CVE JSON 2.0",
    fn visit_map<A: serde::de::MapAccess<'de>>(mut self, mut map: A) -> Result<NvdRead, A::Error> {
        let mut read = NvdRead::default();
        while let Some(key) = map.next_key::<String>()? {
            if key == "vulnerabilities" {
                read = map.next_value_seed(Records { copies_left: &mut self.copies_left })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(read)
    }
);

/// The records, each made an advisory as it is read.
struct Records<'a> {
    copies_left: &'a mut usize,
}

seeded!(Records<'_> => NvdRead, deserialize_seq, "a list of CVE records",
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<NvdRead, A::Error> {
        let (advisories, too_many) =
            crate::lenient::take(seq, MAX_ADVISORIES, |item: NvdItem| advisory(item.cve, self.copies_left))?;
        Ok(NvdRead { advisories, too_many })
    }
);

#[derive(Deserialize)]
struct NvdItem {
    cve: NvdCve,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NvdCve {
    id: String,
    #[serde(default)]
    last_modified: String,
    #[serde(default)]
    descriptions: Title,
    #[serde(default)]
    metrics: NvdMetrics,
    #[serde(default)]
    configurations: Configurations,
}

fn advisory(c: NvdCve, copies_left: &mut usize) -> Option<Advisory> {
    if !c.id.starts_with("CVE-") || c.id.len() > 40 {
        return None;
    }
    let m = &c.metrics;
    let cvss = [&m.v40, &m.v31, &m.v30, &m.v2].into_iter().find_map(|s| s.items.first().map(|x| x.data.base_score));
    let mut affected = Vec::new();
    for group in c.configurations.0 {
        let size: usize = group.on.iter().map(Vec::len).sum();
        for product in group.products {
            let on = if size <= *copies_left {
                *copies_left -= size;
                group.on.clone()
            } else {
                Vec::new()
            };
            affected.push(Affected { on, ..product });
        }
    }
    Some(Advisory {
        source: VulnSource::Nvd,
        link: format!("https://nvd.nist.gov/vuln/detail/{}", c.id),
        cves: vec![c.id.clone()],
        ident: c.id,
        title: c.descriptions.0,
        cvss,
        modified: clip(&c.last_modified, 40),
        affected,
    })
}

/// The English description, or the first (at most 300 characters).
#[derive(Default)]
struct Title(String);

impl<'de> Deserialize<'de> for Title {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Title;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of descriptions")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Title, A::Error> {
                let (mut first, mut en) = (None, None);
                while let Some(d) = seq.next_element::<LangText>()? {
                    if en.is_none() && d.lang == "en" {
                        en = Some(clip(&d.value, 300));
                    } else if first.is_none() {
                        first = Some(clip(&d.value, 300));
                    }
                }
                Ok(Title(en.or(first).unwrap_or_default()))
            }
        }
        d.deserialize_seq(V)
    }
}

#[derive(Deserialize)]
struct LangText {
    lang: String,
    value: String,
}

#[derive(Deserialize, Default)]
struct NvdMetrics {
    #[serde(default, rename = "cvssMetricV40")]
    v40: FirstScore,
    #[serde(default, rename = "cvssMetricV31")]
    v31: FirstScore,
    #[serde(default, rename = "cvssMetricV30")]
    v30: FirstScore,
    #[serde(default, rename = "cvssMetricV2")]
    v2: FirstScore,
}

/// A list's first metric (the rest read and dropped).
type FirstScore = Capped<NvdMetric, 1>;

#[derive(Deserialize)]
struct NvdMetric {
    #[serde(rename = "cvssData")]
    data: CvssData,
}

#[derive(Deserialize)]
struct CvssData {
    #[serde(rename = "baseScore")]
    base_score: f64,
}

/// A CVE's configurations as groups of vulnerable products, the first
/// [`MAX_AFFECTED`] in all.
#[derive(Default)]
struct Configurations(Vec<Group>);

/// One configuration's vulnerable products and, when its `operator` is
/// `AND` (a product on a platform), the platform conditions they share:
/// the configuration's other nodes, each met by any product it lists. A
/// negated node, "not on", is no condition: mamori then matches more,
/// never less.
struct Group {
    products: Vec<Affected>,
    on: Vec<Vec<Affected>>,
}

impl<'de> Deserialize<'de> for Configurations {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Configurations;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of configurations")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Configurations, A::Error> {
                let mut products_left = MAX_AFFECTED;
                let mut groups = Vec::new();
                while let Some(group) = seq.next_element_seed(Config { products_left: &mut products_left })? {
                    if !group.products.is_empty() {
                        groups.push(group);
                    }
                }
                Ok(Configurations(groups))
            }
        }
        d.deserialize_seq(V)
    }
}

/// One configuration, keeping at most `products_left` products.
struct Config<'a> {
    products_left: &'a mut usize,
}

seeded!(Config<'_> => Group, deserialize_map, "a configuration",
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Group, A::Error> {
        let mut operator = String::new();
        let mut products = Vec::new();
        // The first nodes that may be platform conditions: neither
        // negated nor vulnerable themselves.
        let mut platforms: Vec<Vec<Affected>> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "operator" => operator = map.next_value()?,
                "nodes" => map.next_value_seed(Nodes {
                    products_left: &mut *self.products_left,
                    products: &mut products,
                    platforms: &mut platforms,
                })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let on = if operator.eq_ignore_ascii_case("AND") {
            platforms.into_iter().filter(|any_of| !any_of.is_empty()).collect()
        } else {
            Vec::new()
        };
        Ok(Group { products, on })
    }
);

struct Nodes<'a> {
    products_left: &'a mut usize,
    products: &'a mut Vec<Affected>,
    platforms: &'a mut Vec<Vec<Affected>>,
}

seeded!(Nodes<'_> => (), deserialize_seq, "a list of nodes",
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(node) = seq.next_element_seed(Node { products_left: &mut *self.products_left })? {
            if node.vulnerable {
                self.products.extend(node.products);
            } else if !node.negate && self.platforms.len() < MAX_CONDITIONS {
                self.platforms.push(node.platforms);
            }
        }
        Ok(())
    }
);

/// A node as read: whether any of its products is vulnerable, those it
/// keeps, and the first [`MAX_PLATFORMS`] others as platforms (any version).
#[derive(Default)]
struct NodeRead {
    negate: bool,
    vulnerable: bool,
    products: Vec<Affected>,
    platforms: Vec<Affected>,
}

struct Node<'a> {
    products_left: &'a mut usize,
}

seeded!(Node<'_> => NodeRead, deserialize_map, "a node",
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<NodeRead, A::Error> {
        let mut node = NodeRead::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "negate" => node.negate = map.next_value()?,
                "cpeMatch" => {
                    map.next_value_seed(Matches { products_left: &mut *self.products_left, node: &mut node })?
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(node)
    }
);

struct Matches<'a> {
    products_left: &'a mut usize,
    node: &'a mut NodeRead,
}

seeded!(Matches<'_> => (), deserialize_seq, "a list of CPE matches",
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(m) = seq.next_element::<CpeMatch>()? {
            if m.vulnerable {
                self.node.vulnerable = true;
                if *self.products_left > 0 {
                    if let Some(a) = product(m) {
                        self.node.products.push(a);
                        *self.products_left -= 1;
                    }
                }
            } else if self.node.platforms.len() < MAX_PLATFORMS {
                // A platform named without a version ("-") is any version of it.
                if let Some(cpe) = Cpe::parse(&m.criteria) {
                    self.node.platforms.push(Affected {
                        part: Some(cpe.part),
                        vendor: cpe.vendor,
                        product: cpe.product,
                        versions: Versions::Any,
                        on: Vec::new(),
                    });
                }
            }
        }
        Ok(())
    }
);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CpeMatch {
    #[serde(default)]
    vulnerable: bool,
    criteria: String,
    version_start_including: Option<String>,
    version_start_excluding: Option<String>,
    version_end_including: Option<String>,
    version_end_excluding: Option<String>,
}

fn bound(including: Option<String>, excluding: Option<String>) -> Option<Bound> {
    match (including, excluding) {
        (Some(v), _) => Some(Bound { version: v, included: true }),
        (None, Some(v)) => Some(Bound { version: v, included: false }),
        (None, None) => None,
    }
}

fn clip(s: &str, n: usize) -> String {
    s.chars().filter(|c| !mamori_core::text::hidden(*c)).take(n).collect()
}

/// A CPE match as a product with its versions (`None`: not a product
/// (`-`, "not applicable") or not a CPE).
fn product(m: CpeMatch) -> Option<Affected> {
    let cpe = Cpe::parse(&m.criteria)?;
    let (start, end) = (
        bound(m.version_start_including, m.version_start_excluding),
        bound(m.version_end_including, m.version_end_excluding),
    );
    let versions = match cpe.version.as_str() {
        _ if start.is_some() || end.is_some() => Versions::Range { start, end },
        "*" => Versions::Any,
        "-" => return None,
        _ => Versions::Exact(cpe.plain_version()),
    };
    Some(Affected { part: Some(cpe.part), vendor: cpe.vendor, product: cpe.product, versions, on: Vec::new() })
}

/// The most products one platform condition keeps, and the most
/// conditions a product keeps. NVD lists some hardware by the hundred;
/// past the first 20 a platform the inventory lists may go unseen, and the
/// match then says to check it (it is never dropped).
const MAX_PLATFORMS: usize = 20;
const MAX_CONDITIONS: usize = 4;

// ----- JVN iPedia / MyJVN RSS (RDF) ----------------------------------------------

/// An item of the RSS as it is read.
#[derive(Default)]
struct JvnItem {
    ident: String,
    title: String,
    link: String,
    modified: String,
    cves: Vec<String>,
    /// (CVSS version, base score): the newest version wins.
    cvss: Option<(String, f64)>,
    affected: Vec<Affected>,
}

fn jvn(bytes: &[u8]) -> Result<Vec<Advisory>, FeedError> {
    use quick_xml::events::Event;
    let text = std::str::from_utf8(bytes).map_err(|_| refused("JVN の RSS は UTF-8 で読みます (not UTF-8)"))?;
    let mut reader = quick_xml::Reader::from_str(text);
    // Not trimmed per event: the text around an entity keeps its spaces.
    reader.config_mut().trim_text(false);
    let malformed = || refused("XML として読めません。対応する形式: JVN (MyJVN / JVN iPedia の RSS) (malformed XML)");
    let version = quick_xml::XmlVersion::Implicit1_0;
    let attr = |e: &quick_xml::events::BytesStart<'_>, key: &str| -> String {
        e.attributes()
            .flatten()
            .find(|a| a.key.as_ref() == key)
            .and_then(|a| a.normalized_value(version).ok().map(|v| clip(&v, 300)))
            .unwrap_or_default()
    };
    let mut items = Vec::new();
    let mut item: Option<JvnItem> = None;
    let mut field = String::new();
    let mut text_of = String::new();
    let mut rdf = false;
    // Elements open: a document cut off before its end is refused.
    let mut depth = 0usize;
    loop {
        let event = reader.read_event().map_err(|_| malformed())?;
        match &event {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
        match event {
            Event::Eof if depth > 0 => return Err(malformed()),
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == "rdf:RDF" => rdf = true,
            Event::Start(e) if e.name().as_ref() == "item" => item = Some(JvnItem::default()),
            Event::Start(e) | Event::Empty(e) => {
                let name = e.name().as_ref().to_owned();
                if let Some(it) = item.as_mut() {
                    match name.as_str() {
                        "sec:cvss" => {
                            let score = attr(&e, "score").parse::<f64>().ok();
                            let v = attr(&e, "version");
                            if let Some(score) = score {
                                if it.cvss.as_ref().is_none_or(|(old, _)| *old < v) {
                                    it.cvss = Some((v, score));
                                }
                            }
                        }
                        "sec:references" => {
                            let id = attr(&e, "id");
                            if id.starts_with("CVE-") && !it.cves.contains(&id) && it.cves.len() < 100 {
                                it.cves.push(id);
                            }
                        }
                        _ => {}
                    }
                }
                field = name;
                text_of.clear();
            }
            Event::Text(t) => text_of.push_str(&t.xml10_content()),
            Event::CData(t) => text_of.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    text_of.push(c);
                } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&r) {
                    text_of.push_str(s);
                }
            }
            Event::End(e) => {
                let name = e.name().as_ref().to_owned();
                if name == "item" {
                    if let Some(it) = item.take() {
                        if it.ident.starts_with("JVNDB-") && items.len() < MAX_ADVISORIES {
                            items.push(Advisory {
                                source: VulnSource::Jvn,
                                ident: it.ident,
                                title: it.title,
                                link: it.link,
                                cvss: it.cvss.map(|(_, s)| s),
                                cves: it.cves,
                                modified: it.modified,
                                affected: it.affected,
                            });
                        }
                    }
                } else if let Some(it) = item.as_mut() {
                    if name == field {
                        let value = clip(text_of.trim(), 300);
                        match name.as_str() {
                            "sec:identifier" => it.ident = clip(&value, 40),
                            "title" => it.title = value,
                            "link" if value.starts_with("https://") || value.starts_with("http://") => it.link = value,
                            "dcterms:modified" => it.modified = clip(&value, 40),
                            "sec:cpe" if it.affected.len() < MAX_AFFECTED => {
                                if let Some(cpe) = Cpe::parse(&format!("{value}:*")).or_else(|| Cpe::parse(&value)) {
                                    it.affected.push(Affected {
                                        part: Some(cpe.part),
                                        vendor: cpe.vendor,
                                        product: cpe.product,
                                        versions: Versions::Unknown,
                                        on: Vec::new(),
                                    });
                                }
                            }
                            _ => {}
                        }
                    }
                }
                text_of.clear();
            }
            _ => {}
        }
    }
    if !rdf {
        return Err(refused("対応していない XML です。対応する形式: JVN (MyJVN / JVN iPedia の RSS) (not a JVN RSS)"));
    }
    Ok(items)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn endoflife_v1_names_its_product_cpes_and_cycles() {
        let json = br#"{"schema_version":"1.2.0","generated_at":"2026-11-01T00:00:00+00:00","result":{
            "name":"ubuntu","label":"Ubuntu","aliases":["ubuntu-linux"],
            "identifiers":[{"id":"cpe:/o:canonical:ubuntu_linux","type":"cpe"},{"id":"pkg:deb/ubuntu","type":"purl"}],
            "releases":[
              {"name":"24.04","releaseDate":"2024-04-25","isEol":false,"eolFrom":"2029-05-31","latest":{"name":"24.04.1"}},
              {"name":"22.04","releaseDate":"2022-04-21","isEol":false,"eolFrom":"2027-06-01","latest":null},
              {"name":"14.04","isEol":true,"eolFrom":null}
            ]}}"#;
        let Feed::EndOfLife(p) = read(json, "whatever").unwrap() else { panic!("endoflife") };
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].name.as_str(), p[0].label.as_str()), ("ubuntu", "Ubuntu"));
        assert_eq!(p[0].cpes, [("canonical".to_owned(), "ubuntu_linux".to_owned())]);
        assert_eq!(p[0].releases[0].eol, Some(date!(2029 - 05 - 31)));
        assert_eq!(p[0].releases[0].latest.as_deref(), Some("24.04.1"));
        assert_eq!(p[0].releases[2].eol, None);
    }

    #[test]
    fn endoflife_v0_takes_its_product_from_the_file_name_only_when_it_is_a_plain_name() {
        let json = br#"[{"cycle":"1.25","releaseDate":"2023-05-23","eol":false,"latest":"1.25.3"},{"cycle":1.24,"eol":"2024-04-23","latest":"1.24.0"}]"#;
        let Feed::EndOfLife(p) = read(json, "nginx.json").unwrap() else { panic!("endoflife") };
        assert_eq!(p[0].name, "nginx");
        assert_eq!((p[0].releases[0].eol, p[0].releases[1].cycle.as_str()), (None, "1.24"));
        assert_eq!(p[0].releases[1].eol, Some(date!(2024 - 04 - 23)));
        for bad in ["nginx.txt", "../Nginx.json", ".json", "ng inx.json"] {
            assert!(read(json, bad).is_err(), "{bad}");
        }
    }

    /// An NVD CVE JSON 2.0 answer with one CVE: two vulnerable ranges and
    /// a platform that is not itself vulnerable.
    pub const NVD: &str = r#"{"resultsPerPage":1,"startIndex":0,"totalResults":1,"format":"NVD_CVE","version":"2.0",
      "timestamp":"2026-11-01T00:00:00.000","vulnerabilities":[{"cve":{"id":"CVE-2023-44487","lastModified":"2025-01-01T00:00:00.000",
      "descriptions":[{"lang":"es","value":"…"},{"lang":"en","value":"The HTTP/2 protocol allows a denial of service (server resource consumption)."}],
      "metrics":{"cvssMetricV31":[{"source":"nvd@nist.gov","type":"Primary","cvssData":{"version":"3.1","baseScore":7.5,"baseSeverity":"HIGH"}}]},
      "configurations":[{"nodes":[{"operator":"OR","negate":false,"cpeMatch":[
        {"vulnerable":true,"criteria":"cpe:2.3:a:f5:nginx:*:*:*:*:*:*:*:*","versionStartIncluding":"1.9.5","versionEndExcluding":"1.25.3"},
        {"vulnerable":true,"criteria":"cpe:2.3:a:apache:http_server:2.4.57:*:*:*:*:*:*:*"},
        {"vulnerable":false,"criteria":"cpe:2.3:o:linux:linux_kernel:-:*:*:*:*:*:*:*"}]}]}]}}]}"#;

    /// A MyJVN overview (RSS 1.0) with one item, entities and all.
    pub const JVN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns="http://purl.org/rss/1.0/" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 xmlns:sec="http://jvn.jp/rss/mod_sec/3.0/" xmlns:dcterms="http://purl.org/dc/terms/">
<channel rdf:about="https://jvndb.jvn.jp/apis/myjvn"><title>JVNDB</title><link>https://jvndb.jvn.jp/</link></channel>
<item rdf:about="https://jvndb.jvn.jp/ja/contents/2023/JVNDB-2023-019153.html">
<title>複数の HTTP/2 実装に DoS の脆弱性 &amp; 対策 &#x3042;</title>
<link>https://jvndb.jvn.jp/ja/contents/2023/JVNDB-2023-019153.html</link>
<sec:identifier>JVNDB-2023-019153</sec:identifier>
<sec:references source="NVD" id="CVE-2023-44487">https://nvd.nist.gov/vuln/detail/CVE-2023-44487</sec:references>
<sec:cpe version="2.2" vendor="F5" product="nginx">cpe:/a:f5:nginx</sec:cpe>
<sec:cvss score="5.0" severity="Medium" version="2.0" type="Base"/>
<sec:cvss score="7.5" severity="High" version="3.0" type="Base"/>
<dcterms:modified>2024-01-10T17:43+09:00</dcterms:modified>
</item>
</rdf:RDF>"#;

    #[test]
    fn nvd_cve_json_names_each_vulnerable_product_with_its_range() {
        let Feed::Advisories(VulnSource::Nvd, a) = read(NVD.as_bytes(), "x.json").unwrap() else { panic!("NVD") };
        assert_eq!(a.len(), 1);
        let a = &a[0];
        assert_eq!(
            (a.ident.as_str(), a.cvss, a.cves.as_slice()),
            ("CVE-2023-44487", Some(7.5), &["CVE-2023-44487".to_owned()][..])
        );
        assert!(a.title.starts_with("The HTTP/2 protocol"), "{}", a.title);
        assert_eq!(a.affected.len(), 2, "the platform is not vulnerable itself");
        assert_eq!(
            a.affected[0].versions,
            Versions::Range {
                start: Some(Bound { version: "1.9.5".into(), included: true }),
                end: Some(Bound { version: "1.25.3".into(), included: false })
            }
        );
        assert_eq!(a.affected[1].versions, Versions::Exact("2.4.57".into()));
    }

    /// An NVD CVE with an `AND` configuration: Firefox before 120 when
    /// running on Windows (neither Windows node vulnerable itself), and a
    /// second configuration of Thunderbird alone.
    pub const NVD_ON_PLATFORM: &str = r#"{"format":"NVD_CVE","version":"2.0","vulnerabilities":[{"cve":{
      "id":"CVE-2023-6209","lastModified":"2025-02-01T00:00:00.000",
      "descriptions":[{"lang":"en","value":"Only on Windows: a crafted page could crash the browser."}],
      "metrics":{"cvssMetricV31":[{"cvssData":{"version":"3.1","baseScore":6.5}}]},
      "configurations":[
        {"operator":"AND","negate":false,"nodes":[
          {"operator":"OR","negate":false,"cpeMatch":[
            {"vulnerable":true,"criteria":"cpe:2.3:a:mozilla:firefox:*:*:*:*:*:*:*:*","versionEndExcluding":"120.0"}]},
          {"operator":"OR","negate":false,"cpeMatch":[
            {"vulnerable":false,"criteria":"cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*"},
            {"vulnerable":false,"criteria":"cpe:2.3:o:microsoft:windows_server:-:*:*:*:*:*:*:*"}]},
          {"operator":"OR","negate":true,"cpeMatch":[
            {"vulnerable":false,"criteria":"cpe:2.3:o:apple:macos:-:*:*:*:*:*:*:*"}]}]},
        {"nodes":[{"operator":"OR","negate":false,"cpeMatch":[
            {"vulnerable":true,"criteria":"cpe:2.3:a:mozilla:thunderbird:*:*:*:*:*:*:*:*","versionEndExcluding":"115.5"}]}]}]}}]}"#;

    #[test]
    fn an_nvd_and_configuration_gives_its_vulnerable_product_the_other_nodes_as_platform_conditions() {
        let Feed::Advisories(_, a) = read(NVD_ON_PLATFORM.as_bytes(), "x.json").unwrap() else { panic!("NVD") };
        let affected = &a[0].affected;
        let names: Vec<&str> = affected.iter().map(|x| x.product.as_str()).collect();
        assert_eq!(names, ["firefox", "thunderbird"], "the platforms are not vulnerable themselves");
        let on: Vec<Vec<(&str, &str)>> = affected[0]
            .on
            .iter()
            .map(|n| n.iter().map(|p| (p.vendor.as_str(), p.product.as_str())).collect())
            .collect();
        assert_eq!(
            on,
            [[("microsoft", "windows"), ("microsoft", "windows_server")]],
            "one condition, met by either; the negated node is none"
        );
        assert!(affected[0].on[0].iter().all(|p| p.versions == Versions::Any && p.part == Some('o')));
        assert!(affected[1].on.is_empty(), "a configuration without AND has no condition");
        // The configuration without an operator, as before.
        let Feed::Advisories(_, plain) = read(NVD.as_bytes(), "x.json").unwrap() else { panic!("NVD") };
        assert!(plain[0].affected.iter().all(|x| x.on.is_empty()));
    }

    #[test]
    fn jvn_rss_names_its_products_cves_and_newest_score() {
        let Feed::Advisories(VulnSource::Jvn, a) = read(JVN.as_bytes(), "x.rdf").unwrap() else { panic!("JVN") };
        assert_eq!(a.len(), 1);
        let a = &a[0];
        assert_eq!(a.ident, "JVNDB-2023-019153");
        assert_eq!(a.title, "複数の HTTP/2 実装に DoS の脆弱性 & 対策 あ");
        assert_eq!((a.cvss, a.cves.as_slice()), (Some(7.5), &["CVE-2023-44487".to_owned()][..]));
        assert_eq!(
            a.affected,
            [Affected {
                part: Some('a'),
                vendor: "f5".into(),
                product: "nginx".into(),
                versions: Versions::Unknown,
                on: vec![]
            }]
        );
        assert!(read(b"<html><body>not rss</body></html>", "x.html").is_err());
        assert!(read(b"<rdf:RDF><item>", "x.rdf").is_err(), "malformed");
    }

    #[test]
    fn the_ismap_list_in_csv_or_excel_is_read_below_its_heading() {
        let csv = "ISMAP クラウドサービスリスト\n\n登録番号,クラウドサービス名,クラウドサービス事業者名,登録日\nC21-0001-1,クラウドA,A 株式会社,2021/3/12\nｃ２２－０００２－１,サービスB,B 株式会社,2022/1/1\n";
        let Feed::Ismap(list) = read(csv.as_bytes(), "list.csv").unwrap() else { panic!("ISMAP") };
        assert_eq!(list.len(), 2);
        assert_eq!(
            (list[1].number.as_str(), list[1].service.as_str(), list[1].provider.as_str()),
            ("C22-0002-1", "サービスB", "B 株式会社")
        );
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(csv);
        assert!(matches!(read(&sjis, "list.csv"), Ok(Feed::Ismap(l)) if l.len() == 2));
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        for (r, row) in
            [["登録番号", "サービス名", "事業者名"], ["C21-0001-1", "クラウドA", "A 株式会社"]].iter().enumerate()
        {
            for (c, v) in row.iter().enumerate() {
                ws.write_string(r as u32, c as u16, *v).unwrap();
            }
        }
        let Feed::Ismap(list) = read(&wb.save_to_buffer().unwrap(), "list.xlsx").unwrap() else { panic!("ISMAP") };
        assert_eq!(list[0].number, "C21-0001-1");
        assert!(read("登録番号だけ\n".as_bytes(), "x.csv").is_err());
    }

    /// The list was read through the inventory's row limit (2,000 rows):
    /// services past it were dropped without a word. Every service is read
    /// up to the list's own limit, and more than that is refused.
    #[test]
    fn an_ismap_list_longer_than_an_inventory_is_read_whole_and_one_too_long_refused() {
        let list = |n: usize| {
            let mut csv = String::from("登録番号,クラウドサービス名,事業者名\n");
            for i in 0..n {
                csv.push_str(&format!("C21-{i:04}-1,サービス{i},事業者\n"));
            }
            read(csv.as_bytes(), "list.csv")
        };
        assert!(matches!(list(2_500), Ok(Feed::Ismap(l)) if l.len() == 2_500 && l[2_499].service == "サービス2499"));
        let err = list(MAX_PRODUCTS + 1).err().unwrap();
        assert!(err.0.contains("多すぎ"), "{err:?}");
    }

    /// As the generic reading took them: a key there with `null` is
    /// there, and a result of another type is no result; a cycle named
    /// `null` is no release.
    #[test]
    fn endoflife_keys_given_as_null_are_there_and_a_result_of_another_type_is_none() {
        let v1 = br#"{"schema_version":null,"result":{"name":"nginx","releases":[{"name":"1.24"}]}}"#;
        assert!(matches!(read(v1, "x.json"), Ok(Feed::EndOfLife(p)) if p[0].releases[0].cycle == "1.24"));
        let v0 = br#"[{"cycle":null,"eol":"2024-04-23"},{"cycle":"1.24"}]"#;
        assert!(matches!(read(v0, "nginx.json"), Ok(Feed::EndOfLife(p)) if p[0].releases.len() == 1));
        // Only cycles without a name: no release, refused (it would have
        // replaced the product's cycles with none).
        let err = read(br#"[{"cycle":null,"eol":"2024-04-23"}]"#, "nginx.json").unwrap_err();
        assert!(err.0.contains("no named cycle"), "{err:?}");
        let err = read(br#"{"schema_version":"1","result":"x"}"#, "x.json").unwrap_err();
        assert!(err.0.contains("no result"), "{err:?}");
    }

    #[test]
    fn other_files_are_refused_with_a_reason() {
        for bad in [&b"{}"[..], b"[]", b"not json", b"{\"schema_version\":\"1\"}", b"[{\"name\":1}]"] {
            assert!(read(bad, "x.json").is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}

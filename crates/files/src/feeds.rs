//! Reference data the security office imports into an offline server,
//! recognised from its content: endoflife.date's release data (API v1, one
//! product or the full list, or the older per-product array of cycles).
//! Every count is bounded; a file that is not one of these is refused.

use mamori_core::inventory::{EolProduct, EolRelease};
use serde_json::Value;

/// The largest file taken (endoflife.date's full list is a few MB).
pub const MAX_BYTES: usize = 32 * 1024 * 1024;
const MAX_PRODUCTS: usize = 10_000;
const MAX_RELEASES: usize = 5_000;

/// What a file turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feed {
    /// Release cycles and their support ends, per product.
    EndOfLife(Vec<EolProduct>),
}

impl Feed {
    /// The kind as the audit log and the console name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Feed::EndOfLife(_) => "endoflife",
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
    if bytes.len() > MAX_BYTES {
        return Err(refused("ファイルが大きすぎます (file too large)"));
    }
    let v: Value = serde_json::from_slice(bytes.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(bytes))
        .map_err(|_| refused("JSON として読めません。対応する形式: endoflife.date (not a known feed)"))?;
    match &v {
        Value::Object(o) if o.contains_key("schema_version") => match o.get("result") {
            Some(Value::Object(p)) => Ok(Feed::EndOfLife(vec![v1_product(p)?])),
            Some(Value::Array(ps)) => {
                if ps.len() > MAX_PRODUCTS {
                    return Err(refused("製品が多すぎます (too many products)"));
                }
                Ok(Feed::EndOfLife(ps.iter().filter_map(Value::as_object).map(v1_product).collect::<Result<_, _>>()?))
            }
            _ => Err(refused("endoflife.date の形式ではありません (no result)")),
        },
        Value::Array(cycles) if cycles.iter().all(|c| c.get("cycle").is_some()) && !cycles.is_empty() => {
            let product = product_of_name(name).ok_or_else(|| {
                refused("この形式では製品名をファイル名から読みます (例: nginx.json)。ファイル名が製品名ではありません (name the file after the product)")
            })?;
            if cycles.len() > MAX_RELEASES {
                return Err(refused("サイクルが多すぎます (too many cycles)"));
            }
            let releases = cycles.iter().map(v0_release).collect();
            Ok(Feed::EndOfLife(vec![EolProduct {
                label: product.clone(),
                name: product,
                aliases: vec![],
                cpes: vec![],
                releases,
            }]))
        }
        _ => Err(refused("対応していない形式です。対応する形式: endoflife.date (not a known feed)")),
    }
}

/// `nginx` from `nginx.json`: lower-case letters, digits, `.`, `-`, `_`.
fn product_of_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next()?.strip_suffix(".json")?;
    let ok = !base.is_empty()
        && base.len() <= 100
        && base.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_'));
    ok.then(|| base.to_owned())
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.trim().chars().take(200).collect()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn date(v: Option<&Value>) -> Option<time::Date> {
    v.and_then(Value::as_str).and_then(mamori_core::jst::parse_date)
}

fn v1_product(p: &serde_json::Map<String, Value>) -> Result<EolProduct, FeedError> {
    let name = text(p.get("name")).filter(|n| !n.is_empty()).ok_or_else(|| refused("製品名 (name) がありません"))?;
    let strings = |key: &str| -> Vec<Value> { p.get(key).and_then(Value::as_array).cloned().unwrap_or_default() };
    let cpes = strings("identifiers")
        .iter()
        .filter(|i| i.get("type").and_then(Value::as_str) == Some("cpe"))
        .filter_map(|i| cpe_vendor_product(i.get("id")?.as_str()?))
        .take(100)
        .collect();
    let releases = p.get("releases").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    if releases.len() > MAX_RELEASES {
        return Err(refused("サイクルが多すぎます (too many cycles)"));
    }
    Ok(EolProduct {
        label: text(p.get("label")).unwrap_or_else(|| name.clone()),
        aliases: strings("aliases").iter().filter_map(|a| text(Some(a))).take(100).collect(),
        cpes,
        releases: releases
            .iter()
            .filter_map(|r| {
                Some(EolRelease {
                    cycle: text(r.get("name"))?,
                    released: date(r.get("releaseDate")),
                    eol: date(r.get("eolFrom")),
                    latest: r.get("latest").and_then(|l| text(l.get("name"))),
                })
            })
            .collect(),
        name,
    })
}

fn v0_release(c: &Value) -> EolRelease {
    EolRelease {
        cycle: text(c.get("cycle")).unwrap_or_default(),
        released: date(c.get("releaseDate")),
        // `eol` is a date, or true/false when the data has no date.
        eol: date(c.get("eol")),
        latest: text(c.get("latest")),
    }
}

/// The vendor and product of a CPE name without a version
/// (`cpe:/o:canonical:ubuntu_linux`, `cpe:2.3:a:f5:nginx`).
fn cpe_vendor_product(id: &str) -> Option<(String, String)> {
    let rest = id.strip_prefix("cpe:2.3:").or_else(|| id.strip_prefix("cpe:/"))?;
    let mut parts = rest.split(':');
    let (_part, vendor, product) = (parts.next()?, parts.next()?, parts.next()?);
    (!vendor.is_empty() && !product.is_empty()).then(|| (vendor.to_ascii_lowercase(), product.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
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
        let Feed::EndOfLife(p) = read(json, "whatever").unwrap();
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
        let Feed::EndOfLife(p) = read(json, "nginx.json").unwrap();
        assert_eq!(p[0].name, "nginx");
        assert_eq!((p[0].releases[0].eol, p[0].releases[1].cycle.as_str()), (None, "1.24"));
        assert_eq!(p[0].releases[1].eol, Some(date!(2024 - 04 - 23)));
        for bad in ["nginx.txt", "../Nginx.json", ".json", "ng inx.json"] {
            assert!(read(json, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn other_files_are_refused_with_a_reason() {
        for bad in [&b"{}"[..], b"[]", b"not json", b"{\"schema_version\":\"1\"}", b"[{\"name\":1}]"] {
            assert!(read(bad, "x.json").is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}

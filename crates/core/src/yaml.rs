//! YAML read with a bound on what its aliases expand to.
//!
//! serde_yaml_ng limits how many times aliases are followed, not what each
//! one replays: one requirement's 2 MB text anchored and named again by a
//! few thousand aliases (a few hundred KB of YAML) is read as gigabytes of
//! strings. No YAML crate at hand bounds that, so a document is first walked
//! without keeping anything, each value it expands to counted, and read only
//! if the count stays within twice its own size (aliases of small values
//! pass).

use serde::de::{
    DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};
use std::cell::Cell;

/// `serde_yaml_ng::from_str`, refusing a document whose aliases expand to
/// more than twice its size.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, serde_yaml_ng::Error> {
    let left = Cell::new(2 * text.len() as u64 + 4096);
    Walk(&left).deserialize(serde_yaml_ng::Deserializer::from_str(text))?;
    serde_yaml_ng::from_str(text)
}

/// A walk over a document, spending from what is left for each value.
#[derive(Clone, Copy)]
struct Walk<'a>(&'a Cell<u64>);

impl Walk<'_> {
    fn spend<E: serde::de::Error>(self, bytes: usize) -> Result<(), E> {
        let left = self.0.get().checked_sub(bytes as u64 + 1);
        self.0.set(left.ok_or_else(|| E::custom("エイリアスの展開が大きすぎます (aliases expand too far)"))?);
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        self.spend(1)
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        self.spend(8)
    }

    fn visit_i128<E: serde::de::Error>(self, _: i128) -> Result<(), E> {
        self.spend(16)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
        self.spend(8)
    }

    fn visit_u128<E: serde::de::Error>(self, _: u128) -> Result<(), E> {
        self.spend(16)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
        self.spend(8)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        self.spend(v.len())
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<(), E> {
        self.spend(v.len())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.spend(1)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        self.spend(1)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.spend::<D::Error>(1)?;
        d.deserialize_any(self)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.spend::<D::Error>(1)?;
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.spend::<A::Error>(1)?;
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.spend::<A::Error>(1)?;
        while map.next_key_seed(self)?.is_some() {
            map.next_value_seed(self)?;
        }
        Ok(())
    }

    /// A tagged value (`!Name value`).
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        let ((), value) = data.variant_seed(self)?;
        value.newtype_variant_seed(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One string anchored and named again a thousand times: refused for
    /// what it expands to, before anything is kept; the same few times, or
    /// any document without aliases, reads as serde_yaml_ng reads it.
    #[test]
    fn aliases_expanding_past_twice_the_document_are_refused_and_others_read() {
        let aliased = |times: usize| {
            let mut yaml = format!("- &t \"{}\"\n", "長".repeat(10_000));
            yaml.push_str(&"- *t\n".repeat(times));
            yaml
        };
        let refused = from_str::<Vec<String>>(&aliased(1_000)).unwrap_err();
        assert!(refused.to_string().contains("エイリアスの展開が大きすぎます"), "{refused}");
        assert_eq!(from_str::<Vec<String>>(&aliased(1)).unwrap().len(), 2);
        let plain = "a: [1, 2.5, true, ~, \"x\"]\nb: !Tag {c: [d]}\n";
        assert_eq!(
            from_str::<serde_yaml_ng::Value>(plain).unwrap(),
            serde_yaml_ng::from_str::<serde_yaml_ng::Value>(plain).unwrap()
        );
    }
}

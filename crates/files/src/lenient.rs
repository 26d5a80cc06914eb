//! serde types for reading JSON from outside leniently and within bounds.
//!
//! A derived `Vec<T>` keeps every element of an array, and a generic tree
//! (`serde_json::Value`) holds each value in 32 bytes or more, so 64 MB of
//! `0,` was read as a gigabyte before any count was checked. These types
//! keep what is used as it is read and skip the rest without holding it.
//! Like the `Value` reading they replace, they take any JSON type where
//! they expect one: a number where an object was wanted is "absent", not an
//! error. serde_with's bounded sequences refuse past their bound rather
//! than skip, and take only their own type, so these are written here.

use serde::de::{self, Deserialize, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::marker::PhantomData;

/// The visits of any JSON value other than those a visitor reads,
/// answering its value's default (nested values are read and dropped).
macro_rules! others_default {
    ($($kind:ident),*) => { $($crate::lenient::others_default!(@ $kind);)* };
    (@bool) => {
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> { Ok(Default::default()) }
    };
    (@number) => {
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> { Ok(Default::default()) }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> { Ok(Default::default()) }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> { Ok(Default::default()) }
    };
    (@str) => {
        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> { Ok(Default::default()) }
    };
    (@unit) => {
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> { Ok(Default::default()) }
    };
    (@seq) => {
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(Default::default())
        }
    };
    (@map) => {
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
            Ok(Default::default())
        }
    };
}

pub(crate) use others_default;

/// A string (trimmed, at most 200 characters) or a number, as text; any
/// other value is `None`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Text(pub Option<String>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text, E> {
                Ok(Text(Some(s.trim().chars().take(200).collect())))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Text, E> {
                Ok(Text(Some(n.to_string())))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Text, E> {
                Ok(Text(Some(n.to_string())))
            }
            // As JSON writes it: `1.0` stays `1.0`.
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Text, E> {
                Ok(Text(serde_json::Number::from_f64(n).map(|n| n.to_string())))
            }
            others_default!(bool, unit, seq, map);
        }
        d.deserialize_any(V)
    }
}

/// An object read as `T`; any other value is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct Object<T>(pub Option<T>);

impl<T> Default for Object<T> {
    fn default() -> Self {
        Object(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Object<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Object<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| Object(Some(t)))
            }
            others_default!(bool, number, str, unit, seq);
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// How the elements of a list are kept: each is read as `From` and kept
/// as the `To` that [`Keep::keep`] makes of it, or left.
pub trait Keep {
    type From: DeserializeOwned;
    type To;
    fn keep(from: Self::From) -> Option<Self::To>;
}

/// Every element kept as it is.
pub struct Same<T>(PhantomData<T>);

impl<T: DeserializeOwned> Keep for Same<T> {
    type From = T;
    type To = T;
    fn keep(from: T) -> Option<T> {
        Some(from)
    }
}

/// The first `N` elements of an array that `K` keeps, made as they are
/// read; `more` when it had more (read and dropped). Any other value is
/// an empty list.
pub struct Kept<K: Keep, const N: usize> {
    pub items: Vec<K::To>,
    pub more: bool,
}

/// The first `N` elements of an array, read as `T`.
pub type Capped<T, const N: usize> = Kept<Same<T>, N>;

impl<K: Keep, const N: usize> fmt::Debug for Kept<K, N>
where
    K::To: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kept").field("items", &self.items).field("more", &self.more).finish()
    }
}

impl<K: Keep, const N: usize> PartialEq for Kept<K, N>
where
    K::To: PartialEq,
{
    fn eq(&self, other: &Self) -> bool {
        (&self.items, self.more) == (&other.items, other.more)
    }
}

impl<K: Keep, const N: usize> Default for Kept<K, N> {
    fn default() -> Self {
        Kept { items: Vec::new(), more: false }
    }
}

impl<'de, K: Keep, const N: usize> Deserialize<'de> for Kept<K, N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<K, const N: usize>(PhantomData<K>);
        impl<'de, K: Keep, const N: usize> Visitor<'de> for V<K, N> {
            type Value = Kept<K, N>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Kept<K, N>, A::Error> {
                let (items, more) = take(seq, N, K::keep)?;
                Ok(Kept { items, more })
            }
            others_default!(bool, number, str, unit, map);
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// Whether a key was there, and its value as [`Text`] (`null` is there).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Seen(pub Option<Text>);

impl<'de> Deserialize<'de> for Seen {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Text::deserialize(d).map(|t| Seen(Some(t)))
    }
}

/// Reads an array's elements as `T`, each made a `U` by `keep` or left
/// (`None`), and keeps the first `n` made; the rest are read and dropped
/// (`true` when any was made).
pub fn take<'de, A: SeqAccess<'de>, T: Deserialize<'de>, U>(
    mut seq: A,
    n: usize,
    mut keep: impl FnMut(T) -> Option<U>,
) -> Result<(Vec<U>, bool), A::Error> {
    let mut items = Vec::new();
    while let Some(x) = seq.next_element::<T>()? {
        let Some(kept) = keep(x) else { continue };
        if items.len() == n {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok((items, true));
        }
        items.push(kept);
    }
    Ok((items, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Default, Debug, PartialEq)]
    #[serde(default)]
    struct Doc {
        name: Text,
        inner: Object<Inner>,
        list: Capped<Text, 2>,
    }

    #[derive(Deserialize, Default, Debug, PartialEq)]
    #[serde(default)]
    struct Inner {
        name: Text,
    }

    fn doc(json: &str) -> Doc {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn values_of_another_type_are_absent_and_lists_keep_their_first() {
        let d = doc(r#"{"name":" nginx ","inner":{"name":1.0,"x":[1,{}]},"list":[1,"a",true,"b"],"other":{"a":[]}}"#);
        assert_eq!(d.name.0.as_deref(), Some("nginx"));
        assert_eq!(d.inner.0.unwrap().name.0.as_deref(), Some("1.0"));
        assert_eq!(d.list.items, [Text(Some("1".into())), Text(Some("a".into()))]);
        assert!(d.list.more);
        let d = doc(r#"{"name":{"a":1},"inner":[{"name":"x"}],"list":{"a":"b"}}"#);
        assert_eq!(d, Doc::default());
        let d = doc(r#"{"name":null,"inner":"x","list":[1]}"#);
        assert_eq!((d.name.0, d.inner.0, d.list.items.len(), d.list.more), (None, None, 1, false));
        let long = format!(r#"{{"name":"{}"}}"#, "あ".repeat(300));
        assert_eq!(doc(&long).name.0.unwrap().chars().count(), 200);
        assert!(serde_json::from_str::<Doc>(r#"{"list":[1,2,3,"#).is_err(), "a cut file is refused");
    }
}

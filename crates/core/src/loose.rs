//! Deserializers that accept CloudStack's loose typing: numbers given as
//! strings, strings given as numbers, booleans given as strings, and nulls.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;

/// A scalar as CloudStack may send it.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(untagged)]
enum Scalar {
    Str(String),
    Bool(bool),
    U(u64),
    I(i64),
    F(f64),
}

impl Scalar {
    fn into_string(self) -> String {
        match self {
            Scalar::Str(s) => s,
            Scalar::Bool(b) => b.to_string(),
            Scalar::U(n) => n.to_string(),
            Scalar::I(n) => n.to_string(),
            Scalar::F(n) => n.to_string(),
        }
    }
}

/// `Option<String>` from a string, number or boolean; `null` is `None`.
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v: Option<Scalar> = serde::Deserialize::deserialize(d)?;
    Ok(v.map(Scalar::into_string))
}

/// `Option<u64>` from a number or a numeric string; `null` or `""` is `None`.
pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v: Option<Scalar> = serde::Deserialize::deserialize(d)?;
    match v {
        None => Ok(None),
        Some(Scalar::U(n)) => Ok(Some(n)),
        Some(Scalar::I(n)) if n >= 0 => Ok(Some(n as u64)),
        Some(Scalar::F(f)) if f >= 0.0 && f.fract() == 0.0 && f < 1.8e19 => Ok(Some(f as u64)),
        Some(Scalar::Str(s)) if s.trim().is_empty() => Ok(None),
        Some(Scalar::Str(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| de::Error::custom(format!("expected a non-negative integer, found {s:?}"))),
        Some(other) => {
            Err(de::Error::custom(format!("expected a non-negative integer, found {}", other.into_string())))
        }
    }
}

/// `Option<bool>` from a boolean or `"true"`/`"false"` (any case); `null` is `None`.
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let v: Option<Scalar> = serde::Deserialize::deserialize(d)?;
    match v {
        None => Ok(None),
        Some(Scalar::Bool(b)) => Ok(Some(b)),
        Some(Scalar::Str(s)) => {
            parse_bool(&s).map(Some).ok_or_else(|| de::Error::custom(format!("expected true or false, found {s:?}")))
        }
        Some(Scalar::U(n)) => Ok(Some(n != 0)),
        Some(other) => Err(de::Error::custom(format!("expected true or false, found {}", other.into_string()))),
    }
}

/// Parses the boolean spellings operators use in details.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// A string→string map whose values may arrive as numbers or booleans.
/// `null` values are dropped; a `null` map is empty. Nested objects or arrays
/// as values are an error (CloudStack never sends them).
pub fn string_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = BTreeMap<String, String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object of string values")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(BTreeMap::new())
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(BTreeMap::new())
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(V)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((k, v)) = m.next_entry::<String, Option<Scalar>>()? {
                if let Some(v) = v {
                    out.insert(k, v.into_string());
                }
            }
            Ok(out)
        }
    }
    d.deserialize_option(V)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct T {
        #[serde(default, deserialize_with = "opt_u64")]
        n: Option<u64>,
        #[serde(default, deserialize_with = "opt_string")]
        s: Option<String>,
        #[serde(default, deserialize_with = "opt_bool")]
        b: Option<bool>,
        #[serde(default, deserialize_with = "string_map")]
        m: BTreeMap<String, String>,
    }

    #[test]
    fn accepts_loose_scalars() {
        let t: T =
            serde_json::from_str(r#"{"n":"42","s":7,"b":"TRUE","m":{"a":1,"b":true,"c":null,"d":"x"}}"#).unwrap();
        assert_eq!(t.n, Some(42));
        assert_eq!(t.s.as_deref(), Some("7"));
        assert_eq!(t.b, Some(true));
        assert_eq!(t.m.len(), 3);
        assert_eq!(t.m["a"], "1");
        assert_eq!(t.m["b"], "true");
        let t: T = serde_json::from_str(r#"{"n":null,"s":null,"b":null,"m":null}"#).unwrap();
        assert!(t.n.is_none() && t.s.is_none() && t.b.is_none() && t.m.is_empty());
    }

    #[test]
    fn rejects_wrong_types_with_a_message() {
        let e = serde_json::from_str::<T>(r#"{"n":"many"}"#).err().unwrap();
        assert!(e.to_string().contains("non-negative integer"), "{e}");
        assert!(serde_json::from_str::<T>(r#"{"m":[1,2]}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"m":{"a":{"x":1}}}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"n":-3}"#).is_err());
    }
}

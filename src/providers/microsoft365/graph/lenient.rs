//! Serde helpers for Graph's loose JSON: `null` where a collection or number is documented,
//! timestamps with or without an offset, and "absent vs null" for delta merges.

use chrono::SubsecRound;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer};

/// `null` (or absence, with `#[serde(default)]`) becomes the type's default.
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A timestamp: RFC 3339 (Graph's `2024-12-10T17:38:26Z`), or without offset (taken as UTC,
/// as in Graph's innerError dates). Anything else is treated as unknown rather than failing
/// the whole page: one odd value must not stop a sync.
pub(crate) fn datetime<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.and_then(|s| parse_datetime(&s)))
}

/// Graph may send 7 fractional digits; PostgreSQL keeps 6. Truncating here makes a value read
/// back from either database equal to the one parsed, so unchanged users are not rewritten.
pub(crate) fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|n| n.and_utc())
        })
        .map(|t| t.trunc_subsecs(6))
}

/// A property of a partial (delta) object: absent, explicitly null, or a value. Absent must
/// leave the stored value alone; null must clear it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<T> Patch<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Patch::Absent)
    }

    /// `None` = leave unchanged; `Some(None)` = set null; `Some(Some(v))` = set v.
    pub fn into_update(self) -> Option<Option<T>> {
        match self {
            Patch::Absent => None,
            Patch::Null => Some(None),
            Patch::Value(v) => Some(Some(v)),
        }
    }

    pub fn as_ref(&self) -> Patch<&T> {
        match self {
            Patch::Absent => Patch::Absent,
            Patch::Null => Patch::Null,
            Patch::Value(v) => Patch::Value(v),
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Patch<U> {
        match self {
            Patch::Absent => Patch::Absent,
            Patch::Null => Patch::Null,
            Patch::Value(v) => Patch::Value(f(v)),
        }
    }
}

/// Only called when the key is present (absence is `#[serde(default)]`), so it never yields
/// `Absent`.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Option::<T>::deserialize(d)?.map_or(Patch::Null, Patch::Value))
    }
}

/// A present timestamp that does not parse counts as null (see [`datetime`]).
pub(crate) fn patch_datetime<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Patch<DateTime<Utc>>, D::Error> {
    Ok(datetime(d)?.map_or(Patch::Null, Patch::Value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct P {
        #[serde(default)]
        a: Patch<String>,
        #[serde(default, deserialize_with = "patch_datetime")]
        t: Patch<DateTime<Utc>>,
    }

    #[test]
    fn patch_tells_absent_from_null() {
        let p: P = serde_json::from_str(r#"{}"#).unwrap();
        assert!(p.a.is_absent() && p.t.is_absent());
        let p: P = serde_json::from_str(r#"{"a":null,"t":null}"#).unwrap();
        assert_eq!(p.a, Patch::Null);
        assert_eq!(p.t, Patch::Null);
        let p: P = serde_json::from_str(r#"{"a":"x","t":"2024-12-10T17:38:26Z"}"#).unwrap();
        assert_eq!(p.a.into_update(), Some(Some("x".to_string())));
        assert!(matches!(p.t, Patch::Value(_)));
    }

    #[test]
    fn datetimes() {
        assert!(parse_datetime("2024-12-10T17:38:26Z").is_some());
        assert!(parse_datetime("2024-12-10T17:38:26.123+01:00").is_some());
        assert!(parse_datetime("2023-08-08T05:24:56").is_some());
        assert!(parse_datetime("yesterday").is_none());
        assert_eq!(
            parse_datetime("2024-12-10T17:38:26.1234567Z"),
            parse_datetime("2024-12-10T17:38:26.123456Z"),
            "to the microsecond, as PostgreSQL stores it"
        );
    }
}

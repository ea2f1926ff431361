//! The most entries each list of a file may hold. A longer list is refused as a whole while the
//! body is parsed (one error naming the list, before anything is allocated past the bound) and
//! again by validation (a file built another way, e.g. from a CSV line), whose items are then
//! not checked one by one: a list far past its bound costs one error, not one per item.

use serde::de::{Deserialize, Deserializer, Error, SeqAccess, Visitor};
use std::marker::PhantomData;

/// `contact.phones`.
pub const PHONES_MAX: usize = 5;
/// `situation.benefits`, `education.diplomas`, `education.trainings`,
/// `professional.experiences`, `professional.contracts`.
pub const LIST_MAX: usize = 50;
/// `followup.events`.
pub const EVENTS_MAX: usize = 500;
/// `legal_representatives`.
pub const LEGAL_REPRESENTATIVES_MAX: usize = 4;

/// The message of a list longer than `max` (it names the bound, never a value).
pub fn too_many(max: usize) -> String {
    format!("at most {max} entries")
}

struct AtMost<const N: usize, T>(PhantomData<T>);

impl<'de, const N: usize, T: Deserialize<'de>> Visitor<'de> for AtMost<N, T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a list of at most {N} entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(N));
        while let Some(item) = seq.next_element()? {
            if out.len() == N {
                return Err(A::Error::custom(too_many(N)));
            }
            out.push(item);
        }
        Ok(out)
    }
}

/// Deserialises a list of at most `N` entries; the next one is an error, and the rest of the
/// list is not read.
pub(crate) fn at_most<'de, const N: usize, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    d.deserialize_seq(AtMost::<N, T>(PhantomData))
}

/// `contact.phones`.
pub(crate) fn phones<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    at_most::<PHONES_MAX, D, T>(d)
}

/// The lists bounded by [`LIST_MAX`].
pub(crate) fn list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    at_most::<LIST_MAX, D, T>(d)
}

/// `followup.events`.
pub(crate) fn events<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    at_most::<EVENTS_MAX, D, T>(d)
}

/// `legal_representatives`.
pub(crate) fn representatives<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Vec<T>>, D::Error> {
    opt_at_most::<LEGAL_REPRESENTATIVES_MAX, D, T>(d)
}

/// As [`at_most`], for an optional list (`null` is `None`).
pub(crate) fn opt_at_most<'de, const N: usize, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Opt<const N: usize, T>(PhantomData<T>);
    impl<'de, const N: usize, T: Deserialize<'de>> Visitor<'de> for Opt<N, T> {
        type Value = Option<Vec<T>>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "null or a list of at most {N} entries")
        }
        fn visit_none<E: Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            at_most::<N, D2, T>(d).map(Some)
        }
    }
    d.deserialize_option(Opt::<N, T>(PhantomData))
}

#[cfg(test)]
mod tests {
    use crate::{Followup, PersonInput};

    #[test]
    fn a_list_past_its_bound_is_refused_while_parsing() {
        let ok = format!(
            r#"{{"events": [{}]}}"#,
            vec!["{}"; super::EVENTS_MAX].join(",")
        );
        let f: Followup = serde_json::from_str(&ok).unwrap();
        assert_eq!(f.events.len(), super::EVENTS_MAX);
        let long = format!(
            r#"{{"events": [{}]}}"#,
            vec!["{}"; super::EVENTS_MAX + 1].join(",")
        );
        let e = serde_json::from_str::<Followup>(&long).unwrap_err();
        assert!(e.to_string().starts_with("at most 500 entries"), "{e}");
    }

    #[test]
    fn optional_lists_take_null_absent_and_bounded() {
        let p: PersonInput = serde_json::from_str(r#"{"legal_representatives": null}"#).unwrap();
        assert!(p.legal_representatives.is_none());
        let p: PersonInput = serde_json::from_str("{}").unwrap();
        assert!(p.legal_representatives.is_none());
        let p: PersonInput = serde_json::from_str(r#"{"legal_representatives": []}"#).unwrap();
        assert_eq!(p.legal_representatives.map(|v| v.len()), Some(0));
        let e = serde_json::from_str::<PersonInput>(
            r#"{"legal_representatives": [{}, {}, {}, {}, {}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("at most 4 entries"), "{e}");
    }
}

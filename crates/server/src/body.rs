//! JSON bodies parsed with field paths, and messages that never echo a value.

use crate::problem::ApiError;
use axum::body::Bytes;
use rempart_domain::FieldError;
use serde::de::DeserializeOwned;

/// Parses a JSON body; on failure names the field and says what is wrong without repeating
/// the submitted value.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner();
        let text = inner.to_string();
        let message = if inner.is_syntax() || inner.is_eof() {
            format!(
                "body is not valid JSON (line {}, column {})",
                inner.line(),
                inner.column()
            )
        } else if text.starts_with("unknown field ") {
            // The unknown key is something the client sent (a map keyed by email would send
            // one back): the error names the object that holds it, not the key.
            "holds a field that is not part of it".to_string()
        } else if text.starts_with("at most ") {
            // A list past its bound (rempart_domain::limits): "at most N entries at line …".
            text.split(" at line")
                .next()
                .unwrap_or_default()
                .to_string()
        } else if text.starts_with("missing field") {
            text.split(" at line")
                .next()
                .unwrap_or_default()
                .to_string()
        } else {
            "has the wrong type".into()
        };
        let path = if text.starts_with("unknown field ") {
            parent(e.path())
        } else {
            path
        };
        let field = if path == "." || path.is_empty() {
            "body".into()
        } else {
            path
        };
        ApiError::Invalid(vec![FieldError { field, message }])
    })
}

/// The path of the object that holds the last segment of `path`, written as
/// `serde_path_to_error` writes paths.
fn parent(path: &serde_path_to_error::Path) -> String {
    let segments: Vec<_> = path.iter().collect();
    let mut out = String::new();
    for s in &segments[..segments.len().saturating_sub(1)] {
        match s {
            serde_path_to_error::Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            other => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&other.to_string());
            }
        }
    }
    out
}

/// Convenience for handlers taking raw bytes.
pub fn json<T: DeserializeOwned>(b: &Bytes) -> Result<T, ApiError> {
    parse_json(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rempart_domain::PersonInput;

    proptest! {
        #[test]
        fn arbitrary_bodies_never_panic_and_errors_never_echo(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Err(ApiError::Invalid(errs)) = parse_json::<PersonInput>(&data) {
                prop_assert_eq!(errs.len(), 1);
            }
        }

        #[test]
        fn a_wrongly_typed_value_is_never_repeated(n in 10_000_000u64..u64::MAX) {
            let body = format!(r#"{{"identity": {{"first_names": {n}}}}}"#);
            let e = err(&body);
            prop_assert_eq!(e.field.as_str(), "identity.first_names");
            prop_assert!(!e.message.contains(&n.to_string()));
        }
    }

    fn err(body: &str) -> FieldError {
        match parse_json::<PersonInput>(body.as_bytes()) {
            Err(ApiError::Invalid(mut v)) => v.remove(0),
            _ => panic!("expected an error"),
        }
    }

    #[test]
    fn messages_name_the_field_and_never_the_value() {
        let e = err(r#"{"identity": {"last_name": 12345678}}"#);
        assert_eq!(e.field, "identity.last_name");
        assert!(!e.message.contains("12345678"));
        // An unknown key is named by the object that holds it, never repeated itself.
        let e = err(r#"{"shoe_size": "44"}"#);
        assert_eq!(
            (e.field.as_str(), e.message.as_str()),
            ("body", "holds a field that is not part of it")
        );
        let e = err(r#"{"identity": {"lea.martin@example.fr": 1}}"#);
        assert_eq!(e.field, "identity");
        assert!(!e.message.contains("lea"));
        let e = err(r#"{"followup": {"events": [{"date": "2026-01-01", "x@y.fr": 1}]}}"#);
        assert_eq!(e.field, "followup.events[0]");
        let e = err(r#"{"nir": "2060475113042 33""#);
        assert!(e.message.contains("not valid JSON") && !e.message.contains("2060"));
        let e = err(r#"{"contact": {"phones": ["0612345678", 612345678]}}"#);
        assert_eq!(e.field, "contact.phones[1]");
        let e = err(r#"{"contact": {"phones": ["1", "2", "3", "4", "5", "6"]}}"#);
        assert_eq!(
            (e.field.as_str(), e.message.as_str()),
            ("contact.phones", "at most 5 entries")
        );
    }
}

//! Checks on what a push carries, before anything is applied: ids, texts, links, and typed
//! access to a JSON object's fields that names the field at fault (`lines[3].level`).

use super::error::PushError;
use serde_json::{Map, Value};

/// Longest id (environment, service, instance, deployment), in bytes.
pub const MAX_ID_BYTES: usize = 100;
/// Longest name, version, stage, reason or `triggered_by`, in bytes.
pub const MAX_SHORT_TEXT_BYTES: usize = 200;
/// Longest instance message or link, in bytes.
pub const MAX_LONG_TEXT_BYTES: usize = 2_000;

/// An id as URLs and subscriptions carry it: 1 to [`MAX_ID_BYTES`] bytes of ASCII letters,
/// digits, `.`, `_` and `-`.
pub fn id(field: &str, value: &str) -> Result<(), PushError> {
    if value.is_empty() {
        return Err(PushError::bad(
            field,
            format!("`{field}` must not be empty"),
        ));
    }
    if value.len() > MAX_ID_BYTES {
        return Err(PushError::bad(
            field,
            format!("`{field}` is longer than {MAX_ID_BYTES} bytes"),
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(PushError::bad(
            field,
            format!(
                "`{field}` holds {c:?}: ids are made of ASCII letters, digits, `.`, `_` and `-`"
            ),
        ));
    }
    Ok(())
}

/// A text shown to people: at most `max` bytes, no control characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<(), PushError> {
    if value.len() > max {
        return Err(PushError::bad(
            field,
            format!("`{field}` is longer than {max} bytes"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(PushError::bad(
            field,
            format!("`{field}` holds a control character"),
        ));
    }
    Ok(())
}

/// A text that must say something.
pub fn non_empty_text(field: &str, value: &str, max: usize) -> Result<(), PushError> {
    if value.trim().is_empty() {
        return Err(PushError::bad(
            field,
            format!("`{field}` must not be empty"),
        ));
    }
    text(field, value, max)
}

/// A link back to where something runs: `http://` or `https://`.
pub fn url(field: &str, value: &str) -> Result<(), PushError> {
    text(field, value, MAX_LONG_TEXT_BYTES)?;
    let scheme_ok = ["http://", "https://"]
        .iter()
        .any(|s| value.len() > s.len() && value[..s.len()].eq_ignore_ascii_case(s));
    if !scheme_ok || value.contains(char::is_whitespace) {
        return Err(PushError::bad(
            field,
            format!("`{field}` must be an http:// or https:// link"),
        ));
    }
    Ok(())
}

/// Typed access to a JSON object's fields, naming each by its path in the request.
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    /// The object's path: empty for the body, `lines[3]` for an element.
    path: String,
}

/// A JSON value's type, as an error names it.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<'a> Fields<'a> {
    /// The fields of `value`, which must be an object; `path` names it (`""` for the body).
    pub fn of(value: &'a Value, path: &str) -> Result<Self, PushError> {
        match value {
            Value::Object(map) => Ok(Self {
                map,
                path: path.to_string(),
            }),
            other => {
                let at = if path.is_empty() { "body" } else { path };
                Err(PushError::bad(
                    at,
                    format!("`{at}` must be a JSON object, not {}", type_name(other)),
                ))
            }
        }
    }

    /// The path of field `name`.
    pub fn path(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    /// Refuses a field not in `known`: a misspelt field would otherwise be lost silently.
    pub fn only(&self, known: &[&str]) -> Result<(), PushError> {
        if let Some(name) = self.map.keys().find(|k| !known.contains(&k.as_str())) {
            let shown: String = name.chars().take(60).collect();
            let path = self.path(&shown);
            return Err(PushError::bad(
                &path,
                format!(
                    "`{path}` is not a field this endpoint takes (it takes {})",
                    known.join(", ")
                ),
            ));
        }
        Ok(())
    }

    /// A field's value; `null` counts as absent.
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    fn wrong(&self, name: &str, want: &str, got: &Value) -> PushError {
        let path = self.path(name);
        PushError::bad(
            &path,
            format!("`{path}` must be {want}, not {}", type_name(got)),
        )
    }

    fn missing(&self, name: &str) -> PushError {
        let path = self.path(name);
        PushError::bad(&path, format!("`{path}` is required"))
    }

    /// An optional string.
    pub fn str(&self, name: &str) -> Result<Option<&'a str>, PushError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.wrong(name, "a string", other)),
        }
    }

    /// A required string.
    pub fn req_str(&self, name: &str) -> Result<&'a str, PushError> {
        self.str(name)?.ok_or_else(|| self.missing(name))
    }

    /// An optional whole number from 0 to `max`.
    pub fn uint(&self, name: &str, max: u64) -> Result<Option<u64>, PushError> {
        match self.get(name) {
            None => Ok(None),
            Some(v @ Value::Number(n)) => match n.as_u64() {
                Some(n) if n <= max => Ok(Some(n)),
                _ => Err(self.wrong(name, &format!("a whole number from 0 to {max}"), v)),
            },
            Some(other) => Err(self.wrong(name, "a whole number", other)),
        }
    }

    /// A required whole number from 0 to `max`.
    pub fn req_uint(&self, name: &str, max: u64) -> Result<u64, PushError> {
        self.uint(name, max)?.ok_or_else(|| self.missing(name))
    }

    /// An optional 32-bit signed whole number (an exit code).
    pub fn int32(&self, name: &str) -> Result<Option<i32>, PushError> {
        match self.get(name) {
            None => Ok(None),
            Some(v @ Value::Number(n)) => match n.as_i64().and_then(|n| i32::try_from(n).ok()) {
                Some(n) => Ok(Some(n)),
                None => Err(self.wrong(name, "a 32-bit whole number", v)),
            },
            Some(other) => Err(self.wrong(name, "a whole number", other)),
        }
    }
}

/// A JSON body, parsed; its syntax errors say where they are.
pub fn parse_json(text: &str) -> Result<Value, PushError> {
    serde_json::from_str(text).map_err(|e| {
        PushError::bad_body(format!(
            "the body is not valid JSON: {e} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_are_url_safe_and_bounded() {
        assert!(id("environment", "preview-pr-142").is_ok());
        assert!(id("environment", "api_v2.1").is_ok());
        let e = id("environment", "").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("environment"));
        assert!(id("service", "a/b").unwrap_err().error.contains("'/'"));
        assert!(id("service", "café").is_err());
        assert!(id("service", &"a".repeat(MAX_ID_BYTES)).is_ok());
        assert!(id("service", &"a".repeat(MAX_ID_BYTES + 1)).is_err());
    }

    #[test]
    fn links_are_http() {
        assert!(url("url", "https://ci.example.com/runs/42").is_ok());
        assert!(url("url", "HTTP://ci.example.com").is_ok());
        assert!(url("url", "javascript:alert(1)").is_err());
        assert!(url("url", "https://").is_err());
        assert!(url("url", "https://a b").is_err());
    }

    #[test]
    fn fields_name_their_path_and_type() {
        let v = json!({"n": "3", "text": "hi", "extra": 1, "code": -1, "big": 5_000_000_000u64});
        let f = Fields::of(&v, "lines[3]").unwrap();
        let e = f.uint("n", u64::MAX).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("lines[3].n"));
        assert_eq!(e.error, "`lines[3].n` must be a whole number, not a string");
        assert_eq!(f.req_str("text").unwrap(), "hi");
        assert_eq!(
            f.req_str("stage").unwrap_err().error,
            "`lines[3].stage` is required"
        );
        assert_eq!(
            f.only(&["n", "text", "code", "big"])
                .unwrap_err()
                .field
                .as_deref(),
            Some("lines[3].extra")
        );
        assert_eq!(f.int32("code").unwrap(), Some(-1));
        assert!(f.int32("big").is_err());
        let e = Fields::of(&json!([1]), "").err().unwrap();
        assert_eq!(e.field.as_deref(), Some("body"));
    }
}

//! Extractors whose refusals are problem bodies that name the field, instead of axum's plain
//! text: a JSON body, path parameters and query strings.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequest, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::objects::{NOT_AN_OBJECT, Objects};
use crate::domain::text;

/// A JSON body. Syntax errors are 400; a well-formed body with wrong or missing fields, one
/// that is not an object, or a string holding a control character is 422 and names the
/// field's path.
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json")
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(_) => ApiError::PayloadTooLarge,
            other => ApiError::bad_request("body", other.body_text()),
        })?;
        parse_json(&bytes).map(Json)
    }
}

/// An optional JSON body: an empty body is `None`.
impl<S, T> OptionalFromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let empty = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|len| len.as_bytes() == b"0")
            || (req.headers().get(header::CONTENT_TYPE).is_none()
                && req.headers().get(header::TRANSFER_ENCODING).is_none()
                && req.headers().get(header::CONTENT_LENGTH).is_none());
        if empty {
            return Ok(None);
        }
        <Self as FromRequest<S>>::from_request(req, state)
            .await
            .map(Some)
    }
}

/// Parses a JSON body that must be an object into `T`. Strings anywhere in it, object keys
/// included, must be text that may be stored: PostgreSQL cannot hold NUL at all, and no other
/// control character but TAB, LF and CR belongs in what people type (single-line values are
/// stricter still, in their own types).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if may_hold_forbidden(bytes)
        && let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes)
        && let Some(field) = forbidden_at(&value, String::new())
    {
        return Err(ApiError::invalid(field, text::CONTROL_REASON));
    }
    parse_json_object(bytes)
}

/// Parses a JSON body that must be an object, whatever characters its strings hold: for
/// record changes from Salesforce, whose fields we store as JSON (escaped, so either database
/// holds them) and parse only when a change is applied. A control character in a field we do
/// not map must not refuse the whole delivery.
pub fn parse_json_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    // `null` is left to the target: an optional body takes it as "none", a required one
    // refuses it by name below.
    let null = bytes.trim_ascii() == b"null";
    if !null
        && first.is_some_and(|b| *b != b'{')
        && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
    {
        return Err(ApiError::invalid("body", NOT_AN_OBJECT));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(Objects(&mut deserializer)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_string();
        match inner.classify() {
            // A required body sent as `null`.
            serde_json::error::Category::Data if null && path == "." => {
                ApiError::invalid("body", NOT_AN_OBJECT)
            }
            serde_json::error::Category::Data => {
                let (field, reason) = field_of(&path, &message);
                ApiError::invalid(field, reason)
            }
            _ => ApiError::bad_request("body", format!("is not valid JSON: {message}")),
        }
    })?;
    deserializer.end().map_err(|_| {
        ApiError::bad_request("body", "has trailing characters after the JSON value")
    })?;
    Ok(value)
}

/// Whether a JSON text may hold a forbidden character: only as a `\u` escape (raw C0
/// controls are not valid JSON), or raw as DEL, a C1 control or U+FFFE/U+FFFF. A body with
/// none of these is not walked at all.
fn may_hold_forbidden(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| {
        matches!(
            w,
            [b'\\', b'u'] | [0x7f, _] | [_, 0x7f] | [0xc2, 0x80..=0x9f] | [0xbf, 0xbe..=0xbf]
        )
    })
}

/// The path of the first string (or object key) holding a forbidden character, written as
/// serde_path_to_error writes paths.
fn forbidden_at(value: &serde_json::Value, path: String) -> Option<String> {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        serde_json::Value::String(s) => s
            .chars()
            .any(text::is_forbidden)
            .then(|| if path.is_empty() { "body".into() } else { path }),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| forbidden_at(item, format!("{path}[{i}]"))),
        serde_json::Value::Object(map) => map.iter().find_map(|(key, item)| {
            if key.chars().any(text::is_forbidden) {
                let shown: String = key.chars().filter(|c| !text::is_forbidden(*c)).collect();
                Some(join(&shown))
            } else {
                forbidden_at(item, join(key))
            }
        }),
        _ => None,
    }
}

/// serde reports a missing field at its parent's path; an unknown one at its own path.
fn field_of(path: &str, message: &str) -> (String, String) {
    if message.starts_with("unknown field `") {
        return (path.to_string(), "is not a known field".to_string());
    }
    if let Some(rest) = message.strip_prefix("missing field `")
        && let Some(name) = rest.split('`').next()
    {
        let field = if path == "." {
            name.to_string()
        } else {
            format!("{path}.{name}")
        };
        return (field, "is required".to_string());
    }
    let field = if path == "." {
        "body".to_string()
    } else {
        path.to_string()
    };
    (field, message.to_string())
}

/// Path parameters. An id that is not a UUID cannot name anything: 404.
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|e: PathRejection| match e {
                PathRejection::FailedToDeserializePathParams(_) => ApiError::NotFound("resource"),
                other => {
                    ApiError::Internal(anyhow::anyhow!("path extraction: {}", other.body_text()))
                }
            })
    }
}

/// A query string, refused with 400 and the parameter at fault; a control character in any
/// decoded parameter is 422, like the same character in a body.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(field) = parts.uri.query().and_then(query_control_at) {
            return Err(ApiError::invalid(field, text::CONTROL_REASON));
        }
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(|e: QueryRejection| {
                let text = e.body_text();
                let reason = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                let field = reason
                    .split(':')
                    .next()
                    .filter(|f| !f.contains(' '))
                    .unwrap_or("query");
                ApiError::bad_request(field, reason)
            })
    }
}

/// The first parameter whose decoded name or value holds a control character: every query
/// parameter is a single line (a search, a cursor, a filter), and one reaches the database.
fn query_control_at(query: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes()).find_map(|(key, value)| {
        let bad = |s: &str| s.chars().any(text::is_forbidden_in_line);
        (bad(&key) || bad(&value)).then(|| {
            key.chars()
                .filter(|c| !text::is_forbidden_in_line(*c))
                .collect()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        count: u8,
    }

    fn fields(e: ApiError) -> Vec<String> {
        e.problem().errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn missing_field_is_named() {
        let err = parse_json::<Body>(br#"{}"#).unwrap_err();
        assert_eq!(err.problem().status, 422);
        assert_eq!(fields(err), ["name"]);
    }

    #[test]
    fn wrong_type_deep_in_the_body_names_its_path() {
        let err = parse_json::<Body>(br#"{"name":"x","inner":{"count":300}}"#).unwrap_err();
        assert_eq!(fields(err), ["inner.count"]);
    }

    #[test]
    fn unknown_field_is_refused_by_name() {
        let err = parse_json::<Body>(br#"{"name":"x","nmae":"y"}"#).unwrap_err();
        assert_eq!(fields(err), ["nmae"]);
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        inner: Inner,
        list: Option<Vec<Inner>>,
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused_as_body() {
        for bad in [&br#"["x", null]"#[..], br#""x""#, b"42", b" null "] {
            let err = parse_json::<Body>(bad).unwrap_err();
            assert_eq!(err.problem().status, 422);
            let problem = err.problem();
            assert_eq!(problem.errors[0].field, "body");
            assert_eq!(problem.errors[0].reason, "must be a JSON object");
        }
    }

    #[test]
    fn a_nested_positional_array_is_refused_where_a_struct_belongs() {
        let err = parse_json::<Outer>(br#"{"inner":[3]}"#).unwrap_err();
        let problem = err.problem();
        assert_eq!(problem.status, 422);
        assert_eq!(problem.errors[0].field, "inner");
        assert_eq!(problem.errors[0].reason, "must be a JSON object");
        let err =
            parse_json::<Outer>(br#"{"inner":{"count":1},"list":[{"count":2},[3]]}"#).unwrap_err();
        assert_eq!(fields(err), ["list[1]"]);
        let ok = parse_json::<Outer>(br#"{"inner":{"count":1},"list":[{"count":2}]}"#).unwrap();
        assert_eq!(ok.list.unwrap()[0].count, 2);
    }

    #[test]
    fn a_control_character_anywhere_names_its_path() {
        let err = parse_json::<Body>(br#"{"name":"a\u0000b"}"#).unwrap_err();
        assert_eq!(err.problem().status, 422);
        assert_eq!(fields(err), ["name"]);
        let err = parse_json::<serde_json::Value>(br#"{"a":{"b":[1,"\u001b"]}}"#).unwrap_err();
        assert_eq!(fields(err), ["a.b[1]"]);
        let err = parse_json::<serde_json::Value>("{\"a\":\"x\u{85}\"}".as_bytes()).unwrap_err();
        assert_eq!(fields(err), ["a"]);
        let err = parse_json::<serde_json::Value>(br#"{"k\u0001":1}"#).unwrap_err();
        assert_eq!(fields(err), ["k"]);
    }

    #[test]
    fn tab_newline_and_escapes_of_printable_characters_pass() {
        let ok = parse_json::<Body>(br#"{"name":"a\tb\nc\u00e9\\u0000"}"#).unwrap();
        assert_eq!(ok.name, "a\tb\nc\u{e9}\\u0000");
    }

    #[test]
    fn a_query_parameter_with_a_control_character_is_named() {
        assert_eq!(query_control_at("q=a%00b&limit=2").as_deref(), Some("q"));
        assert_eq!(
            query_control_at("limit=2&after=x%0A").as_deref(),
            Some("after")
        );
        assert_eq!(query_control_at("q=caf%C3%A9+au+lait"), None);
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        let err = parse_json::<Body>(br#"{"name":"#).unwrap_err();
        assert_eq!(err.problem().status, 400);
        assert_eq!(fields(err), ["body"]);
    }
}

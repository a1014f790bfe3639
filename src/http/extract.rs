//! Extractors whose refusals are problem bodies that name the field, instead of axum's plain
//! text: a JSON body, path parameters and query strings.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequest, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A JSON body. Syntax errors are 400; a well-formed body with wrong or missing fields is 422
/// and names the field's path.
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

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_string();
        match inner.classify() {
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

/// A query string, refused with 400 and the parameter at fault.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
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

    #[test]
    fn malformed_json_is_a_bad_request() {
        let err = parse_json::<Body>(br#"{"name":"#).unwrap_err();
        assert_eq!(err.problem().status, 400);
        assert_eq!(fields(err), ["body"]);
    }
}

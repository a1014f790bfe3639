//! Plain, accessible HTML pages: one template, text always escaped.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

pub use crate::mail::templates::escape;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;\
line-height:1.5;color:#1a1a1a}button{font-size:1rem;padding:.6rem 1.2rem;margin:.25rem .5rem .25rem 0}\
.primary{background:#0b5cad;color:#fff;border:0;border-radius:.3rem}";

/// A page with a title and a body of already-safe HTML.
pub fn page_html(status: StatusCode, title: &str, body_html: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t}</title>\
         <style>{STYLE}</style></head><body><main><h1>{t}</h1>{body_html}</main></body></html>",
        t = escape(title),
    );
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    response
}

/// A page with a title and one paragraph of plain text.
pub fn page(status: StatusCode, title: &str, message: &str) -> Response {
    page_html(status, title, &format!("<p>{}</p>", escape(message)))
}

/// The value of the request's cookie `name`.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            pair.trim()
                .strip_prefix(&format!("{name}="))
                .map(str::to_string)
        })
}

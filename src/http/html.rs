//! Plain, accessible HTML pages, rendered from the templates in `templates/` (askama, checked
//! when the crate compiles; every value escaped by the engine). Each page extends
//! `base.html`, which holds the title, the heading and the style.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// A page with a title and one paragraph of plain text.
#[derive(Template)]
#[template(path = "message.html")]
pub struct Message<'a> {
    pub title: &'a str,
    pub message: &'a str,
}

/// A rendered page with its status: never cached, sent with no referrer, never framed.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    let mut response = match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(error = %error, "a page failed to render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    response
}

/// A page with a title and one paragraph of plain text.
pub fn page(status: StatusCode, title: &str, message: &str) -> Response {
    render(status, &Message { title, message })
}

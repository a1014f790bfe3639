//! What the templates of pages and e-mails share: how text becomes HTML.
//!
//! The templates under `templates/` are askama's, checked when the crate compiles. Every value
//! they print is escaped by this escaper (configured for `.html` in `askama.toml`), with the
//! named entities mail clients and browsers all read; `.txt` templates print text as it is.

use std::fmt;

/// Escapes `&`, `<`, `>`, `"` and `'` for element content and quoted attribute values.
#[derive(Debug, Clone, Copy, Default)]
pub struct Html;

impl askama::filters::Escaper for Html {
    fn write_escaped_str<W: fmt::Write>(&self, mut dest: W, text: &str) -> fmt::Result {
        dest.write_str(&html_escape::encode_quoted_attribute(text))
    }
}

/// A template's text. Rendering fails only when a value's `Display` does, which none of the
/// plain values the templates print can; such a failure is logged and renders nothing.
pub fn render(template: &impl askama::Template) -> String {
    template.render().unwrap_or_else(|error| {
        tracing::error!(error = %error, "a template failed to render");
        String::new()
    })
}

//! The console's static files, embedded in the binary (`include_bytes!`, no crate needed for a
//! handful of files): the Salesforce Lightning Design System's CSS, licences and the icons the
//! pages use, vendored under `assets/slds/` by `scripts/update-slds`, and the console's own few
//! rules.
//!
//! They are served under `/console/assets/{version}/…`, where the version is a digest of every
//! file: a browser may keep them for a year, and a binary with other files serves them under
//! another path, so nobody keeps a stale copy.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// The version of `@salesforce-ux/design-system` the files come from.
pub const SLDS_VERSION: &str = include_str!("../../../assets/slds/VERSION");

/// One embedded file: its path under the assets' root, type and bytes.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $content_type:literal) => {
        Asset {
            path: $path,
            content_type: $content_type,
            bytes: include_bytes!(concat!("../../../assets/", $path)),
        }
    };
}

const ASSETS: &[Asset] = &[
    asset!(
        "slds/styles/salesforce-lightning-design-system.min.css",
        "text/css; charset=utf-8"
    ),
    asset!("slds/README.md", "text/plain; charset=utf-8"),
    asset!("slds/License-for-icons.txt", "text/plain; charset=utf-8"),
    asset!("slds/icons/standard/home.svg", "image/svg+xml"),
    asset!("slds/icons/standard/link.svg", "image/svg+xml"),
    asset!("console.css", "text/css; charset=utf-8"),
    asset!("console.js", "text/javascript; charset=utf-8"),
];

/// The digest of every file, as the assets' path names it.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut hash = Sha256::new();
    for asset in ASSETS {
        hash.update(asset.path);
        hash.update(asset.bytes);
    }
    hash.finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
});

/// Where the pages link their assets from: `/console/assets/{version}`.
pub fn base() -> String {
    format!("/console/assets/{}", *VERSION)
}

/// A file of this binary's version, cached for a year; any other path is not found.
pub(super) async fn serve(Path((version, path)): Path<(String, String)>) -> Response {
    let found = ASSETS
        .iter()
        .find(|a| a.path == path)
        .filter(|_| version == *VERSION);
    let Some(asset) = found else {
        return super::view::not_found();
    };
    let mut response = (StatusCode::OK, asset.bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_names_the_design_system_release() {
        assert!(
            SLDS_VERSION.trim().split('.').count() == 3,
            "{SLDS_VERSION}"
        );
        assert_eq!(VERSION.len(), 12);
    }
}

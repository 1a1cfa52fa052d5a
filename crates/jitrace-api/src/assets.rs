//! The browser's files, embedded in the binary: our ES modules (`web/js`), the vendored npm
//! modules and map data (`web/vendor`) and the app's icons (`web/icons`), served under `/assets/{build}/...` where `{build}` is a hash of all
//! of them. A changed file changes every URL, so the files are cached for a year, immutable.
//!
//! Pages load them as plain ES modules; bare imports (`@noble/ed25519`) resolve through the
//! [`import_map`], which pages inline. Its hash is in the pages' Content-Security-Policy, so the
//! one inline script a page has is exactly this one.

use axum::{
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::Engine as _;
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// Our own modules.
#[derive(RustEmbed)]
#[folder = "../../web/js/"]
struct Js;

/// Vendored npm modules (copied by `web/vendor.sh`).
#[derive(RustEmbed)]
#[folder = "../../web/vendor/"]
struct Vendor;

/// The app's icons (drawn by `web/tools/icons.mjs`).
#[derive(RustEmbed)]
#[folder = "../../web/icons/"]
struct Icons;

/// The bare module names pages import, and where they live under `/assets/{build}/`.
const IMPORTS: &[(&str, &str)] = &[
    ("@noble/ed25519", "vendor/noble-ed25519/index.js"),
    ("@noble/hashes/sha2.js", "vendor/noble-hashes/sha2.js"),
    ("@noble/hashes/utils.js", "vendor/noble-hashes/utils.js"),
    ("@noble/hashes/pbkdf2.js", "vendor/noble-hashes/pbkdf2.js"),
    (
        "@noble/hashes/webcrypto.js",
        "vendor/noble-hashes/webcrypto.js",
    ),
    ("@scure/bip39", "vendor/scure-bip39/index.js"),
    (
        "@scure/bip39/wordlists/english.js",
        "vendor/scure-bip39/wordlists/english.js",
    ),
    ("uqr", "vendor/uqr/index.js"),
    ("qr-scanner", "vendor/qr-scanner/qr-scanner.min.js"),
    ("d3-array", "vendor/d3-array/d3-array.min.mjs"),
    ("d3-geo", "vendor/d3-geo/d3-geo.min.mjs"),
    ("topojson-client", "vendor/topojson-client/index.js"),
];

struct Built {
    id: String,
    import_map: String,
    import_map_csp: String,
}

static BUILT: LazyLock<Built> = LazyLock::new(|| {
    let mut files: Vec<(String, [u8; 32])> = Js::iter()
        .map(|p| format!("js/{p}"))
        .chain(Vendor::iter().map(|p| format!("vendor/{p}")))
        .chain(Icons::iter().map(|p| format!("icons/{p}")))
        .filter_map(|path| {
            let file = file(&path)?;
            Some((path, file.metadata.sha256_hash()))
        })
        .collect();
    files.sort();
    let mut hasher = Sha256::new();
    for (path, hash) in &files {
        hasher.update((path.len() as u64).to_be_bytes());
        hasher.update(path.as_bytes());
        hasher.update(hash);
    }
    let id = hex::encode(&hasher.finalize()[..6]);
    let imports: serde_json::Map<String, serde_json::Value> = IMPORTS
        .iter()
        .map(|(name, path)| (name.to_string(), format!("/assets/{id}/{path}").into()))
        .collect();
    let import_map = serde_json::json!({ "imports": imports }).to_string();
    let digest = Sha256::digest(import_map.as_bytes());
    let import_map_csp = format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    );
    Built {
        id,
        import_map,
        import_map_csp,
    }
});

fn file(path: &str) -> Option<rust_embed::EmbeddedFile> {
    if let Some(rest) = path.strip_prefix("js/") {
        Js::get(rest)
    } else if let Some(rest) = path.strip_prefix("vendor/") {
        Vendor::get(rest)
    } else if let Some(rest) = path.strip_prefix("icons/") {
        Icons::get(rest)
    } else {
        None
    }
}

/// The URL of an embedded file, e.g. `asset_url("js/ownership.js")`.
pub fn asset_url(path: &str) -> String {
    format!("/assets/{}/{path}", BUILT.id)
}

/// The URLs of the files every consumer page needs, for the service worker to cache ahead:
/// our modules, the vendored modules they import, the map data and the icons (not licences,
/// not the service worker's own source).
pub fn app_shell_urls() -> Vec<String> {
    let wanted = |path: &str| {
        let ext = path.rsplit_once('.').map(|(_, ext)| ext);
        matches!(ext, Some("js" | "mjs" | "json" | "png")) && path != "js/sw.js"
    };
    Js::iter()
        .map(|p| format!("js/{p}"))
        .chain(Vendor::iter().map(|p| format!("vendor/{p}")))
        .chain(Icons::iter().map(|p| format!("icons/{p}")))
        .filter(|p| wanted(p))
        .map(|p| asset_url(&p))
        .collect()
}

/// The service worker's source (`web/js/sw.js`), with its build id and the files to cache.
pub fn service_worker() -> String {
    let source = Js::get("sw.js").map_or_else(String::new, |f| {
        String::from_utf8_lossy(&f.data).into_owned()
    });
    let urls = serde_json::to_string(&app_shell_urls()).unwrap_or_else(|_| "[]".into());
    source
        .replace("'__BUILD__'", &format!("'{}'", BUILT.id))
        .replace("'__SHELL__'", &urls)
}

/// The import map pages inline (`<script type="importmap">`), as JSON.
pub fn import_map() -> &'static str {
    &BUILT.import_map
}

/// The CSP source allowing exactly the inline [`import_map`]: `'sha256-…'`.
pub fn import_map_csp() -> &'static str {
    &BUILT.import_map_csp
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "text/plain; charset=utf-8",
    }
}

/// `GET /assets/{build}/{*path}`. Files of the current build are immutable; a request naming
/// another build (a page from before an upgrade) gets today's file, not cached.
pub(crate) async fn serve(Path((build, path)): Path<(String, String)>) -> Response {
    let Some(embedded) = file(&path) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let cache = if build == BUILT.id {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = embedded.data.into_owned().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&path)),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
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
    fn every_import_is_embedded() {
        for (name, path) in IMPORTS {
            assert!(file(path).is_some(), "{name}: {path} is not in web/");
        }
        assert!(file("js/ownership.js").is_some());
        assert!(file("icons/icon-192.png").is_some());
        let sw = service_worker();
        assert!(sw.contains(&BUILT.id) && !sw.contains("__BUILD__") && !sw.contains("__SHELL__"));
        assert!(
            app_shell_urls()
                .iter()
                .any(|u| u.ends_with("vendor/mapdata/china.json"))
        );
        assert!(file("../Cargo.toml").is_none() && file("js/../../Cargo.toml").is_none());
        assert_eq!(BUILT.id.len(), 12);
    }
}

//! Content-addressed media files: `media_dir/<sha256 hex>` with a `<sha256 hex>.mime` sidecar.

use crate::{ApiError, Shared, endpoints::PathParam};
use axum::{
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use jitrace_client::dto::ErrorBody;
use jitrace_types::Hash;
use std::{
    ffi::OsString,
    io,
    path::{Path, PathBuf},
};

const FALLBACK_MIME: &str = "application/octet-stream";

/// Stores `bytes` under their SHA-256 in `media_dir` (created if needed), with their MIME type.
///
/// Each file is written to a temporary name and renamed, and the data file last, so a reader
/// never sees a partial file. Storing the same bytes twice is harmless.
pub fn store_media(media_dir: &Path, bytes: &[u8], mime: &str) -> io::Result<Hash> {
    if !is_mime(mime) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{mime:?} is not a MIME type like image/png"),
        ));
    }
    std::fs::create_dir_all(media_dir)?;
    let hash = Hash::of(&[bytes]);
    let name = hash.to_hex();
    write_atomically(&media_dir.join(format!("{name}.mime")), mime.as_bytes())?;
    write_atomically(&media_dir.join(name), bytes)?;
    Ok(hash)
}

fn is_mime(mime: &str) -> bool {
    mime.len() <= 100 && mime.contains('/') && HeaderValue::from_str(mime).is_ok()
}

fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut partial = OsString::from(path.as_os_str());
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, path)
}

/// Whether `name` is a media file name: exactly 64 lower-case hex digits. Nothing else reaches
/// the filesystem, so no path can escape the media directory.
fn is_media_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A media file, with its MIME type; immutable, so cached for a year.
#[utoipa::path(
    get, path = "/v1/media/{sha256}", tag = "media",
    params(("sha256" = String, Path, description = "SHA-256 of the file: 64 lower-case hex digits")),
    responses(
        (status = 200, description = "The file, with its MIME type", content_type = "application/octet-stream"),
        (status = 400, description = "Not a SHA-256 in lower-case hex", body = ErrorBody),
        (status = 404, description = "This node has no such file", body = ErrorBody),
    )
)]
pub(crate) async fn media(
    State(api): State<Shared>,
    PathParam(name): PathParam<String>,
) -> Result<Response, ApiError> {
    if !is_media_name(&name) {
        return Err(ApiError::BadRequest(
            "a media name is the file's SHA-256 as 64 lower-case hex digits".into(),
        ));
    }
    let path = api.media_dir.join(&name);
    let bytes = match tokio::fs::read(&path).await {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(ApiError::NotFound(format!("no media file {name}")));
        }
        Err(e) => return Err(ApiError::Internal(format!("reading media {name}: {e}"))),
    };
    let mime = tokio::fs::read_to_string(api.media_dir.join(format!("{name}.mime")))
        .await
        .ok()
        .map(|text| text.trim().to_string())
        .filter(|text| is_mime(text))
        .and_then(|text| HeaderValue::from_str(&text).ok())
        .unwrap_or(HeaderValue::from_static(FALLBACK_MIME));
    let headers = [
        (header::CONTENT_TYPE, mime),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ];
    Ok((headers, bytes).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_strict() {
        assert!(is_media_name(&"ab".repeat(32)));
        assert!(!is_media_name(&"AB".repeat(32)));
        assert!(!is_media_name(&"ab".repeat(31)));
        assert!(!is_media_name("../../etc/passwd"));
        assert!(!is_media_name(&format!("{}/..", "a".repeat(61))));
    }

    #[test]
    fn store_writes_content_and_type() {
        let dir = tempfile::tempdir().unwrap();
        let hash = store_media(dir.path(), b"png bytes", "image/png").unwrap();
        assert_eq!(hash, Hash::of(&[b"png bytes"]));
        let name = hash.to_hex();
        assert_eq!(std::fs::read(dir.path().join(&name)).unwrap(), b"png bytes");
        assert_eq!(
            std::fs::read_to_string(dir.path().join(format!("{name}.mime"))).unwrap(),
            "image/png"
        );
        assert_eq!(
            store_media(dir.path(), b"png bytes", "image/png").unwrap(),
            hash
        );
        assert!(store_media(dir.path(), b"x", "not a mime\n").is_err());
    }
}

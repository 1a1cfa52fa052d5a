//! Content-addressed media files: `media_dir/<sha256 hex>` with a `<sha256 hex>.mime` sidecar.

use crate::{ApiError, Shared, endpoints::PathParam};
use axum::{
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use jitrace_client::dto::{ErrorBody, MediaStored};
use jitrace_types::Hash;
use std::{
    ffi::OsString,
    io,
    path::{Path, PathBuf},
};

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
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    if !is_media_name(&name) {
        return Err(ApiError::BadRequest(
            "a media name is the file's SHA-256 as 64 lower-case hex digits".into(),
        ));
    }
    let path = api.media_dir.join(&name);
    if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
        return Err(ApiError::NotFound(format!("no media file {name}")));
    }
    let mime: mime::Mime = tokio::fs::read_to_string(api.media_dir.join(format!("{name}.mime")))
        .await
        .ok()
        .map(|text| text.trim().to_string())
        .filter(|text| is_mime(text))
        .and_then(|text| text.parse().ok())
        .unwrap_or(mime::APPLICATION_OCTET_STREAM);
    // ServeFile answers Range requests (206, for video seeking), HEAD and conditional requests.
    let mut response = tower::ServiceExt::oneshot(
        tower_http::services::ServeFile::new_with_mime(&path, &mime),
        request,
    )
    .await
    .map_err(|e| ApiError::Internal(format!("reading media {name}: {e}")))?
    .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Media is shown, never run: no scripts even in an SVG opened on its own.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
    );
    Ok(response)
}

/// Media types accepted for upload, with their size limits.
const ACCEPTED: &[(&str, u64)] = &[
    ("image/png", 10 << 20),
    ("image/jpeg", 10 << 20),
    ("image/webp", 10 << 20),
    ("image/svg+xml", 2 << 20),
    ("video/mp4", 100 << 20),
    ("video/webm", 100 << 20),
    ("application/pdf", 20 << 20),
];

/// The most any upload may be (the largest limit above).
pub const MAX_UPLOAD_BYTES: usize = 100 << 20;

/// Upload a product photo, video or document (signed request by a member of a brand,
/// manufacturer or supplier). The body is the file; `Content-Type` its media type. Stored by
/// its SHA-256, which the answer gives for a product record.
#[utoipa::path(
    post, path = "/v1/media", tag = "media",
    request_body(content = Vec<u8>, description = "The file", content_type = "application/octet-stream"),
    responses(
        (status = 201, description = "Stored", body = MediaStored),
        (status = 401, description = "`unauthorised`: not a valid signed request", body = ErrorBody),
        (status = 403, description = "`forbidden`: not a member of an organisation that registers products", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: over the limit for its type", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
    )
)]
pub(crate) async fn upload(
    State(api): State<Shared>,
    request: axum::extract::Request,
) -> Result<(axum::http::StatusCode, axum::Json<MediaStored>), ApiError> {
    use futures::StreamExt as _;
    use sha2::Digest as _;
    use tokio::io::AsyncWriteExt as _;

    let (parts, body) = request.into_parts();
    if !parts.headers.contains_key(header::AUTHORIZATION) {
        return Err(ApiError::Unauthorised(
            "uploading media needs a signed request".into(),
        ));
    }
    let mime = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let Some(&(mime, limit)) = ACCEPTED.iter().find(|(m, _)| *m == mime) else {
        return Err(ApiError::UnsupportedMediaType(format!(
            "{mime:?} is not accepted; send one of {}",
            ACCEPTED
                .iter()
                .map(|(m, _)| *m)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    tokio::fs::create_dir_all(&api.media_dir)
        .await
        .map_err(|e| ApiError::Internal(format!("media dir: {e}")))?;
    let partial = api
        .media_dir
        .join(format!("upload-{}.partial", rand_suffix()));
    let mut file = tokio::fs::File::create(&partial)
        .await
        .map_err(|e| ApiError::Internal(format!("media file: {e}")))?;
    let result = async {
        let mut hasher = sha2::Sha256::new();
        let mut size = 0u64;
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|e| ApiError::BadRequest(format!("reading the body: {e}")))?;
            size += chunk.len() as u64;
            if size > limit {
                return Err(ApiError::PayloadTooLarge {
                    limit: limit as usize,
                });
            }
            hasher.update(&chunk);
            file.write_all(&chunk)
                .await
                .map_err(|e| ApiError::Internal(format!("media write: {e}")))?;
        }
        file.sync_all()
            .await
            .map_err(|e| ApiError::Internal(format!("media sync: {e}")))?;
        let mut digest = [0u8; 32];
        digest.copy_from_slice(&hasher.finalize());
        let hash = Hash(digest);
        let caller = crate::auth::authenticate(
            &api,
            &parts.method,
            &parts.uri,
            &parts.headers,
            &hash,
            crate::auth::Access::Member,
        )
        .await?;
        if !caller.issues_codes() {
            return Err(ApiError::Forbidden(
                "only members of a brand, manufacturer or supplier upload product media".into(),
            ));
        }
        if size == 0 {
            return Err(ApiError::BadRequest("the file is empty".into()));
        }
        Ok((hash, size))
    }
    .await;
    let (hash, size) = match result {
        Ok(done) => done,
        Err(e) => {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(e);
        }
    };
    let name = hash.to_hex();
    write_atomically(&api.media_dir.join(format!("{name}.mime")), mime.as_bytes())
        .map_err(|e| ApiError::Internal(format!("media type: {e}")))?;
    tokio::fs::rename(&partial, api.media_dir.join(&name))
        .await
        .map_err(|e| ApiError::Internal(format!("media rename: {e}")))?;
    Ok((
        axum::http::StatusCode::CREATED,
        axum::Json(MediaStored {
            url: format!("/v1/media/{name}"),
            hash: name,
            mime: mime.to_string(),
            size,
        }),
    ))
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
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

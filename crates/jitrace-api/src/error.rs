//! The API's one error type, and the one place where errors become HTTP status codes.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use jitrace_client::dto::{ErrorBody, ErrorDetail};

/// Everything a request can fail with. Each variant has a stable `code` (see
/// [`ApiError::code`]) that clients branch on; the message is for people.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is not what the endpoint reads (not JSON, a wrong type, a bad parameter).
    #[error("{0}")]
    BadRequest(String),
    /// The transaction's bytes do not decode, or a field breaks its syntax.
    #[error("{0}")]
    Malformed(String),
    /// The signature does not verify against the signer's key.
    #[error("the signature does not match the signer's key")]
    BadSignature,
    /// The transaction names another chain.
    #[error("the transaction is for chain {got:?}, this node serves {expected:?}")]
    WrongChainId { expected: String, got: String },
    /// The transaction was executed before, or is already waiting.
    #[error("{0}")]
    Duplicate(String),
    /// The nonce is not above the signer's last accepted nonce.
    #[error("nonce {nonce} is not above the signer's last accepted nonce {last}")]
    NonceReplayed { nonce: u64, last: u64 },
    /// The mempool is at its bound; the client should retry shortly.
    #[error("the mempool is full; retry in a moment")]
    MempoolFull,
    /// The request body is over the limit.
    #[error("the request body is over the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The request is not signed, or its signature or time is wrong.
    #[error("{0}")]
    Unauthorised(String),
    /// The signer is known but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// A console write without its session's CSRF token, or from another origin.
    #[error("{0}")]
    Csrf(String),
    /// The body's media type is not accepted here.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Nothing is at this path, or the record does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The path exists but not with this method.
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(String),
    /// A scanned link is not a well-formed product code (bad Digital Link, check digit, or
    /// signature encoding).
    #[error("{0}")]
    BadCode(String),
    /// This node records no scans (it runs no scan gateway).
    #[error("this node does not record scans")]
    ScansDisabled,
    /// A failure of the node itself (storage). The text goes to the log, never to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_)
            | ApiError::Malformed(_)
            | ApiError::BadSignature
            | ApiError::WrongChainId { .. }
            | ApiError::NonceReplayed { .. }
            | ApiError::BadCode(_) => StatusCode::BAD_REQUEST,
            ApiError::Duplicate(_) => StatusCode::CONFLICT,
            ApiError::MempoolFull | ApiError::ScansDisabled => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unauthorised(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::Csrf(_) => StatusCode::FORBIDDEN,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorised(_) => "unauthorised",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::Csrf(_) => "csrf",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Malformed(_) => "malformed",
            ApiError::BadSignature => "bad_signature",
            ApiError::WrongChainId { .. } => "wrong_chain_id",
            ApiError::Duplicate(_) => "duplicate",
            ApiError::NonceReplayed { .. } => "nonce_replayed",
            ApiError::MempoolFull => "mempool_full",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::NotFound(_) => "not_found",
            ApiError::BadCode(_) => "bad_code",
            ApiError::ScansDisabled => "scans_disabled",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = match &self {
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "API request failed");
                "internal error; the node's log has the details".to_string()
            }
            other => other.to_string(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message,
            },
        };
        let mut response = (self.status(), Json(body)).into_response();
        if matches!(self, ApiError::MempoolFull) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

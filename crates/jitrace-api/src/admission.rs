//! Admission of submitted transactions into the mempool.
//!
//! Only what can be decided cheaply and for certain before execution is checked here: the
//! bytes decode, the signature verifies, the chain id matches, the transaction is new and its
//! nonce is not already used. Everything else (roles, quotas, licences...) is the ledger's to
//! decide at execution, and its verdict is the transaction's receipt.

use crate::{ApiError, ApiState, source::read_record};
use axum::{
    Json,
    body::Bytes,
    extract::rejection::BytesRejection,
    http::{HeaderMap, StatusCode, header},
};
use jitrace_chain::{Inadmissible, Refusal, check_stateless, mempool::check_batch};
use jitrace_client::dto::SubmitRequest;
use jitrace_ledger::state::{Account, Receipt, StateKey};
use jitrace_types::{Transaction, TxHash};

/// The largest request body the API reads.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The wire bytes of a submitted transaction, from a JSON [`SubmitRequest`] or, with
/// `Content-Type: application/octet-stream`, the raw body.
pub(crate) fn submitted_bytes(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Vec<u8>, ApiError> {
    let body = read_body(body, MAX_BODY_BYTES)?;
    if is_octet_stream(headers) {
        return Ok(body.to_vec());
    }
    let Json(request) = Json::<SubmitRequest>::from_bytes(&body)
        .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let text = request.tx.trim();
    hex::decode(text.strip_prefix("0x").unwrap_or(text))
        .map_err(|e| ApiError::BadRequest(format!("`tx` must be hex: {e}")))
}

/// A request body, or why it could not be read (over `limit`, or broken).
pub(crate) fn read_body(
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge { limit }
        } else {
            ApiError::BadRequest(rejection.body_text())
        }
    })
}

fn is_octet_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/octet-stream")
        })
}

/// Most transactions in one `POST /v1/txs`.
pub const MAX_BATCH_TXS: usize = 1_000;

/// The largest body of a `POST /v1/txs`.
pub const MAX_BATCH_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Checks a transaction's wire bytes and puts it in the mempool; returns its id.
pub(crate) async fn admit(api: &ApiState, raw: Vec<u8>) -> Result<TxHash, ApiError> {
    let (hash, tx) = check_stateless(&raw, &api.chain_id, false).map_err(inadmissible)?;
    admit_checked(api, raw, hash, &tx).await
}

/// Admits many transactions, verifying their signatures as one batch (falling back to one by
/// one when the batch fails). Each gets its own outcome.
pub(crate) async fn admit_many(
    api: &ApiState,
    raws: Vec<Vec<u8>>,
) -> Vec<Result<TxHash, ApiError>> {
    // Decoding and a batch's signature check hold a core for milliseconds: off the async
    // workers.
    let chain_id = api.chain_id.clone();
    let checked = tokio::task::spawn_blocking(move || check_batch(raws, &chain_id, |_| false))
        .await
        .expect("the stateless checks do not panic");
    let mut out = Vec::with_capacity(checked.len());
    for item in checked {
        out.push(match item {
            Ok((raw, hash, tx)) => admit_checked(api, raw, hash, &tx).await,
            Err(e) => Err(inadmissible(e)),
        });
    }
    out
}

fn inadmissible(e: Inadmissible) -> ApiError {
    match e {
        Inadmissible::Malformed(reason) => ApiError::Malformed(reason),
        Inadmissible::BadSignature => ApiError::BadSignature,
        Inadmissible::WrongChainId { expected, got } => ApiError::WrongChainId { expected, got },
    }
}

/// The checks against the latest state, then the mempool.
async fn admit_checked(
    api: &ApiState,
    raw: Vec<u8>,
    hash: TxHash,
    tx: &Transaction,
) -> Result<TxHash, ApiError> {
    let executed = read_record::<Receipt>(api.state.as_ref(), StateKey::Receipt(hash)).await?;
    if executed.is_some() {
        return Err(ApiError::Duplicate(format!(
            "transaction {hash} was executed already; see /v1/tx/{hash}"
        )));
    }
    if api.mempool.contains(&hash) {
        return Err(already_waiting(&hash));
    }
    let account = read_record::<Account>(api.state.as_ref(), StateKey::Account(tx.signer)).await?;
    if let Some(account) = account
        && tx.nonce <= account.nonce
    {
        return Err(ApiError::NonceReplayed {
            nonce: tx.nonce,
            last: account.nonce,
        });
    }
    api.mempool
        .insert(hash, raw)
        .map_err(|refusal| match refusal {
            Refusal::Duplicate => already_waiting(&hash),
            Refusal::Full => ApiError::MempoolFull,
        })?;
    tracing::debug!(%hash, kind = tx.payload.kind(), "transaction admitted");
    Ok(hash)
}

fn already_waiting(hash: &TxHash) -> ApiError {
    ApiError::Duplicate(format!(
        "transaction {hash} is already waiting in the mempool"
    ))
}

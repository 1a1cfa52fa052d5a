//! The REST endpoints under `/v1`, each documented for the OpenAPI document.

use crate::{
    ApiError, ApiState, Shared, admission,
    source::read_record,
    views::{
        account_view, batch_view, block_view, executed_tx_view, licence_view, org_view,
        pending_tx_view, product_view, status_view,
    },
};
use axum::{
    Json,
    body::Bytes,
    extract::{FromRequestParts, Path, State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode, request::Parts},
};
use commonware_codec::DecodeExt as _;
use jitrace_chain::Block;
use jitrace_client::dto::{
    AccountView, BatchList, BatchView, BlockView, ChannelList, ErrorBody, ErrorDetail, LicenceView,
    NonceView, OrgList, OrgView, ProductView, Status, SubmitBatchRequest, SubmitBatchResponse,
    SubmitOutcome, SubmitRequest, Submitted, TxStatus,
};
use jitrace_ledger::state::{
    Account, Batch, Count, Licence, Org, OrgIndex, PAGE_LEN, Product, ProductPage, Receipt,
    SerialRanges, StateKey,
};
use jitrace_store::BlockStore;
use jitrace_types::{Gtin, Hash, LicenceId, OrgId, PublicKey};
use serde::de::DeserializeOwned;

/// A path parameter whose rejection is an [`ApiError`] (so it answers in JSON).
pub(crate) struct PathParam<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParam<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| PathParam(value))
            .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))
    }
}

/// Parses a path parameter with a domain parser; its error is the client's.
fn parse_param<T>(
    text: &str,
    parse: impl FnOnce(&str) -> Result<T, jitrace_types::Error>,
) -> Result<T, ApiError> {
    parse(text).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// Runs a block-store read off the async threads (the store is a synchronous database).
pub(crate) async fn read_store<T: Send + 'static>(
    api: &Shared,
    read: impl FnOnce(&BlockStore) -> Result<T, jitrace_store::Error> + Send + 'static,
) -> Result<T, ApiError> {
    let store = api.store.clone();
    tokio::task::spawn_blocking(move || read(&store))
        .await
        .map_err(|e| ApiError::Internal(format!("block store task failed: {e}")))?
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// The chain's status.
#[utoipa::path(
    get, path = "/v1/status", tag = "chain",
    responses((status = 200, description = "The latest finalised block and the mempool", body = Status))
)]
pub(crate) async fn status(State(api): State<Shared>) -> Json<Status> {
    let tip = *api.tip.borrow();
    let peers = crate::pages::connected_peers(&(api.engine_metrics)());
    Json(status_view(
        &api.chain_id,
        &api.validators,
        tip,
        api.mempool.len(),
        &api.role,
        peers,
    ))
}

/// The raw wire bytes of a signed transaction (the body of an `application/octet-stream` submit).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // documentation only: the handler reads the body as bytes
pub(crate) struct RawTransaction(Vec<u8>);

/// Submits a signed transaction.
///
/// Admission checks only what needs no execution: encoding, signature, chain id, duplicates and
/// replayed nonces. Every other rule is decided when a block executes the transaction; poll
/// `GET /v1/tx/{hash}` for the receipt.
#[utoipa::path(
    post, path = "/v1/tx", tag = "transactions",
    request_body(
        description = "The signed transaction: JSON with its hex, or its raw wire bytes",
        content(
            (SubmitRequest = "application/json"),
            (RawTransaction = "application/octet-stream"),
        ),
    ),
    responses(
        (status = 202, description = "Admitted into the mempool", body = Submitted),
        (status = 400, description = "`bad_request`, `malformed`, `bad_signature`, `wrong_chain_id` or `nonce_replayed`", body = ErrorBody),
        (status = 409, description = "`duplicate`: executed already or already waiting", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over 256 KiB", body = ErrorBody),
        (status = 503, description = "`mempool_full`: retry after the `Retry-After` seconds", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
    )
)]
pub(crate) async fn submit_tx(
    State(api): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Submitted>), ApiError> {
    let raw = admission::submitted_bytes(&headers, body)?;
    let hash = admission::admit(&api, raw).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Submitted {
            hash: hash.to_hex(),
        }),
    ))
}

/// Submit up to 1,000 signed transactions at once; each is admitted or refused on its own, as
/// with `POST /v1/tx`, and signatures are verified as one batch.
#[utoipa::path(
    post, path = "/v1/txs", tag = "transactions",
    request_body(content = SubmitBatchRequest, description = "Hex of each signed transaction"),
    responses(
        (status = 200, description = "Each transaction's outcome, in order", body = SubmitBatchResponse),
        (status = 400, description = "`bad_request`: not JSON, a bad hex string, or more than 1,000 transactions", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over 4 MiB", body = ErrorBody),
    )
)]
pub(crate) async fn submit_txs(
    State(api): State<Shared>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SubmitBatchResponse>, ApiError> {
    let body = admission::read_body(body, admission::MAX_BATCH_BODY_BYTES)?;
    let Json(request) = Json::<SubmitBatchRequest>::from_bytes(&body)
        .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    if request.txs.len() > admission::MAX_BATCH_TXS {
        return Err(ApiError::BadRequest(format!(
            "at most {} transactions per request, got {}",
            admission::MAX_BATCH_TXS,
            request.txs.len()
        )));
    }
    let raws = request
        .txs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let text = text.trim();
            hex::decode(text.strip_prefix("0x").unwrap_or(text))
                .map_err(|e| ApiError::BadRequest(format!("txs[{i}] must be hex: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let hashes: Vec<Option<String>> = raws
        .iter()
        .map(|raw| Some(jitrace_ledger::tx_id(raw).to_hex()))
        .collect();
    let results = admission::admit_many(&api, raws)
        .await
        .into_iter()
        .zip(hashes)
        .map(|(result, hash)| match result {
            Ok(hash) => SubmitOutcome {
                hash: Some(hash.to_hex()),
                error: None,
            },
            Err(e) => SubmitOutcome {
                hash,
                error: Some(ErrorDetail {
                    code: e.code().to_string(),
                    message: e.to_string(),
                }),
            },
        })
        .collect();
    Ok(Json(SubmitBatchResponse { results }))
}

/// A transaction's status: its receipt once executed, or pending while in the mempool.
#[utoipa::path(
    get, path = "/v1/tx/{hash}", tag = "transactions",
    params(("hash" = String, Path, description = "Transaction id: 64 hex digits")),
    responses(
        (status = 200, description = "Pending, ok or rejected (with the ledger's reason)", body = TxStatus),
        (status = 400, description = "Not a transaction id", body = ErrorBody),
        (status = 404, description = "Neither waiting nor executed", body = ErrorBody),
    )
)]
pub(crate) async fn tx_status(
    State(api): State<Shared>,
    PathParam(text): PathParam<String>,
) -> Result<Json<TxStatus>, ApiError> {
    let hash = parse_param(&text, Hash::from_hex)?;
    let receipt = || read_record::<Receipt>(api.state.as_ref(), StateKey::Receipt(hash));
    if let Some(receipt) = receipt().await? {
        return Ok(Json(executed_tx_view(&receipt)));
    }
    if api.mempool.contains(&hash) {
        return Ok(Json(pending_tx_view(&hash)));
    }
    // The block may have been applied between the two reads: look once more.
    match receipt().await? {
        Some(receipt) => Ok(Json(executed_tx_view(&receipt))),
        None => Err(ApiError::NotFound(format!(
            "no transaction {hash} in the mempool or the ledger"
        ))),
    }
}

/// A finalised block.
#[utoipa::path(
    get, path = "/v1/blocks/{height}", tag = "chain",
    params(("height" = String, Path, description = "A height, or `latest`")),
    responses(
        (status = 200, description = "The block", body = BlockView),
        (status = 400, description = "Not a height", body = ErrorBody),
        (status = 404, description = "No finalised block at that height", body = ErrorBody),
    )
)]
pub(crate) async fn block(
    State(api): State<Shared>,
    PathParam(text): PathParam<String>,
) -> Result<Json<BlockView>, ApiError> {
    let height = if text == "latest" {
        let tip = *api.tip.borrow();
        tip.map(|tip| tip.height)
            .ok_or_else(|| ApiError::NotFound("no block has been finalised yet".to_string()))?
    } else {
        text.parse::<u64>().map_err(|_| {
            ApiError::BadRequest(format!(
                "block height must be a number or `latest`, got {text:?}"
            ))
        })?
    };
    let (bytes, certificate) = read_store(&api, move |store| {
        Ok((store.block(height)?, store.certificate(height)?))
    })
    .await?;
    let bytes = bytes
        .ok_or_else(|| ApiError::NotFound(format!("no finalised block at height {height}")))?;
    let block = Block::decode(bytes)
        .map_err(|e| ApiError::Internal(format!("stored block {height} does not decode: {e}")))?;
    Ok(Json(block_view(&block, certificate.as_deref())))
}

/// A key's account: its nonce and organisations.
#[utoipa::path(
    get, path = "/v1/accounts/{key}", tag = "registry",
    params(("key" = String, Path, description = "Public key: 64 hex digits")),
    responses(
        (status = 200, description = "The account", body = AccountView),
        (status = 400, description = "Not a public key", body = ErrorBody),
        (status = 404, description = "The key has no account yet", body = ErrorBody),
    )
)]
pub(crate) async fn account(
    State(api): State<Shared>,
    PathParam(text): PathParam<String>,
) -> Result<Json<AccountView>, ApiError> {
    let key = parse_param(&text, PublicKey::from_hex)?;
    let account = read_record::<Account>(api.state.as_ref(), StateKey::Account(key))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no account for key {key}")))?;
    Ok(Json(account_view(&key, &account)))
}

/// The nonce a key's next transaction uses; 1 for a key without an account.
#[utoipa::path(
    get, path = "/v1/accounts/{key}/nonce", tag = "registry",
    params(("key" = String, Path, description = "Public key: 64 hex digits")),
    responses(
        (status = 200, description = "The last and the next nonce", body = NonceView),
        (status = 400, description = "Not a public key", body = ErrorBody),
    )
)]
pub(crate) async fn account_nonce(
    State(api): State<Shared>,
    PathParam(text): PathParam<String>,
) -> Result<Json<NonceView>, ApiError> {
    let key = parse_param(&text, PublicKey::from_hex)?;
    let nonce = read_record::<Account>(api.state.as_ref(), StateKey::Account(key))
        .await?
        .map_or(0, |account| account.nonce);
    Ok(Json(NonceView {
        key: key.to_hex(),
        nonce,
        next_nonce: nonce.saturating_add(1),
    }))
}

/// Which page of a list to read.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub(crate) struct PageQuery {
    /// Page number, from 0 (1,000 entries a page).
    #[serde(default)]
    page: u32,
}

/// An organisation with the first page of its products.
async fn org_with_products(api: &ApiState, org: Org) -> Result<OrgView, ApiError> {
    let products =
        read_record::<ProductPage>(api.state.as_ref(), StateKey::OrgProducts(org.id.clone(), 0))
            .await?
            .unwrap_or_default();
    Ok(org_view(&org, &products.0))
}

/// Organisations, a page of 1,000 at a time, in registration order.
#[utoipa::path(
    get, path = "/v1/orgs", tag = "registry",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of organisations", body = OrgList),
        (status = 400, description = "A bad page number", body = ErrorBody),
    )
)]
pub(crate) async fn orgs(
    State(api): State<Shared>,
    query: Result<axum::extract::Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<OrgList>, ApiError> {
    let axum::extract::Query(PageQuery { page }) =
        query.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let count = read_record::<Count>(api.state.as_ref(), StateKey::OrgCount)
        .await?
        .unwrap_or_default()
        .0;
    let index = read_record::<OrgIndex>(api.state.as_ref(), StateKey::OrgIndex(page))
        .await?
        .unwrap_or_default();
    let reads = index
        .0
        .into_iter()
        .map(|id| read_record::<Org>(api.state.as_ref(), StateKey::Org(id)));
    let records = futures::future::try_join_all(reads).await?;
    let mut orgs = Vec::with_capacity(records.len());
    for org in records.into_iter().flatten() {
        orgs.push(org_with_products(&api, org).await?);
    }
    let next_page = (u64::from(page) + 1 < count.div_ceil(PAGE_LEN)).then_some(page + 1);
    Ok(Json(OrgList { orgs, next_page }))
}

/// One organisation.
#[utoipa::path(
    get, path = "/v1/orgs/{id}", tag = "registry",
    params(("id" = String, Path, description = "Organisation id")),
    responses(
        (status = 200, description = "The organisation", body = OrgView),
        (status = 400, description = "Not a valid organisation id", body = ErrorBody),
        (status = 404, description = "No such organisation", body = ErrorBody),
    )
)]
pub(crate) async fn org(
    State(api): State<Shared>,
    PathParam(text): PathParam<String>,
) -> Result<Json<OrgView>, ApiError> {
    let id = parse_param(&text, str::parse::<OrgId>)?;
    let org = read_record::<Org>(api.state.as_ref(), StateKey::Org(id.clone()))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no organisation {id}")))?;
    Ok(Json(org_with_products(&api, org).await?))
}

/// One licence, with its remaining quota.
#[utoipa::path(
    get, path = "/v1/licences/{id}", tag = "registry",
    params(("id" = String, Path, description = "Licence id")),
    responses(
        (status = 200, description = "The licence", body = LicenceView),
        (status = 400, description = "Not a valid licence id", body = ErrorBody),
        (status = 404, description = "No such licence", body = ErrorBody),
    )
)]
pub(crate) async fn licence(
    State(api): State<Shared>,
    PathParam(text): PathParam<String>,
) -> Result<Json<LicenceView>, ApiError> {
    let id = parse_param(&text, str::parse::<LicenceId>)?;
    let licence = read_record::<Licence>(api.state.as_ref(), StateKey::Licence(id.clone()))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no licence {id}")))?;
    Ok(Json(licence_view(&licence)))
}

/// Reads a registered product, or 404.
async fn require_product(api: &Shared, gtin: Gtin) -> Result<Product, ApiError> {
    read_record::<Product>(api.state.as_ref(), StateKey::Product(gtin))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no product with GTIN {gtin}")))
}

/// One product.
#[utoipa::path(
    get, path = "/v1/products/{gtin}", tag = "registry",
    params(("gtin" = String, Path, description = "GTIN-8, -12, -13 or -14")),
    responses(
        (status = 200, description = "The product", body = ProductView),
        (status = 400, description = "Not a valid GTIN", body = ErrorBody),
        (status = 404, description = "No such product", body = ErrorBody),
    )
)]
pub(crate) async fn product(
    State(api): State<Shared>,
    PathParam(text): PathParam<String>,
) -> Result<Json<ProductView>, ApiError> {
    let gtin = parse_param(&text, Gtin::parse)?;
    let product = require_product(&api, gtin).await?;
    Ok(Json(product_view(&product)))
}

/// A product's code batches, by first serial.
#[utoipa::path(
    get, path = "/v1/products/{gtin}/batches", tag = "registry",
    params(("gtin" = String, Path, description = "GTIN-8, -12, -13 or -14")),
    responses(
        (status = 200, description = "The batches (empty if none were issued)", body = BatchList),
        (status = 400, description = "Not a valid GTIN", body = ErrorBody),
        (status = 404, description = "No such product", body = ErrorBody),
    )
)]
pub(crate) async fn batches(
    State(api): State<Shared>,
    PathParam(text): PathParam<String>,
) -> Result<Json<BatchList>, ApiError> {
    let gtin = parse_param(&text, Gtin::parse)?;
    require_product(&api, gtin).await?;
    let ranges = read_record::<SerialRanges>(api.state.as_ref(), StateKey::SerialRanges(gtin))
        .await?
        .unwrap_or_default();
    let reads = ranges
        .0
        .into_iter()
        .map(|range| read_record::<Batch>(api.state.as_ref(), StateKey::Batch(gtin, range.lot)));
    let batches = futures::future::try_join_all(reads).await?;
    Ok(Json(BatchList {
        gtin: gtin.to_string(),
        batches: batches.iter().flatten().map(batch_view).collect(),
    }))
}

/// One code batch.
#[utoipa::path(
    get, path = "/v1/products/{gtin}/batches/{lot}", tag = "registry",
    params(
        ("gtin" = String, Path, description = "GTIN-8, -12, -13 or -14"),
        ("lot" = String, Path, description = "Batch/lot label (GS1 AI 10), percent-encoded"),
    ),
    responses(
        (status = 200, description = "The batch", body = BatchView),
        (status = 400, description = "Not a valid GTIN or lot", body = ErrorBody),
        (status = 404, description = "No such batch", body = ErrorBody),
    )
)]
pub(crate) async fn batch(
    State(api): State<Shared>,
    PathParam((gtin, lot)): PathParam<(String, String)>,
) -> Result<Json<BatchView>, ApiError> {
    let gtin = parse_param(&gtin, Gtin::parse)?;
    parse_param(&lot, jitrace_types::gs1::validate_lot)?;
    let batch = read_record::<Batch>(api.state.as_ref(), StateKey::Batch(gtin, lot.clone()))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no batch {lot} of GTIN {gtin}")))?;
    Ok(Json(batch_view(&batch)))
}

/// A brand's authorised channels (distributors, retailers, logistics), a page of 1,000
/// channel organisations at a time, with every grant: public, so anyone can check a seller.
#[utoipa::path(
    get, path = "/v1/orgs/{id}/channels", tag = "registry",
    params(("id" = String, Path, description = "The brand"), PageQuery),
    responses(
        (status = 200, description = "A page of the brand's channels", body = ChannelList),
        (status = 400, description = "A bad id or page", body = ErrorBody),
        (status = 404, description = "No such organisation", body = ErrorBody),
    )
)]
pub(crate) async fn channels(
    State(api): State<Shared>,
    PathParam(text): PathParam<String>,
    query: Result<axum::extract::Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ChannelList>, ApiError> {
    let axum::extract::Query(PageQuery { page }) =
        query.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let brand = parse_param(&text, str::parse::<OrgId>)?;
    if read_record::<Org>(api.state.as_ref(), StateKey::Org(brand.clone()))
        .await?
        .is_none()
    {
        return Err(ApiError::NotFound(format!("no organisation {brand}")));
    }
    let mut reads = crate::verdict::Reads::new(api.state.as_ref());
    let total = reads
        .run(|r| jitrace_ledger::read::channel_count(r, &brand))
        .await?;
    let grants = reads
        .run(|r| jitrace_ledger::read::channel_authorisations(r, &brand, page))
        .await?;
    Ok(Json(ChannelList {
        brand: brand.to_string(),
        total,
        page,
        channels: grants.iter().map(crate::views::channel_view).collect(),
    }))
}

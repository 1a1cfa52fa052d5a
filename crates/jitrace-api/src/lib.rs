//! Jitrace's HTTP API: REST under /v1, the OpenAPI document and the API page.
//!
//! [`router`] builds the whole API as an `axum::Router` over an [`ApiState`], so the node serves
//! it and tests drive it with `tower::ServiceExt::oneshot`, without a server.
//!
//! Invariants:
//! - This crate is the only place where errors become HTTP status codes: every failure is an
//!   [`ApiError`], answered as `{"error":{"code","message"}}` with a stable `code`. Internal
//!   failures are logged; clients see only that one happened.
//! - No request can make the API panic: every parameter and body is parsed with errors mapped
//!   to 4xx, bodies are capped at [`MAX_BODY_BYTES`], and stored records that do not decode are
//!   500s, not panics.
//! - The API never decides a ledger rule. Submission checks only what the ledger would
//!   certainly refuse or what would waste the mempool (encoding, signature, chain id,
//!   duplicates, replayed nonces); the receipt carries the ledger's verdict.
//! - Wire types are `jitrace_client::dto`, shared with the client; conversions from domain
//!   records live in [`views`]. Every `/v1` route is registered through `utoipa_axum`, so the
//!   OpenAPI document cannot miss one.

mod admission;
pub mod alerts;
pub mod analytics;
mod assets;
pub mod auth;
pub mod b2b;
pub mod console;
mod console_b2b;
pub mod consumer;
mod endpoints;
mod error;
pub mod flows;
mod history;
mod lookup;
mod media;
mod pages;
pub mod scans;
mod source;
pub mod verdict;
pub mod views;

pub use admission::MAX_BODY_BYTES;
pub use error::ApiError;
pub use media::store_media;
pub use scans::{ScanGateway, device_pseudonym};
pub use source::{CachedState, MemoryState, StateSource};

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{Method, header},
    routing::get,
};
use jitrace_store::{BlockStore, IndexStore, Tip};
use jitrace_types::PublicKey;
use std::{path::PathBuf, sync::Arc};
use tower_http::cors::{Any, CorsLayer};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};
use utoipa_swagger_ui::SwaggerUi;

/// What the API reads and writes.
pub struct ApiState {
    /// The chain this node serves; submitted transactions must name it.
    pub chain_id: String,
    /// The validators' keys, for the status.
    pub validators: Vec<PublicKey>,
    /// Where admitted transactions wait.
    pub mempool: jitrace_chain::Mempool,
    /// Finalised blocks and certificates.
    pub store: Arc<BlockStore>,
    /// The latest finalised block, as the node publishes it.
    pub tip: tokio::sync::watch::Receiver<Option<Tip>>,
    /// The latest applied ledger state.
    pub state: Arc<dyn StateSource>,
    /// Where media files are stored (see [`store_media`]).
    pub media_dir: PathBuf,
    /// The consensus engine's own metrics (Prometheus text), appended to ours.
    pub engine_metrics: Arc<dyn Fn() -> String + Send + Sync>,
    /// Block execution timings.
    pub exec_stats: Arc<jitrace_chain::ExecStats>,
    /// `validator` or `observer`.
    pub role: String,
    /// Where `POST /v1/scans` queues scans; `None`: the node records no scans (503
    /// `scans_disabled`).
    pub scan_gateway: Option<Arc<ScanGateway>>,
    /// Verdicts already given at the current height.
    pub verdicts: verdict::VerdictCache,
    /// Brand alerts (see [`alerts`]), kept in `index`.
    pub alerts: Arc<alerts::AlertHub>,
    /// The off-chain index of finalised blocks: analytics, alerts and flows of goods (see
    /// [`analytics`], [`flows`]).
    pub index: Arc<IndexStore>,
    /// Console users and sessions (see [`console`]); `None`: the node serves no console.
    pub console: Option<Arc<jitrace_console::Console>>,
}

/// The state handlers share.
type Shared = Arc<ApiState>;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Jitrace API",
        description = "Read the consortium ledger of organisations, licences, products and code \
                       batches, and submit signed transactions.\n\nKeys, hashes and signatures \
                       are lower-case hex; GTINs are 14-digit strings; `*_ms` times are Unix \
                       milliseconds. Every error is `{\"error\":{\"code\",\"message\"}}` with a \
                       stable `code`.",
        license(name = "Apache-2.0"),
    ),
    tags(
        (name = "chain", description = "Status and finalised blocks"),
        (name = "transactions", description = "Submit transactions and read their receipts"),
        (name = "registry", description = "Accounts, organisations, licences, products and batches"),
        (name = "media", description = "Product photos, videos and documents by content hash"),
        (name = "codes", description = "Scan a printed product code: its verdict, recording scans, and its history"),
        (name = "alerts", description = "Brand alerts, listed and streamed (signed requests)"),
        (name = "analytics", description = "Scan counts and channel volumes for brands and their channels (signed requests)"),
    ),
    components(schemas(jitrace_client::dto::ErrorBody, jitrace_client::dto::ErrorDetail))
)]
struct ApiDoc;

/// The routes of the documented API and the OpenAPI document describing them.
pub(crate) fn documented_api() -> (Router<Shared>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(endpoints::status))
        .routes(routes!(endpoints::submit_tx))
        .merge(
            // Bulk submission reads bodies up to 4 MiB; everything else keeps the global limit
            // (the route's own limit is the inner layer, so it wins).
            OpenApiRouter::new()
                .routes(routes!(endpoints::submit_txs))
                .layer(DefaultBodyLimit::max(admission::MAX_BATCH_BODY_BYTES)),
        )
        .routes(routes!(endpoints::tx_status))
        .routes(routes!(endpoints::block))
        .routes(routes!(endpoints::account))
        .routes(routes!(endpoints::account_nonce))
        .routes(routes!(endpoints::orgs))
        .routes(routes!(endpoints::org))
        .routes(routes!(endpoints::channels))
        .routes(routes!(endpoints::licence))
        .routes(routes!(endpoints::product))
        .routes(routes!(endpoints::batches))
        .routes(routes!(endpoints::batch))
        .routes(routes!(media::media))
        .routes(routes!(alerts::list))
        .routes(routes!(alerts::stream))
        .routes(routes!(lookup::digital_link))
        .routes(routes!(lookup::verdict_query))
        .routes(routes!(lookup::record_scan))
        .routes(routes!(b2b::gate_receive))
        .routes(routes!(b2b::gate_check))
        .routes(routes!(b2b::gate_log))
        .routes(routes!(b2b::trace_back))
        .routes(routes!(b2b::trace_forward))
        .routes(routes!(b2b::recall))
        .routes(routes!(flows::flows))
        .routes(routes!(history::events))
        .routes(routes!(analytics::scans))
        .routes(routes!(analytics::channels))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(media::upload))
                .layer(DefaultBodyLimit::max(media::MAX_UPLOAD_BYTES)),
        )
        .split_for_parts()
}

/// The OpenAPI document of the API (also served at `/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented_api().1
}

/// The whole HTTP API over `state`, with the background task a node runs beside it (the
/// indexer of finalised blocks: analytics and alerts). Must be called inside a tokio runtime.
pub fn router_with_watchers(state: ApiState) -> Router {
    let state = Arc::new(state);
    analytics::spawn_indexer(state.clone());
    router_shared(state)
}

/// The whole HTTP API over `state`.
pub fn router(state: ApiState) -> Router {
    router_shared(Arc::new(state))
}

fn router_shared(state: Shared) -> Router {
    let (api, openapi) = documented_api();
    // Every write and every private read is signed, so any origin may call the API: a
    // partner's page can submit transactions and make signed reads.
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::OPTIONS])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]);
    api.route("/api", get(pages::index))
        .merge(console::routes())
        .route("/metrics", get(pages::metrics))
        .route("/healthz", get(pages::healthz))
        .route("/assets/{build}/{*path}", get(assets::serve))
        .route("/app", get(consumer::app))
        .route("/offline", get(consumer::offline))
        .route("/manifest.webmanifest", get(consumer::manifest_file))
        .route("/sw.js", get(consumer::service_worker))
        // Browsers ask for it on every page; an empty answer keeps their consoles clean.
        .route(
            "/favicon.ico",
            get(|| async { axum::http::StatusCode::NO_CONTENT }),
        )
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi))
        .fallback(pages::not_found)
        // Applies to the routes registered so far: keep it after the last route.
        .method_not_allowed_fallback(pages::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(cors)
        .with_state(state)
}

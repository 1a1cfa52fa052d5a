//! Typed HTTP client for a Jitrace node: used by the CLI, the load generator and tests.
//!
//! [`dto`] holds the wire types of the node's API; the API server serialises the very same
//! types, so the two cannot drift apart. [`Client`] wraps each endpoint in a typed method and
//! turns every failure into a [`ClientError`] a command-line user can act on.
//!
//! ```no_run
//! # async fn demo() -> Result<(), jitrace_client::ClientError> {
//! use jitrace_client::Client;
//!
//! let client = Client::new("http://127.0.0.1:8080");
//! let status = client.status().await?;
//! println!("{} at height {}", status.chain_id, status.height);
//! # Ok(()) }
//! ```

pub mod dto;

use dto::{
    AccountView, BatchList, BatchView, BlockView, ErrorBody, LicenceView, OrgList, OrgView,
    ProductView, Status, SubmitBatchRequest, SubmitBatchResponse, SubmitRequest, Submitted,
    TxState, TxStatus,
};
use jitrace_types::{Gtin, Hash, Payload, PublicKey, SecretKey, SignedTransaction, Transaction};
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;
use std::time::Duration;

/// How long one HTTP request may take before it fails with [`ClientError::Timeout`].
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How often [`Client::wait_for_tx`] polls.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Everything that can go wrong talking to a node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The node could not be reached (or the URL is unusable): the text names the URL and why.
    #[error("cannot reach the node at {0} — is `jitrace dev` running?")]
    Connect(String),
    /// The node answered with an error.
    #[error("the node refused the request ({status} {code}): {message}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The API's stable error code (e.g. `nonce_replayed`).
        code: String,
        message: String,
    },
    /// The node answered something this client does not understand.
    #[error("unexpected answer from the node: {0}")]
    Decode(String),
    /// A request, or a wait for a transaction, ran out of time.
    #[error("timed out waiting for the node")]
    Timeout,
}

/// The result of every client call.
pub type Result<T> = std::result::Result<T, ClientError>;

impl ClientError {
    /// Whether this is the API's 404 answer.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ClientError::Api { status: 404, .. })
    }
}

/// A client for one node's HTTP API. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    /// A client for the node at `base_url`, e.g. `http://127.0.0.1:8080`.
    pub fn new(base_url: impl Into<String>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            // Building fails only when a TLS backend cannot start; this client has none.
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            base: base_url.into().trim_end_matches('/').to_string(),
            http,
        }
    }

    /// The node's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The chain's status: `GET /v1/status`.
    pub async fn status(&self) -> Result<Status> {
        self.get(&["v1", "status"]).await
    }

    /// Submits a signed transaction: `POST /v1/tx`.
    pub async fn submit(&self, tx: &SignedTransaction) -> Result<Submitted> {
        let body = SubmitRequest {
            tx: hex::encode(tx.encode()),
        };
        let url = self.url(&["v1", "tx"])?;
        self.send(self.http.post(url).json(&body)).await
    }

    /// Submits up to 1,000 transactions at once: `POST /v1/txs`. Each has its own outcome.
    pub async fn submit_many(&self, txs: &[SignedTransaction]) -> Result<SubmitBatchResponse> {
        let body = SubmitBatchRequest {
            txs: txs.iter().map(|tx| hex::encode(tx.encode())).collect(),
        };
        let url = self.url(&["v1", "txs"])?;
        self.send(self.http.post(url).json(&body)).await
    }

    /// Uploads a product photo, video or document as `key` (a member of a brand, manufacturer or
    /// supplier): `POST /v1/media`, a signed request.
    pub async fn upload_media(
        &self,
        key: &SecretKey,
        bytes: Vec<u8>,
        mime: &str,
    ) -> Result<dto::MediaStored> {
        let url = self.url(&["v1", "media"])?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let auth = jitrace_types::keys::authorization_header(key, "POST", url.path(), now, &bytes);
        self.send(
            self.http
                .post(url)
                .header(reqwest::header::AUTHORIZATION, auth)
                .header(reqwest::header::CONTENT_TYPE, mime)
                .body(bytes),
        )
        .await
    }

    /// The verdict on a scanned code: `GET /v1/verdict?uri=…[&lat=…&lon=…]` (decimal degrees).
    pub async fn verdict(&self, uri: &str, position: Option<(f64, f64)>) -> Result<dto::Verdict> {
        let mut url = self.url(&["v1", "verdict"])?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("uri", uri);
            if let Some((lat, lon)) = position {
                query.append_pair("lat", &lat.to_string());
                query.append_pair("lon", &lon.to_string());
            }
        }
        self.send(self.http.get(url)).await
    }

    /// Records a consumer scan and answers its verdict: `POST /v1/scans`. The node keeps only
    /// the scan's ~5 km cell and a hash of `device`; `scan_queued` says whether it will reach
    /// the ledger (for clone detection).
    pub async fn scan(&self, scan: &dto::ScanRequest) -> Result<dto::Verdict> {
        let url = self.url(&["v1", "scans"])?;
        self.send(self.http.post(url).json(scan)).await
    }

    /// A brand's alerts, as a member of the brand: `GET /v1/alerts?brand=…` (a signed request).
    pub async fn alerts(&self, key: &SecretKey, brand: &str, after: u64) -> Result<dto::AlertList> {
        let mut url = self.url(&["v1", "alerts"])?;
        url.query_pairs_mut()
            .append_pair("brand", brand)
            .append_pair("after", &after.to_string());
        self.get_maybe_signed(url, Some(key)).await
    }

    /// An organisation's flows of goods: `GET /v1/flows/{org}`, signed by a member's `key`.
    /// The counts per role and status; with `role` (`holder` or `issuer`, and optionally a
    /// `status`), a page of at most `limit` codes after the cursor `after`.
    pub async fn flows(
        &self,
        key: &SecretKey,
        org: &str,
        role: Option<&str>,
        status: Option<&str>,
        after: Option<&str>,
        limit: Option<usize>,
    ) -> Result<dto::FlowsView> {
        let limit = limit.map(|n| n.to_string());
        let query: Vec<(&str, &str)> = [
            ("role", role),
            ("status", status),
            ("after", after),
            ("limit", limit.as_deref()),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .collect();
        self.signed_get(key, &["v1", "flows", org], &query).await
    }

    /// A page of a code's events from index `from`: `GET /v1/codes/{gtin}/{serial}/events`.
    /// Signed by `key` when given (the private view, for the organisations entitled to it);
    /// the public view needs the printed code's `signature` (AI 8030).
    pub async fn code_history(
        &self,
        key: Option<&SecretKey>,
        gtin: &Gtin,
        serial: u64,
        signature: Option<&str>,
        from: u32,
    ) -> Result<dto::CodeHistory> {
        let mut url = self.url(&["v1", "codes", gtin.as_str(), &serial.to_string(), "events"])?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("from", &from.to_string());
            if let Some(signature) = signature {
                query.append_pair("8030", signature);
            }
        }
        self.get_maybe_signed(url, key).await
    }

    /// A page of a brand's scan counts between two UTC dates (`YYYY-MM-DD`, inclusive), as a
    /// member of the brand: `GET /v1/analytics/scans` (a signed request). `after` is the
    /// previous page's `next`.
    pub async fn scan_analytics(
        &self,
        key: &SecretKey,
        brand: &str,
        days: (&str, &str),
        after: Option<&str>,
    ) -> Result<dto::ScanAnalytics> {
        self.analytics("scans", key, brand, days, after).await
    }

    /// A page of a brand's channel volumes between two UTC dates, as a member of the brand or
    /// of one of its channels (which reads its own): `GET /v1/analytics/channels` (signed).
    pub async fn channel_volumes(
        &self,
        key: &SecretKey,
        brand: &str,
        days: (&str, &str),
        after: Option<&str>,
    ) -> Result<dto::ChannelVolumes> {
        self.analytics("channels", key, brand, days, after).await
    }

    async fn analytics<T: DeserializeOwned>(
        &self,
        which: &str,
        key: &SecretKey,
        brand: &str,
        (from, to): (&str, &str),
        after: Option<&str>,
    ) -> Result<T> {
        let mut url = self.url(&["v1", "analytics", which])?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("brand", brand)
                .append_pair("from", from)
                .append_pair("to", to);
            if let Some(after) = after {
                query.append_pair("after", after);
            }
        }
        self.get_maybe_signed(url, Some(key)).await
    }

    /// A GET, signed by `key` when given (`Authorization: Jitrace …` over the path and query).
    async fn get_maybe_signed<T: DeserializeOwned>(
        &self,
        url: Url,
        key: Option<&SecretKey>,
    ) -> Result<T> {
        let mut request = self.http.get(url.clone());
        if let Some(key) = key {
            let auth = Self::authorization(key, "GET", &url, b"");
            request = request.header(reqwest::header::AUTHORIZATION, auth);
        }
        self.send(request).await
    }

    /// A signed `GET` of `segments` with `query`, as `key`.
    pub async fn signed_get<T: DeserializeOwned>(
        &self,
        key: &SecretKey,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<T> {
        let mut url = self.url(segments)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        self.get_maybe_signed(url, Some(key)).await
    }

    /// A signed `POST` of `body` as JSON to `segments`, as `key`.
    pub async fn signed_post<B: serde::Serialize, T: DeserializeOwned>(
        &self,
        key: &SecretKey,
        segments: &[&str],
        body: &B,
    ) -> Result<T> {
        let url = self.url(segments)?;
        let bytes = serde_json::to_vec(body).map_err(|e| ClientError::Connect(e.to_string()))?;
        let auth = Self::authorization(key, "POST", &url, &bytes);
        self.send(
            self.http
                .post(url)
                .header(reqwest::header::AUTHORIZATION, auth)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(bytes),
        )
        .await
    }

    fn authorization(key: &SecretKey, method: &str, url: &Url, body: &[u8]) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        };
        jitrace_types::keys::authorization_header(key, method, &path, now, body)
    }

    /// Receives parts at a manufacturer's gate: signs `payload` (a `gate_receive`) with the
    /// key's next nonce and posts it to `POST /v1/gate/receive`; answers every part's verdict.
    pub async fn gate_receive(&self, key: &SecretKey, payload: Payload) -> Result<dto::GateReport> {
        let tx = self.signed_tx(key, payload).await?;
        let url = self.url(&["v1", "gate", "receive"])?;
        self.send(self.http.post(url).json(&dto::SubmitRequest {
            tx: hex::encode(tx.encode()),
        }))
        .await
    }

    /// A page of a brand's authorised channels: `GET /v1/orgs/{brand}/channels`.
    pub async fn channels(&self, brand: &str, page: u32) -> Result<dto::ChannelList> {
        let mut url = self.url(&["v1", "orgs", brand, "channels"])?;
        url.query_pairs_mut().append_pair("page", &page.to_string());
        self.send(self.http.get(url)).await
    }

    /// A transaction's status: `GET /v1/tx/{hash}`.
    pub async fn tx(&self, hash: &Hash) -> Result<TxStatus> {
        self.get(&["v1", "tx", &hash.to_hex()]).await
    }

    /// Polls a transaction every 100 ms until a block has executed it (its status is no longer
    /// pending), or fails with [`ClientError::Timeout`] after `timeout`.
    ///
    /// A 404 counts as pending: a node may briefly know a transaction neither in its mempool nor
    /// in its state while a block is being applied.
    pub async fn wait_for_tx(&self, hash: &Hash, timeout: Duration) -> Result<TxStatus> {
        let poll = async {
            loop {
                match self.tx(hash).await {
                    Ok(status) if status.status != TxState::Pending => return Ok(status),
                    Ok(_) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        };
        tokio::time::timeout(timeout, poll)
            .await
            .map_err(|_| ClientError::Timeout)?
    }

    /// A key's account: `GET /v1/accounts/{key}`; `None` if the key has none yet.
    pub async fn account(&self, key: &PublicKey) -> Result<Option<AccountView>> {
        match self.get(&["v1", "accounts", &key.to_hex()]).await {
            Ok(account) => Ok(Some(account)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A finalised block: `GET /v1/blocks/{height}`.
    pub async fn block(&self, height: u64) -> Result<BlockView> {
        self.get(&["v1", "blocks", &height.to_string()]).await
    }

    /// The latest finalised block: `GET /v1/blocks/latest`.
    pub async fn latest_block(&self) -> Result<BlockView> {
        self.get(&["v1", "blocks", "latest"]).await
    }

    /// Every organisation: `GET /v1/orgs`.
    pub async fn orgs(&self) -> Result<OrgList> {
        self.get(&["v1", "orgs"]).await
    }

    /// One organisation: `GET /v1/orgs/{id}`.
    pub async fn org(&self, id: &str) -> Result<OrgView> {
        self.get(&["v1", "orgs", id]).await
    }

    /// One licence: `GET /v1/licences/{id}`.
    pub async fn licence(&self, id: &str) -> Result<LicenceView> {
        self.get(&["v1", "licences", id]).await
    }

    /// One product: `GET /v1/products/{gtin}`.
    pub async fn product(&self, gtin: &Gtin) -> Result<ProductView> {
        self.get(&["v1", "products", gtin.as_str()]).await
    }

    /// A product's batches, by first serial: `GET /v1/products/{gtin}/batches`.
    pub async fn batches(&self, gtin: &Gtin) -> Result<Vec<BatchView>> {
        let list: BatchList = self
            .get(&["v1", "products", gtin.as_str(), "batches"])
            .await?;
        Ok(list.batches)
    }

    /// One batch: `GET /v1/products/{gtin}/batches/{lot}`.
    pub async fn batch(&self, gtin: &Gtin, lot: &str) -> Result<BatchView> {
        self.get(&["v1", "products", gtin.as_str(), "batches", lot])
            .await
    }

    /// Signs `payload` with `key` for this node's chain, with the key's next nonce, and submits
    /// it.
    ///
    /// The nonce is the account's last accepted nonce + 1 (1 for a new key). Transactions of
    /// the same key still waiting in the mempool are not counted: submit the next one after
    /// the previous one has executed ([`Client::wait_for_tx`]), or sign nonces yourself.
    pub async fn sign_and_submit(&self, key: &SecretKey, payload: Payload) -> Result<Submitted> {
        let tx = self.signed_tx(key, payload).await?;
        self.submit(&tx).await
    }

    /// `payload` signed by `key` for this node's chain with the key's next nonce (see
    /// [`Client::sign_and_submit`]).
    pub async fn signed_tx(&self, key: &SecretKey, payload: Payload) -> Result<SignedTransaction> {
        let status = self.status().await?;
        let signer = key.public_key();
        let nonce = self
            .account(&signer)
            .await?
            .map_or(1, |account| account.nonce.saturating_add(1));
        let tx = Transaction {
            chain_id: status.chain_id,
            signer,
            nonce,
            payload,
        };
        Ok(tx.sign(key))
    }

    /// The URL of `segments` under the base URL, each segment percent-encoded.
    fn url(&self, segments: &[&str]) -> Result<Url> {
        let bad = |reason: &str| ClientError::Connect(format!("{}: {reason}", self.base));
        let mut url = Url::parse(&self.base).map_err(|e| bad(&format!("invalid URL ({e})")))?;
        url.path_segments_mut()
            .map_err(|()| bad("not an http(s) base URL"))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    async fn get<T: DeserializeOwned>(&self, segments: &[&str]) -> Result<T> {
        let url = self.url(segments)?;
        self.send(self.http.get(url)).await
    }

    /// Sends a request and reads a JSON answer, or the API's error body.
    async fn send<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T> {
        let response = request.send().await.map_err(|e| self.transport_error(&e))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(&e))?;
        if !status.is_success() {
            return Err(api_error(status, &body));
        }
        serde_json::from_slice(&body).map_err(|e| {
            ClientError::Decode(format!(
                "{} is not the expected JSON ({e})",
                String::from_utf8_lossy(truncate(&body))
            ))
        })
    }

    fn transport_error(&self, error: &reqwest::Error) -> ClientError {
        if error.is_timeout() {
            return ClientError::Timeout;
        }
        ClientError::Connect(format!("{}: {}", self.base, error_chain(error)))
    }
}

/// The API's error for a non-2xx answer, from its JSON body when it has one.
fn api_error(status: StatusCode, body: &[u8]) -> ClientError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody { error }) => ClientError::Api {
            status: status.as_u16(),
            code: error.code,
            message: error.message,
        },
        Err(_) => ClientError::Api {
            status: status.as_u16(),
            code: "unexpected_response".into(),
            message: format!(
                "{}: {}",
                status,
                String::from_utf8_lossy(truncate(body)).trim()
            ),
        },
    }
}

/// An error and its causes on one line (`reqwest` puts the useful part, e.g. "connection
/// refused", in the sources).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// At most the first 200 bytes, for error messages.
fn truncate(body: &[u8]) -> &[u8] {
    &body[..body.len().min(200)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_well() {
        let connect = ClientError::Connect("http://127.0.0.1:9: connection refused".into());
        assert_eq!(
            connect.to_string(),
            "cannot reach the node at http://127.0.0.1:9: connection refused — is `jitrace dev` \
             running?"
        );
        let api = api_error(
            StatusCode::CONFLICT,
            br#"{"error":{"code":"duplicate","message":"already executed"}}"#,
        );
        assert_eq!(
            api,
            ClientError::Api {
                status: 409,
                code: "duplicate".into(),
                message: "already executed".into()
            }
        );
        assert_eq!(
            api.to_string(),
            "the node refused the request (409 duplicate): already executed"
        );
        let plain = api_error(StatusCode::BAD_GATEWAY, b"upstream down\n");
        assert_eq!(
            plain.to_string(),
            "the node refused the request (502 unexpected_response): 502 Bad Gateway: upstream \
             down"
        );
    }

    #[test]
    fn urls_encode_segments_and_keep_a_base_path() {
        let client = Client::new("http://node:8080/jitrace/");
        assert_eq!(client.base_url(), "http://node:8080/jitrace");
        let url = client
            .url(&["v1", "products", "1", "batches", "A/B 1"])
            .unwrap();
        assert_eq!(
            url.as_str(),
            "http://node:8080/jitrace/v1/products/1/batches/A%2FB%201"
        );
        assert!(matches!(
            Client::new("not a url").url(&["v1"]),
            Err(ClientError::Connect(_))
        ));
    }
}

//! Authenticated requests: a client signs each request with an organisation member's key; the
//! API checks the signature, the clock skew, and which organisations the key belongs to.
//!
//! Header: `Authorization: Jitrace key=<hex>, ts=<unix ms>, sig=<hex>` where `sig` signs
//! [`jitrace_types::keys::request_message`] in domain `API_REQUEST`. The body's SHA-256 is part
//! of the message, so a captured header cannot carry another body; the time bounds replay.

use crate::{ApiError, ApiState, source::read_record};
use axum::http::{HeaderMap, Method, Uri, header};
use jitrace_ledger::state::{Account, Org, StateKey};
use jitrace_types::{Hash, OrgId, PublicKey, Signature, keys};
use std::time::{SystemTime, UNIX_EPOCH};

/// How far a request's time may be from the node's clock.
pub const MAX_SKEW_MS: u64 = 5 * 60 * 1000;

/// A verified caller.
#[derive(Clone, Debug)]
pub struct Caller {
    pub key: PublicKey,
    /// The organisations the key is a member of.
    pub orgs: Vec<Org>,
}

impl Caller {
    /// Whether the caller is a member of an organisation with a role that issues codes.
    pub fn issues_codes(&self) -> bool {
        self.orgs
            .iter()
            .any(|o| o.roles.iter().any(|r| r.issues_codes()))
    }

    /// Whether the caller is a member of `org`.
    pub fn member_of(&self, org: &OrgId) -> bool {
        self.orgs.iter().any(|o| &o.id == org)
    }
}

fn unauthorised(message: impl Into<String>) -> ApiError {
    ApiError::Unauthorised(message.into())
}

/// Parses `Jitrace key=.., ts=.., sig=..`.
fn parse(value: &str) -> Result<(PublicKey, u64, Signature), ApiError> {
    let rest = value.strip_prefix("Jitrace ").ok_or_else(|| {
        unauthorised("Authorization must be `Jitrace key=<hex>, ts=<ms>, sig=<hex>`")
    })?;
    let (mut key, mut ts, mut sig) = (None, None, None);
    for part in rest.split(',') {
        let (name, value) = part
            .trim()
            .split_once('=')
            .ok_or_else(|| unauthorised("Authorization parameters are name=value"))?;
        match name {
            "key" => {
                key = Some(PublicKey::from_hex(value).map_err(|e| unauthorised(e.to_string()))?)
            }
            "ts" => {
                ts = Some(
                    value
                        .parse::<u64>()
                        .map_err(|_| unauthorised("ts must be Unix milliseconds"))?,
                )
            }
            "sig" => {
                sig = Some(Signature::from_hex(value).map_err(|e| unauthorised(e.to_string()))?)
            }
            _ => {
                return Err(unauthorised(format!(
                    "unknown Authorization parameter {name:?}"
                )));
            }
        }
    }
    match (key, ts, sig) {
        (Some(key), Some(ts), Some(sig)) => Ok((key, ts, sig)),
        _ => Err(unauthorised("Authorization needs key, ts and sig")),
    }
}

/// Verifies a signed request and resolves the caller's organisations.
pub async fn authenticate(
    api: &ApiState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body_sha256: &Hash,
) -> Result<Caller, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| {
            unauthorised("this endpoint needs a signed request (Authorization: Jitrace ...)")
        })?
        .to_str()
        .map_err(|_| unauthorised("the Authorization header is not text"))?;
    let (key, ts, signature) = parse(value)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    if now.abs_diff(ts) > MAX_SKEW_MS {
        return Err(unauthorised(
            "the request's time is more than 5 minutes from the node's clock",
        ));
    }
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let message = keys::request_message(method.as_str(), path, ts, body_sha256);
    if !key.verify(keys::domain::API_REQUEST, &message, &signature) {
        return Err(unauthorised("the request signature does not verify"));
    }
    let account = read_record::<Account>(api.state.as_ref(), StateKey::Account(key))
        .await?
        .ok_or_else(|| {
            ApiError::Forbidden(format!("key {key} is not a member of any organisation"))
        })?;
    let mut orgs = Vec::new();
    for id in account.orgs {
        if let Some(org) = read_record::<Org>(api.state.as_ref(), StateKey::Org(id)).await?
            && org.members.contains(&key)
        {
            orgs.push(org);
        }
    }
    if orgs.is_empty() {
        return Err(ApiError::Forbidden(format!(
            "key {key} is not a member of any organisation"
        )));
    }
    Ok(Caller { key, orgs })
}

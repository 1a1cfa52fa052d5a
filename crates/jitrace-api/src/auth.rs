//! Authenticated requests: a client signs each request with an organisation member's key; the
//! API checks the signature, the clock skew, and which organisations the key belongs to.
//!
//! Header: `Authorization: Jitrace key=<hex>, ts=<unix ms>, sig=<hex>` where `sig` signs
//! [`jitrace_types::keys::request_message`] in domain `API_REQUEST`. The body's SHA-256 is part
//! of the message, so a captured header cannot carry another body; the time bounds replay.
//!
//! A scoped API token ([`jitrace_types::token`]) adds `, token=<hex>`: the request is signed by
//! the token's key, and the caller is the token's organisation, for the token's scope only, as
//! long as the grantor is still one of its members and the token has not expired. Endpoints say
//! which scope they accept ([`Access`]); tokens never write.

use crate::{ApiError, ApiState, source::read_record};
use axum::http::{HeaderMap, Method, Uri, header};
use jitrace_ledger::state::{Account, Org, StateKey};
use jitrace_types::{
    Hash, OrgId, PublicKey, Signature, keys,
    token::{ApiToken, Scope},
};
use std::time::{SystemTime, UNIX_EPOCH};

/// How far a request's time may be from the node's clock.
pub const MAX_SKEW_MS: u64 = 5 * 60 * 1000;

/// What an endpoint accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Only a member's own key (writes).
    Member,
    /// A member's key, or a token with this scope.
    Read(Scope),
}

/// A verified caller.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The member key: the signer's own, or the grantor of the token it signed with.
    pub key: PublicKey,
    /// The organisations the caller acts for (a token's: its one organisation).
    pub orgs: Vec<Org>,
    /// The token's scope, when the request was signed with a token.
    pub scope: Option<Scope>,
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

/// The parts of an `Authorization: Jitrace ...` header.
struct Signed {
    key: PublicKey,
    ts: u64,
    sig: Signature,
    token: Option<ApiToken>,
}

/// Parses `Jitrace key=.., ts=.., sig=..[, token=..]`.
fn parse(value: &str) -> Result<Signed, ApiError> {
    let rest = value.strip_prefix("Jitrace ").ok_or_else(|| {
        unauthorised("Authorization must be `Jitrace key=<hex>, ts=<ms>, sig=<hex>`")
    })?;
    let (mut key, mut ts, mut sig, mut token) = (None, None, None, None);
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
            "token" => {
                token = Some(ApiToken::parse(value).map_err(|e| unauthorised(e.to_string()))?)
            }
            _ => {
                return Err(unauthorised(format!(
                    "unknown Authorization parameter {name:?}"
                )));
            }
        }
    }
    match (key, ts, sig) {
        (Some(key), Some(ts), Some(sig)) => Ok(Signed {
            key,
            ts,
            sig,
            token,
        }),
        _ => Err(unauthorised("Authorization needs key, ts and sig")),
    }
}

/// Verifies a signed request and resolves the caller's organisations; `access` says whether a
/// token may sign it, and with which scope.
pub async fn authenticate(
    api: &ApiState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body_sha256: &Hash,
    access: Access,
) -> Result<Caller, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| {
            unauthorised("this endpoint needs a signed request (Authorization: Jitrace ...)")
        })?
        .to_str()
        .map_err(|_| unauthorised("the Authorization header is not text"))?;
    let Signed {
        key,
        ts,
        sig,
        token,
    } = parse(value)?;
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
    if !key.verify(keys::domain::API_REQUEST, &message, &sig) {
        return Err(unauthorised("the request signature does not verify"));
    }
    match token {
        Some(token) => token_caller(api, key, &token, now, access).await,
        None => member_caller(api, key).await,
    }
}

/// The caller of a request signed with a token's key.
async fn token_caller(
    api: &ApiState,
    key: PublicKey,
    token: &ApiToken,
    now: u64,
    access: Access,
) -> Result<Caller, ApiError> {
    let grant = &token.grant;
    if grant.key != key || !token.signature_valid() {
        return Err(unauthorised(
            "the token was not granted to this key by its grantor",
        ));
    }
    if grant.expires_ms <= now {
        return Err(unauthorised("the token has expired"));
    }
    if access != Access::Read(grant.scope) {
        return Err(ApiError::Forbidden(format!(
            "a {} token cannot do this",
            grant.scope.as_str()
        )));
    }
    let org = read_record::<Org>(api.state.as_ref(), StateKey::Org(grant.org.clone()))
        .await?
        .filter(|org| org.members.contains(&grant.grantor))
        .ok_or_else(|| {
            ApiError::Forbidden(format!(
                "the token's grantor is no longer a member of {}",
                grant.org
            ))
        })?;
    Ok(Caller {
        key: grant.grantor,
        orgs: vec![org],
        scope: Some(grant.scope),
    })
}

/// The caller of a request signed with a member's own key.
async fn member_caller(api: &ApiState, key: PublicKey) -> Result<Caller, ApiError> {
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
    Ok(Caller {
        key,
        orgs,
        scope: None,
    })
}

//! Scoped API tokens: a member of an organisation lets another key (a server's, a dashboard's)
//! make signed reads for the organisation, for one [`Scope`], until an expiry — without handing
//! over the member's own key.
//!
//! A token is a [`TokenGrant`] signed by the granting member's key in domain
//! [`domain::API_TOKEN`](crate::keys::domain::API_TOKEN). Requests are signed by the token's
//! key as usual and carry the token in the `Authorization` header
//! ([`authorization_header_with_token`]). The API checks the grant's signature, its expiry, its
//! scope, and that the grantor is still a member of the organisation — so removing the member
//! revokes every token it granted. Tokens never sign transactions.

use crate::{
    Error, OrgId,
    keys::{PublicKey, SecretKey, Signature, authorization_header, domain},
};
use borsh::{BorshDeserialize, BorshSerialize};

/// Longest token text accepted, in hex characters.
pub const MAX_TOKEN_HEX: usize = 1_024;

/// What a token may read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[borsh(use_discriminant = true)]
pub enum Scope {
    /// Scan analytics and channel volumes: `read:analytics`.
    ReadAnalytics = 0,
    /// Brand alerts, listed and streamed: `read:alerts`.
    ReadAlerts = 1,
    /// Codes' private histories: `read:history`.
    ReadHistory = 2,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 3] = [Scope::ReadAnalytics, Scope::ReadAlerts, Scope::ReadHistory];

    /// The scope's name, e.g. `read:analytics`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ReadAnalytics => "read:analytics",
            Scope::ReadAlerts => "read:alerts",
            Scope::ReadHistory => "read:history",
        }
    }

    /// The scope named `name`.
    pub fn parse(name: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| Error::InvalidField {
                field: "scope",
                reason: format!("{name:?} is not one of read:analytics, read:alerts, read:history"),
            })
    }
}

/// What a token's grantor signs.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct TokenGrant {
    /// The organisation the token reads for.
    pub org: OrgId,
    /// The member key that grants it (and signs this grant).
    pub grantor: PublicKey,
    /// The key that signs the token's requests.
    pub key: PublicKey,
    pub scope: Scope,
    /// Unix milliseconds after which the token is refused.
    pub expires_ms: u64,
}

/// A grant and its grantor's signature.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ApiToken {
    pub grant: TokenGrant,
    pub signature: Signature,
}

impl ApiToken {
    /// `grantor` grants `key` `scope` for `org` until `expires_ms`.
    pub fn issue(
        grantor: &SecretKey,
        org: OrgId,
        key: PublicKey,
        scope: Scope,
        expires_ms: u64,
    ) -> Self {
        let grant = TokenGrant {
            org,
            grantor: grantor.public_key(),
            key,
            scope,
            expires_ms,
        };
        let signature = grantor.sign(domain::API_TOKEN, &grant_message(&grant));
        Self { grant, signature }
    }

    /// Whether the grantor signed the grant (expiry and membership are the verifier's to check).
    pub fn signature_valid(&self) -> bool {
        self.grant.grantor.verify(
            domain::API_TOKEN,
            &grant_message(&self.grant),
            &self.signature,
        )
    }

    /// The token as it travels: lower-case hex of its borsh encoding.
    pub fn to_text(&self) -> String {
        hex::encode(borsh::to_vec(self).unwrap_or_default())
    }

    /// Parses [`ApiToken::to_text`] (at most [`MAX_TOKEN_HEX`] characters, no trailing bytes).
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = |reason: &str| Error::BadEncoding {
            kind: "API token",
            reason: reason.into(),
        };
        if text.len() > MAX_TOKEN_HEX {
            return Err(bad("too long"));
        }
        let bytes = hex::decode(text).map_err(|_| bad("not hex"))?;
        borsh::from_slice(&bytes).map_err(|_| bad("not a token"))
    }
}

fn grant_message(grant: &TokenGrant) -> Vec<u8> {
    borsh::to_vec(grant).unwrap_or_default()
}

/// The `Authorization` header value of a request signed by a token's key, carrying the token.
pub fn authorization_header_with_token(
    token_key: &SecretKey,
    token: &ApiToken,
    method: &str,
    path_and_query: &str,
    time_ms: u64,
    body: &[u8],
) -> String {
    format!(
        "{}, token={}",
        authorization_header(token_key, method, path_and_query, time_ms, body),
        token.to_text()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_only_the_grantor_signs_them() {
        let member = SecretKey::from_seed(1);
        let server = SecretKey::from_seed(2);
        let token = ApiToken::issue(
            &member,
            OrgId::new("acme").unwrap(),
            server.public_key(),
            Scope::ReadAnalytics,
            1_000,
        );
        assert!(token.signature_valid());
        let parsed = ApiToken::parse(&token.to_text()).unwrap();
        assert_eq!(parsed, token);
        let mut widened = token.clone();
        widened.grant.scope = Scope::ReadHistory;
        assert!(!widened.signature_valid());
        let mut stolen = token.clone();
        stolen.grant.grantor = server.public_key();
        assert!(!stolen.signature_valid());
        assert!(ApiToken::parse("zz").is_err());
        assert!(ApiToken::parse(&"00".repeat(MAX_TOKEN_HEX)).is_err());
        assert!(ApiToken::parse(&format!("{}00", token.to_text())).is_err());
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()).unwrap(), scope);
        }
        assert!(Scope::parse("write:everything").is_err());
    }
}

//! Names of things on the ledger: organisations, licences, roles, and bounded text.

use crate::Error;
use borsh::{BorshDeserialize, BorshSerialize};
use std::fmt;

/// Longest identifier (organisation, licence, lot label) in bytes.
pub const MAX_ID_LEN: usize = 64;

/// Checks an identifier: 1–64 characters, lower-case ASCII letters, digits, `-`, `_`, `.`,
/// starting with a letter or digit. Ids appear in URLs and file names, so they stay plain.
pub fn validate_id(field: &'static str, id: &str) -> Result<(), Error> {
    let bad = |reason: &str| {
        Err(Error::InvalidField {
            field,
            reason: reason.to_string(),
        })
    };
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return bad("must be 1 to 64 characters");
    }
    if !id.as_bytes()[0].is_ascii_alphanumeric() {
        return bad("must start with a letter or digit");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'))
    {
        return bad("may hold only a-z, 0-9, '-', '_' and '.'");
    }
    Ok(())
}

/// Checks free text: at most `max` bytes, no control characters other than newline and tab.
pub fn validate_text(
    field: &'static str,
    text: &str,
    max: usize,
    required: bool,
) -> Result<(), Error> {
    if required && text.trim().is_empty() {
        return Err(Error::InvalidField {
            field,
            reason: "must not be empty".into(),
        });
    }
    if text.len() > max {
        return Err(Error::InvalidField {
            field,
            reason: format!("must be at most {max} bytes"),
        });
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(Error::InvalidField {
            field,
            reason: "must not contain control characters".into(),
        });
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize)]
        pub struct $name(String);

        impl $name {
            /// Parses and checks an identifier.
            pub fn new(id: impl Into<String>) -> Result<Self, Error> {
                let id = id.into();
                validate_id($field, &id)?;
                Ok(Self(id))
            }

            /// The identifier text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl BorshDeserialize for $name {
            fn deserialize_reader<R: std::io::Read>(reader: &mut R) -> std::io::Result<Self> {
                let text = String::deserialize_reader(reader)?;
                Self::new(text).map_err(|e| {
                    std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::new(s)
            }
        }
    };
}

string_id!(
    /// An organisation's id, chosen at registration (e.g. `acme-wines`).
    OrgId,
    "org id"
);
string_id!(
    /// A licence's id, chosen by the platform operator (e.g. `acme-2026`).
    LicenceId,
    "licence id"
);

/// What an organisation may do on the ledger. An organisation can hold several roles.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum Role {
    /// The consortium operator: onboards organisations and licenses brands.
    Platform = 0,
    /// Owns products and issues their codes under a licence.
    Brand = 1,
    /// Assembles finished goods from parts.
    Manufacturer = 2,
    /// Makes or resells parts for manufacturers.
    Supplier = 3,
    /// Wholesale channel.
    Distributor = 4,
    /// Sells to consumers.
    Retailer = 5,
    /// Carries goods between custodians.
    Logistics = 6,
}

impl Role {
    /// Every role, in code order.
    pub const ALL: [Role; 7] = [
        Role::Platform,
        Role::Brand,
        Role::Manufacturer,
        Role::Supplier,
        Role::Distributor,
        Role::Retailer,
        Role::Logistics,
    ];

    /// The lower-case name used in APIs and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Platform => "platform",
            Role::Brand => "brand",
            Role::Manufacturer => "manufacturer",
            Role::Supplier => "supplier",
            Role::Distributor => "distributor",
            Role::Retailer => "retailer",
            Role::Logistics => "logistics",
        }
    }

    /// Roles that may own products and issue codes.
    pub fn issues_codes(self) -> bool {
        matches!(self, Role::Brand | Role::Manufacturer | Role::Supplier)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| Error::InvalidField {
                field: "role",
                reason: format!(
                    "unknown role {s:?}; expected one of platform, brand, manufacturer, supplier, \
                 distributor, retailer, logistics"
                ),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert!(OrgId::new("acme-wines").is_ok());
        assert!(OrgId::new("").is_err());
        assert!(OrgId::new("Acme").is_err());
        assert!(OrgId::new("-acme").is_err());
        assert!(OrgId::new("a".repeat(65)).is_err());
        assert!(LicenceId::new("lic.2026_01").is_ok());
    }

    #[test]
    fn borsh_rejects_invalid_ids() {
        let bytes = borsh::to_vec(&"Bad Id".to_string()).unwrap();
        assert!(borsh::from_slice::<OrgId>(&bytes).is_err());
        let good = borsh::to_vec(&OrgId::new("ok").unwrap()).unwrap();
        assert_eq!(borsh::from_slice::<OrgId>(&good).unwrap().as_str(), "ok");
    }

    #[test]
    fn roles_parse() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("consumer".parse::<Role>().is_err());
    }
}

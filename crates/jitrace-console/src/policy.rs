//! What a console user may send: the payload kinds of their organisation's ledger roles,
//! narrowed by their console role. The ledger still decides every rule at execution; this is
//! the console's own gate, so a viewer cannot sign anything and an operator cannot change who
//! is a member.

use borsh::{BorshDeserialize, BorshSerialize};
use jitrace_types::Role;

/// A user's role within the console, on top of the organisation's ledger roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize)]
#[borsh(use_discriminant = true)]
pub enum ConsoleRole {
    /// Everything the organisation may do, including its members and console users.
    Admin = 0,
    /// The organisation's day-to-day transactions, not its membership.
    Operator = 1,
    /// Reads only.
    Viewer = 2,
}

impl ConsoleRole {
    /// Every console role.
    pub const ALL: [ConsoleRole; 3] = [
        ConsoleRole::Admin,
        ConsoleRole::Operator,
        ConsoleRole::Viewer,
    ];

    /// `admin`, `operator` or `viewer`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsoleRole::Admin => "admin",
            ConsoleRole::Operator => "operator",
            ConsoleRole::Viewer => "viewer",
        }
    }

    /// The role named `text`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// Kinds only a console admin may send: who belongs to an organisation.
const MEMBERSHIP: &[&str] = &["add_member", "remove_member"];
/// The consortium's own: onboarding, licences, the scan gateway's scans.
const PLATFORM: &[&str] = &[
    "register_org",
    "issue_licence",
    "revoke_licence",
    "record_scans",
];
/// Whoever issues codes: code keys, batches, the codes' events, recalls.
const CODES: &[&str] = &[
    "register_code_key",
    "revoke_code_key",
    "issue_code_batch",
    "record_code_event",
    "start_recall",
    "close_recall",
];
/// Product owners: products, their channels, voided labels.
const PRODUCTS: &[&str] = &[
    "register_product",
    "update_product",
    "authorise_channel",
    "revoke_channel",
    "void_codes",
];
/// Manufacturers: suppliers, the receiving gate, assembly, pallets.
const MAKING: &[&str] = &[
    "authorise_supplier",
    "revoke_supplier",
    "gate_receive",
    "assemble",
    "pack_pallet",
];
/// Suppliers: their part types (products under their own GS1 prefix), lots and pallets.
const SUPPLYING: &[&str] = &[
    "register_product",
    "update_product",
    "record_lot",
    "pack_pallet",
];
/// Channels: the events of goods in their custody, pallets, assembly.
const CHANNEL: &[&str] = &["record_code_event", "pack_pallet", "assemble"];

/// The payload kinds an organisation with `role` sends (`Payload::kind`). Owners' actions
/// (tickets, stolen reports) belong to consumers' own keys, never to console users.
pub fn kinds_of(role: Role) -> Vec<&'static str> {
    let groups: &[&[&str]] = match role {
        Role::Platform => &[MEMBERSHIP, PLATFORM],
        Role::Brand => &[MEMBERSHIP, CODES, PRODUCTS],
        Role::Manufacturer => &[MEMBERSHIP, CODES, PRODUCTS, MAKING],
        Role::Supplier => &[MEMBERSHIP, CODES, SUPPLYING],
        Role::Distributor | Role::Retailer | Role::Logistics => &[MEMBERSHIP, CHANNEL],
    };
    let mut kinds: Vec<&'static str> = groups.iter().flat_map(|g| g.iter().copied()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    kinds
}

/// Whether a user with `console_role` in an organisation with `org_roles` may send a payload of
/// `kind`.
pub fn may_send(org_roles: &[Role], console_role: ConsoleRole, kind: &str) -> bool {
    let allowed_by_org = org_roles.iter().any(|r| kinds_of(*r).contains(&kind));
    match console_role {
        ConsoleRole::Admin => allowed_by_org,
        ConsoleRole::Operator => allowed_by_org && !MEMBERSHIP.contains(&kind),
        ConsoleRole::Viewer => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_narrow_what_a_user_may_send() {
        let platform = [Role::Platform];
        let brand = [Role::Brand, Role::Manufacturer];
        assert!(may_send(&platform, ConsoleRole::Admin, "register_org"));
        assert!(may_send(&platform, ConsoleRole::Operator, "issue_licence"));
        assert!(!may_send(&platform, ConsoleRole::Operator, "add_member"));
        assert!(!may_send(&platform, ConsoleRole::Viewer, "issue_licence"));
        assert!(!may_send(&brand, ConsoleRole::Admin, "register_org"));
        assert!(!may_send(&brand, ConsoleRole::Admin, "issue_licence"));
        assert!(may_send(&brand, ConsoleRole::Operator, "issue_code_batch"));
        assert!(!may_send(
            &[Role::Retailer],
            ConsoleRole::Admin,
            "issue_code_batch"
        ));
        assert!(!may_send(&brand, ConsoleRole::Admin, "redeem_ticket"));
        for role in ConsoleRole::ALL {
            assert_eq!(ConsoleRole::parse(role.as_str()), Some(role));
        }
    }
}

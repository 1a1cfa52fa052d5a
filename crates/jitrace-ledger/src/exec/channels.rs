//! Channel grants: a brand authorises an organisation as distributor, retailer or logistics for
//! products, a territory, optionally a geofence, and a validity window.

use super::{RuleResult, TxState, reject};
use crate::{
    Reason, StateReader, read,
    state::{
        ChannelGrant, ChannelGrants, Count, MAX_GRANTS_PER_CHANNEL, OrgIndex, Product, Revocation,
        StateKey, page_of,
    },
};
use jitrace_types::{
    Gtin, OrgId, PublicKey,
    tx::{AuthoriseChannel, MAX_GEOFENCE_RADIUS_M},
};

impl<R: StateReader> TxState<'_, '_, R> {
    pub(super) fn authorise_channel(
        &mut self,
        signer: PublicKey,
        grant: &AuthoriseChannel,
    ) -> RuleResult<()> {
        self.require_issuer(signer, &grant.brand)?;
        let channel = self.require_org(&grant.channel)?;
        let role = grant.role.org_role();
        if !channel.has_role(role) {
            return reject(
                Reason::UnauthorisedRole,
                format!("{} does not hold the {role} role", grant.channel),
            );
        }
        for gtin in &grant.products {
            let Some(product) = self.get::<Product>(&StateKey::Product(*gtin))? else {
                return reject(
                    Reason::UnknownProduct,
                    format!("GTIN {gtin} is not registered"),
                );
            };
            if product.info.org != grant.brand {
                return reject(
                    Reason::ProductWrongOrg,
                    format!("GTIN {gtin} belongs to {}", product.info.org),
                );
            }
        }
        if let Some(fence) = &grant.geofence
            && (!fence.centre.is_valid()
                || fence.radius_m == 0
                || fence.radius_m > MAX_GEOFENCE_RADIUS_M)
        {
            return reject(
                Reason::BadLocation,
                format!(
                    "a geofence needs a centre on the globe and a radius of 1 to \
                     {MAX_GEOFENCE_RADIUS_M} m"
                ),
            );
        }
        let key = StateKey::ChannelGrants(grant.brand.clone(), grant.channel.clone());
        let mut record = match self.get::<ChannelGrants>(&key)? {
            Some(record) => record,
            None => {
                self.list_channel(&grant.brand, &grant.channel)?;
                ChannelGrants {
                    brand: grant.brand.clone(),
                    channel: grant.channel.clone(),
                    grants: Vec::new(),
                }
            }
        };
        if record.grants.len() >= MAX_GRANTS_PER_CHANNEL {
            return reject(
                Reason::LimitReached,
                format!(
                    "{} gave {} {MAX_GRANTS_PER_CHANNEL} grants, the most allowed; revoked \
                     grants count too",
                    grant.brand, grant.channel
                ),
            );
        }
        let mut products = grant.products.clone();
        products.sort_unstable();
        let mut territory = grant.territory.clone();
        territory.sort_unstable();
        territory.dedup();
        record.grants.push(ChannelGrant {
            id: u32::try_from(record.grants.len()).unwrap_or(u32::MAX),
            role: grant.role,
            products,
            territory,
            geofence: grant.geofence,
            valid_from: grant.valid_from,
            valid_until: grant.valid_until,
            granted_at: self.stamp,
            tx: self.tx_hash,
            revoked: None,
        });
        self.put(key, &record);
        Ok(())
    }

    /// Adds `channel` to `brand`'s channel pages.
    fn list_channel(&mut self, brand: &OrgId, channel: &OrgId) -> RuleResult<()> {
        let count_key = StateKey::BrandChannelCount(brand.clone());
        let count = self.get::<Count>(&count_key)?.unwrap_or_default();
        let page_key = StateKey::BrandChannels(brand.clone(), page_of(count.0));
        let mut page = self.get::<OrgIndex>(&page_key)?.unwrap_or_default();
        page.0.push(channel.clone());
        self.put(page_key, &page);
        self.put(count_key, &Count(count.0 + 1));
        Ok(())
    }

    pub(super) fn revoke_channel(
        &mut self,
        signer: PublicKey,
        brand: &OrgId,
        channel: &OrgId,
        grant: u32,
        reason: &str,
    ) -> RuleResult<()> {
        self.require_member(signer, brand)?;
        let key = StateKey::ChannelGrants(brand.clone(), channel.clone());
        let mut record = self.get::<ChannelGrants>(&key)?;
        let Some(entry) = record
            .as_mut()
            .and_then(|r| r.grants.get_mut(grant as usize))
        else {
            return reject(
                Reason::UnknownChannel,
                format!("{brand} gave {channel} no grant {grant}"),
            );
        };
        if entry.revoked.is_some() {
            return reject(
                Reason::ChannelRevoked,
                format!("grant {grant} of {channel} is revoked already"),
            );
        }
        entry.revoked = Some(Revocation {
            at: self.stamp,
            reason: reason.to_string(),
        });
        if let Some(record) = record {
            self.put(key, &record);
        }
        Ok(())
    }

    /// The grants of `channel` from `brand` in force now for `gtin`; rejects with the reason
    /// there are none (of the grants naming the product, the latest one's state tells why).
    pub(super) fn channel_standing(
        &self,
        brand: &OrgId,
        channel: &OrgId,
        gtin: &Gtin,
    ) -> RuleResult<Vec<ChannelGrant>> {
        let now_s = self.stamp.time_ms / 1000;
        let record = read::channel_grants(self, brand, channel)?;
        let naming: Vec<&ChannelGrant> = record
            .iter()
            .flat_map(|r| &r.grants)
            .filter(|g| g.covers_product(gtin))
            .collect();
        let in_force: Vec<ChannelGrant> = naming
            .iter()
            .filter(|g| g.in_force(now_s))
            .map(|g| (*g).clone())
            .collect();
        if !in_force.is_empty() {
            return Ok(in_force);
        }
        let Some(latest) = naming.last() else {
            return reject(
                Reason::ChannelNotAuthorised,
                format!("{channel} is not an authorised channel of {brand} for GTIN {gtin}"),
            );
        };
        if latest.revoked.is_some() {
            reject(
                Reason::ChannelRevoked,
                format!(
                    "{brand} revoked {channel}'s grant {} for GTIN {gtin}",
                    latest.id
                ),
            )
        } else if now_s < latest.valid_from {
            reject(
                Reason::ChannelNotYetValid,
                format!(
                    "{channel}'s grant {} from {brand} begins at {}",
                    latest.id, latest.valid_from
                ),
            )
        } else {
            reject(
                Reason::ChannelExpired,
                format!(
                    "{channel}'s grant {} from {brand} ended at {}",
                    latest.id, latest.valid_until
                ),
            )
        }
    }
}

//! Client commands for an item's life: channel grants, custody events, sales, voided codes,
//! ownership tickets, stolen reports and consumer scans.
//!
//! An item is named by its printed code, the URL in its QR code (a GS1 Digital Link with the
//! brand's signature, `?8030=`). A ticket's secret travels in that URL's fragment
//! (`URL#claim=…` after a sale, `URL#transfer=…` from an owner): browsers never send a fragment
//! to a server, so the secret stays with whoever holds the link.

use crate::cli::{Global, Receipt, Validity, print, print_verdict, send, submit};
use anyhow::{Context as _, Result, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use jitrace_client::dto;
use jitrace_types::{
    Gtin, OrgId, Payload, PublicKey,
    code::parse_code,
    tx::{
        AuthoriseChannel, Buyer, ChannelRole, CodeAction, CodeEvent, CodeId, GeoPoint, Geofence,
        Place, SignedCode, TicketSecret, VoidCodes,
    },
};
use serde::Serialize;

// ---------------------------------------------------------------- shared helpers

/// The URL without its fragment: what may be sent to a server.
pub(crate) fn without_fragment(url: &str) -> &str {
    url.split_once('#').map_or(url, |(before, _)| before)
}

/// Which ticket a link's fragment carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TicketLink {
    /// From a sale: `#claim=`.
    Claim,
    /// From an owner: `#transfer=`.
    Transfer,
}

impl TicketLink {
    fn name(self) -> &'static str {
        match self {
            TicketLink::Claim => "claim",
            TicketLink::Transfer => "transfer",
        }
    }
}

/// A printed code as a command names it.
#[derive(Debug)]
pub(crate) struct CodeLink {
    /// The URL without its fragment.
    url: String,
    pub(crate) id: CodeId,
    /// The brand's signature (AI 8030), when the link carries one.
    signature: Option<String>,
    /// The ticket secret of a `#claim=` or `#transfer=` fragment.
    ticket: Option<(TicketLink, TicketSecret)>,
}

impl CodeLink {
    pub(crate) fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let url = without_fragment(text);
        let scanned = parse_code(url).with_context(|| format!("cannot read the code {url:?}"))?;
        let serial = scanned.serial_number().ok_or_else(|| {
            anyhow!(
                "serial {:?} is not a Jitrace serial (a decimal number without leading zeros)",
                scanned.serial
            )
        })?;
        let ticket = match text.split_once('#') {
            None => None,
            Some((_, fragment)) => Some(parse_fragment(fragment)?),
        };
        Ok(Self {
            url: url.to_string(),
            id: CodeId {
                gtin: scanned.gtin,
                serial,
            },
            signature: scanned.signature,
            ticket,
        })
    }

    /// The code with its signature, as events carry it.
    pub(crate) fn signed(&self) -> Result<SignedCode> {
        let signature = self.signature.clone().ok_or_else(|| {
            anyhow!("the link carries no signature (?8030=): give the code as printed")
        })?;
        Ok(SignedCode {
            code: self.id,
            signature,
        })
    }

    /// The link that hands `secret` to its holder.
    fn with_ticket(&self, kind: TicketLink, secret: &TicketSecret) -> String {
        format!("{}#{}={}", self.url, kind.name(), secret.to_text())
    }
}

/// Reads `claim=SECRET` or `transfer=SECRET`.
fn parse_fragment(fragment: &str) -> Result<(TicketLink, TicketSecret)> {
    let (name, value) = fragment
        .split_once('=')
        .ok_or_else(|| anyhow!("the link's fragment must be #claim=… or #transfer=…"))?;
    let kind = match name {
        "claim" => TicketLink::Claim,
        "transfer" => TicketLink::Transfer,
        other => bail!("the link's fragment #{other}=… is neither #claim= nor #transfer="),
    };
    let secret = TicketSecret::from_text(value).context("the link's ticket secret")?;
    Ok((kind, secret))
}

/// A fresh ticket secret from the operating system's randomness.
fn new_ticket_secret() -> TicketSecret {
    TicketSecret(rand::random())
}

/// Decimal degrees as the ledger's micro-degrees, checked against `max_degrees`.
fn micro_degrees(degrees: f64, max_degrees: f64, what: &str) -> Result<i32> {
    if !degrees.is_finite() || degrees.abs() > max_degrees {
        bail!("{what} {degrees} is not between -{max_degrees} and {max_degrees}");
    }
    // In range, so the rounded value fits an i32 (at most 180,000,000).
    Ok((degrees * 1_000_000.0).round() as i32)
}

fn geo_point(lat: f64, lon: f64) -> Result<GeoPoint> {
    Ok(GeoPoint {
        lat_micro: micro_degrees(lat, 90.0, "latitude")?,
        lon_micro: micro_degrees(lon, 180.0, "longitude")?,
    })
}

/// Where an event happens. Which parts are needed depends on the event: GPS and region to ship
/// or receive, city and region to sell (the ledger rejects a missing part: `bad_location`).
#[derive(Args, Debug)]
pub struct PlaceArgs {
    /// Latitude, decimal degrees.
    #[arg(long, allow_hyphen_values = true)]
    lat: Option<f64>,
    /// Longitude, decimal degrees.
    #[arg(long, allow_hyphen_values = true)]
    lon: Option<f64>,
    /// ISO 3166-2 region, e.g. CN-SH.
    #[arg(long)]
    region: Option<String>,
    /// City, as people write it (上海, Shanghai).
    #[arg(long)]
    city: Option<String>,
}

impl PlaceArgs {
    fn place(&self) -> Result<Place> {
        let point = crate::cli::position(self.lat, self.lon)?
            .map(|(lat, lon)| geo_point(lat, lon))
            .transpose()?;
        Ok(Place {
            point,
            region: self.region.clone(),
            city: self.city.clone(),
        })
    }
}

/// `LAT,LON,RADIUS_M`.
fn parse_geofence(text: &str) -> Result<Geofence> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let [lat, lon, radius] = parts.as_slice() else {
        bail!("--geofence {text:?} must be LAT,LON,RADIUS_M");
    };
    Ok(Geofence {
        centre: geo_point(lat.parse()?, lon.parse()?)?,
        radius_m: radius
            .parse()
            .with_context(|| format!("radius {radius:?} must be whole metres"))?,
    })
}

/// Prints the receipt of a transaction that offers a ticket, and the link that carries the
/// ticket's secret (unless the ledger rejected it).
async fn send_with_ticket(global: &Global, payload: Payload, link: String) -> Result<()> {
    #[derive(Serialize)]
    struct WithLink {
        #[serde(flatten)]
        receipt: Receipt,
        /// The code's URL with the ticket secret in its fragment.
        link: Option<String>,
    }
    let kind = payload.kind();
    let receipt = submit(global, payload).await?;
    let link = (!receipt.rejected()).then_some(link);
    let out = WithLink { receipt, link };
    print(global, &out, |o| {
        o.receipt.print_human(kind);
        if let Some(link) = &o.link {
            println!("link: {link}");
            println!("(the part after # is the ticket's secret: give it only to the next owner)");
        }
    })?;
    out.receipt.check(kind)
}

// ---------------------------------------------------------------- channel

#[derive(Subcommand)]
pub enum ChannelCommand {
    /// Authorise an organisation as a channel of a brand (a brand member signs).
    Grant {
        #[arg(long)]
        brand: String,
        /// The organisation authorised; it must hold the role.
        #[arg(long)]
        channel: String,
        #[arg(long, value_enum)]
        role: ChannelRoleArg,
        /// A product the grant covers (repeatable); none: every product of the brand.
        #[arg(long = "product")]
        products: Vec<Gtin>,
        /// ISO 3166 regions where it may sell, comma-separated (CN covers CN-SH).
        #[arg(long, required = true, value_delimiter = ',')]
        territory: Vec<String>,
        /// Also only inside this circle: LAT,LON,RADIUS_M.
        #[arg(long, value_parser = parse_geofence_arg, allow_hyphen_values = true)]
        geofence: Option<Geofence>,
        #[command(flatten)]
        validity: Validity,
    },
    /// Revoke one grant of a channel (grants are numbered from 0 per brand and channel).
    Revoke {
        #[arg(long)]
        brand: String,
        #[arg(long)]
        channel: String,
        #[arg(long)]
        grant: u32,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// A brand's authorised channels and their grants (1,000 channels a page).
    List {
        #[arg(long)]
        brand: String,
        #[arg(long, default_value_t = 0)]
        page: u32,
    },
}

fn parse_geofence_arg(text: &str) -> Result<Geofence, String> {
    parse_geofence(text).map_err(|e| format!("{e:#}"))
}

/// What a channel is authorised as.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ChannelRoleArg {
    Distributor,
    Retailer,
    Logistics,
}

impl From<ChannelRoleArg> for ChannelRole {
    fn from(role: ChannelRoleArg) -> Self {
        match role {
            ChannelRoleArg::Distributor => ChannelRole::Distributor,
            ChannelRoleArg::Retailer => ChannelRole::Retailer,
            ChannelRoleArg::Logistics => ChannelRole::Logistics,
        }
    }
}

pub async fn channel(global: &Global, command: ChannelCommand) -> Result<()> {
    match command {
        ChannelCommand::List { brand, page } => {
            let list = global.client().channels(&brand, page).await?;
            print(global, &list, |l: &dto::ChannelList| {
                for c in &l.channels {
                    for g in &c.grants {
                        println!(
                            "{:<32} grant {:<3} {:<12} {:<24} {}",
                            c.channel,
                            g.id,
                            g.role,
                            g.territory.join(","),
                            if g.revoked.is_some() { "revoked" } else { "" }
                        );
                    }
                }
                println!("{} channels", l.total);
            })
        }
        ChannelCommand::Grant {
            brand,
            channel,
            role,
            products,
            territory,
            geofence,
            validity,
        } => {
            let (valid_from, valid_until) = validity.window()?;
            send(
                global,
                Payload::AuthoriseChannel(AuthoriseChannel {
                    brand: OrgId::new(brand)?,
                    channel: OrgId::new(channel)?,
                    role: role.into(),
                    products,
                    territory,
                    geofence,
                    valid_from,
                    valid_until,
                }),
            )
            .await
        }
        ChannelCommand::Revoke {
            brand,
            channel,
            grant,
            reason,
        } => {
            send(
                global,
                Payload::RevokeChannel {
                    brand: OrgId::new(brand)?,
                    channel: OrgId::new(channel)?,
                    grant,
                    reason,
                },
            )
            .await
        }
    }
}

// ---------------------------------------------------------------- item

#[derive(Subcommand)]
pub enum ItemCommand {
    /// Record an event in an item's life, as the brand or the item's custodian.
    Event {
        /// The code's URL, as printed.
        url: String,
        /// The organisation acting (the signer is a member).
        #[arg(long)]
        org: String,
        #[arg(long, value_enum)]
        action: EventAction,
        /// The receiver of `ship` or `transfer-custody`.
        #[arg(long)]
        to: Option<String>,
        #[command(flatten)]
        place: PlaceArgs,
    },
    /// Sell the item to a consumer, as its custodian (needs --city and --region).
    Sell {
        url: String,
        #[arg(long)]
        org: String,
        /// The buyer's public key (hex): the buyer owns the item at once.
        #[arg(long, conflicts_with = "claim_ticket")]
        owner: Option<PublicKey>,
        /// Make a one-time claim ticket and print the claim link (URL#claim=SECRET) for the
        /// buyer; whoever redeems it first becomes owner.
        #[arg(long)]
        claim_ticket: bool,
        #[command(flatten)]
        place: PlaceArgs,
    },
    /// Void codes of one batch (lost or spoiled labels), as the brand.
    Void {
        #[arg(long)]
        org: String,
        #[arg(long)]
        gtin: Gtin,
        #[arg(long)]
        first: u64,
        #[arg(long, default_value_t = 1)]
        count: u64,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Become the item's owner with a claim or transfer link (the --key signs and owns).
    Claim {
        /// The link with its #claim=… or #transfer=… fragment (or the code's URL and --secret).
        link: String,
        /// The ticket secret, when the link carries none.
        #[arg(long)]
        secret: Option<String>,
        /// The device you scan with (the same text you give `item scan --device`), so your own
        /// scans are not taken for a clone's.
        #[arg(long)]
        device_id: Option<String>,
    },
    /// Offer the item to the next owner: prints the transfer link (URL#transfer=SECRET).
    Transfer { url: String },
    /// Cancel the item's pending ticket, as its owner.
    CancelTicket { url: String },
    /// Report the item lost or stolen, as its owner (--clear withdraws the report).
    Stolen {
        url: String,
        #[arg(long)]
        clear: bool,
    },
    /// The item's verdict, status, owner and path (as `jitrace verify`).
    Show {
        url: String,
        #[arg(long, allow_hyphen_values = true)]
        lat: Option<f64>,
        #[arg(long, allow_hyphen_values = true)]
        lon: Option<f64>,
    },
    /// Scan the item as a consumer's phone does: records the scan (a ~5 km cell and a hash of
    /// the device) for clone detection, and prints the verdict.
    Scan {
        url: String,
        #[arg(long, allow_hyphen_values = true)]
        lat: f64,
        #[arg(long, allow_hyphen_values = true)]
        lon: f64,
        /// A pseudonym for the scanning device.
        #[arg(long)]
        device: String,
    },
}

/// A custody event (a sale is `item sell`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EventAction {
    Commission,
    Pack,
    Ship,
    Receive,
    Store,
    TransferCustody,
    Destroy,
    Decommission,
}

impl EventAction {
    fn action(self, to: Option<String>) -> Result<CodeAction> {
        let needs_to = matches!(self, EventAction::Ship | EventAction::TransferCustody);
        let to = match (needs_to, to) {
            (true, Some(to)) => Some(OrgId::new(to)?),
            (true, None) => bail!("--action {self:?} needs --to ORG"),
            (false, Some(_)) => bail!("--to goes only with ship and transfer-custody"),
            (false, None) => None,
        };
        Ok(match (self, to) {
            (EventAction::Ship, Some(to)) => CodeAction::Ship { to },
            (EventAction::TransferCustody, Some(to)) => CodeAction::TransferCustody { to },
            (EventAction::Commission, _) => CodeAction::Commission,
            (EventAction::Pack, _) => CodeAction::Pack,
            (EventAction::Receive, _) => CodeAction::Receive,
            (EventAction::Store, _) => CodeAction::Store,
            (EventAction::Destroy, _) => CodeAction::Destroy,
            (EventAction::Decommission, _) => CodeAction::Decommission,
            (EventAction::Ship | EventAction::TransferCustody, None) => {
                unreachable!("checked above")
            }
        })
    }
}

pub async fn item(global: &Global, command: ItemCommand) -> Result<()> {
    match command {
        ItemCommand::Event {
            url,
            org,
            action,
            to,
            place,
        } => {
            let link = CodeLink::parse(&url)?;
            let event = CodeEvent {
                code: link.signed()?,
                org: OrgId::new(org)?,
                action: action.action(to)?,
                place: place.place()?,
            };
            send(global, Payload::RecordCodeEvent(event)).await
        }
        ItemCommand::Sell {
            url,
            org,
            owner,
            claim_ticket,
            place,
        } => {
            let link = CodeLink::parse(&url)?;
            let secret = claim_ticket.then(new_ticket_secret);
            let buyer = match (owner, &secret) {
                (Some(key), _) => Buyer::Owner(key),
                (None, Some(secret)) => Buyer::ClaimTicket(secret.public_key()?),
                (None, None) => Buyer::Anonymous,
            };
            let payload = Payload::RecordCodeEvent(CodeEvent {
                code: link.signed()?,
                org: OrgId::new(org)?,
                action: CodeAction::Sell { buyer },
                place: place.place()?,
            });
            match secret {
                Some(secret) => {
                    let claim = link.with_ticket(TicketLink::Claim, &secret);
                    send_with_ticket(global, payload, claim).await
                }
                None => send(global, payload).await,
            }
        }
        ItemCommand::Void {
            org,
            gtin,
            first,
            count,
            reason,
        } => {
            send(
                global,
                Payload::VoidCodes(VoidCodes {
                    org: OrgId::new(org)?,
                    gtin,
                    first_serial: first,
                    count,
                    reason,
                }),
            )
            .await
        }
        ItemCommand::Claim {
            link,
            secret,
            device_id,
        } => {
            let link = CodeLink::parse(&link)?;
            let secret = match (secret, link.ticket) {
                (Some(text), _) => TicketSecret::from_text(text.trim())?,
                (None, Some((_, secret))) => secret,
                (None, None) => {
                    bail!("the link carries no #claim= or #transfer= secret: pass --secret")
                }
            };
            let owner = global.signer()?.public_key();
            let device = match device_id {
                Some(device) => {
                    let chain_id = global.client().status().await?.chain_id;
                    Some(jitrace_api::device_pseudonym(&chain_id, device.trim()))
                }
                None => None,
            };
            let proof = secret.redeem(&link.id, &owner, device.as_ref())?;
            send(
                global,
                Payload::RedeemTicket {
                    code: link.id,
                    ticket: secret.public_key()?,
                    proof,
                    device,
                },
            )
            .await
        }
        ItemCommand::Transfer { url } => {
            let link = CodeLink::parse(&url)?;
            let secret = new_ticket_secret();
            let payload = Payload::IssueTransferTicket {
                code: link.id,
                ticket: secret.public_key()?,
            };
            let transfer = link.with_ticket(TicketLink::Transfer, &secret);
            send_with_ticket(global, payload, transfer).await
        }
        ItemCommand::CancelTicket { url } => {
            let code = CodeLink::parse(&url)?.id;
            send(global, Payload::CancelTicket { code }).await
        }
        ItemCommand::Stolen { url, clear } => {
            let code = CodeLink::parse(&url)?.id;
            let payload = if clear {
                Payload::ClearStolen { code }
            } else {
                Payload::ReportStolen { code }
            };
            send(global, payload).await
        }
        ItemCommand::Show { url, lat, lon } => crate::cli::verify(global, &url, lat, lon).await,
        ItemCommand::Scan {
            url,
            lat,
            lon,
            device,
        } => {
            let link = CodeLink::parse(&url)?;
            let verdict = global
                .client()
                .scan(&dto::ScanRequest {
                    uri: link.url,
                    lat: Some(lat),
                    lon: Some(lon),
                    device,
                })
                .await?;
            print_verdict(global, &verdict)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://127.0.0.1:8080/01/09506000134352/21/7?8030=\
        AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    #[test]
    fn links_carry_ticket_secrets_in_the_fragment() {
        let link = CodeLink::parse(URL).unwrap();
        assert_eq!(link.url, URL);
        assert_eq!(link.id.serial, 7);
        assert!(link.ticket.is_none());
        assert!(link.signed().is_ok());

        let secret = TicketSecret([5; 32]);
        let claim = link.with_ticket(TicketLink::Claim, &secret);
        assert!(claim.starts_with(&format!("{URL}#claim=")));
        let back = CodeLink::parse(&claim).unwrap();
        assert_eq!(back.url, URL, "the fragment never reaches the server");
        assert_eq!(back.ticket, Some((TicketLink::Claim, secret)));
        let transfer = link.with_ticket(TicketLink::Transfer, &secret);
        assert_eq!(
            CodeLink::parse(&transfer).unwrap().ticket,
            Some((TicketLink::Transfer, secret))
        );

        for bad in ["#claim=short", "#gift=abc", "#claim"] {
            assert!(CodeLink::parse(&format!("{URL}{bad}")).is_err(), "{bad}");
        }
        let unsigned = CodeLink::parse("http://x/01/09506000134352/21/7").unwrap();
        assert!(unsigned.signed().is_err());
        assert!(CodeLink::parse("http://x/01/09506000134352/21/007").is_err());
    }

    #[test]
    fn places_and_geofences() {
        let place = PlaceArgs {
            lat: Some(31.2304),
            lon: Some(121.4737),
            region: Some("CN-SH".into()),
            city: Some("上海".into()),
        }
        .place()
        .unwrap();
        assert_eq!(
            place.point,
            Some(GeoPoint {
                lat_micro: 31_230_400,
                lon_micro: 121_473_700
            })
        );
        let half = PlaceArgs {
            lat: Some(31.0),
            lon: None,
            region: None,
            city: None,
        };
        assert!(half.place().is_err());
        assert!(geo_point(91.0, 0.0).is_err() && geo_point(0.0, f64::NAN).is_err());

        let fence = parse_geofence("31.23, -121.47, 5000").unwrap();
        assert_eq!(fence.centre.lon_micro, -121_470_000);
        assert_eq!(fence.radius_m, 5000);
        assert!(parse_geofence("31.23,121.47").is_err());
        assert!(parse_geofence("31.23,121.47,5km").is_err());
    }

    #[test]
    fn events_name_a_receiver_only_when_they_need_one() {
        assert_eq!(
            EventAction::Ship.action(Some("shop".into())).unwrap(),
            CodeAction::Ship {
                to: OrgId::new("shop").unwrap()
            }
        );
        assert!(EventAction::Ship.action(None).is_err());
        assert!(EventAction::Receive.action(Some("shop".into())).is_err());
        assert_eq!(
            EventAction::Commission.action(None).unwrap(),
            CodeAction::Commission
        );
    }
}

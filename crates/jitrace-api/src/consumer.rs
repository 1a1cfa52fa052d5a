//! The consumer page: what a phone shows after scanning a printed code. Server-rendered,
//! mobile-first, styles inline, nothing from elsewhere; every text from the ledger is escaped,
//! and a strict Content-Security-Policy is set. The verdict needs no script; the one module the
//! page loads (`web/js/ownership.js`, from this node's `/assets`) adds the owner's actions —
//! claim, transfer, lost/stolen — signed in the browser with a key kept in the browser.

use crate::{ApiError, assets, pages::escape_html as esc};
use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use jitrace_client::dto::{PublicPlace, Severity, Verdict, VerdictKind};
use std::{fmt::Write as _, sync::LazyLock};

/// The page's Content-Security-Policy: scripts only from this node plus the one inline import
/// map (by its hash), requests to this node only, media and images from this node only, inline
/// styles (the page's own), no framing, no forms.
pub fn csp() -> &'static str {
    static CSP: LazyLock<String> = LazyLock::new(|| {
        format!(
            "default-src 'none'; script-src 'self' {}; connect-src 'self'; img-src 'self'; \
             media-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'",
            assets::import_map_csp()
        )
    });
    &CSP
}

/// An HTML answer with the page's security headers.
pub(crate) fn page(status: StatusCode, html: &str) -> Response {
    html_page(status, html, csp())
}

/// An HTML answer with security headers and the Content-Security-Policy `csp`: no sniffing,
/// no referrer, not stored.
pub(crate) fn html_page(status: StatusCode, html: &str, csp: &'static str) -> Response {
    let mut response = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        html.to_string(),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

const STYLE: &str = r#"
*{box-sizing:border-box}
body{margin:0;font-family:system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;line-height:1.5;color:#1d1d1f;background:#f5f5f7}
main{max-width:36rem;margin:0 auto;padding:0 0 2rem}
.banner{padding:1.5rem 1rem;color:#fff;text-align:center}
.banner h1{margin:0;font-size:2.4rem;line-height:1.2}
.banner p{margin:.25rem 0 0;font-size:1.15rem}
.genuine{background:#1a7f37}.warning{background:#b35900}.counterfeit{background:#c62828}
section{background:#fff;margin:.75rem;padding:1rem;border-radius:12px}
h2{font-size:1.1rem;margin:0 0 .5rem}
ul{padding-left:1.2rem;margin:.25rem 0}
li{margin:.35rem 0}
.reason{border-left:4px solid #999;padding:.25rem .6rem;margin:.5rem 0;list-style:none}
.reason.sev-counterfeit{border-color:#c62828}.reason.sev-warning{border-color:#b35900}.reason.sev-info{border-color:#1a7f37}
.zh{font-size:1.05rem}.en{color:#555}
.media img,.media video{width:100%;height:auto;border-radius:8px;margin:.25rem 0}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem .25rem;border-bottom:1px solid #eee;vertical-align:top}
.muted{color:#666;font-size:.9rem}
code{background:#f0f0f0;padding:0 .2rem;border-radius:3px;word-break:break-all}
ol.path{padding-left:1.4rem}
.wallet:empty{display:none}
.wallet p{margin:.5rem 0}
.wallet button{display:block;width:100%;min-height:3rem;margin:.5rem 0;padding:.6rem 1rem;font:inherit;font-size:1.05rem;border:0;border-radius:10px;background:#0060df;color:#fff}
.wallet button.secondary{background:#e8e8ed;color:#1d1d1f}
.wallet button:disabled{opacity:.6}
.wallet .owned{color:#1a7f37;font-weight:600}
.wallet .error{color:#c62828}
.wallet .link{display:block;word-break:break-all;background:#f0f0f0;padding:.5rem;border-radius:6px;font-size:.85rem}
.wallet .qr{display:block;width:min(16rem,100%);margin:.5rem auto;padding:.5rem;background:#fff}
"#;

fn head(title: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n<title>{}</title>\n<style>{STYLE}</style>\n\
         </head>\n<body>\n<main>\n",
        esc(title)
    )
}

const FOOT: &str = "</main>\n</body>\n</html>\n";

/// A UTC date and time from Unix milliseconds: `2026-03-11 08:00 UTC`.
pub fn utc(time_ms: u64) -> String {
    let secs = time_ms / 1000;
    let days = (secs / 86_400) as i64;
    let (hh, mm) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02} UTC")
}

fn place_text(place: &PublicPlace) -> String {
    let mut parts = Vec::new();
    if let Some(city) = &place.city {
        parts.push(esc(city));
    }
    if let Some(region) = &place.region {
        parts.push(esc(region));
    }
    if let (Some(lat), Some(lon)) = (place.lat, place.lon) {
        parts.push(format!("≈{lat:.1}°, {lon:.1}°"));
    }
    if parts.is_empty() {
        "—".to_string()
    } else {
        parts.join(" · ")
    }
}

fn event_text(event: &str) -> (&'static str, &'static str) {
    match event {
        "commissioned" => ("赋码启用", "Commissioned"),
        "packed" => ("包装", "Packed"),
        "shipped" => ("发货", "Shipped"),
        "received" => ("收货", "Received"),
        "stored" => ("入库", "Stored"),
        "custody_transferred" => ("移交", "Handed over"),
        "sold" => ("售出", "Sold"),
        "destroyed" => ("销毁", "Destroyed"),
        "decommissioned" => ("停用", "Decommissioned"),
        "owner_changed" => ("物主变更", "New owner"),
        "reported_stolen" => ("报失", "Reported stolen"),
        "stolen_cleared" => ("撤销报失", "Stolen report withdrawn"),
        _ => ("事件", "Event"),
    }
}

fn status_text(status: &str) -> (&'static str, &'static str) {
    match status {
        "issued" => ("已发码，未启用", "Issued, not yet in circulation"),
        "active" => ("品牌方持有", "Held by the brand"),
        "in_transit" => ("运输中", "In transit"),
        "in_channel" => ("经销渠道中", "With an authorised channel"),
        "sold" => ("已售出，未认领", "Sold, not yet claimed"),
        "owned" => ("已售出，已有物主", "Sold and owned"),
        "retired" => ("已退出流通", "Out of circulation"),
        _ => ("未知", "Unknown"),
    }
}

/// The consumer page for a verdict.
pub fn render(v: &Verdict) -> String {
    let (class, zh, en) = match v.verdict {
        VerdictKind::Genuine => ("genuine", "正品", "Genuine"),
        VerdictKind::Warning => ("warning", "请注意", "Warning"),
        VerdictKind::Counterfeit => ("counterfeit", "假冒", "Counterfeit"),
    };
    let product_name = v
        .product
        .as_ref()
        .map_or_else(|| format!("GTIN {}", v.code.gtin), |p| p.name.clone());
    let mut html = head(&format!("{zh} {en} — {product_name}"));
    // Writing to a String cannot fail.
    let _ = write!(
        html,
        "<div class=\"banner {class}\"><h1>{zh} · {en}</h1><p>{}</p></div>",
        esc(&product_name)
    );

    if !v.reasons.is_empty() {
        html.push_str("<section><h2>原因 · Reasons</h2><ul>");
        for r in &v.reasons {
            let sev = match r.severity {
                Severity::Info => "info",
                Severity::Warning => "warning",
                Severity::Counterfeit => "counterfeit",
            };
            let _ = write!(
                html,
                "<li class=\"reason sev-{sev}\"><div class=\"zh\">{}</div><div class=\"en\">{}</div>\
                 <div class=\"muted\"><code>{}</code></div></li>",
                esc(&r.zh),
                esc(&r.en),
                esc(&r.code)
            );
        }
        html.push_str("</ul></section>\n");
    }

    // The product.
    html.push_str("<section><h2>商品 · Product</h2>");
    if let Some(p) = &v.product {
        let _ = write!(html, "<p><strong>{}</strong></p>", esc(&p.name));
        if !p.description.is_empty() {
            let _ = write!(html, "<p>{}</p>", esc(&p.description));
        }
        let media: Vec<_> = p
            .media
            .iter()
            .filter(|m| m.mime.starts_with("image/") || m.mime.starts_with("video/"))
            .collect();
        if !media.is_empty() {
            html.push_str("<div class=\"media\">");
            for m in media {
                if m.mime.starts_with("image/") {
                    let _ = write!(
                        html,
                        "<img src=\"{}\" alt=\"{}\" loading=\"lazy\">",
                        esc(&m.url),
                        esc(&m.caption)
                    );
                } else {
                    let _ = write!(
                        html,
                        "<video controls preload=\"metadata\" src=\"{}\" title=\"{}\"></video>",
                        esc(&m.url),
                        esc(&m.caption)
                    );
                }
            }
            html.push_str("</div>");
        }
        if !p.attributes.is_empty() {
            html.push_str("<table>");
            for a in &p.attributes {
                let _ = write!(
                    html,
                    "<tr><th>{}</th><td>{}</td></tr>",
                    esc(&a.name),
                    esc(&a.value)
                );
            }
            html.push_str("</table>");
        }
    } else {
        html.push_str("<p>此商品代码未在链上登记。This product (GTIN) is not registered.</p>");
    }
    let _ = write!(
        html,
        "<p class=\"muted\">GTIN <code>{}</code> · 序列号 Serial <code>{}</code></p>",
        esc(&v.code.gtin),
        esc(&v.code.serial)
    );
    if let Some(brand) = &v.brand {
        let _ = write!(
            html,
            "<p>品牌方 Brand: <strong>{}</strong>{}</p>",
            esc(&brand.name),
            brand
                .region
                .as_ref()
                .map(|r| format!(" ({})", esc(r)))
                .unwrap_or_default()
        );
    }
    html.push_str("</section>\n");

    // Status and ownership.
    if let Some(status) = &v.status {
        let (zh, en) = status_text(status);
        let _ = write!(
            html,
            "<section><h2>状态 · Status</h2><p><strong>{zh}</strong> · {en}</p>"
        );
        if let Some(c) = &v.custodian {
            let _ = write!(html, "<p>持有方 Held by: {}</p>", esc(&c.name));
        }
        if let Some(s) = &v.sale {
            let _ = write!(
                html,
                "<p>售出 Sold by {} · {} {} · {}</p>",
                esc(s.seller_name.as_deref().unwrap_or(&s.seller)),
                esc(&s.city),
                esc(&s.region),
                utc(s.time_ms)
            );
        }
        html.push_str("</section>\n");
    }

    // The path.
    if !v.path.is_empty() {
        html.push_str("<section><h2>流转路径 · Path</h2><ol class=\"path\">");
        for step in &v.path {
            let (zh, en) = event_text(&step.event);
            let who = step
                .org_name
                .as_deref()
                .or(step.org.as_deref())
                .map(|n| format!(" — {}", esc(n)))
                .unwrap_or_default();
            let place = step.place.as_ref().map(place_text).unwrap_or_default();
            let _ = write!(
                html,
                "<li><strong>{zh} {en}</strong>{who}<br><span class=\"muted\">{}{}{}</span></li>",
                utc(step.time_ms),
                if place.is_empty() { "" } else { " · " },
                place
            );
        }
        html.push_str("</ol></section>\n");
    }

    // Latest place and distance.
    if let Some(place) = &v.latest_location {
        let _ = write!(
            html,
            "<section><h2>最近位置 · Latest known place</h2><p>{}{}</p>",
            place_text(place),
            v.latest_time_ms
                .map(|t| format!(" · {}", utc(t)))
                .unwrap_or_default()
        );
        if let Some(km) = v.distance_km {
            let _ = write!(html, "<p>距您约 {km} 公里 · About {km} km from you</p>");
        }
        html.push_str("</section>\n");
    }

    // Authorised sellers.
    if !v.authorised_sellers.is_empty() {
        html.push_str("<section><h2>授权经销商 · Authorised sellers</h2><ul>");
        for s in &v.authorised_sellers {
            let _ = write!(
                html,
                "<li><strong>{}</strong> ({}) · {}{}</li>",
                esc(&s.name),
                esc(&s.role),
                esc(&s.territory.join(", ")),
                s.distance_km
                    .map(|km| format!(" · ≈{km} km"))
                    .unwrap_or_default()
            );
        }
        html.push_str("</ul></section>\n");
    }

    // Claim and transfer.
    if v.status.is_some() {
        html.push_str("<section><h2>认领与转让 · Claim and transfer</h2>");
        match (&v.ownership.owner, v.ownership.pending_ticket.as_deref()) {
            (_, Some("claim")) => html.push_str(
                "<p>此商品等待买家认领：在手机上打开收据上的认领链接即可认领。<br>\
                 This item waits for its buyer: open the claim link on your receipt on your \
                 phone to claim it.</p>",
            ),
            (_, Some(_)) => html.push_str(
                "<p>物主已发出转让码：新物主可用转让码接收。<br>\
                 The owner offered this item with a transfer ticket: the next owner redeems it.</p>",
            ),
            (Some(owner), None) => {
                let _ = write!(
                    html,
                    "<p>此商品已有物主。This item is owned by key <code>{}…</code>.</p>",
                    esc(owner.get(..16).unwrap_or(owner))
                );
            }
            (None, None) => html.push_str("<p>此商品尚无物主。No owner is recorded.</p>"),
        }
        html.push_str("<div id=\"wallet\" class=\"wallet\" aria-live=\"polite\"></div>");
        let _ = write!(
            html,
            "<script type=\"importmap\">{}</script>\
             <script type=\"module\" src=\"{}\"></script>",
            assets::import_map(),
            esc(&assets::asset_url("js/ownership.js"))
        );
        html.push_str("</section>\n");
    }

    let _ = write!(
        html,
        "<p class=\"muted\" style=\"text-align:center\">Jitrace · 区块高度 height {}</p>",
        v.height
    );
    html.push_str(FOOT);
    html
}

/// A readable error page for a link that cannot be checked.
pub fn render_error(error: &ApiError) -> String {
    let message = match error {
        ApiError::Internal(_) => "internal error; please try again later".to_string(),
        other => other.to_string(),
    };
    let mut html = head("无法识别此码 · This code cannot be read");
    let _ = write!(
        html,
        "<div class=\"banner counterfeit\"><h1>无法识别 · Cannot read</h1></div>\
         <section><p class=\"zh\">此链接不是有效的商品码（格式、校验位或签名有误）。</p>\
         <p class=\"en\">This link is not a valid product code (its format, check digit or \
         signature is wrong).</p><p class=\"muted\"><code>{}</code>: {}</p></section>",
        esc(error.code()),
        esc(&message)
    );
    html.push_str(FOOT);
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_773_201_600_000), "2026-03-11 04:00 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00 UTC");
    }
}

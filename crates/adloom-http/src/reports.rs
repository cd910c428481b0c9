//! `GET /v5/ad_accounts/{id}/analytics` and the campaign, ad group and ad
//! analytics: a bare JSON array of rows, as the spec answers.

use std::collections::BTreeSet;

use adloom_core::object::ObjectKind;
use adloom_core::report::{
    self, format_date, is_column, parse_date, Granularity, Level, Query, Row, HOUR_COLUMN,
};
use axum::extract::{RawQuery, State};
use axum::Json;
use serde_json::Value;

use crate::error::ApiError;
use crate::extract::AccountAccess;
use crate::AppState;

mod labels;
use labels::{Labels, Objects};

const WINDOWS: [i64; 6] = [0, 1, 7, 14, 30, 60];

/// A report's query, with the ads it covers still to be found when
/// `ads/analytics` names them by campaign and pin.
struct Asked {
    query: Query,
    by_campaign_and_pin: Option<(Vec<String>, Vec<String>)>,
}

fn parse_query(level: Level, query: Option<String>) -> Result<Asked, ApiError> {
    let ids_param = match level {
        Level::AdAccount => None,
        Level::Campaign => Some("campaign_ids"),
        Level::AdGroup => Some("ad_group_ids"),
        Level::Ad => Some("ad_ids"),
    };
    let (mut start, mut end, mut granularity, mut columns, mut ids) =
        (None, None, None, Vec::new(), Vec::new());
    let (mut campaign_ids, mut pin_ids) = (Vec::new(), Vec::new());
    let (mut click, mut view, mut at_conversion) = (
        report::DEFAULT_CLICK_WINDOW_DAYS,
        report::DEFAULT_VIEW_WINDOW_DAYS,
        false,
    );
    let window = |k: &str, v: &str| {
        v.parse::<i64>()
            .ok()
            .filter(|w| WINDOWS.contains(w))
            .ok_or_else(|| ApiError::invalid(format!("{k}: must be one of 0, 1, 7, 14, 30, 60")))
    };
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let list = || {
            v.split(',')
                .map(|x| x.trim().to_owned())
                .filter(|x| !x.is_empty())
                .collect::<Vec<_>>()
        };
        match k.as_ref() {
            "start_date" => start = Some(parse_date("start_date", &v)?),
            "end_date" => end = Some(parse_date("end_date", &v)?),
            "granularity" => granularity = Some(v.into_owned()),
            "columns" => columns.extend(list()),
            "click_window_days" => click = window("click_window_days", &v)?,
            "view_window_days" => view = window("view_window_days", &v)?,
            "conversion_report_time" => {
                at_conversion = match v.as_ref() {
                    "TIME_OF_AD_ACTION" => false,
                    "TIME_OF_CONVERSION" => true,
                    other => return Err(ApiError::invalid(format!("conversion_report_time: {other:?} is not TIME_OF_AD_ACTION or TIME_OF_CONVERSION"))),
                }
            }
            k if Some(k) == ids_param => ids.extend(list()),
            "campaign_ids" if level == Level::Ad => campaign_ids.extend(list()),
            "pin_ids" if level == Level::Ad => pin_ids.extend(list()),
            _ => {}
        }
    }
    let start = start.ok_or_else(|| ApiError::invalid("start_date: required"))?;
    let end = end.ok_or_else(|| ApiError::invalid("end_date: required"))?;
    let granularity = match granularity.as_deref() {
        Some(g) => Granularity::parse(g)?,
        None => {
            return Err(ApiError::invalid(
                "granularity: required (TOTAL, HOUR, DAY, WEEK or MONTH)",
            ))
        }
    };
    let max_days = granularity.max_days();
    if end < start || end - start >= max_days {
        return Err(ApiError::invalid(format!(
            "end_date: must be on or after start_date, and within {max_days} days of it at this granularity"
        )));
    }
    if columns.is_empty() {
        return Err(ApiError::invalid("columns: required"));
    }
    if let Some(bad) = columns.iter().find(|c| !is_column(c)) {
        return Err(ApiError::invalid(format!(
            "columns: {bad:?} is not a reporting column"
        )));
    }
    let by_campaign_and_pin =
        (level == Level::Ad && ids.is_empty()).then_some((campaign_ids, pin_ids));
    match (ids_param, &by_campaign_and_pin) {
        (Some(_), Some((campaigns, pins))) => {
            if campaigns.is_empty() || pins.is_empty() {
                return Err(ApiError::invalid(
                    "ad_ids: required, or else both campaign_ids and pin_ids",
                ));
            }
            if campaigns.len() > 250 || pins.len() > 100 {
                return Err(ApiError::invalid(
                    "campaign_ids: 1 to 250 ids; pin_ids: 1 to 100 ids",
                ));
            }
        }
        (Some(param), None) if ids.is_empty() || ids.len() > 250 => {
            return Err(ApiError::invalid(format!(
                "{param}: required, 1 to 250 ids"
            )));
        }
        _ => {}
    }
    let query = Query {
        level,
        start_day: start,
        end_day: end,
        granularity,
        columns,
        click_window_days: click,
        view_window_days: view,
        at_conversion_time: at_conversion,
        ids: ids_param.map(|_| ids.into_iter().collect()),
    };
    Ok(Asked {
        query,
        by_campaign_and_pin,
    })
}

/// The report for a query string (`start_date`, `end_date`,
/// `granularity`, `columns`, ...), as the analytics endpoints answer: a
/// bare JSON array of rows in Pinterest's shape.
pub(crate) async fn analytics(
    state: &AppState,
    account: &str,
    level: Level,
    query: Option<String>,
) -> Result<Vec<Value>, ApiError> {
    let Asked {
        query: mut q,
        by_campaign_and_pin,
    } = parse_query(level, query)?;
    // The account's objects are read only when a column describes a row's
    // entity (and those above it) or the ads are named by campaign and pin.
    let describe = q
        .columns
        .iter()
        .any(|c| labels::COLUMNS.contains(&c.as_str()));
    let campaigns = records(
        state,
        account,
        ObjectKind::Campaign,
        describe && level != Level::AdAccount,
    )
    .await?;
    let ad_groups = records(
        state,
        account,
        ObjectKind::AdGroup,
        describe && matches!(level, Level::AdGroup | Level::Ad),
    )
    .await?;
    let ads = records(
        state,
        account,
        ObjectKind::Ad,
        level == Level::Ad && (describe || by_campaign_and_pin.is_some()),
    )
    .await?;
    if let Some((campaign_ids, pin_ids)) = by_campaign_and_pin {
        q.ids = Some(
            labels::ads_of(&campaign_ids, &pin_ids, &ads)
                .into_iter()
                .collect::<BTreeSet<_>>(),
        );
    }
    let labels = labels::labels(
        level,
        account,
        Objects {
            campaigns: &campaigns,
            ad_groups: &ad_groups,
            ads: &ads,
        },
    );
    let rows = rows(state, account, &q).await?;
    Ok(rows.iter().map(|row| wire(&q, row, &labels)).collect())
}

/// The account's objects of a kind, as the API answers them; none when
/// not `wanted`.
async fn records(
    state: &AppState,
    account: &str,
    kind: ObjectKind,
    wanted: bool,
) -> Result<Vec<Value>, ApiError> {
    if !wanted {
        return Ok(Vec::new());
    }
    let now = state.engine.clock.now();
    Ok(state
        .engine
        .store
        .list_objects(kind, account)
        .await?
        .iter()
        .map(|o| crate::promotions::wire::view(o, now))
        .collect())
}

/// A report's rows: the account's impressions and clicks, and the
/// conversions attributed to them, as `q` asks.
pub(crate) async fn rows(state: &AppState, account: &str, q: &Query) -> Result<Vec<Row>, ApiError> {
    Ok(state.engine.report_rows(account, q).await?)
}

/// A row in Pinterest's shape: the entity's id column, `DATE` (and adloom's
/// `HOUR`) when broken down in time, then each asked-for column adloom has
/// data for, measured or describing.
fn wire(q: &Query, row: &Row, labels: &Labels) -> Value {
    let mut m = serde_json::Map::new();
    m.insert(
        q.level.id_column().to_owned(),
        Value::String(row.id.clone()),
    );
    if let Some(day) = row.day() {
        m.insert("DATE".to_owned(), Value::String(format_date(day)));
        if q.granularity == Granularity::Hour {
            m.insert(HOUR_COLUMN.to_owned(), row.hour().into());
        }
    }
    let described = labels.get(&row.id);
    for col in &q.columns {
        let v = row
            .value(col)
            .map(|figure| serde_json::json!(figure))
            .or_else(|| described.and_then(|d| d.get(col)).cloned());
        if let Some(v) = v {
            m.insert(col.clone(), v);
        }
    }
    Value::Object(m)
}

macro_rules! analytics_endpoint {
    ($name:ident, $level:expr) => {
        pub async fn $name(
            State(state): State<AppState>,
            access: AccountAccess,
            RawQuery(query): RawQuery,
        ) -> Result<Json<Vec<Value>>, ApiError> {
            analytics(&state, &access.ad_account_id, $level, query)
                .await
                .map(Json)
        }
    };
}

analytics_endpoint!(account, Level::AdAccount);
analytics_endpoint!(campaigns, Level::Campaign);
analytics_endpoint!(ad_groups, Level::AdGroup);
analytics_endpoint!(ads, Level::Ad);

//! Ads Manager's reports: a date range, a level (campaigns, ad groups or
//! ads), the spec's columns to show, a chart of the range, and the table on
//! screen as a CSV file. The figures are the analytics API's (`reports::rows`
//! over the core's `report::rows`): exact, since they are about the
//! advertiser's own ads.

use adloom_core::object::{self, ObjectKind};
use adloom_core::report::{
    self, format_date, parse_date, Figure, Granularity, Level, Query, Row, INVALID_CLICKS,
};
use adloom_core::Invalid;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup, PreEscaped};

use super::{account_session, chart};
use crate::error::ApiError;
use crate::pages::{layout, Csrf, Page};
use crate::AppState;

const DAY: i64 = 86_400;
/// The range shown when none is asked for.
const DEFAULT_DAYS: i64 = 14;

/// The columns offered: the spec's names, in words.
const COLUMNS: [(&str, &str); 10] = [
    ("SPEND_IN_DOLLAR", "Spend"),
    ("IMPRESSION_1", "Impressions"),
    ("CLICKTHROUGH_1", "Clicks"),
    ("CTR", "CTR"),
    ("ECPC_IN_DOLLAR", "Cost per click"),
    ("CPM_IN_DOLLAR", "Cost per 1,000 impressions"),
    ("TOTAL_CONVERSIONS", "Conversions"),
    ("TOTAL_CHECKOUT", "Checkouts"),
    ("TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR", "Checkout value"),
    (INVALID_CLICKS, "Clicks not billed"),
];
const DEFAULT_COLUMNS: [&str; 5] = [
    "SPEND_IN_DOLLAR",
    "IMPRESSION_1",
    "CLICKTHROUGH_1",
    "CTR",
    "TOTAL_CONVERSIONS",
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/accounts/{id}/reports", get(page))
        .route("/console/accounts/{id}/reports.csv", get(csv_file))
}

/// What the report form asks for, as typed.
struct Asked {
    from: String,
    to: String,
    level: Level,
    columns: Vec<&'static str>,
}

impl Asked {
    fn read(query: Option<&str>, today: i64) -> Asked {
        let mut asked = Asked {
            from: format_date(today - DEFAULT_DAYS + 1),
            to: format_date(today),
            level: Level::Campaign,
            columns: Vec::new(),
        };
        for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match k.as_ref() {
                "from" => asked.from = v.into_owned(),
                "to" => asked.to = v.into_owned(),
                "level" => {
                    asked.level = match v.as_ref() {
                        "ad_group" => Level::AdGroup,
                        "ad" => Level::Ad,
                        _ => Level::Campaign,
                    }
                }
                "columns" => {
                    if let Some((name, _)) = COLUMNS.iter().find(|(c, _)| *c == v) {
                        asked.columns.push(name);
                    }
                }
                _ => {}
            }
        }
        if asked.columns.is_empty() {
            asked.columns = DEFAULT_COLUMNS.to_vec();
        }
        asked
    }

    /// The days asked for, checked as the analytics API checks them.
    fn days(&self) -> Result<(i64, i64), Invalid> {
        let (from, to) = (parse_date("from", &self.from)?, parse_date("to", &self.to)?);
        if to < from {
            return Err(Invalid::new("to", "must not be before the start"));
        }
        if to - from + 1 > Granularity::Day.max_days() {
            return Err(Invalid::new(
                "to",
                format!("a range of at most {} days", Granularity::Day.max_days()),
            ));
        }
        Ok((from, to))
    }

    fn query_string(&self) -> String {
        let level = match self.level {
            Level::AdGroup => "ad_group",
            Level::Ad => "ad",
            _ => "campaign",
        };
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("from", &self.from)
            .append_pair("to", &self.to)
            .append_pair("level", level);
        for c in &self.columns {
            q.append_pair("columns", c);
        }
        q.finish()
    }
}

fn query(level: Level, from: i64, to: i64, granularity: Granularity, columns: &[&str]) -> Query {
    Query {
        level,
        start_day: from,
        end_day: to,
        granularity,
        columns: columns.iter().map(|c| c.to_string()).collect(),
        click_window_days: report::DEFAULT_CLICK_WINDOW_DAYS,
        view_window_days: report::DEFAULT_VIEW_WINDOW_DAYS,
        at_conversion_time: false,
        ids: None,
    }
}

/// The report's table: each entity's name and id with the asked columns.
struct Table {
    rows: Vec<(String, String, Vec<Option<Figure>>)>,
    /// Spend per day over the range, for the chart.
    spend: Vec<(String, f64)>,
}

async fn table(
    state: &AppState,
    account: &str,
    asked: &Asked,
    (from, to): (i64, i64),
) -> Result<Table, ApiError> {
    let totals = crate::reports::rows(
        state,
        account,
        &query(asked.level, from, to, Granularity::Total, &asked.columns),
    )
    .await?;
    let kind = match asked.level {
        Level::AdGroup => ObjectKind::AdGroup,
        Level::Ad => ObjectKind::Ad,
        _ => ObjectKind::Campaign,
    };
    let objects = state.engine.store.list_objects(kind, account).await?;
    let name = |id: &str| -> String {
        objects
            .iter()
            .find(|o| o.id == id)
            .map(|o| match &o.record {
                object::Record::Campaign(c) => c.name.clone(),
                object::Record::AdGroup(g) => g.name.clone(),
                object::Record::Ad(a) => a.name.clone().unwrap_or_else(|| "Untitled ad".into()),
                _ => String::new(),
            })
            .unwrap_or_default()
    };
    let rows = totals
        .iter()
        .map(|r: &Row| {
            let figures = asked.columns.iter().map(|c| r.value(c)).collect();
            (name(&r.id), r.id.clone(), figures)
        })
        .collect();
    let daily = crate::reports::rows(
        state,
        account,
        &query(Level::AdAccount, from, to, Granularity::Day, &[]),
    )
    .await?;
    let spend = (from..=to)
        .map(|d| {
            let micros = daily
                .iter()
                .filter(|r| r.day() == Some(d))
                .map(Row::spend_micros)
                .sum::<u64>();
            (format_date(d)[5..].to_owned(), micros as f64 / 1e6)
        })
        .collect();
    Ok(Table { rows, spend })
}

/// A figure as the table shows it.
fn shown(column: &str, figure: Option<Figure>) -> String {
    match figure {
        None => "–".to_owned(),
        Some(Figure::Count(n)) if column.ends_with("_MICRO_DOLLAR") => {
            format!("{:.2}", n as f64 / 1e6)
        }
        Some(Figure::Signed(n)) if column.ends_with("_MICRO_DOLLAR") => {
            format!("{:.2}", n as f64 / 1e6)
        }
        Some(Figure::Count(n)) => n.to_string(),
        Some(Figure::Signed(n)) => n.to_string(),
        Some(Figure::Ratio(r)) if column == "CTR" => format!("{:.2}%", r * 100.0),
        Some(Figure::Ratio(r)) => format!("{r:.2}"),
    }
}

fn label(column: &str) -> &'static str {
    COLUMNS
        .iter()
        .find(|(c, _)| *c == column)
        .map_or("", |(_, l)| l)
}

async fn page(
    State(state): State<AppState>,
    csrf: Csrf,
    headers: HeaderMap,
    Path(account): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Err(answer) = account_session(&state, &headers, &account).await {
        return answer;
    }
    let today = state.engine.clock.now().div_euclid(DAY);
    let asked = Asked::read(raw.as_deref(), today);
    let (table, error) = match asked.days() {
        Ok(days) => match table(&state, &account, &asked, days).await {
            Ok(t) => (Some(t), None),
            Err(e) => return Page::from(e).into_response(),
        },
        Err(invalid) => (None, Some(invalid)),
    };
    let level_option = |value: &str, level: Level, words: &str| {
        html! { option value=(value) selected[asked.level == level] { (words) } }
    };
    let body = html! {
        p { a href={ "/console/accounts/" (account) } { "← Back to the ad account" } }
        h1 { "Reports" }
        @if let Some(e) = &error { p class="notice error" role="alert" { (e.field) ": " (e.reason) } }
        form method="get" action={ "/console/accounts/" (account) "/reports" } {
            label for="report-from" { "From" }
            input id="report-from" name="from" type="date" value=(asked.from);
            label for="report-to" { "To" }
            input id="report-to" name="to" type="date" value=(asked.to);
            label for="report-level" { "Rows" }
            select id="report-level" name="level" {
                (level_option("campaign", Level::Campaign, "Campaigns"))
                (level_option("ad_group", Level::AdGroup, "Ad groups"))
                (level_option("ad", Level::Ad, "Ads"))
            }
            fieldset {
                legend { "Columns" }
                @for (column, words) in COLUMNS {
                    div class="option" {
                        input type="checkbox" id={ "column-" (column) } name="columns" value=(column)
                            checked[asked.columns.contains(&column)];
                        label for={ "column-" (column) } { (words) }
                    }
                }
            }
            button type="submit" { "Show" }
        }
        @if let Some(t) = &table {
            (spend_chart(t))
            (report_table(&asked, t))
            p {
                a class="button secondary" href={ "/console/accounts/" (account) "/reports.csv?" (asked.query_string()) } {
                    "Download this table as CSV"
                }
            }
            p class="hint" { "Dates are UTC. Conversions are credited to the last click in 30 days, else the last impression in 1 day, before them." }
        }
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    csrf.onto(Page::new(layout("Reports", body)).with_status(status))
        .into_response()
}

fn spend_chart(t: &Table) -> Markup {
    let labels: Vec<String> = t.spend.iter().map(|(l, _)| l.clone()).collect();
    let values: Vec<f64> = t.spend.iter().map(|(_, v)| *v).collect();
    html! {
        figure class="chart" {
            (PreEscaped(chart::daily("Spend per day", &labels, &values)))
            figcaption class="hint" { "Spend per day" }
        }
    }
}

fn report_table(asked: &Asked, t: &Table) -> Markup {
    html! {
        @if t.rows.is_empty() { p { "Nothing was delivered in this range." } } @else {
            table {
                thead { tr {
                    th scope="col" { "Name" }
                    @for c in &asked.columns { th scope="col" class="num" { (label(c)) } }
                } }
                tbody {
                    @for (name, id, figures) in &t.rows {
                        tr {
                            td { (name) br; span class="hint" { (id) } }
                            @for (c, f) in asked.columns.iter().zip(figures) { td class="num" { (shown(c, *f)) } }
                        }
                    }
                }
            }
        }
    }
}

/// The table on screen as CSV: the same rows and columns, the figures as
/// numbers.
async fn csv_file(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(account): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Err(answer) = account_session(&state, &headers, &account).await {
        return answer;
    }
    let today = state.engine.clock.now().div_euclid(DAY);
    let asked = Asked::read(raw.as_deref(), today);
    let days = match asked.days() {
        Ok(days) => days,
        Err(invalid) => return ApiError::from(invalid).into_response(),
    };
    let t = match table(&state, &account, &asked, days).await {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut head = vec!["Name", "Id"];
    head.extend(asked.columns.iter().map(|c| label(c)));
    let written = out.write_record(&head).and_then(|()| {
        t.rows.iter().try_for_each(|(name, id, figures)| {
            let mut record = vec![name.clone(), id.clone()];
            record.extend(figures.iter().map(|f| match f {
                None => String::new(),
                Some(Figure::Count(n)) => n.to_string(),
                Some(Figure::Signed(n)) => n.to_string(),
                Some(Figure::Ratio(r)) => r.to_string(),
            }));
            out.write_record(&record)
        })
    });
    let Ok(bytes) = written
        .map_err(|_| ())
        .and_then(|()| out.into_inner().map_err(|_| ()))
    else {
        return ApiError::internal().into_response();
    };
    let file = format!(
        "attachment; filename=\"report-{account}-{}-{}.csv\"",
        asked.from, asked.to
    );
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, file),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

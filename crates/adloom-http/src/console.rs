//! `/console`: the advertiser's pages. Sign in with an ad account access
//! token; see the last two weeks per day (spend, impressions, clicks, CTR,
//! conversions) as charts, campaigns and ad groups with their status and
//! pacing, audiences with their coarsened sizes, customer lists, and tags
//! with the events they sent lately and the snippet to install them.
//!
//! The session cookie holds a signature over the token's hash, never the
//! token; every request checks the token is still valid for the account.

mod audiences;
mod chart;
pub(crate) mod form;
mod manager;
mod reports;
mod tags;

use std::collections::BTreeSet;

use adloom_core::auction::BillableEvent;
use adloom_core::campaign::{Ad, AdGroup, Campaign, ReviewStatus, Status};
use adloom_core::object::{self, ObjectKind};
use adloom_core::pacing::Delivery;

use adloom_core::report::{self, format_date, Granularity, Level, Query, Row};
use adloom_core::tag::code_snippet;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;

use crate::auth::{live_access_token, token_hash};
use crate::error::ApiError;
use crate::extract::cookie;
use crate::pages::{forged, layout, problem, protect, set_cookie, token_sign_in, Csrf, Page};
use crate::AppState;
use adloom_core::disclosure::{event_row, EventRow};
use adloom_core::event::EventSource;
use adloom_engine::membership;
use adloom_store::StoredEvent;

const SESSION_COOKIE: &str = "adloom_console";
const SESSION_SECS: i64 = 8 * 3600;
const DAYS: i64 = 14;
const DAY: i64 = 86_400;
/// The window of tag health, and the most events read for it.
const HEALTH_WINDOW_SECS: i64 = 7 * DAY;
const HEALTH_EVENTS: usize = 5_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(sign_in_page))
        .route("/console/sign_in", post(sign_in))
        .route("/console/sign_out", post(sign_out))
        .route("/console/accounts/{id}", get(account))
        .route("/assets/console.js", get(script))
        .merge(manager::routes())
        .merge(audiences::routes())
        .merge(tags::routes())
        .merge(reports::routes())
}

/// The console's script: hashing a customer list in the browser.
async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../assets/console.js"),
    )
        .into_response()
}

/// A console session: signed `expires|generation|token hash`.
struct Session {
    token_hash: String,
    scope: BTreeSet<String>,
}

/// The signed-in session, if its token still works (not revoked, not
/// expired) and its holder has not signed out since.
async fn session(state: &AppState, headers: &HeaderMap) -> Option<Session> {
    let value = cookie(headers, SESSION_COOKIE)?;
    let key = state.key("console").await.ok()?;
    let payload = adloom_engine::signed::verify(&key, value)?;
    let mut parts = payload.splitn(3, '|');
    let (expires, generation, hash) = (parts.next()?, parts.next()?, parts.next()?);
    let now = state.engine.clock.now();
    if expires.parse::<i64>().ok()? <= now {
        return None;
    }
    let token = live_access_token(state.engine.store.as_ref(), hash, now)
        .await
        .ok()??;
    (token.console_generation == generation.parse::<i64>().ok()?
        && !token.ad_account_ids.is_empty())
    .then(|| Session {
        token_hash: hash.to_owned(),
        scope: token.ad_account_ids,
    })
}

async fn sign_in_page(State(state): State<AppState>, csrf: Csrf, headers: HeaderMap) -> Response {
    if let Some(first) = session(&state, &headers)
        .await
        .and_then(|s| s.scope.into_iter().next())
    {
        return Redirect::to(&format!("/console/accounts/{first}")).into_response();
    }
    csrf.onto(sign_in_form(&csrf, None)).into_response()
}

fn sign_in_form(csrf: &Csrf, error: Option<&str>) -> Page {
    token_sign_in(
        csrf,
        "Advertiser console",
        "/console/sign_in",
        "Ad account access token",
        "The operator gives you a token for your ad accounts. It is the same token the API takes.",
        error,
    )
}

#[derive(Deserialize)]
struct SignIn {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
}

async fn sign_in(State(state): State<AppState>, csrf: Csrf, Form(form): Form<SignIn>) -> Response {
    if !csrf.accepts(&form.csrf) {
        return forged().into_response();
    }
    let hash = token_hash(form.token.trim());
    let token =
        match live_access_token(state.engine.store.as_ref(), &hash, state.engine.clock.now()).await
        {
            Ok(token) => token,
            Err(e) => return Page::from(e).into_response(),
        };
    let generation = token.as_ref().map_or(0, |t| t.console_generation);
    let Some(first) = token.and_then(|t| t.ad_account_ids.into_iter().next()) else {
        return sign_in_form(
            &csrf,
            Some("That token is not valid. Check it and try again."),
        )
        .with_status(StatusCode::UNAUTHORIZED)
        .into_response();
    };
    let key = match state.key("console").await {
        Ok(k) => k,
        Err(e) => return Page::from(e).into_response(),
    };
    let expires = state.engine.clock.now() + SESSION_SECS;
    let value = adloom_engine::signed::sign(&key, &format!("{expires}|{generation}|{hash}"));
    let mut res = Redirect::to(&format!("/console/accounts/{first}")).into_response();
    if let Ok(v) = set_cookie(
        &state.config,
        SESSION_COOKIE,
        &value,
        SESSION_SECS,
        "Strict",
    )
    .parse()
    {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    protect(res.headers_mut());
    res
}

#[derive(Deserialize)]
struct SignOut {
    #[serde(default)]
    csrf: String,
}

async fn sign_out(
    State(state): State<AppState>,
    csrf: Csrf,
    headers: HeaderMap,
    Form(form): Form<SignOut>,
) -> Response {
    if !csrf.accepts(&form.csrf) {
        return forged().into_response();
    }
    // Ended on the server too: a copy of the cookie no longer works.
    if let Some(session) = session(&state, &headers).await {
        if let Err(e) = state
            .engine
            .store
            .end_console_sessions(&session.token_hash)
            .await
        {
            return Page::from(ApiError::from(e)).into_response();
        }
    }
    let mut res = Redirect::to("/console").into_response();
    if let Ok(v) = set_cookie(&state.config, SESSION_COOKIE, "", 0, "Strict").parse() {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    protect(res.headers_mut());
    res
}

/// The signed-in advertiser's session when it reaches the ad account
/// `id`; otherwise the answer to give instead (sign in again, or another
/// account's page, which looks the same whether or not it exists).
pub(crate) async fn account_session(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
) -> Result<BTreeSet<String>, Response> {
    let Some(Session { scope, .. }) = session(state, headers).await else {
        return Err(Redirect::to("/console").into_response());
    };
    if !scope.contains(id) {
        return Err(problem(
            StatusCode::FORBIDDEN,
            "Not your ad account",
            "Your token does not reach this ad account.",
        )
        .into_response());
    }
    Ok(scope)
}

async fn account(
    State(state): State<AppState>,
    csrf: Csrf,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let scope = match account_session(&state, &headers, &id).await {
        Ok(scope) => scope,
        Err(answer) => return answer,
    };
    // After a form: which kind of object was saved.
    let saved = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "saved")
        .and_then(|(_, v)| match v.as_ref() {
            "campaigns" => Some("The campaign was saved."),
            "ad_groups" => Some("The ad group was saved."),
            "ads" => Some("The ad was saved."),
            "customer_lists" => Some("The customer list was uploaded."),
            "audiences" => Some("The audience was saved."),
            "customer_list_changed" => Some("The customer list was changed."),
            _ => None,
        });
    match overview(&state, &csrf, &scope, &id, saved).await {
        Ok(page) => csrf.onto(page).into_response(),
        Err(e) => Page::from(e).into_response(),
    }
}

fn money(micros: f64) -> String {
    format!("{:.2}", micros / 1e6)
}

async fn overview(
    state: &AppState,
    csrf: &Csrf,
    scope: &BTreeSet<String>,
    id: &str,
    saved: Option<&str>,
) -> Result<Page, ApiError> {
    let account = state
        .engine
        .store
        .get_ad_account(id)
        .await?
        .ok_or_else(|| ApiError::not_found("ad account"))?;
    let now = state.engine.clock.now();
    let today = now.div_euclid(DAY);
    let days: Vec<i64> = (today - DAYS + 1..=today).collect();
    let query = Query {
        level: Level::AdAccount,
        start_day: days[0],
        end_day: today,
        granularity: Granularity::Day,
        columns: Vec::new(),
        click_window_days: report::DEFAULT_CLICK_WINDOW_DAYS,
        view_window_days: report::DEFAULT_VIEW_WINDOW_DAYS,
        at_conversion_time: false,
        ids: None,
    };
    let rows = crate::reports::rows(state, id, &query).await?;
    let per_day = |measure: fn(&Row) -> u64| -> Vec<f64> {
        days.iter()
            .map(|d| {
                rows.iter()
                    .find(|r| r.day() == Some(*d))
                    .map_or(0.0, |r| measure(r) as f64)
            })
            .collect()
    };
    let labels: Vec<String> = days
        .iter()
        .map(|d| format_date(*d)[5..].to_owned())
        .collect();
    let spend = per_day(Row::spend_micros);
    let impressions = per_day(Row::impressions);
    let clicks = per_day(Row::clicks);
    let conversions = per_day(Row::conversions);
    let ctr: Vec<f64> = impressions
        .iter()
        .zip(&clicks)
        .map(|(i, c)| if *i > 0.0 { 100.0 * c / i } else { 0.0 })
        .collect();
    let total = |v: &[f64]| v.iter().sum::<f64>();
    let total_ctr = if total(&impressions) > 0.0 {
        100.0 * total(&clicks) / total(&impressions)
    } else {
        0.0
    };

    let campaigns = state
        .engine
        .store
        .list_objects(ObjectKind::Campaign, id)
        .await?;
    let campaigns = object::campaigns(&campaigns);
    let groups = state
        .engine
        .store
        .list_objects(ObjectKind::AdGroup, id)
        .await?;
    let groups = object::ad_groups(&groups);
    let ads = state.engine.store.list_objects(ObjectKind::Ad, id).await?;
    let ads = object::ads(&ads);
    let ad_ids: Vec<String> = ads.iter().map(|(id, _)| id.to_string()).collect();
    let feedback = state.engine.feedback_seen(&ad_ids).await?;
    let audiences = crate::audiences::all_audiences(state, id).await?;
    let lists = crate::audiences::all_lists(state, id).await?;
    let tags = state.engine.store.list_conversion_tags(id).await?;
    // Tag health over the last week (the disclosure policy decides what of
    // it the advertiser sees); rows show events, never whether they matched.
    let events = state.engine.latest_events(id, HEALTH_EVENTS).await?;
    let mut health = Vec::with_capacity(tags.len());
    state
        .engine
        .tags
        .flush_blocked(state.engine.store.as_ref())
        .await;
    for tag in &tags {
        let window: Vec<&StoredEvent> = events
            .iter()
            .filter(|e| matches!(&e.event.source, EventSource::Tag(t) if *t == tag.id))
            .filter(|e| e.event.time > now - HEALTH_WINDOW_SECS)
            .collect();
        let rows: Vec<EventRow> = window
            .iter()
            .take(10)
            .map(|e| event_row(&e.event))
            .collect();
        let blocked = state.engine.store.blocked_pixels(&tag.id).await?;
        health.push((
            membership::tag_health(&state.engine, &tag.id, &window).await?,
            rows,
            blocked,
        ));
    }

    let body = html! {
        div class="console-head" {
            h1 { (account.name) }
            @if scope.len() > 1 {
                nav aria-label="Your ad accounts" {
                    @for other in scope { a href={ "/console/accounts/" (other) } { (other) } " " }
                }
            }
            form method="post" action="/console/sign_out" {
                (csrf.field())
                button type="submit" class="secondary" { "Sign out" }
            }
        }
        @if let Some(saved) = saved { p class="notice" role="status" { (saved) } }
        p class="hint" {
            "Ad account " (account.id) " · last " (DAYS) " days, UTC · "
            a href={ "/console/accounts/" (id) "/reports" } { "Reports: any dates, columns, CSV" }
        }
        div class="cards" {
            (card("Spend", &money(total(&spend))))
            (card("Impressions", &format!("{}", total(&impressions))))
            (card("Clicks", &format!("{}", total(&clicks))))
            (card("CTR", &format!("{total_ctr:.2}%")))
            (card("Conversions", &format!("{}", total(&conversions))))
        }
        div class="charts" {
            (chart_block("Spend per day", &labels, &spend.iter().map(|m| m / 1e6).collect::<Vec<_>>()))
            (chart_block("Impressions per day", &labels, &impressions))
            (chart_block("Clicks per day", &labels, &clicks))
            (chart_block("CTR per day (%)", &labels, &ctr))
            (chart_block("Conversions per day", &labels, &conversions))
        }

        h2 id="campaigns" { "Campaigns" }
        p { a class="button" href={ "/console/accounts/" (id) "/campaigns/new" } { "New campaign" } }
        @if campaigns.is_empty() { p { "No campaigns yet. A campaign holds ad groups, which hold ads." } } @else {
            table {
                thead { tr {
                    th scope="col" { "Campaign" } th scope="col" { "Objective" } th scope="col" { "Status" }
                    th scope="col" { "Daily cap" } th scope="col" { "Lifetime cap" } th scope="col" { span class="visually-hidden" { "Actions" } }
                } }
                tbody {
                    @for (campaign_id, c) in &campaigns {
                        tr {
                            td { (c.name) }
                            td { (form::humanize(c.objective_type.as_str())) }
                            td { (form::humanize(c.status.as_str())) }
                            td { (c.daily_spend_cap.map_or("none".to_owned(), |m| money(m as f64))) }
                            td { (c.lifetime_spend_cap.map_or("none".to_owned(), |m| money(m as f64))) }
                            td { (actions(csrf, id, "campaigns", campaign_id, &c.name, c.status)) }
                        }
                    }
                }
            }
        }

        h2 id="ad_groups" { "Ad groups" }
        @if !campaigns.is_empty() {
            p { a class="button" href={ "/console/accounts/" (id) "/ad_groups/new" } { "New ad group" } }
        }
        @if groups.is_empty() { p { "No ad groups yet. An ad group sets the budget, the bid and whom its ads reach." } } @else {
            table {
                thead { tr {
                    th scope="col" { "Campaign" } th scope="col" { "Ad group" } th scope="col" { "Status" }
                    th scope="col" { "Bid" } th scope="col" { "Budget" } th scope="col" class="num" { "Spent today" } th scope="col" { "Pacing" }
                    th scope="col" { span class="visually-hidden" { "Actions" } }
                } }
                tbody {
                    @for (campaign_id, c) in &campaigns {
                        @for (group_id, g) in groups.iter().filter(|(_, g)| g.campaign_id == *campaign_id) {
                            (group_row(state, c, group_id, g, now, html! { (actions(csrf, id, "ad_groups", group_id, &g.name, g.status)) }))
                        }
                    }
                }
            }
        }

        h2 id="ads" { "Ads" }
        @if !groups.is_empty() {
            p { a class="button" href={ "/console/accounts/" (id) "/ads/new" } { "New ad" } }
        }
        @if ads.is_empty() { p { "No ads yet. An ad is a promoted pin in an ad group." } } @else {
            table {
                thead { tr {
                    th scope="col" { "Ad" } th scope="col" { "Ad group" } th scope="col" { "Status" } th scope="col" { "Review" }
                    th scope="col" { "Hidden by" } th scope="col" { "Reported by" }
                    th scope="col" { span class="visually-hidden" { "Actions" } }
                } }
                tbody {
                    @for (ad_id, ad) in &ads {
                        tr {
                            td { (ad.name.as_deref().unwrap_or("Untitled ad")) }
                            td { (groups.iter().find(|(g, _)| *g == ad.ad_group_id).map_or("", |(_, g)| g.name.as_str())) }
                            td { (form::humanize(ad.status.as_str())) }
                            td {
                                (review_badge(ad))
                                @for label in &ad.rejection_labels { br; span class="hint" { (label) } }
                            }
                            @let seen = feedback.get(*ad_id).copied().unwrap_or_default();
                            td { (people_count(seen.hidden)) }
                            td { (people_count(seen.reported)) }
                            td { (actions(csrf, id, "ads", ad_id, ad.name.as_deref().unwrap_or("ad"), ad.status)) }
                        }
                    }
                }
            }
        }
        @if !ads.is_empty() {
            p class="hint" { "People who hid or reported an ad are counted in tens; under ten shows as \"fewer than 10\", so that no count points at anyone." }
        }

        h2 id="audiences" { "Audiences" }
        p { a class="button" href={ "/console/accounts/" (id) "/audiences/new" } { "New audience" } }
        @if audiences.is_empty() { p { "No audiences yet." } } @else {
            table {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Type" } th scope="col" class="num" { "Size" } th scope="col" { "Status" } } }
                tbody {
                    @for a in &audiences {
                        tr {
                            td { a href={ "/console/accounts/" (id) "/audiences/" (a.id) } { (a.name) } }
                            td { (a.audience_type) }
                            td class="num" { (a.size.map(|s| s.to_string()).unwrap_or_else(|| "–".into())) }
                            td { (status(a.status)) }
                        }
                    }
                }
            }
            p class="hint" { "Sizes are rounded, and people who switched off \"Use info from our ad partners\" are not counted. An audience under 100 people does not deliver." }
        }

        h2 id="customer_lists" { "Customer lists" }
        p { a class="button" href={ "/console/accounts/" (id) "/customer_lists/new" } { "Upload a customer list" } }
        @if lists.is_empty() { p { "No customer lists yet." } } @else {
            table {
                thead { tr { th scope="col" { "Name" } th scope="col" class="num" { "Records uploaded" } th scope="col" class="num" { "Removed" } th scope="col" { "Status" } } }
                tbody {
                    @for l in &lists {
                        tr {
                            td { a href={ "/console/accounts/" (id) "/customer_lists/" (l.id) } { (l.name) } }
                            td class="num" { (l.num_uploaded_user_records) }
                            td class="num" { (l.num_removed_user_records) }
                            td { (status(l.status)) }
                        }
                    }
                }
            }
        }

        h2 id="tags" { "Tags" }
        p { a class="button" href={ "/console/accounts/" (id) "/tags/new" } { "New tag" } }
        @if tags.is_empty() { p { "No tags yet." } }
        @for (tag, (health, rows, blocked)) in tags.iter().zip(&health) {
            section class="tag" aria-label={ "Tag " (tag.name) } {
                h3 { (tag.name) " · " (tag.id) }
                p {
                    @if let Some(last) = health.last_event_time {
                        span class="status good" { "Receiving events" }
                        " · last " (crate::pages::settings_page::when(last)) " UTC · " (health.last_day) " in the last 24 hours, "
                        (health.events) " in the last 7 days"
                    } @else {
                        span class="status bad" { "No events received in the last 7 days" }
                    }
                }
                p class="hint" {
                    @match health.match_rate_percent {
                        Some(rate) => { "Matched to people on the platform: " (rate) "–" ((rate + 10).min(100)) "% of events in the last 7 days." }
                        None => { "The match rate shows once the tag has sent 100 events in 7 days." }
                    }
                }
                p class="hint" {
                    @if tag.allowed_domains.is_empty() {
                        "Pixels from every site count. Set adloom_allowed_domains to count only your own sites."
                    } @else {
                        "Pixels count only from " (tag.allowed_domains.join(", ")) " and their subdomains."
                    }
                }
                @if !blocked.is_empty() {
                    p {
                        "Pixels kept out: "
                        @for (i, b) in blocked.iter().enumerate() {
                            @if i > 0 { ", " }
                            (b.count) " " (blocked_reason(&b.reason))
                        }
                    }
                }
                @if !rows.is_empty() {
                    table {
                        thead { tr { th scope="col" { "When (UTC)" } th scope="col" { "Event" } th scope="col" { "Page" } } }
                        tbody {
                            @for e in rows {
                                tr {
                                    td { (crate::pages::settings_page::when(e.time)) }
                                    td { (e.name.as_str()) }
                                    td { (e.url.as_deref().unwrap_or("")) }
                                }
                            }
                        }
                    }
                }
                p { a href={ "/console/accounts/" (id) "/tags/" (tag.id) } { "Install it and watch test events" span class="visually-hidden" { ": " (tag.name) } } }
                details {
                    summary { "Install this tag" }
                    pre class="snippet" tabindex="0" { code { (code_snippet(&state.config.public_url, &tag.id)) } }
                }
            }
        }
    };
    Ok(Page::new(layout("Console", body)))
}

/// Why pixels were kept out, in words.
fn blocked_reason(code: &str) -> &'static str {
    match code {
        "other_site" => "from sites this tag does not allow",
        "no_site" => "that named no site",
        "rate_limited" => "past the per-address rate limit",
        _ => "for other reasons",
    }
}

fn card(label: &str, figure: &str) -> Markup {
    html! { div class="card" { div { (label) } div class="figure" { (figure) } } }
}

fn chart_block(title: &str, labels: &[String], values: &[f64]) -> Markup {
    html! {
        figure class="chart" {
            // plotters' SVG, made here from numbers only.
            (PreEscaped(chart::daily(title, labels, values)))
            figcaption class="hint" { (title) }
        }
    }
}

fn status(s: &str) -> Markup {
    match s {
        "READY" => html! { span class="status good" { "Ready" } },
        "TOO_SMALL" => html! { span class="status bad" { "Too small: not delivering" } },
        other => html! { span class="status" { (other) } },
    }
}

/// Edit, and pause or resume, for one row.
fn actions(
    csrf: &Csrf,
    account: &str,
    kinds: &str,
    id: &str,
    name: &str,
    status: Status,
) -> Markup {
    let base = format!("/console/accounts/{account}/{kinds}/{id}");
    let (to, verb) = match status {
        Status::Active => ("PAUSED", "Pause"),
        _ => ("ACTIVE", "Resume"),
    };
    html! {
        a href=(base) aria-label={ "Edit " (name) } { "Edit" }
        " "
        form class="inline" method="post" action={ (base) "/status" } {
            (csrf.field())
            input type="hidden" name="status" value=(to);
            button type="submit" class="secondary" aria-label={ (verb) " " (name) } { (verb) }
        }
    }
}

/// A count of people as the disclosure policy lets it show.
fn people_count(count: Option<u64>) -> String {
    match count {
        Some(n) => format!("{n}+ people"),
        None => "fewer than 10".to_owned(),
    }
}

/// Where an ad's review stands, in words.
pub(crate) fn review_badge(ad: &Ad) -> Markup {
    match ad.review_status {
        ReviewStatus::Approved => html! { span class="status good" { "Approved" } },
        ReviewStatus::Rejected => html! { span class="status bad" { "Rejected" } },
        _ => html! { span class="status" { "Pending review" } },
    }
}

fn group_row(
    state: &AppState,
    campaign: &Campaign,
    id: &str,
    group: &AdGroup,
    now: i64,
    actions: Markup,
) -> Markup {
    let (spent, rate) = state.engine.serving.delivery(id, now);
    let bid = group.bid_in_micro_currency.unwrap_or(0) as f64;
    let bid_text = match group.billable_event {
        BillableEvent::Impression => format!("{} CPM", money(bid)),
        BillableEvent::Click => format!("{} CPC", money(bid)),
    };
    let budget = match group.budget_in_micro_currency {
        Some(b) => format!(
            "{} {}",
            money(b as f64),
            group.budget_type.as_str().to_lowercase()
        ),
        None => "none".to_owned(),
    };
    let pacing = match (group.pacing_delivery_type, rate) {
        (Delivery::Accelerated, _) => "accelerated".to_owned(),
        (_, Some(r)) => format!("standard, {:.0}% of requests", r * 100.0),
        _ => "standard".to_owned(),
    };
    let state_text = match (campaign.status, group.status) {
        (Status::Active, Status::Active) => "Active".to_owned(),
        (Status::Active, s) => s.as_str().to_lowercase(),
        (c, _) => format!("campaign {}", c.as_str().to_lowercase()),
    };
    html! {
        tr {
            td { (campaign.name) }
            td { (group.name) }
            td { (state_text) }
            td { (bid_text) }
            td { (budget) }
            td class="num" { (money(spent as f64)) }
            td { (pacing) }
            td { (actions) }
        }
    }
}

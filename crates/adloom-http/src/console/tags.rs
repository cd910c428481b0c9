//! Ads Manager's tags: make a tag, install it (its snippet and the sites
//! whose pixels count), and watch test events arrive. The events show as
//! the disclosure policy lets an advertiser see them (`event_row`: what was
//! sent, never whom it named); the page's script asks for them again every
//! few seconds.

use adloom_core::disclosure::{event_row, EventRow};
use adloom_core::event::EventSource;
use adloom_core::tag::{code_snippet, ConversionTag, ConversionTagCreate};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};

use super::account_session;
use crate::conversions::{change_tag, new_tag, owned_tag};
use crate::error::ApiError;
use crate::extract::FormData;
use crate::pages::settings_page::when;
use crate::pages::{forged, layout, Csrf, Page};
use crate::AppState;

/// Events shown on a tag's page, newest first.
const SHOWN_EVENTS: usize = 20;
/// Events read to find them.
const READ_EVENTS: usize = 2_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/accounts/{id}/tags/new", get(new_page))
        .route("/console/accounts/{id}/tags", post(create))
        .route(
            "/console/accounts/{id}/tags/{tag_id}",
            get(tag_page).post(update),
        )
        .route("/console/accounts/{id}/tags/{tag_id}/events", get(events))
}

fn domains_of(form: &FormData) -> Vec<String> {
    form.get("adloom_allowed_domains")
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .collect()
}

fn tag_form(csrf: &Csrf, action: &str, tag: Option<&ConversionTag>, error: Option<&str>) -> Markup {
    let domains = tag
        .map(|t| t.allowed_domains.join(", "))
        .unwrap_or_default();
    html! {
        @if let Some(e) = error { p class="notice error" role="alert" { "This was not saved. " (e) } }
        form method="post" action=(action) {
            (csrf.field())
            @if tag.is_none() {
                label for="tag-name" { "Tag name" }
                input id="tag-name" name="name" type="text" required;
            }
            label for="tag-sites" { "Your sites" }
            input id="tag-sites" name="adloom_allowed_domains" type="text" value=(domains)
                aria-describedby="tag-sites-hint";
            p class="hint" id="tag-sites-hint" {
                "Host names separated by commas, such as shop.example. Only pixels from these sites "
                "and their subdomains count, so nobody else can pour visitors into your audiences. "
                "Empty: pixels from every site count."
            }
            button type="submit" { @if tag.is_some() { "Save sites" } @else { "Create tag" } }
        }
    }
}

async fn new_page(
    State(state): State<AppState>,
    csrf: Csrf,
    headers: HeaderMap,
    Path(account): Path<String>,
) -> Response {
    if let Err(answer) = account_session(&state, &headers, &account).await {
        return answer;
    }
    let action = format!("/console/accounts/{account}/tags");
    csrf.onto(new_tag_page(&csrf, &account, &action, None))
        .into_response()
}

fn new_tag_page(csrf: &Csrf, account: &str, action: &str, error: Option<&str>) -> Page {
    Page::new(layout(
        "New tag",
        html! {
            p { a href={ "/console/accounts/" (account) } { "← Back to the ad account" } }
            h1 { "New tag" }
            p { "A tag is a small script on your site: it tells adloom what visitors do (page visits, add to cart, checkout), for visitor audiences and conversions." }
            (tag_form(csrf, action, None, error))
        },
    ))
}

async fn create(
    State(state): State<AppState>,
    csrf: Csrf,
    headers: HeaderMap,
    Path(account): Path<String>,
    form: FormData,
) -> Response {
    if let Err(answer) = account_session(&state, &headers, &account).await {
        return answer;
    }
    if !csrf.accepts(form.get("csrf")) {
        return forged().into_response();
    }
    let body = ConversionTagCreate {
        name: Some(form.get("name").to_owned()),
        adloom_allowed_domains: Some(domains_of(&form)),
        ..ConversionTagCreate::default()
    };
    match new_tag(&state, account.clone(), body).await {
        Ok(tag) => {
            Redirect::to(&format!("/console/accounts/{account}/tags/{}", tag.id)).into_response()
        }
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            let action = format!("/console/accounts/{account}/tags");
            csrf.onto(
                new_tag_page(&csrf, &account, &action, Some(&e.message)).with_status(e.status),
            )
            .into_response()
        }
        Err(e) => Page::from(e).into_response(),
    }
}

/// The tag's latest events, as the advertiser may see them.
async fn latest(state: &AppState, account: &str, tag_id: &str) -> Result<Vec<EventRow>, ApiError> {
    let events = state.engine.latest_events(account, READ_EVENTS).await?;
    Ok(events
        .iter()
        .filter(|e| matches!(&e.event.source, EventSource::Tag(t) if t == tag_id))
        .take(SHOWN_EVENTS)
        .map(|e| event_row(&e.event))
        .collect())
}

fn event_rows(rows: &[EventRow]) -> Markup {
    html! {
        @if rows.is_empty() {
            tr { td colspan="3" { "No events yet. Open a page of your site with the tag installed." } }
        }
        @for e in rows {
            tr {
                td { (when(e.time)) }
                td { (e.name.as_str()) }
                td { (e.url.as_deref().unwrap_or("")) }
            }
        }
    }
}

async fn tag_page(
    State(state): State<AppState>,
    csrf: Csrf,
    headers: HeaderMap,
    Path((account, tag_id)): Path<(String, String)>,
) -> Response {
    if let Err(answer) = account_session(&state, &headers, &account).await {
        return answer;
    }
    match show_tag(&state, &csrf, &account, &tag_id, None).await {
        Ok(page) => csrf.onto(page).into_response(),
        Err(e) => Page::from(e).into_response(),
    }
}

async fn show_tag(
    state: &AppState,
    csrf: &Csrf,
    account: &str,
    tag_id: &str,
    error: Option<&str>,
) -> Result<Page, ApiError> {
    let tag = owned_tag(state, account, tag_id).await?;
    let rows = latest(state, account, tag_id).await?;
    let action = format!("/console/accounts/{account}/tags/{tag_id}");
    Ok(Page::new(layout(
        "Tag",
        html! {
            p { a href={ "/console/accounts/" (account) } { "← Back to the ad account" } }
            h1 { (tag.name) }
            h2 { "Install it" }
            p id="snippet-label" { "Put this snippet in the <head> of every page of your site:" }
            pre class="snippet" tabindex="0" aria-labelledby="snippet-label" { code { (code_snippet(&state.config.public_url, &tag.id)) } }
            (tag_form(csrf, &action, Some(&tag), error))
            h2 id="test-events" { "Test events" }
            p class="hint" {
                "The latest events this tag sent, newest first; the list follows as they arrive. "
                "It shows what was sent, never whether it matched anyone."
            }
            table {
                thead { tr { th scope="col" { "When (UTC)" } th scope="col" { "Event" } th scope="col" { "Page" } } }
                tbody id="tag-events" data-events=(format!("{action}/events")) { (event_rows(&rows)) }
            }
            script type="module" src="/assets/console.js" {}
        },
    ))
    .with_status(if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK }))
}

async fn update(
    State(state): State<AppState>,
    csrf: Csrf,
    headers: HeaderMap,
    Path((account, tag_id)): Path<(String, String)>,
    form: FormData,
) -> Response {
    if let Err(answer) = account_session(&state, &headers, &account).await {
        return answer;
    }
    if !csrf.accepts(form.get("csrf")) {
        return forged().into_response();
    }
    let patch = ConversionTagCreate {
        adloom_allowed_domains: Some(domains_of(&form)),
        ..ConversionTagCreate::default()
    };
    let error = match change_tag(&state, &account, &tag_id, patch).await {
        Ok(_) => {
            return Redirect::to(&format!("/console/accounts/{account}/tags/{tag_id}"))
                .into_response()
        }
        Err(e) if e.status == StatusCode::BAD_REQUEST => e.message,
        Err(e) => return Page::from(e).into_response(),
    };
    match show_tag(&state, &csrf, &account, &tag_id, Some(&error)).await {
        Ok(page) => csrf.onto(page).into_response(),
        Err(e) => Page::from(e).into_response(),
    }
}

/// The rows of the test events table, for the page's script.
async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((account, tag_id)): Path<(String, String)>,
) -> Response {
    if let Err(answer) = account_session(&state, &headers, &account).await {
        return answer;
    }
    let rows = match owned_tag(&state, &account, &tag_id).await {
        Ok(_) => latest(&state, &account, &tag_id).await,
        Err(e) => Err(e),
    };
    match rows {
        Ok(rows) => Page::new(event_rows(&rows)).into_response(),
        Err(e) => e.into_response(),
    }
}

//! Ads Manager's audiences: customer lists uploaded from a CSV file, and
//! the audience builder (customer list, visitor, engagement).
//!
//! A customer list never reaches adloom in the clear: the page's script
//! (`/assets/console.js`) reads the file in the browser, normalizes every
//! email, phone number and mobile ad ID as `adloom hash` does, hashes it
//! with Web Crypto (SHA-256) and sends only the digests, in batches, to the
//! same code as the API's `customer_lists` endpoints.

use adloom_core::event::EventName;
use adloom_core::Invalid;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use maud::html;
use serde_json::{json, Value};

use super::account_session;
use super::form::{self, field, Field, Input, Options, Values};
use super::manager::offered;
use crate::audiences::{change_list, new_audience, new_list, AudienceBody, ListView};
use crate::error::ApiError;
use crate::extract::FormData;
use crate::list_upload::ListBody;
use crate::pages::{forged, layout, Csrf, Page};
use crate::AppState;

/// The header the page's script sends its CSRF token in.
const CSRF_HEADER: &str = "x-csrf-token";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/accounts/{id}/customer_lists/new", get(list_page))
        .route("/console/accounts/{id}/customer_lists", post(create_list))
        .route(
            "/console/accounts/{id}/customer_lists/{list_id}/records",
            post(add_records),
        )
        .route("/console/accounts/{id}/audiences/new", get(audience_page))
        .route("/console/accounts/{id}/audiences", post(create_audience))
}

async fn list_page(
    State(state): State<AppState>,
    csrf: Csrf,
    headers: HeaderMap,
    Path(account): Path<String>,
) -> Response {
    if let Err(answer) = account_session(&state, &headers, &account).await {
        return answer;
    }
    let body = html! {
        p { a href={ "/console/accounts/" (account) } { "← Back to the ad account" } }
        h1 { "New customer list" }
        p {
            "Choose a CSV file with your customers' emails, phone numbers (with their country code) "
            "or mobile ad IDs, in any columns. Your browser normalizes and hashes each of them "
            "(SHA-256) before anything is sent: adloom never receives the file, nor any plain email or number."
        }
        form id="list-upload" data-account=(account) data-csrf=(csrf.token) {
            div class="field" {
                label for="list-name" { "List name" }
                input id="list-name" name="name" type="text" required aria-describedby="list-name-error";
                p class="field-error" id="list-name-error" hidden {}
            }
            div class="field" {
                label for="list-file" { "CSV file" }
                input id="list-file" name="file" type="file" accept=".csv,.txt,text/csv,text/plain" required
                    aria-describedby="list-file-hint list-file-error";
                p class="hint" id="list-file-hint" { "A header row is fine: cells that are not an email, phone number or ad ID are left out." }
                p class="field-error" id="list-file-error" hidden {}
            }
            button type="submit" { "Hash and upload" }
        }
        div id="list-progress-area" hidden {
            label for="list-progress" { "Uploaded" }
            progress id="list-progress" max="100" value="0" {}
        }
        p id="list-status" role="status" aria-live="polite" {}
        noscript {
            p class="notice error" {
                "This page hashes your file in your browser, which takes JavaScript. "
                "Without it, use the command line: adloom lists upload."
            }
        }
        script type="module" src="/assets/console.js" {}
    };
    csrf.onto(Page::new(layout("New customer list", body)))
        .into_response()
}

/// The console's session and the page's CSRF token (double submit: the
/// header must match this browser's cookie), for the script's requests.
async fn script_session(
    state: &AppState,
    csrf: &Csrf,
    headers: &HeaderMap,
    account: &str,
) -> Result<(), ApiError> {
    if account_session(state, headers, account).await.is_err() {
        return Err(ApiError::forbidden());
    }
    let sent = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !csrf.accepts(sent) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            crate::error::code::NOT_PERMITTED,
            "the page expired: reload it and try again",
        ));
    }
    Ok(())
}

/// The first batch of digests: makes the list.
async fn create_list(
    State(state): State<AppState>,
    csrf: Csrf,
    headers: HeaderMap,
    Path(account): Path<String>,
    ListBody(body): ListBody,
) -> Result<Json<ListView>, ApiError> {
    script_session(&state, &csrf, &headers, &account).await?;
    Ok(Json(new_list(&state, &account, body).await?))
}

/// Each further batch of digests.
async fn add_records(
    State(state): State<AppState>,
    csrf: Csrf,
    headers: HeaderMap,
    Path((account, list_id)): Path<(String, String)>,
    ListBody(mut body): ListBody,
) -> Result<Json<ListView>, ApiError> {
    script_session(&state, &csrf, &headers, &account).await?;
    body.operation_type = Some("ADD".to_owned());
    Ok(Json(change_list(&state, &account, list_id, body).await?))
}

fn audience_types() -> Vec<&'static str> {
    vec!["CUSTOMER_LIST", "VISITOR", "ENGAGEMENT"]
}

fn engagement_types() -> Vec<&'static str> {
    vec!["click"]
}

static AUDIENCE: [Field; 9] = [
    field("name", "Audience name", Input::Text),
    field("audience_type", "Type", Input::Choice(audience_types)).hint(
        "Customer list: people on one of your lists. Visitor: people your tag saw on your site. \
         Engagement: people who saw or clicked your ads.",
    ),
    field(
        "rule.customer_list_id",
        "Customer list",
        Input::Pick(Options::CustomerLists),
    )
    .hint("For a customer-list audience."),
    field("rule.visitor_source_id", "Tag", Input::Pick(Options::Tags))
        .hint("For a visitor audience: the tag that saw them."),
    field(
        "rule.event",
        "Event",
        Input::MaybeChoice("Any event", EventName::standard_names),
    )
    .hint("For a visitor audience: only people whose visit sent this event."),
    field("rule.url", "Pages whose address contains", Input::Text)
        .hint("For a visitor audience, such as /shoes. Empty: any page."),
    field(
        "rule.engagement_type",
        "Engagement",
        Input::MaybeChoice("Saw or clicked an ad", engagement_types),
    )
    .hint("For an engagement audience."),
    field(
        "rule.retention_days",
        "Keep people for (days)",
        Input::Count,
    )
    .hint("1 to 540. Empty: 180 days."),
    field("description", "Description (optional)", Input::LongText),
];

async fn audience_page(
    State(state): State<AppState>,
    csrf: Csrf,
    headers: HeaderMap,
    Path(account): Path<String>,
) -> Response {
    if let Err(answer) = account_session(&state, &headers, &account).await {
        return answer;
    }
    match audience_form(&state, &csrf, &account, &Values::new(), None).await {
        Ok(page) => csrf.onto(page).into_response(),
        Err(e) => Page::from(e).into_response(),
    }
}

async fn audience_form(
    state: &AppState,
    csrf: &Csrf,
    account: &str,
    values: &Values,
    error: Option<&Invalid>,
) -> Result<Page, ApiError> {
    let offered = offered(state, account).await?;
    let elsewhere = error.filter(|e| !AUDIENCE.iter().any(|f| f.path == e.field));
    let body = html! {
        p { a href={ "/console/accounts/" (account) } { "← Back to the ad account" } }
        h1 { "New audience" }
        @if error.is_some() {
            div class="notice error" role="alert" {
                "This was not saved. "
                @if let Some(e) = elsewhere { (e.reason) } @else { "Check the field marked below." }
            }
        }
        form method="post" action={ "/console/accounts/" (account) "/audiences" } {
            (csrf.field())
            (form::render(&AUDIENCE, values, &offered, error, false))
            button type="submit" { "Create audience" }
        }
    };
    let page = Page::new(layout("New audience", body));
    Ok(match error {
        Some(_) => page.with_status(StatusCode::BAD_REQUEST),
        None => page,
    })
}

async fn create_audience(
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
    let values = form::posted(&AUDIENCE, &form.fields);
    let refusal = match save_audience(&state, &account, &values).await {
        Ok(()) => {
            return Redirect::to(&format!(
                "/console/accounts/{account}?saved=audiences#audiences"
            ))
            .into_response()
        }
        Err(e)
            if e.status == StatusCode::BAD_REQUEST || e.status == StatusCode::TOO_MANY_REQUESTS =>
        {
            // The API's message is "field: reason".
            match e.message.split_once(": ") {
                Some((field, reason)) if AUDIENCE.iter().any(|f| f.path == field) => {
                    Invalid::new(field, reason)
                }
                _ => Invalid::new("", e.message),
            }
        }
        Err(e) => return Page::from(e).into_response(),
    };
    match audience_form(&state, &csrf, &account, &values, Some(&refusal)).await {
        Ok(page) => csrf.onto(page).into_response(),
        Err(e) => Page::from(e).into_response(),
    }
}

/// The form as the API's audience body, made through the API's code.
async fn save_audience(state: &AppState, account: &str, values: &Values) -> Result<(), ApiError> {
    let mut input = Value::Object(form::to_json(&AUDIENCE, values, false)?);
    // The form's URL rule is "contains".
    if let Some(part) = input["rule"]["url"].as_str().map(str::to_owned) {
        input["rule"]["url"] = json!({"contains": [part]});
    }
    let body: AudienceBody = serde_json::from_value(input)
        .map_err(|e| ApiError::invalid(format!("invalid form: {e}")))?;
    new_audience(state, account, body).await.map(|_| ())
}

//! The rest of `/admin`: advertisers and their ad accounts, access tokens
//! (made with an expiry, revoked), people's reports, "Contact us" requests,
//! and this node's health from the figures `/metrics` serves. Each write
//! goes through the same code as its API endpoint.

use std::collections::BTreeSet;

use adloom_core::ad_account::AdAccountCreate;
use adloom_core::campaign::Ad;
use adloom_core::feedback::AdReport;
use adloom_core::object::{ObjectKind, Record};
use adloom_core::page::PageRequest;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};

use super::{admin_page, sign_in_form, signed_in};
use crate::ad_accounts::{issue_access_token, new_account};
use crate::error::ApiError;
use crate::extract::FormData;
use crate::pages::settings_page::when;
use crate::pages::{forged, protect, Csrf, Page};
use crate::AppState;

const DAY: i64 = 86_400;
/// Most rows a list page shows.
const PAGE: u32 = 250;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/accounts", get(accounts).post(create_account))
        .route("/admin/tokens", get(tokens).post(create_token))
        .route("/admin/tokens/{id}/revoke", post(revoke_token))
        .route("/admin/reports", get(reports))
        .route("/admin/support", get(support))
        .route("/admin/health", get(health))
}

/// Answers a page for a signed-in operator, or the sign-in form.
async fn guarded(
    state: &AppState,
    csrf: &Csrf,
    headers: &HeaderMap,
    page: impl std::future::Future<Output = Result<Page, ApiError>>,
) -> Response {
    if !signed_in(state, headers).await {
        return csrf.onto(sign_in_form(csrf, None)).into_response();
    }
    match page.await {
        Ok(page) => csrf.onto(page).into_response(),
        Err(e) => Page::from(e).into_response(),
    }
}

/// A posted form's checks: this browser's CSRF token and a live session.
async fn may_post(
    state: &AppState,
    csrf: &Csrf,
    headers: &HeaderMap,
    form: &FormData,
) -> Result<(), Response> {
    if !csrf.accepts(form.get("csrf")) {
        return Err(forged().into_response());
    }
    if !signed_in(state, headers).await {
        return Err(sign_in_form(csrf, Some("Sign in again to do that."))
            .with_status(StatusCode::UNAUTHORIZED)
            .into_response());
    }
    Ok(())
}

fn back_to(path: &str) -> Response {
    let mut res = Redirect::to(path).into_response();
    protect(res.headers_mut());
    res
}

fn refusal(message: &str) -> Markup {
    html! { p class="notice error" role="alert" { (message) } }
}

// ---- advertisers and ad accounts ----

async fn accounts(State(state): State<AppState>, csrf: Csrf, headers: HeaderMap) -> Response {
    guarded(&state, &csrf, &headers, accounts_page(&state, &csrf, None)).await
}

async fn accounts_page(
    state: &AppState,
    csrf: &Csrf,
    error: Option<&str>,
) -> Result<Page, ApiError> {
    let accounts = state
        .engine
        .store
        .list_ad_accounts(None, PageRequest::first(PAGE))
        .await?;
    let spend: std::collections::HashMap<String, u64> =
        state.engine.spend_today().await?.into_iter().collect();
    Ok(admin_page(
        "Advertisers",
        csrf,
        html! {
            p class="hint" { "Each advertiser has one or more ad accounts; a token gives an advertiser its accounts in Ads Manager and the API." }
            @if let Some(e) = error { (refusal(e)) }
            table {
                thead { tr { th scope="col" { "Ad account" } th scope="col" { "Id" } th scope="col" { "Country" } th scope="col" { "Currency" } th scope="col" { "Since" } th scope="col" class="num" { "Spend today (UTC)" } } }
                tbody {
                    @for a in &accounts.items {
                        tr {
                            td { (a.name) } td { (a.id) } td { (a.country.to_string()) } td { (a.currency) } td { (when(a.created_time)) }
                            td class="num" { (money(spend.get(&a.id).copied().unwrap_or(0))) }
                        }
                    }
                }
            }
            h2 { "New ad account" }
            form method="post" action="/admin/accounts" {
                (csrf.field())
                label for="account-name" { "Name" }
                input id="account-name" name="name" type="text" required;
                label for="account-country" { "Country" }
                input id="account-country" name="country" type="text" value="US" aria-describedby="account-country-hint";
                p class="hint" id="account-country-hint" { "Two letters, such as US or FR." }
                label for="account-currency" { "Currency" }
                input id="account-currency" name="currency" type="text" value="USD";
                button type="submit" { "Create ad account" }
            }
        },
    ))
}

async fn create_account(
    State(state): State<AppState>,
    csrf: Csrf,
    headers: HeaderMap,
    form: FormData,
) -> Response {
    if let Err(answer) = may_post(&state, &csrf, &headers, &form).await {
        return answer;
    }
    let text = |k: &str| Some(form.get(k).trim().to_owned()).filter(|v| !v.is_empty());
    let body = AdAccountCreate {
        name: text("name"),
        country: text("country"),
        currency: text("currency"),
        owner_user_id: None,
    };
    match new_account(&state, body).await {
        Ok(_) => back_to("/admin/accounts"),
        Err(e) if e.status.is_client_error() => {
            match accounts_page(&state, &csrf, Some(&e.message)).await {
                Ok(page) => csrf.onto(page.with_status(e.status)).into_response(),
                Err(e) => Page::from(e).into_response(),
            }
        }
        Err(e) => Page::from(e).into_response(),
    }
}

// ---- access tokens ----

async fn tokens(State(state): State<AppState>, csrf: Csrf, headers: HeaderMap) -> Response {
    guarded(&state, &csrf, &headers, tokens_page(&state, &csrf, None)).await
}

async fn tokens_page(
    state: &AppState,
    csrf: &Csrf,
    shown: Option<Markup>,
) -> Result<Page, ApiError> {
    let tokens = state.engine.store.list_access_tokens().await?;
    let accounts = state
        .engine
        .store
        .list_ad_accounts(None, PageRequest::first(PAGE))
        .await?
        .items;
    let name = |id: &str| {
        accounts
            .iter()
            .find(|a| a.id == id)
            .map_or(id.to_owned(), |a| a.name.clone())
    };
    Ok(admin_page(
        "Access tokens",
        csrf,
        html! {
            @if let Some(shown) = shown { (shown) }
            p class="hint" { "Only a token's hash is kept: a token shows once, when it is made. Revoking ends its API access and its Ads Manager sessions at once." }
            @if tokens.is_empty() { p { "No tokens yet." } } @else {
                table {
                    thead { tr { th scope="col" { "Token" } th scope="col" { "Ad accounts" } th scope="col" { "Made" } th scope="col" { "Expires" } th scope="col" { "Last used" } th scope="col" { span class="visually-hidden" { "Actions" } } } }
                    tbody {
                        @for t in &tokens {
                            tr {
                                td { (t.id) }
                                td { (t.ad_account_ids.iter().map(|id| name(id)).collect::<Vec<_>>().join(", ")) }
                                td { (when(t.created_at)) }
                                td { (t.expires_at.map_or("never".to_owned(), when)) }
                                td { (t.last_used_at.map_or("never".to_owned(), when)) }
                                td {
                                    form class="inline" method="post" action={ "/admin/tokens/" (t.id) "/revoke" } {
                                        (csrf.field())
                                        button type="submit" class="secondary" { "Revoke" span class="visually-hidden" { " token " (t.id) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "New access token" }
            form method="post" action="/admin/tokens" {
                (csrf.field())
                fieldset {
                    legend { "Ad accounts it reaches" }
                    @for a in &accounts {
                        div class="option" {
                            input type="checkbox" id={ "token-account-" (a.id) } name="ad_account_ids" value=(a.id);
                            label for={ "token-account-" (a.id) } { (a.name) " (" (a.id) ")" }
                        }
                    }
                }
                label for="token-days" { "Expires after (days)" }
                input id="token-days" name="expires_in_days" type="text" inputmode="numeric" aria-describedby="token-days-hint";
                p class="hint" id="token-days-hint" { "Empty: the token does not expire." }
                button type="submit" { "Create token" }
            }
        },
    ))
}

async fn create_token(
    State(state): State<AppState>,
    csrf: Csrf,
    headers: HeaderMap,
    form: FormData,
) -> Response {
    if let Err(answer) = may_post(&state, &csrf, &headers, &form).await {
        return answer;
    }
    let ids: BTreeSet<String> = form
        .fields
        .iter()
        .filter(|(k, _)| k == "ad_account_ids")
        .map(|(_, v)| v.clone())
        .collect();
    let days = form.get("expires_in_days").trim();
    let now = state.engine.clock.now();
    let made = match days {
        "" => issue_access_token(&state, ids, None).await,
        days => match days.parse::<i64>() {
            Ok(d) if (1..=3650).contains(&d) => {
                issue_access_token(&state, ids, Some(now + d * DAY)).await
            }
            _ => Err(ApiError::invalid(
                "expires_in_days: a whole number of days, 1 to 3650",
            )),
        },
    };
    let (shown, status) = match made {
        Ok(view) => (
            html! {
                div class="notice" role="status" {
                    p { "The new token, shown this once: give it to the advertiser." }
                    pre class="snippet" tabindex="0" { code { (view.access_token) } }
                }
            },
            StatusCode::CREATED,
        ),
        Err(e) if e.status.is_client_error() => (refusal(&e.message), e.status),
        Err(e) => return Page::from(e).into_response(),
    };
    match tokens_page(&state, &csrf, Some(shown)).await {
        Ok(page) => csrf.onto(page.with_status(status)).into_response(),
        Err(e) => Page::from(e).into_response(),
    }
}

async fn revoke_token(
    State(state): State<AppState>,
    csrf: Csrf,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    if let Err(answer) = may_post(&state, &csrf, &headers, &form).await {
        return answer;
    }
    match state.engine.store.revoke_access_token(&id).await {
        Ok(_) => back_to("/admin/tokens"),
        Err(e) => Page::from(ApiError::from(e)).into_response(),
    }
}

// ---- people's reports ----

async fn reports(State(state): State<AppState>, csrf: Csrf, headers: HeaderMap) -> Response {
    guarded(&state, &csrf, &headers, reports_page(&state, &csrf)).await
}

async fn reports_page(state: &AppState, csrf: &Csrf) -> Result<Page, ApiError> {
    let store = &state.engine.store;
    // The most reported ads of every advertiser, with their reasons.
    let mut rows = Vec::new();
    for (ad_id, reported) in store.most_reported_ads(PAGE as usize).await? {
        let reasons = store.ad_reports(&ad_id).await?;
        let stored = store.get_object(ObjectKind::Ad, &ad_id).await?;
        let account = match &stored {
            Some(o) => store.get_ad_account(&o.ad_account_id).await?,
            None => None,
        };
        let ad = stored.and_then(|o| match o.record {
            Record::Ad(ad) => Some(ad),
            _ => None,
        });
        rows.push(ReportedAd {
            ad_id,
            reported,
            reasons,
            advertiser: account.map(|a| a.name).unwrap_or_default(),
            ad,
        });
    }
    Ok(admin_page(
        "People's reports",
        csrf,
        html! {
            p class="hint" {
                "Ads people reported, most reported first. An ad reported by "
                (state.engine.config.review.reports_to_pause)
                " people stops serving and waits in the review queue."
            }
            @if rows.is_empty() { p { "No ad has been reported." } } @else {
                table {
                    thead { tr { th scope="col" { "Ad" } th scope="col" { "Advertiser" } th scope="col" class="num" { "People" } th scope="col" { "Reasons" } th scope="col" { "Review" } } }
                    tbody {
                        @for row in &rows {
                            tr {
                                td { (row.ad.as_ref().and_then(|a| a.name.clone()).unwrap_or_else(|| row.ad_id.clone())) }
                                td { (row.advertiser) }
                                td class="num" { (row.reported) }
                                td { (reason_summary(&row.reasons)) }
                                td { (row.ad.as_ref().map_or("", |a| a.review_status.as_str())) }
                            }
                        }
                    }
                }
            }
        },
    ))
}

/// A row of the reports page.
struct ReportedAd {
    ad_id: String,
    /// How many people reported it.
    reported: u64,
    reasons: Vec<AdReport>,
    /// The advertiser's name (empty if the ad is gone).
    advertiser: String,
    ad: Option<Ad>,
}

/// "spam 3, misleading 1".
fn reason_summary(reports: &[AdReport]) -> String {
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for r in reports {
        *counts.entry(r.reason.as_str()).or_default() += 1;
    }
    counts
        .iter()
        .map(|(reason, n)| format!("{} {n}", reason.replace('_', " ")))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---- "Contact us" ----

async fn support(State(state): State<AppState>, csrf: Csrf, headers: HeaderMap) -> Response {
    guarded(&state, &csrf, &headers, support_page(&state, &csrf)).await
}

async fn support_page(state: &AppState, csrf: &Csrf) -> Result<Page, ApiError> {
    let requests = state
        .engine
        .store
        .support_requests(PageRequest::first(PAGE))
        .await?;
    Ok(admin_page(
        "Contact us requests",
        csrf,
        html! {
            p class="hint" { "What people sent from the help page's \"Contact us\" form, newest first. Contact details in messages are masked." }
            @if requests.items.is_empty() { p { "No requests yet." } }
            @for r in &requests.items {
                section class="review" aria-label={ "Request " (r.id) } {
                    h2 { (r.topic) }
                    p class="hint" {
                        (when(r.created_time)) " UTC · "
                        @match &r.user_id { Some(u) => { "from person " (u) } None => { "not signed in" } }
                    }
                    p { (r.message) }
                }
            }
        },
    ))
}

// ---- health ----

async fn health(State(state): State<AppState>, csrf: Csrf, headers: HeaderMap) -> Response {
    let page = async {
        let f = state.engine.metrics.figures();
        let spend_today: u64 = state
            .engine
            .spend_today()
            .await?
            .iter()
            .map(|(_, s)| s)
            .sum();
        let percent = |part: f64, whole: f64| {
            if whole > 0.0 {
                format!("{:.1}%", 100.0 * part / whole)
            } else {
                "–".to_owned()
            }
        };
        Ok(admin_page(
            "Health",
            &csrf,
            html! {
                p class="hint" { "Spend is today's (UTC) on every node, from the store. The rest is this node since it started, from the same figures as /metrics." }
                div class="cards" {
                    (card("Spend today", &money(spend_today)))
                    (card("Requests", &format!("{}", f.requests)))
                    (card("Server errors", &percent(f.server_errors, f.requests)))
                    (card("Decisions", &format!("{}", f.decisions)))
                    (card("Fill rate", &percent(f.filled, f.decisions)))
                    (card("Spend since start", &format!("{:.2}", f.spend_micros / 1e6)))
                    (card("Events in", &format!("{}", f.events_in)))
                }
                h2 { "Turned away" }
                @if f.rejected.is_empty() { p { "Nothing." } } @else {
                    table {
                        thead { tr { th scope="col" { "Why" } th scope="col" class="num" { "How many" } } }
                        tbody { @for (why, n) in &f.rejected { tr { td { (why) } td class="num" { (n) } } } }
                    }
                }
            },
        ))
    };
    guarded(&state, &csrf, &headers, page).await
}

fn card(label: &str, figure: &str) -> Markup {
    html! { div class="card" { div { (label) } div class="figure" { (figure) } } }
}

/// Micro-currency as the currency's units: to the cent, and finer when a
/// day's spend is under a cent (a few impressions).
fn money(micros: u64) -> String {
    crate::console::form::money(micros)
}

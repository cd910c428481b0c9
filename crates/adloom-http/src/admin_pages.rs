//! `/admin`: the operator's pages, signed in with the admin token. The
//! review queue shows each waiting ad as people would see it, with its
//! advertiser, link and people's reports, and approves or rejects it
//! through the engine's `decide_review`, the same function as
//! `POST /v1/admin/ad_reviews/{ad_id}`. The other pages (advertisers,
//! tokens, reports, "Contact us", health) are in `manage`.

mod manage;

use adloom_core::campaign::ReviewStatus;
use adloom_engine::review::ReviewItem;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::cookie;
use crate::pages::{forged, layout, protect, set_cookie, token_sign_in, Csrf, Page};
use crate::AppState;

const SESSION_COOKIE: &str = "adloom_admin";
const SESSION_SECS: i64 = 8 * 3600;
/// Who a decision made on these pages is recorded as.
const OPERATOR: &str = "operator (admin pages)";
/// The reasons the reject form offers first; any of Pinterest's is taken.
const COMMON_REASONS: [(&str, &str); 8] = [
    ("LANDING_PAGE_BROKEN", "The link does not work"),
    ("LANDING_PAGE", "The landing page breaks the rules"),
    ("PROHIBITED_PRODUCT", "Prohibited product or service"),
    ("EXAGGERATED_CLAIMS", "Exaggerated claims"),
    ("CLICKBAIT", "Clickbait"),
    ("IMAGE_LOW_QUALITY", "Low-quality image"),
    ("SHOCKING", "Shocking content"),
    ("OTHER", "Something else"),
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(home))
        .route("/admin/sign_in", post(sign_in))
        .route("/admin/sign_out", post(sign_out))
        .route("/admin/ad_reviews/{ad_id}", post(decide))
        .merge(manage::routes())
}

/// An operator's page: its title, the pages' menu and signing out.
fn admin_page(title: &str, csrf: &Csrf, body: Markup) -> Page {
    Page::new(layout(
        title,
        html! {
            nav class="demo" aria-label="Operator" {
                a href="/admin" { "Ad review" } " · "
                a href="/admin/reports" { "People's reports" } " · "
                a href="/admin/accounts" { "Advertisers" } " · "
                a href="/admin/tokens" { "Access tokens" } " · "
                a href="/admin/support" { "Contact us requests" } " · "
                a href="/admin/health" { "Health" }
            }
            div class="console-head" {
                h1 { (title) }
                form method="post" action="/admin/sign_out" {
                    (csrf.field())
                    button type="submit" class="secondary" { "Sign out" }
                }
            }
            (body)
        },
    ))
}

/// Whether the request carries a live operator's session: signed, not
/// expired, and made with the admin token in use now.
async fn signed_in(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(value) = cookie(headers, SESSION_COOKIE) else {
        return false;
    };
    let Ok(key) = state.key("admin pages").await else {
        return false;
    };
    let Some(payload) = adloom_engine::signed::verify(&key, value) else {
        return false;
    };
    let Some((expires, hash)) = payload.split_once('|') else {
        return false;
    };
    expires
        .parse::<i64>()
        .is_ok_and(|e| e > state.engine.clock.now())
        && hash == state.auth.admin_token_hash()
}

async fn home(State(state): State<AppState>, csrf: Csrf, headers: HeaderMap) -> Response {
    if !signed_in(&state, &headers).await {
        return csrf.onto(sign_in_form(&csrf, None)).into_response();
    }
    match state.engine.review_queue(ReviewStatus::Pending).await {
        Ok(items) => csrf.onto(queue_page(&csrf, &items)).into_response(),
        Err(e) => Page::from(ApiError::from(e)).into_response(),
    }
}

fn sign_in_form(csrf: &Csrf, error: Option<&str>) -> Page {
    token_sign_in(
        csrf,
        "Operator",
        "/admin/sign_in",
        "Admin token",
        "The token adloom printed when it first started (DATA_DIR/admin-token), or the one in its configuration.",
        error,
    )
}

fn queue_page(csrf: &Csrf, items: &[ReviewItem]) -> Page {
    admin_page(
        "Ad review",
        csrf,
        html! {
            p class="hint" { "Ads waiting for a decision, oldest first. A pending ad never serves." }
            @if items.is_empty() { p { "Nothing waits for review." } }
            @for item in items { (review_card(csrf, item)) }
        },
    )
}

fn review_card(csrf: &Csrf, item: &ReviewItem) -> Markup {
    let link = item
        .ad
        .destination_url
        .clone()
        .or_else(|| item.pin.as_ref().and_then(|p| p.link.clone()))
        .unwrap_or_default();
    let title = item
        .pin
        .as_ref()
        .and_then(|p| p.title.clone())
        .unwrap_or_else(|| "(no title)".to_owned());
    let heading = format!("review-{}", item.ad_id);
    html! {
        section class="review" aria-labelledby=(heading) {
            h2 id=(heading) { (title) }
            @if let Some(pin) = &item.pin {
                img src=(pin.image_url) alt=(pin.alt_text.clone().unwrap_or_else(|| format!("The pin's image: {title}"))) width="160";
                @if let Some(d) = &pin.description { p { (d) } }
            }
            dl {
                dt { "Advertiser" } dd { (item.account.name) " (" (item.account.id) ")" }
                dt { "Link" } dd { code { (link) } }
                dt { "Ad" } dd { (item.ad_id) }
                dt { "Reports" } dd { (item.reports.len()) }
            }
            form method="post" action={ "/admin/ad_reviews/" (item.ad_id) } class="inline" {
                (csrf.field())
                input type="hidden" name="decision" value="APPROVED";
                button type="submit" { "Approve" span class="visually-hidden" { ": " (title) } }
            }
            form method="post" action={ "/admin/ad_reviews/" (item.ad_id) } class="inline" {
                (csrf.field())
                input type="hidden" name="decision" value="REJECTED";
                label for={ "reason-" (item.ad_id) } { "Reason" }
                select id={ "reason-" (item.ad_id) } name="reason" {
                    @for (code, words) in COMMON_REASONS { option value=(code) { (words) } }
                }
                button type="submit" class="secondary" { "Reject" span class="visually-hidden" { ": " (title) } }
            }
        }
    }
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
    if !state.auth.is_admin_token(form.token.trim()) {
        return sign_in_form(&csrf, Some("That is not the admin token."))
            .with_status(StatusCode::UNAUTHORIZED)
            .into_response();
    }
    let key = match state.key("admin pages").await {
        Ok(k) => k,
        Err(e) => return Page::from(e).into_response(),
    };
    let expires = state.engine.clock.now() + SESSION_SECS;
    let value = adloom_engine::signed::sign(
        &key,
        &format!("{expires}|{}", state.auth.admin_token_hash()),
    );
    session_cookie(
        Redirect::to("/admin").into_response(),
        &state,
        &value,
        SESSION_SECS,
    )
}

#[derive(Deserialize)]
struct Plain {
    #[serde(default)]
    csrf: String,
}

async fn sign_out(State(state): State<AppState>, csrf: Csrf, Form(form): Form<Plain>) -> Response {
    if !csrf.accepts(&form.csrf) {
        return forged().into_response();
    }
    session_cookie(Redirect::to("/admin").into_response(), &state, "", 0)
}

fn session_cookie(mut res: Response, state: &AppState, value: &str, secs: i64) -> Response {
    if let Ok(v) = set_cookie(&state.config, SESSION_COOKIE, value, secs, "Strict").parse() {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    protect(res.headers_mut());
    res
}

#[derive(Deserialize)]
struct Decision {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
    reason: Option<String>,
}

async fn decide(
    State(state): State<AppState>,
    csrf: Csrf,
    headers: HeaderMap,
    Path(ad_id): Path<String>,
    Form(form): Form<Decision>,
) -> Response {
    if !csrf.accepts(&form.csrf) {
        return forged().into_response();
    }
    if !signed_in(&state, &headers).await {
        return sign_in_form(&csrf, Some("Sign in again to decide."))
            .with_status(StatusCode::UNAUTHORIZED)
            .into_response();
    }
    let reasons: Vec<String> = form.reason.into_iter().collect();
    match state
        .engine
        .decide_review(&ad_id, &form.decision, &reasons, OPERATOR)
        .await
    {
        Ok(_) => {
            let mut res = Redirect::to("/admin").into_response();
            protect(res.headers_mut());
            res
        }
        Err(e) => Page::from(ApiError::from(e)).into_response(),
    }
}

//! `/choices`: the browser-level opt-out, in the spirit of the industry's
//! consumer choice tools. It sets or clears a cookie on this site; the tag
//! sends it with every pixel, and the pixel endpoint then marks this
//! browser's events opted out (kept without anything linking them to a
//! person, counted only in aggregate totals).

use adloom_core::pixel::OPT_OUT_COOKIE;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;

use super::{forged, layout, problem, protect, Csrf, Page};
use crate::extract::browser_signals;
use crate::AppState;

/// Five years: as long as browsers keep a cookie.
const OPT_OUT_SECS: i64 = 5 * 365 * 86_400;

#[derive(Deserialize)]
pub struct Shown {
    saved: Option<String>,
}

pub async fn show(
    State(_): State<AppState>,
    csrf: Csrf,
    Query(shown): Query<Shown>,
    headers: HeaderMap,
) -> Page {
    let signals = browser_signals(&headers);
    let body = html! {
        h1 { "Your web choices" }
        @if shown.saved.is_some() {
            p class="notice" role="status" { "Saved for this browser." }
        }
        p {
            "Advertisers can put a tag on their websites that tells us which pages you visit "
            "there, so that they can show you ads here about what you looked at. This page "
            "lets you opt this browser out of that."
        }
        div class="state" {
            @if signals.opt_out_cookie {
                p { strong { "This browser is opted out." } " Visits to advertisers' sites from this browser are not used to choose your ads, and are not linked to you." }
            } @else {
                p { strong { "This browser is not opted out." } " Advertisers' tags may report your visits from this browser, and they may be used to choose your ads." }
            }
            @if signals.global_privacy_control {
                p { "Your browser also sends the Global Privacy Control signal, which we honour in the same way for every request that carries it." }
            }
        }
        form method="post" action="/choices" {
            (csrf.field())
            @if signals.opt_out_cookie {
                input type="hidden" name="opt_out" value="0";
                button type="submit" { "Allow web activity from this browser again" }
            } @else {
                input type="hidden" name="opt_out" value="1";
                button type="submit" { "Opt this browser out" }
            }
        }
        p class="hint" {
            "The choice is kept in a cookie on this browser only. If you clear your cookies, "
            "use another browser or another device, make the choice there too. For your "
            "account as a whole, use "
            a href="/settings/ads" { "Ads settings" } "."
        }
    };
    csrf.onto(Page::new(layout("Web choices", body)))
}

#[derive(Deserialize)]
pub struct Choice {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    opt_out: String,
}

pub async fn save(State(state): State<AppState>, csrf: Csrf, Form(form): Form<Choice>) -> Response {
    if !csrf.accepts(&form.csrf) {
        return forged().into_response();
    }
    // The tag runs on advertisers' sites and the pixel is a cross-site
    // request, so the cookie must travel cross-site: SameSite=None, which
    // browsers take only with Secure (https, or localhost).
    let url = state.config.public_url.as_str();
    let secure = url.starts_with("https://")
        || url.starts_with("http://localhost")
        || url.starts_with("http://127.0.0.1");
    let scope = if secure {
        "Secure; SameSite=None"
    } else {
        "SameSite=Lax"
    };
    let cookie = match form.opt_out.as_str() {
        "1" => format!("{OPT_OUT_COOKIE}=1; Path=/; Max-Age={OPT_OUT_SECS}; HttpOnly; {scope}"),
        "0" => format!("{OPT_OUT_COOKIE}=; Path=/; Max-Age=0; HttpOnly; {scope}"),
        _ => {
            return problem(
                StatusCode::BAD_REQUEST,
                "That did not work",
                "Go back and use the button on the page.",
            )
            .into_response()
        }
    };
    let mut res = Redirect::to("/choices?saved=1").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    protect(res.headers_mut());
    res
}

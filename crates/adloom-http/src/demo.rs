//! The demo's web: a person picker, a feed that mixes promoted pins from
//! the decision API into organic ones, and a shoe shop with the adloom tag
//! installed. Served only by `adloom demo`, which builds the world these
//! pages show and says where its shop's tag is.
//!
//! Everything goes through the real paths: the feed asks
//! `serving::decide_request` as the platform would, clicks go through the
//! click beacon, the shop's tag sends pixels to `/v3/`, and "Use info from
//! our ad partners" is the real settings page.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};
use serde::Deserialize;

use crate::extract::browser_signals;
use crate::pages::{forged, layout, problem, protect, session_cookie, Csrf, Page, Person};
use crate::serving::{decide_request, AdAnswer, DecisionRequest, SignalsInput};
use crate::AppState;

/// What the demo's pages need to know about its world.
#[derive(Debug, Clone)]
pub struct DemoSite {
    /// The tag Shoes Inc. installed on the shop.
    pub shop_tag_id: String,
    /// People to offer in the picker: (user id, who they are).
    pub people: Vec<(String, String)>,
}

/// A demo person's email: how the shop knows them (the tag hashes it in
/// the browser before anything is sent).
pub fn demo_email(user_id: &str) -> String {
    format!("{user_id}@demo.example")
}

pub struct Product {
    pub slug: &'static str,
    pub name: &'static str,
    pub price_cents: u64,
    pub color: &'static str,
}

pub const PRODUCTS: [Product; 4] = [
    Product {
        slug: "red-runner",
        name: "Red Runner",
        price_cents: 8_900,
        color: "#c62828",
    },
    Product {
        slug: "trail-blazer",
        name: "Trail Blazer",
        price_cents: 12_000,
        color: "#2e7d32",
    },
    Product {
        slug: "city-walker",
        name: "City Walker",
        price_cents: 7_500,
        color: "#1565c0",
    },
    Product {
        slug: "cloud-slipper",
        name: "Cloud Slipper",
        price_cents: 5_900,
        color: "#6a1b9a",
    },
];

/// Pins that are not ads: what the feed is mostly made of.
const ORGANIC: [(&str, &str); 12] = [
    ("Autumn soup ideas", "#ef6c00"),
    ("Tiny balcony garden", "#558b2f"),
    ("Weekend in Lisbon", "#0277bd"),
    ("Reading nook", "#6d4c41"),
    ("Sourdough, step by step", "#8d6e63"),
    ("Trail running for beginners", "#2e7d32"),
    ("Minimal desk setup", "#455a64"),
    ("Watercolor skies", "#5c6bc0"),
    ("Cozy knit patterns", "#ad1457"),
    ("Street photography tips", "#37474f"),
    ("Houseplants that forgive you", "#00897b"),
    ("Camping checklist", "#f9a825"),
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/demo", get(home))
        .route("/demo/person", post(pick))
        .route("/demo/feed", get(feed))
        .route("/demo/shop", get(shop))
        .route("/demo/shop/products/{slug}", get(product))
        .route("/demo/shop/cart/{slug}", get(cart))
        .route("/demo/shop/buy/{slug}", get(bought))
        .route("/demo/shop.js", get(shop_js))
        .route("/demo/feed.js", get(feed_js))
        .route("/demo/img/{name}", get(image))
        .route("/demo/ads/{ad_id}/{action}", post(feedback))
}

fn site(state: &AppState) -> Option<&DemoSite> {
    state.config.demo.as_ref()
}

fn not_in_demo() -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "Not found",
        "The demo runs with `adloom demo`.",
    )
    .into_response()
}

fn demo_layout(title: &str, person: Option<&str>, body: Markup) -> Markup {
    layout(
        title,
        html! {
            nav class="demo" aria-label="Demo" {
                a href="/demo" { "Demo home" } " · "
                a href="/demo/feed" { "Feed" } " · "
                a href="/demo/shop" { "Shoe shop" } " · "
                a href="/settings/ads" { "Ads settings" }
                @if let Some(p) = person { " · you are " strong { (p) } }
            }
            (body)
        },
    )
}

async fn home(State(state): State<AppState>, Person(person): Person, csrf: Csrf) -> Response {
    let Some(site) = site(&state) else {
        return not_in_demo();
    };
    let body = html! {
        h1 { "adloom demo" }
        p {
            "A small app with a feed, three advertisers and a few thousand people. Pick "
            "someone, look around the shoe shop as them, then open the feed: the ads follow "
            "what they did, and " a href="/settings/ads" { "Ads settings" } " lets them say no."
        }
        ol {
            li { "Pick a person below." }
            li { "In the " a href="/demo/shop" { "shoe shop" } ", open a pair of shoes and do not buy them." }
            li { "Open the " a href="/demo/feed" { "feed" } ": Shoes Inc. shows those shoes, because you visited their website." }
            li { "In " a href="/settings/ads" { "Ads settings" } ", switch \"Use info from our ad partners\" to No, and reload the feed." }
        }
        form method="post" action="/demo/person" {
            (csrf.field())
            label for="person" { "Be this person" }
            select id="person" name="user_id" {
                @for (id, who) in &site.people {
                    option value=(id) selected[person.as_deref() == Some(id.as_str())] { (id) " — " (who) }
                }
            }
            button type="submit" { "Browse as them" }
        }
    };
    csrf.onto(Page::new(demo_layout("Demo", person.as_deref(), body)))
        .into_response()
}

#[derive(Deserialize)]
struct Pick {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    user_id: String,
}

async fn pick(State(state): State<AppState>, csrf: Csrf, Form(form): Form<Pick>) -> Response {
    let Some(site) = site(&state) else {
        return not_in_demo();
    };
    if !csrf.accepts(&form.csrf) {
        return forged().into_response();
    }
    if !site.people.iter().any(|(id, _)| *id == form.user_id) {
        return problem(
            StatusCode::BAD_REQUEST,
            "Pick someone from the list",
            "Go back and choose one of the people offered.",
        )
        .into_response();
    }
    match session_cookie(&state, &form.user_id).await {
        Ok(cookie) => {
            let mut res = Redirect::to("/demo/shop").into_response();
            if let Ok(v) = cookie.parse() {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            protect(res.headers_mut());
            res
        }
        Err(e) => Page::from(e).into_response(),
    }
}

async fn feed(
    State(state): State<AppState>,
    Person(person): Person,
    csrf: Csrf,
    headers: HeaderMap,
) -> Response {
    if site(&state).is_none() {
        return not_in_demo();
    }
    let Some(user) = person else {
        return Redirect::to("/demo").into_response();
    };
    let request = DecisionRequest {
        user_id: Some(user.clone()),
        placement: Some("home_feed".into()),
        count: Some(3),
        signals: Some(SignalsInput {
            gpc: Some(browser_signals(&headers).global_privacy_control),
        }),
        ..DecisionRequest::default()
    };
    let ads = match decide_request(&state, request).await {
        Ok(answer) => answer.ads,
        // The feed shows without ads rather than not at all.
        Err(e) => {
            tracing::warn!(error = ?e, "demo feed: no decision");
            Vec::new()
        }
    };
    let public_url = &state.config.public_url;
    let mut promoted = ads.into_iter().map(|ad| own_images(public_url, ad));
    let body = html! {
        h1 { "Your feed" }
        // The platform's own pages call its backend with this token.
        div class="pins" data-csrf=(csrf.token) {
            @for (i, (title, color)) in ORGANIC.iter().enumerate() {
                @if i % 4 == 1 {
                    @if let Some(ad) = promoted.next() { (ad_slot(&ad)) }
                }
                (organic_pin(title, color))
            }
        }
        // The feed SDK renders each slot's ad and fires its impression
        // beacon once the ad is viewable.
        script type="module" src="/demo/feed.js" {}
    };
    csrf.onto(Page::new(demo_layout("Feed", Some(&user), body)))
        .into_response()
}

/// What the demo feed's menu sends: the scope of a hide, or the reason of
/// a report.
#[derive(Deserialize)]
struct Feedback {
    #[serde(default)]
    scope: String,
    #[serde(default)]
    reason: String,
}

/// The demo platform's backend for "Hide this ad" (`hide`) and "Report
/// this ad" (`report`): the signed-in person, the page's CSRF token (a
/// header), then the same engine calls as `POST /v1/people/{user_id}/
/// hidden_ads` and `.../ad_reports`.
async fn feedback(
    State(state): State<AppState>,
    Person(person): Person,
    csrf: Csrf,
    headers: HeaderMap,
    Path((ad_id, action)): Path<(String, String)>,
    Form(form): Form<Feedback>,
) -> Response {
    use adloom_core::feedback::{HideScope, ReportReason};
    if site(&state).is_none() {
        return not_in_demo();
    }
    let token = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !csrf.accepts(token) {
        return forged().into_response();
    }
    let Some(user) = person else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let done = match (
        action.as_str(),
        HideScope::parse(&form.scope),
        ReportReason::parse(&form.reason),
    ) {
        ("hide", Some(scope), _) => state.engine.hide_ad(&user, &ad_id, scope).await.map(drop),
        ("report", _, Some(reason)) => state
            .engine
            .report_ad(&user, &ad_id, reason)
            .await
            .map(drop),
        ("hide" | "report", _, _) => return StatusCode::BAD_REQUEST.into_response(),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    match done {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

/// A place in the feed for one promoted pin: the decision's ad, as data
/// for the feed SDK (`/sdk/feed.js`), which renders it.
fn ad_slot(ad: &AdAnswer) -> Markup {
    let data = serde_json::to_string(ad).unwrap_or_default();
    html! { div class="ad-slot" data-ad=(data) {} }
}

fn organic_pin(title: &str, color: &str) -> Markup {
    let src = format!("/demo/img/{}.svg", &color[1..]);
    html! {
        article class="pin" {
            img src=(src) alt="" width="240" height="300";
            div class="body" { p class="title" { (title) } }
        }
    }
}

/// A pin's image as the feed may load it: only from adloom itself. An
/// image hot-linked from an advertiser's server would hand the advertiser
/// every viewer's address and the time they scrolled by; a platform serves
/// (or proxies and caches) pin images itself, and so does the demo.
fn own_image<'a>(public_url: &str, image_url: &'a str) -> Option<&'a str> {
    let base = public_url.trim_end_matches('/');
    image_url
        .strip_prefix(base)
        .filter(|path| path.starts_with("/demo/img/"))
}

/// The ad with its pin's image loaded from adloom itself (see
/// [`own_image`]), or a plain grey one.
fn own_images(public_url: &str, mut ad: AdAnswer) -> AdAnswer {
    let image = ad
        .pin
        .image_url
        .as_deref()
        .and_then(|src| own_image(public_url, src))
        .unwrap_or("/demo/img/9e9e9e.svg")
        .to_owned();
    ad.pin.image_url = Some(image);
    ad
}

fn money(cents: u64) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

/// A shop page with the tag: `shop.js` reads what to send from the body.
fn shop_page(
    state: &AppState,
    person: Option<&str>,
    title: &str,
    event: Option<(&str, Option<&Product>, Option<String>)>,
    body: Markup,
) -> Response {
    let Some(site) = site(state) else {
        return not_in_demo();
    };
    let email = person.map(demo_email).unwrap_or_default();
    let (event_name, value, order) = match &event {
        Some((name, product, order)) => (
            *name,
            product
                .map(|p| format!("{}.{:02}", p.price_cents / 100, p.price_cents % 100))
                .unwrap_or_default(),
            order.clone().unwrap_or_default(),
        ),
        None => ("", String::new(), String::new()),
    };
    let page = html! {
        (maud::DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Shoes Inc." }
                link rel="stylesheet" href="/assets/adloom.css";
                script src="/tag/core.js" async {}
                script src="/demo/shop.js" defer {}
            }
            body data-tag=(site.shop_tag_id) data-email=(email) data-event=(event_name)
                data-value=(value) data-order=(order) {
                header class="top" {
                    a class="brand" href="/demo/shop" { "Shoes Inc." }
                    nav aria-label="Shop" {
                        a href="/demo/shop" { "All shoes" }
                        a href="/demo/feed" { "Back to the app's feed" }
                    }
                }
                main id="main" {
                    @if let Some(p) = person {
                        p class="hint" { "Signed in to the shop as " (demo_email(p)) " (the demo person you picked)." }
                    } @else {
                        p class="hint" { "Not signed in: " a href="/demo" { "pick a demo person" } " first." }
                    }
                    (body)
                    p class="hint" { "This shop has the adloom tag installed. " a href="/choices" { "Web choices" } }
                }
            }
        }
    };
    Page::new(page).into_response()
}

async fn shop(State(state): State<AppState>, Person(person): Person) -> Response {
    let body = html! {
        h1 { "Shoes" }
        div class="pins" {
            @for p in &PRODUCTS {
                article class="pin" {
                    a href={ "/demo/shop/products/" (p.slug) } {
                        img src={ "/demo/img/" (&p.color[1..]) ".svg" } alt=(p.name) width="240" height="300";
                    }
                    div class="body" {
                        p class="title" { a href={ "/demo/shop/products/" (p.slug) } { (p.name) } }
                        p { (money(p.price_cents)) }
                    }
                }
            }
        }
    };
    shop_page(
        &state,
        person.as_deref(),
        "Shoes",
        Some(("pagevisit", None, None)),
        body,
    )
}

fn find(slug: &str) -> Option<&'static Product> {
    PRODUCTS.iter().find(|p| p.slug == slug)
}

async fn product(
    State(state): State<AppState>,
    Person(person): Person,
    Path(slug): Path<String>,
) -> Response {
    let Some(p) = find(&slug) else {
        return not_found_product();
    };
    let body = html! {
        h1 { (p.name) }
        img src={ "/demo/img/" (&p.color[1..]) ".svg" } alt=(p.name) width="320" height="400";
        p class="figure" { (money(p.price_cents)) }
        p {
            a class="button" href={ "/demo/shop/cart/" (p.slug) } { "Add to cart" } " "
            a class="button secondary" href={ "/demo/shop/buy/" (p.slug) } { "Buy now" }
        }
    };
    shop_page(
        &state,
        person.as_deref(),
        p.name,
        Some(("pagevisit", Some(p), None)),
        body,
    )
}

async fn cart(
    State(state): State<AppState>,
    Person(person): Person,
    Path(slug): Path<String>,
) -> Response {
    let Some(p) = find(&slug) else {
        return not_found_product();
    };
    let body = html! {
        h1 { "In your cart" }
        p { (p.name) ", " (money(p.price_cents)) }
        a class="button" href={ "/demo/shop/buy/" (p.slug) } { "Buy" }
    };
    shop_page(
        &state,
        person.as_deref(),
        "Cart",
        Some(("addtocart", Some(p), None)),
        body,
    )
}

async fn bought(
    State(state): State<AppState>,
    Person(person): Person,
    Path(slug): Path<String>,
) -> Response {
    let Some(p) = find(&slug) else {
        return not_found_product();
    };
    let order = format!("order-{}", &crate::auth::new_token("")[..10]);
    let body = html! {
        h1 { "Thank you!" }
        p { "Your " (p.name) " are on their way. Order " (order) "." }
    };
    shop_page(
        &state,
        person.as_deref(),
        "Thank you",
        Some(("checkout", Some(p), Some(order.clone()))),
        body,
    )
}

fn not_found_product() -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "No such shoes",
        "That product is not in the shop.",
    )
    .into_response()
}

/// What the shop's pages run: the tag's calls, from the body's data.
async fn shop_js() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "application/javascript; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../assets/demo-shop.js"),
    )
        .into_response()
}

/// What the feed page runs: the feed SDK over the page's ad slots.
async fn feed_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../assets/demo-feed.js"),
    )
        .into_response()
}

/// A plain colored picture for pins and products: `/demo/img/c62828.svg`.
async fn image(Path(name): Path<String>) -> Response {
    let hex = name.trim_end_matches(".svg");
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let svg = format!(
        "<svg xmlns='http://www.w3.org/2000/svg' width='240' height='300' viewBox='0 0 240 300'>\
         <rect width='240' height='300' fill='#{hex}'/>\
         <circle cx='170' cy='80' r='40' fill='#ffffff' fill-opacity='0.25'/>\
         <rect x='30' y='200' width='180' height='40' rx='20' fill='#ffffff' fill-opacity='0.3'/></svg>"
    );
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        svg,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13, finding 14: the feed never hot-links an advertiser's image.
    #[test]
    fn the_feed_loads_pin_images_from_adloom_only() {
        let base = "http://127.0.0.1:8080/";
        assert_eq!(
            own_image(base, "http://127.0.0.1:8080/demo/img/c62828.svg"),
            Some("/demo/img/c62828.svg")
        );
        for other in [
            "https://img.shoes.example/red.jpg",
            "http://127.0.0.1:8080.evil.example/demo/img/x.svg",
            "http://127.0.0.1:8080/v3/?tid=1",
        ] {
            assert_eq!(own_image(base, other), None, "{other}");
        }
    }
}

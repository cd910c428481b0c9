//! The pages people see, rendered on the server (maud), working without
//! JavaScript: the ads settings page, the web choices page and the help
//! page with its "Contact us" form.
//!
//! A person reaches their own pages through a sign-in link the platform
//! asks for (`POST /v1/admin/people/{user_id}/page_link`): the link shows a
//! one-click confirmation whose form, once, sets a signed session cookie. Every form carries a CSRF token checked against a
//! cookie (double submit), and every page forbids framing.

mod choices;
mod help;
pub mod settings_page;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use maud::{html, Markup, DOCTYPE};
use serde::Serialize;

use crate::error::ApiError;
use crate::extract::{cookie, Admin, ApiPath};
use crate::AppState;
use adloom_engine::signed;

/// The person's session on these pages.
pub const SESSION_COOKIE: &str = "adloom_person";
const CSRF_COOKIE: &str = "adloom_csrf";
/// How long a session lasts, and how long a sign-in link may wait.
const SESSION_SECS: i64 = 30 * 86_400;
const LINK_SECS: i64 = 600;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/assets/adloom.css", get(stylesheet))
        .route("/p/{token}", get(confirm_sign_in).post(sign_in))
        .route(
            "/settings/ads",
            get(settings_page::show).post(settings_page::save),
        )
        .route("/settings/ads/hidden", post(settings_page::unhide))
        .route(
            "/settings/ads/advertisers/hide",
            post(settings_page::hide_advertiser),
        )
        .route("/choices", get(choices::show).post(choices::save))
        .route("/help/ads", get(help::show))
        .route("/help/ads/contact", post(help::contact))
        .route("/v1/admin/people/{user_id}/page_link", post(page_link))
        .route(
            "/v1/admin/support_requests",
            get(help::list_support_requests),
        )
}

/// An HTML page, with the headers every page carries.
pub struct Page {
    status: StatusCode,
    markup: Markup,
    cookies: Vec<String>,
}

impl Page {
    pub fn new(markup: Markup) -> Page {
        Page {
            status: StatusCode::OK,
            markup,
            cookies: Vec::new(),
        }
    }

    pub fn with_status(mut self, status: StatusCode) -> Page {
        self.status = status;
        self
    }

    pub fn with_cookie(mut self, cookie: String) -> Page {
        self.cookies.push(cookie);
        self
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let mut res = (self.status, self.markup.into_string()).into_response();
        let headers = res.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        protect(headers);
        for c in self.cookies {
            if let Ok(v) = HeaderValue::from_str(&c) {
                headers.append(header::SET_COOKIE, v);
            }
        }
        res
    }
}

/// No framing (clickjacking), no sniffing, no scripts from anywhere, forms
/// post only here, and no referrer leaves the site.
pub fn protect(headers: &mut HeaderMap) {
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' https: data:; script-src 'self'; \
             style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// The frame of every page.
pub fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · adloom" }
                link rel="stylesheet" href="/assets/adloom.css";
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header class="top" {
                    a class="brand" href="/help/ads" { "adloom" }
                    nav aria-label="Ads and privacy" {
                        a href="/settings/ads" { "Ads settings" }
                        a href="/choices" { "Web choices" }
                        a href="/help/ads" { "Help" }
                    }
                }
                main id="main" { (body) }
            }
        }
    }
}

/// A page that says what went wrong, in plain words, and never more.
pub fn problem(status: StatusCode, title: &str, message: &str) -> Page {
    Page::new(layout(
        title,
        html! {
            h1 { (title) }
            p { (message) }
            p { a href="/help/ads" { "Back to help" } }
        },
    ))
    .with_status(status)
}

impl From<ApiError> for Page {
    fn from(e: ApiError) -> Page {
        match e.status {
            StatusCode::NOT_FOUND => problem(
                StatusCode::NOT_FOUND,
                "Not found",
                "We could not find what you were looking for.",
            ),
            s if s.is_client_error() => problem(s, "That did not work", &e.message),
            s => problem(
                s,
                "Something went wrong",
                "We could not show this page just now. Please try again in a moment.",
            ),
        }
    }
}

impl From<adloom_store::StoreError> for Page {
    fn from(e: adloom_store::StoreError) -> Page {
        Page::from(ApiError::from(e))
    }
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../assets/adloom.css"),
    )
        .into_response()
}

// ---- cookies, signatures, CSRF ----

/// A `Set-Cookie` value for these pages: HTTP only, whole site, and
/// `Secure` whenever adloom is served over https.
pub fn set_cookie(
    config: &crate::Config,
    name: &str,
    value: &str,
    max_age: i64,
    same_site: &str,
) -> String {
    let secure = if config.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite={same_site}{secure}")
}

/// What a signed person token is for: a session cookie and a sign-in link
/// are signed with keys of their own and say which they are, so that
/// neither works as the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PersonTokenKind {
    Session,
    Link,
}

impl PersonTokenKind {
    fn purpose(self) -> &'static str {
        match self {
            PersonTokenKind::Session => "pages-session",
            PersonTokenKind::Link => "pages-link",
        }
    }
}

/// A signed token naming a person until `expires`; `nonce` makes each
/// sign-in link single-use.
fn person_token(
    key: &[u8],
    kind: PersonTokenKind,
    user_id: &str,
    expires: i64,
    nonce: &str,
) -> String {
    signed::sign(
        key,
        &format!("{}|{expires}|{nonce}|{user_id}", kind.purpose()),
    )
}

/// The person a token names, and its nonce, while it has not expired.
fn person_of_token(
    key: &[u8],
    kind: PersonTokenKind,
    token: &str,
    now: i64,
) -> Option<(String, String)> {
    let payload = signed::verify(key, token)?;
    let mut parts = payload.splitn(4, '|');
    let (purpose, expires, nonce, user_id) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    (purpose == kind.purpose() && expires.parse::<i64>().ok()? > now)
        .then(|| (user_id.to_owned(), nonce.to_owned()))
}

/// The signed-in person, if any: an extractor that never fails.
pub struct Person(pub Option<String>);

impl FromRequestParts<AppState> for Person {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Person, Self::Rejection> {
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Ok(Person(None));
        };
        let kind = PersonTokenKind::Session;
        let Ok(key) = state.key(kind.purpose()).await else {
            return Ok(Person(None));
        };
        let Some((user, _)) = person_of_token(&key, kind, token, state.engine.clock.now()) else {
            return Ok(Person(None));
        };
        // An erased person's sessions end with them.
        Ok(Person(person_exists(state, &user).await.then_some(user)))
    }
}

/// Whether the platform has this person (the mirror, else the store).
async fn person_exists(state: &AppState, user_id: &str) -> bool {
    state.engine.serving.people.get(user_id).is_some()
        || matches!(state.engine.store.get_person(user_id).await, Ok(Some(_)))
}

/// The `Set-Cookie` that signs this person in on this browser.
pub async fn session_cookie(state: &AppState, user_id: &str) -> Result<String, ApiError> {
    let kind = PersonTokenKind::Session;
    let key = state.key(kind.purpose()).await?;
    let token = person_token(
        &key,
        kind,
        user_id,
        state.engine.clock.now() + SESSION_SECS,
        "-",
    );
    Ok(set_cookie(
        &state.config,
        SESSION_COOKIE,
        &token,
        SESSION_SECS,
        "Lax",
    ))
}

/// The CSRF token of this browser, and the cookie to set if it had none.
pub struct Csrf {
    pub token: String,
    pub set_cookie: Option<String>,
}

impl FromRequestParts<AppState> for Csrf {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Csrf, Self::Rejection> {
        Ok(match cookie(&parts.headers, CSRF_COOKIE) {
            Some(t) if t.len() >= 16 => Csrf {
                token: t.to_owned(),
                set_cookie: None,
            },
            _ => {
                let token = crate::auth::new_token("");
                Csrf {
                    set_cookie: Some(set_cookie(
                        &state.config,
                        CSRF_COOKIE,
                        &token,
                        SESSION_SECS,
                        "Strict",
                    )),
                    token,
                }
            }
        })
    }
}

impl Csrf {
    /// The hidden field every form carries.
    pub fn field(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.token); }
    }

    /// Whether a posted form carries this browser's token (and the
    /// browser had one).
    pub fn accepts(&self, posted: &str) -> bool {
        self.set_cookie.is_none()
            && !posted.is_empty()
            && constant_time_eq(self.token.as_bytes(), posted.as_bytes())
    }

    /// Adds the cookie to a page when this browser had none.
    pub fn onto(&self, page: Page) -> Page {
        match &self.set_cookie {
            Some(c) => page.with_cookie(c.clone()),
            None => page,
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The page a form without a valid CSRF token gets.
/// A page that signs in with a token typed into a password field: the
/// advertiser's console and the operator's pages.
pub fn token_sign_in(
    csrf: &Csrf,
    title: &str,
    action: &str,
    label: &str,
    hint: &str,
    error: Option<&str>,
) -> Page {
    Page::new(layout(
        title,
        html! {
            h1 { (title) }
            @if let Some(e) = error { p class="notice error" role="alert" { (e) } }
            form method="post" action=(action) {
                (csrf.field())
                label for="token" { (label) }
                input type="password" id="token" name="token" autocomplete="off" required;
                p class="hint" { (hint) }
                button type="submit" { "Sign in" }
            }
        },
    ))
}

pub fn forged() -> Page {
    problem(
        StatusCode::FORBIDDEN,
        "Please try again",
        "This form had expired or did not come from this site. Go back, reload the page and send it again.",
    )
}

// ---- sign-in links ----

#[derive(Serialize)]
pub struct PageLink {
    url: String,
    expires_at: i64,
}

/// `POST /v1/admin/people/{user_id}/page_link`: a link that signs the
/// person in on their pages, valid for ten minutes. The platform opens it
/// for them (for example from its own settings screen).
async fn page_link(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(user_id): ApiPath<String>,
) -> Result<Json<PageLink>, ApiError> {
    adloom_core::person::validate_user_id(&user_id)?;
    if !person_exists(&state, &user_id).await {
        return Err(ApiError::not_found("person"));
    }
    let kind = PersonTokenKind::Link;
    let key = state.key(kind.purpose()).await?;
    let expires_at = state.engine.clock.now() + LINK_SECS;
    let nonce = crate::auth::new_token("");
    let token = person_token(&key, kind, &user_id, expires_at, &nonce);
    Ok(Json(PageLink {
        url: format!(
            "{}/p/{token}",
            state.config.public_url.trim_end_matches('/')
        ),
        expires_at,
    }))
}

fn link_expired() -> Page {
    problem(
        StatusCode::FORBIDDEN,
        "This link has expired",
        "Sign-in links work once, for ten minutes. Open the ads settings again from the app.",
    )
}

/// The person a sign-in link names, if it is still good.
async fn link_person(state: &AppState, token: &str) -> Result<Option<(String, String)>, ApiError> {
    let kind = PersonTokenKind::Link;
    let key = state.key(kind.purpose()).await?;
    Ok(person_of_token(&key, kind, token, state.engine.clock.now()))
}

/// `GET /p/{token}`: a one-click confirmation, not a sign-in: a bare GET
/// can be made by any page in a victim's browser (login CSRF), a form
/// with this site's CSRF token cannot.
async fn confirm_sign_in(
    State(state): State<AppState>,
    csrf: Csrf,
    Path(token): Path<String>,
) -> Response {
    match link_person(&state, &token).await {
        Ok(Some(_)) => {}
        Ok(None) => return link_expired().into_response(),
        Err(e) => return Page::from(e).into_response(),
    }
    let page = Page::new(layout(
        "Your ads settings",
        html! {
            h1 { "Your ads settings" }
            p { "You opened a link from the app to see and change how ads are chosen for you." }
            form method="post" action={ "/p/" (token) } {
                (csrf.field())
                button type="submit" { "Continue" }
            }
        },
    ));
    csrf.onto(page).into_response()
}

#[derive(serde::Deserialize)]
struct Confirm {
    #[serde(default)]
    csrf: String,
}

/// `POST /p/{token}`: signs the person in, once per link.
async fn sign_in(
    State(state): State<AppState>,
    csrf: Csrf,
    Path(token): Path<String>,
    axum::Form(form): axum::Form<Confirm>,
) -> Response {
    if !csrf.accepts(&form.csrf) {
        return forged().into_response();
    }
    let (user, nonce) = match link_person(&state, &token).await {
        Ok(Some(found)) => found,
        Ok(None) => return link_expired().into_response(),
        Err(e) => return Page::from(e).into_response(),
    };
    let expires_at = state.engine.clock.now() + LINK_SECS;
    match state
        .engine
        .store
        .spend_once(
            &format!("page-link:{nonce}"),
            expires_at,
            state.engine.clock.now(),
        )
        .await
    {
        Ok(true) => {}
        Ok(false) => return link_expired().into_response(),
        Err(e) => return Page::from(ApiError::from(e)).into_response(),
    }
    match session_cookie(&state, &user).await {
        Ok(cookie) => {
            let mut res = Redirect::to("/settings/ads").into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            protect(res.headers_mut());
            res
        }
        Err(e) => Page::from(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_their_person_for_their_use_until_they_expire() {
        use base64::Engine;
        let key = b"k";
        let (session, link) = (PersonTokenKind::Session, PersonTokenKind::Link);
        let t = person_token(key, link, "u|1", 100, "n1");
        let named = Some(("u|1".to_owned(), "n1".to_owned()));
        assert_eq!(person_of_token(key, link, &t, 99), named);
        assert_eq!(
            person_of_token(key, session, &t, 99),
            None,
            "a link is no session"
        );
        assert_eq!(person_of_token(key, link, &t, 100), None, "expired");
        assert_eq!(person_of_token(b"other", link, &t, 99), None, "another key");
        let (payload, sig) = t.split_once('.').unwrap();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let forged = format!("{}.{sig}", b64.encode("pages-link|999|n1|u|1"));
        assert_eq!(person_of_token(key, link, &forged, 99), None, "tampered");
        assert_eq!(person_of_token(key, link, payload, 99), None);
    }
}

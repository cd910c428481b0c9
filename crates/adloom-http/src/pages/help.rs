//! `/help/ads`: how ads are personalized and every way to say no, in plain
//! words, with a "Contact us" form; `GET /v1/admin/support_requests` lists
//! what people sent.

use adloom_core::page::PageRequest;
use adloom_core::support::{SupportRequest, TOPICS};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use maud::html;
use serde::{Deserialize, Serialize};

use super::{forged, layout, problem, Csrf, Page, Person};
use crate::auth::new_id;
use crate::error::ApiError;
use crate::extract::{Admin, ApiQuery};
use crate::AppState;

pub async fn show(csrf: Csrf) -> Page {
    let body = html! {
        h1 { "How ads are personalized" }
        section aria-labelledby="here" {
            h2 id="here" { "Ads in this app" }
            p {
                "To show you ads you are more likely to care about, some advertisers use what "
                "they know about your activity outside this app."
            }
            ul {
                li {
                    strong { "Customer lists. " }
                    "An advertiser can share a list of its customers' email addresses, phone "
                    "numbers or device advertising IDs. They are scrambled (hashed) before we "
                    "match them, and we keep only the matches. If you are on the list, you may "
                    "see that advertiser's ads."
                }
                li {
                    strong { "The tag. " }
                    "An advertiser can install our tag on its website. It tells us who visited "
                    "pages or bought something there, so that, for example, you might see an "
                    "ad for shoes you looked at but did not buy."
                }
            }
            p {
                "If you would rather not, go to " a href="/settings/ads" { "Ads settings" }
                " and set " strong { "Use info from our ad partners" } " to No. You will still see "
                "ads, but they will not be chosen with information from our partners. Every ad "
                "has a \"Why am I seeing this ad?\" link that tells you what chose it."
            }
        }
        section aria-labelledby="who" {
            h2 id="who" { "Which advertisers have your info" }
            p {
                "An advertiser has information about you here when a customer list it uploaded "
                "(or matched with us without sending its list, using PAIR) included your email, "
                "or when its website tag or its own server told us about your visits or purchases. "
                "Your " a href="/settings/ads#advertisers" { "Ads settings" } " list each of "
                "them, how and when, and let you hide every ad from any of them. Advertisers "
                "never see that list, and never learn who is on it."
            }
            p {
                "Sites and apps may also ask you about ads in a consent pop-up. When they pass "
                "your answer on to us and it says no to personalised ads, or that you opted out "
                "of the sale or sharing of your data, we do not use partner info for those ads, "
                "and \"Why am I seeing this ad?\" says so."
            }
        }
        section aria-labelledby="elsewhere" {
            h2 id="elsewhere" { "Ads outside this app" }
            p {
                "Some advertisers would like to know how you engaged with their ads here, to "
                "show you more of their ads elsewhere: if you click an ad for a shoe shop here, "
                "the shop might show you more shoe ads on other sites. The same setting, "
                strong { "Use info from our ad partners" } ", stops that too: set to No, we "
                "share nothing about your engagement with advertisers."
            }
        }
        section aria-labelledby="web" {
            h2 id="web" { "Your web browser" }
            p {
                "Many advertising services take part in industry opt-out tools for web "
                "browsing. For our own tag, " a href="/choices" { "Web choices" }
                " opts this browser out of having its visits to advertisers' sites used for ads. "
                "Browsers that send the Global Privacy Control signal are treated as opted out "
                "automatically."
            }
        }
        section aria-labelledby="mobile" {
            h2 id="mobile" { "Your phone or tablet" }
            p {
                "iOS and Android devices have a resettable advertising identifier that apps can "
                "use to target ads. You can opt out of its use for targeted ads:"
            }
            ul {
                li { strong { "iOS: " } "in Settings, under Privacy, turn off \"Allow Apps to Request to Track\" (on older versions, turn on \"Limit Ad Tracking\")." }
                li { strong { "Android: " } "in Settings, under Google, Ads, turn on \"Opt out of Ads Personalization\" (on newer versions, \"Delete advertising ID\")." }
            }
            p { "We honour these settings whenever the app tells us about them." }
        }
        section aria-labelledby="contact" {
            h2 id="contact" { "Still need help? Contact us" }
            form method="post" action="/help/ads/contact" {
                (csrf.field())
                label for="topic" { "What is it about?" }
                select id="topic" name="topic" {
                    @for (code, label) in TOPICS { option value=(code) { (label) } }
                }
                label for="message" { "Your message" }
                textarea id="message" name="message" rows="5" required maxlength="4000" {}
                p class="hint" {
                    "Please do not include your email address or phone number: we remove them. "
                    "If you are signed in, we answer you through the app."
                }
                button type="submit" { "Send" }
            }
        }
    };
    csrf.onto(Page::new(layout("Help", body)))
}

#[derive(Deserialize)]
pub struct Contact {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    message: String,
}

pub async fn contact(
    State(state): State<AppState>,
    Person(user): Person,
    csrf: Csrf,
    Form(form): Form<Contact>,
) -> Response {
    if !csrf.accepts(&form.csrf) {
        return forged().into_response();
    }
    let request = match SupportRequest::new(
        new_id(),
        user,
        &form.topic,
        &form.message,
        state.engine.clock.now(),
    ) {
        Ok(r) => r,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "Your message was not sent",
                &format!("{}: {}. Go back and try again.", e.field, e.reason),
            )
            .into_response()
        }
    };
    match state.engine.store.create_support_request(request).await {
        Ok(_) => Page::new(layout(
            "Message sent",
            html! {
                h1 { "Thank you" }
                p { "We got your message and will get back to you." }
                p { a href="/help/ads" { "Back to help" } }
            },
        ))
        .into_response(),
        Err(e) => Page::from(e).into_response(),
    }
}

#[derive(Deserialize)]
pub struct PageParams {
    page_size: Option<u32>,
    bookmark: Option<String>,
}

#[derive(Serialize)]
pub struct SupportPage {
    items: Vec<SupportRequest>,
    bookmark: Option<String>,
}

/// `GET /v1/admin/support_requests`: the messages, newest first.
pub async fn list_support_requests(
    State(state): State<AppState>,
    _: Admin,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<SupportPage>, ApiError> {
    let page = PageRequest::new(params.page_size, params.bookmark)?;
    let page = state.engine.store.support_requests(page).await?;
    Ok(Json(SupportPage {
        items: page.items,
        bookmark: page.next,
    }))
}

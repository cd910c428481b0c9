//! `/settings/ads`: the person's switch "Use info from our ad partners",
//! what it means for them now and why, and every change they made.

use adloom_core::ads_setting::SettingChange;
use adloom_core::consent::{self, strings, ConsentInputs};
use adloom_core::feedback::HideScope;
use adloom_core::page::PageRequest;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::{forged, layout, problem, protect, Csrf, Page, Person};
use crate::extract::browser_signals;
use crate::AppState;

#[derive(Deserialize)]
pub struct Shown {
    saved: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    Person(user): Person,
    csrf: Csrf,
    Query(shown): Query<Shown>,
    headers: HeaderMap,
) -> Page {
    let Some(user) = user else {
        return csrf.onto(signed_out());
    };
    match render(&state, &user, &csrf, &headers, shown.saved.is_some()).await {
        Ok(page) => csrf.onto(page),
        Err(e) => e,
    }
}

fn signed_out() -> Page {
    Page::new(layout(
        "Ads settings",
        html! {
            h1 { "Ads settings" }
            p {
                "These settings belong to your account. Open them from the settings of the app "
                "you use, which signs you in here."
            }
            p { a href="/help/ads" { "How ads are personalized" } }
        },
    ))
}

async fn render(
    state: &AppState,
    user: &str,
    csrf: &Csrf,
    headers: &HeaderMap,
    saved: bool,
) -> Result<Page, Page> {
    let Some(person) = state.engine.store.get_person(user).await? else {
        return Err(problem(
            StatusCode::NOT_FOUND,
            "We could not find your account",
            "Your account is not known here any more. Open the settings again from the app.",
        ));
    };
    let setting = state.engine.store.get_ads_setting(user).await?;
    let history = state
        .engine
        .store
        .ads_setting_history(user, PageRequest::first(20))
        .await?;
    let region = state
        .engine
        .config
        .region_defaults
        .default_for(person.country);
    // Their setting, their region's default and what the consent tool last
    // told the platform about them.
    let last_known = strings::read_last_known(person.regs.as_ref(), &state.engine.config.tcf);
    let yours = consent::decide(&ConsentInputs {
        strings: last_known,
        ..ConsentInputs::person(setting.use_partner_info, region)
    });
    let here = consent::decide(&ConsentInputs {
        browser: browser_signals(headers),
        strings: last_known,
        ..ConsentInputs::person(setting.use_partner_info, region)
    });
    let choice = match setting.use_partner_info {
        Some(true) => "yes",
        Some(false) => "no",
        None => "default",
    };
    let on_off = |on: bool| if on { "on" } else { "off" };
    let mut hidden = Vec::new();
    for h in state
        .engine
        .hidden_ads(user)
        .await
        .map_err(|e| Page::from(crate::error::ApiError::from(e)))?
    {
        let advertiser = state
            .engine
            .store
            .get_ad_account(&h.ad_account_id)
            .await?
            .map_or_else(|| "an advertiser".to_owned(), |a| a.name);
        hidden.push((h, advertiser));
    }
    let advertisers = state
        .engine
        .advertisers_with_info(user)
        .await
        .map_err(|e| Page::from(crate::error::ApiError::from(e)))?;
    let hides_all = |account: &str| {
        hidden
            .iter()
            .any(|(h, _)| h.scope == HideScope::Advertiser && h.ad_account_id == account)
    };
    let body = html! {
        h1 { "Ads settings" }
        @if saved {
            p class="notice" role="status" { "Saved. Your next ads follow this choice." }
        }
        section aria-labelledby="partners" {
            h2 id="partners" { "Use info from our ad partners" }
            p {
                "Some advertisers tell us about what you do outside this app, so that the ads "
                "you see here are closer to what you care about. They may upload a list of "
                "their customers' email addresses, and people on the list who are also here "
                "can see their ads. Or they install a tag on their website that tells us who "
                "visited or bought something there: that is how you might see an ad for shoes "
                "you looked at but did not buy."
            }
            p {
                "Switch this to No and we stop using that information to choose your ads. "
                "You will still see ads, just not ones picked with info from our partners. "
                "The same switch also stops us sharing your engagement with ads here with "
                "those advertisers, which they could otherwise use to show you ads elsewhere."
            }
            div class="state" {
                p {
                    strong { "Now: partner info is " (on_off(yours.partner_targeting.allowed)) " for your ads" }
                    ", because " (yours.partner_targeting.reason.explanation()) "."
                }
                p {
                    "Sharing your engagement with ad partners is "
                    (on_off(yours.off_platform_sharing.allowed)) "."
                }
                @if here.partner_targeting.allowed != yours.partner_targeting.allowed {
                    p {
                        "On this browser it is off in any case: "
                        (here.partner_targeting.reason.explanation()) "."
                    }
                }
            }
            form method="post" action="/settings/ads" {
                (csrf.field())
                fieldset {
                    legend { "Use info from our ad partners" }
                    (option("yes", "Yes", "Use partner info to personalize my ads", choice))
                    (option("no", "No", "Do not use partner info for my ads, and do not share my engagement", choice))
                    (option("default", "Default", &default_text(region), choice))
                }
                button type="submit" { "Save" }
            }
        }
        section aria-labelledby="hidden" {
            h2 id="hidden" { "Ads you hid" }
            @if hidden.is_empty() {
                p { "You have not hidden any ads. Use \"Hide this ad\" in an ad's menu to stop seeing it." }
            } @else {
                ul class="hidden-ads" {
                    @for (h, advertiser) in &hidden {
                        li {
                            @match h.scope {
                                HideScope::Ad => { "An ad from " strong { (advertiser) } }
                                HideScope::Advertiser => { "Every ad from " strong { (advertiser) } }
                            }
                            " · hidden " (when(h.hidden_time)) " UTC "
                            form method="post" action="/settings/ads/hidden" class="inline" {
                                (csrf.field())
                                input type="hidden" name="scope" value=(h.scope.as_str());
                                input type="hidden" name="target_id" value=(h.target());
                                button type="submit" class="secondary" {
                                    "Show again" span class="visually-hidden" { ": " (advertiser) }
                                }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="advertisers" {
            h2 id="advertisers" { "Advertisers who have your info" }
            @if advertisers.is_empty() {
                p { "No advertiser has told us anything about you: none uploaded a list that matched you, and no tag or server of theirs sent us your visits or purchases." }
            } @else {
                p {
                    "These advertisers told us something about you, and when. "
                    @if yours.partner_targeting.allowed {
                        "We may use it to choose their ads for you while \"Use info from our ad partners\" is on."
                    } @else {
                        "We do not use it to choose your ads, because " (yours.partner_targeting.reason.explanation()) "."
                    }
                    " Advertisers do not see this list."
                }
                ul class="advertisers" {
                    @for a in &advertisers {
                        li {
                            strong { (a.name) }
                            ul {
                                @for src in &a.sources {
                                    li {
                                        (adloom_engine::transparency::how(src.source))
                                        @if src.first_time == src.last_time {
                                            " (" (when(src.last_time)) " UTC)"
                                        } @else {
                                            " (first " (when(src.first_time)) ", last " (when(src.last_time)) " UTC)"
                                        }
                                    }
                                }
                            }
                            @if hides_all(&a.ad_account_id) {
                                p class="hint" { "You hid every ad from " (a.name) "." }
                            } @else {
                                form method="post" action="/settings/ads/advertisers/hide" class="inline" {
                                    (csrf.field())
                                    input type="hidden" name="ad_account_id" value=(a.ad_account_id);
                                    button type="submit" class="secondary" {
                                        "Hide all ads from " (a.name)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="history" {
            h2 id="history" { "Your changes" }
            @if history.items.is_empty() {
                p { "You have not changed this setting." }
            } @else {
                table {
                    thead { tr { th scope="col" { "When (UTC)" } th scope="col" { "Set to" } th scope="col" { "Where" } } }
                    tbody {
                        @for c in &history.items { (history_row(c)) }
                    }
                }
            }
        }
        p { a href="/choices" { "Opt out of ads based on this browser's web activity" } " · " a href="/help/ads" { "Help" } }
    };
    Ok(Page::new(layout("Ads settings", body)))
}

fn option(value: &str, label: &str, hint: &str, chosen: &str) -> Markup {
    let id = format!("choice-{value}");
    html! {
        div class="option" {
            input type="radio" name="use_partner_info" id=(id) value=(value) checked[value == chosen];
            label for=(id) { strong { (label) } " " span class="hint" { (hint) } }
        }
    }
}

fn default_text(region: adloom_core::region::RegionDefault) -> String {
    match region {
        adloom_core::region::RegionDefault::On => {
            "Let it follow the default where I live (Yes here)".to_owned()
        }
        _ => "Let it follow the default where I live (No here until I say Yes)".to_owned(),
    }
}

fn history_row(c: &SettingChange) -> Markup {
    let set_to = match c.use_partner_info {
        Some(true) => "Yes",
        Some(false) => "No",
        None => "Default",
    };
    html! {
        tr {
            td { (when(c.changed_at)) }
            td { (set_to) }
            td { (c.source.replace('_', " ")) }
        }
    }
}

#[derive(Deserialize)]
pub struct Choice {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    use_partner_info: String,
}

pub async fn save(
    State(state): State<AppState>,
    Person(user): Person,
    csrf: Csrf,
    Form(form): Form<Choice>,
) -> Response {
    if !csrf.accepts(&form.csrf) {
        return forged().into_response();
    }
    let Some(user) = user else {
        return signed_out()
            .with_status(StatusCode::UNAUTHORIZED)
            .into_response();
    };
    let use_partner_info = match form.use_partner_info.as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        "default" => None,
        _ => {
            return problem(
                StatusCode::BAD_REQUEST,
                "Choose Yes, No or Default",
                "Go back and pick one of the three choices.",
            )
            .into_response()
        }
    };
    let change = SettingChange {
        use_partner_info,
        changed_at: state.engine.clock.now(),
        source: "settings_page".to_owned(),
    };
    match adloom_engine::settings::record(&state.engine, &user, change).await {
        Ok(_) => {
            let mut res = Redirect::to("/settings/ads?saved=1").into_response();
            protect(res.headers_mut());
            res
        }
        Err(e) => Page::from(crate::error::ApiError::from(e)).into_response(),
    }
}

#[derive(Deserialize)]
pub struct HideAdvertiser {
    csrf: String,
    ad_account_id: String,
}

/// `POST /settings/ads/advertisers/hide`: "Hide all ads from" an
/// advertiser who has the person's info.
pub async fn hide_advertiser(
    State(state): State<AppState>,
    Person(user): Person,
    csrf: Csrf,
    Form(form): Form<HideAdvertiser>,
) -> Response {
    if !csrf.accepts(&form.csrf) {
        return forged().into_response();
    }
    let Some(user) = user else {
        return signed_out()
            .with_status(StatusCode::UNAUTHORIZED)
            .into_response();
    };
    match state
        .engine
        .hide_advertiser(&user, &form.ad_account_id)
        .await
    {
        Ok(_) => {
            let mut res = Redirect::to("/settings/ads?saved=1#advertisers").into_response();
            protect(res.headers_mut());
            res
        }
        Err(e) => Page::from(crate::error::ApiError::from(e)).into_response(),
    }
}

#[derive(Deserialize)]
pub struct Unhide {
    csrf: String,
    scope: String,
    target_id: String,
}

/// `POST /settings/ads/hidden`: "Show again", the person's own undo of a
/// hide, through the same engine function as the API.
pub async fn unhide(
    State(state): State<AppState>,
    Person(user): Person,
    csrf: Csrf,
    Form(form): Form<Unhide>,
) -> Response {
    if !csrf.accepts(&form.csrf) {
        return forged().into_response();
    }
    let Some(user) = user else {
        return signed_out()
            .with_status(StatusCode::UNAUTHORIZED)
            .into_response();
    };
    let Some(scope) = HideScope::parse(&form.scope) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "That is not something you hid",
            "Go back to your ads settings and try again.",
        )
        .into_response();
    };
    match state.engine.unhide_ad(&user, scope, &form.target_id).await {
        Ok(_) => {
            let mut res = Redirect::to("/settings/ads?saved=1").into_response();
            protect(res.headers_mut());
            res
        }
        Err(e) => Page::from(crate::error::ApiError::from(e)).into_response(),
    }
}

/// `2026-11-29 12:40`, in UTC.
pub fn when(time: i64) -> String {
    adloom_core::campaign::iso8601(time)[..16].replace('T', " ")
}

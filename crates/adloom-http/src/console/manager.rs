//! Ads Manager: the console's forms that make, change, pause and resume
//! campaigns, ad groups and ads. A form is the API's fields ([`fields`]),
//! so what it posts becomes the JSON object the API takes and goes through
//! the API's own rules (`promotions::prepare_new` and `prepare_update`,
//! and with them the engine's); a refusal shows the API's message next to
//! its field.
//!
//! An ad's form also makes its pin. Pins do not change: when an edit
//! changes the pin's words, link or image, the ad gets a new pin, which
//! review sees as a new creative.

use adloom_core::auction::BillableEvent;
use adloom_core::audience::ReportedSize;
use adloom_core::campaign::{BudgetType, Kind, Objective, PlacementGroup, Status};
use adloom_core::keyword;
use adloom_core::names::Named;
use adloom_core::object::{self, ObjectKind, Record, StoredObject};
use adloom_core::pacing::Delivery;
use adloom_core::targeting::{self, TargetingSpec};
use adloom_core::Invalid;
use adloom_engine::EngineError;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::html;
use serde_json::{json, Value};

use super::account_session;
use super::form::{self, field, Field, Input, Offered, Options, Values};
use crate::error::ApiError;
use crate::extract::FormData;
use crate::pages::{forged, layout, Csrf, Page};
use crate::promotions::wire::{pin_view, read, targeting, view};
use crate::promotions::{prepare_new, prepare_update, Object};
use crate::AppState;

fn names<T: Named>() -> Vec<&'static str> {
    T::ALL.iter().map(|v| v.name()).collect()
}

fn age_buckets() -> Vec<&'static str> {
    targeting::AGE_BUCKET_NAMES.to_vec()
}

fn app_types() -> Vec<&'static str> {
    targeting::APP_TYPES.to_vec()
}

fn genders() -> Vec<&'static str> {
    vec!["female", "male", "unknown"]
}

const START: Input = Input::Date { end: false };
const END: Input = Input::Date { end: true };

static CAMPAIGN: [Field; 7] = [
    field("name", "Campaign name", Input::Text),
    field(
        "objective_type",
        "Objective",
        Input::Choice(names::<Objective>),
    ),
    field("status", "Status", Input::Choice(names::<Status>)).edit_only(),
    field("daily_spend_cap", "Daily spend cap", Input::Money).hint(
        "The most the campaign spends in a day (UTC), in the account's currency. Empty: no cap.",
    ),
    field("lifetime_spend_cap", "Lifetime spend cap", Input::Money)
        .hint("The most the campaign ever spends. Empty: no cap."),
    field("start_time", "Start date", START).hint("UTC. Empty: from now."),
    field("end_time", "End date", END)
        .hint("UTC; the campaign runs through this day. Empty: no end."),
];

static AD_GROUP: [Field; 22] = [
    field("name", "Ad group name", Input::Text),
    field("campaign_id", "Campaign", Input::Pick(Options::Campaigns)),
    field("status", "Status", Input::Choice(names::<Status>)).edit_only(),
    field(
        "budget_type",
        "Budget type",
        Input::Choice(names::<BudgetType>),
    ),
    field("budget_in_micro_currency", "Budget", Input::Money).hint(
        "Per day for a daily budget, in all for a lifetime one. Empty: the campaign's caps only.",
    ),
    field(
        "billable_event",
        "Pay for",
        Input::Choice(names::<BillableEvent>),
    )
    .hint("Impression: the bid is per thousand impressions (CPM). Click: per click (CPC)."),
    field("bid_in_micro_currency", "Bid", Input::Money),
    field(
        "pacing_delivery_type",
        "Pacing",
        Input::Choice(names::<Delivery>),
    )
    .hint("Standard spreads the budget over the day; accelerated spends it as fast as it can."),
    field(
        "placement_group",
        "Placements",
        Input::Choice(names::<PlacementGroup>),
    )
    .hint("Browse: the home feed and related pins. Search: search results. All: both."),
    field(
        adloom_core::campaign::FREQUENCY_CAP_FIELD,
        "Frequency cap",
        Input::Count,
    )
    .hint("The most times a day one person sees this ad group's ads. Empty: no cap."),
    field(
        "lifetime_frequency_cap",
        "Lifetime frequency cap",
        Input::Count,
    )
    .hint("The most times one person ever sees them. Empty: no cap."),
    field("start_time", "Start date", START).hint("UTC. Empty: with the campaign."),
    field("end_time", "End date", END).hint("UTC; through this day. Empty: with the campaign."),
    field("targeting_spec.GEO", "Countries and regions", Input::List)
        .hint("Codes separated by commas, such as US, GB, BE-VOV. Empty: everywhere."),
    field("targeting_spec.INTEREST", "Interests", Input::List)
        .hint("Separated by commas, such as running, hiking. Empty: any."),
    field(
        "targeting_spec.AGE_BUCKET",
        "Ages",
        Input::Choices(age_buckets),
    ),
    field("targeting_spec.GENDER", "Genders", Input::Choices(genders)),
    field(
        "targeting_spec.APPTYPE",
        "Devices",
        Input::Choices(app_types),
    ),
    field("targeting_spec.LOCALE", "Languages", Input::List)
        .hint("Language codes separated by commas, such as en, fr. Empty: any."),
    field(
        "targeting_spec.AUDIENCE_INCLUDE",
        "Audiences to reach",
        Input::PickMany(Options::Audiences),
    )
    .hint("Only people in one of these audiences. None: anyone the rest allows."),
    field(
        "targeting_spec.AUDIENCE_EXCLUDE",
        "Audiences to leave out",
        Input::PickMany(Options::Audiences),
    ),
    field(KEYWORDS, "Search keywords", Input::LongText).hint(
        "One per line, for search placements: plain words match broadly, \"words\" as a phrase, \
         [words] exactly; -[words] or -\"words\" keep the ads off those searches.",
    ),
];

/// The ad group form's keyword list: not a field of the ad group in the
/// API, but its `keywords` (`/v5/ad_accounts/{id}/keywords`).
const KEYWORDS: &str = "keywords";

static AD: [Field; 10] = [
    field("name", "Ad name", Input::Text),
    field("ad_group_id", "Ad group", Input::Pick(Options::AdGroups)),
    field("status", "Status", Input::Choice(names::<Status>)).edit_only(),
    field("pin.title", "Pin title", Input::Text),
    field("pin.description", "Pin description", Input::LongText),
    field("pin.link", "Pin link", Input::Url)
        .hint("Where the pin leads: an https address on your site."),
    field("pin.image", "Image", Input::Image)
        .hint("A PNG, JPEG or WebP file up to 4 MB, at most 6000 pixels a side. adloom keeps a copy and serves it."),
    field("pin.image_url", "Or an image address", Input::Url)
        .hint("An https address of the pin's image, when you do not upload one."),
    field("pin.alt_text", "Image description", Input::Text)
        .hint("What the image shows, for people who use a screen reader."),
    field("destination_url", "Destination (optional)", Input::Url)
        .hint("Where a click on the ad leads, when not to the pin's link."),
];

fn fields(kind: Kind) -> &'static [Field] {
    match kind {
        Kind::Campaign => &CAMPAIGN,
        Kind::AdGroup => &AD_GROUP,
        _ => &AD,
    }
}

/// The kind's part of the console's paths.
fn segment(kind: Kind) -> &'static str {
    match kind {
        Kind::Campaign => "campaigns",
        Kind::AdGroup => "ad_groups",
        _ => "ads",
    }
}

fn noun(kind: Kind) -> &'static str {
    match kind {
        Kind::Campaign => "campaign",
        Kind::AdGroup => "ad group",
        _ => "ad",
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/accounts/{id}/{kinds}", post(create))
        .route("/console/accounts/{id}/{kinds}/new", get(blank))
        .route(
            "/console/accounts/{id}/{kinds}/{object_id}",
            get(edit).post(update),
        )
        .route(
            "/console/accounts/{id}/{kinds}/{object_id}/status",
            post(set_status),
        )
}

/// The kind a path names (`campaigns`, `ad_groups`, `ads`).
fn kind_of(name: &str) -> Option<Kind> {
    [Kind::Campaign, Kind::AdGroup, Kind::Ad]
        .into_iter()
        .find(|k| segment(*k) == name)
}

/// The signed-in session's hold on the path's account and kind: the kind,
/// or the answer to give instead.
async fn reach(
    state: &AppState,
    headers: &HeaderMap,
    account: &str,
    kinds: &str,
) -> Result<Kind, Response> {
    account_session(state, headers, account).await?;
    kind_of(kinds).ok_or_else(|| Page::from(ApiError::not_found("page")).into_response())
}

/// What the forms' picks offer: the account's campaigns, ad groups,
/// audiences, customer lists and tags.
pub(super) async fn offered(state: &AppState, account: &str) -> Result<Offered, ApiError> {
    let store = &state.engine.store;
    let campaigns = store.list_objects(ObjectKind::Campaign, account).await?;
    let campaigns = object::campaigns(&campaigns);
    let groups = store.list_objects(ObjectKind::AdGroup, account).await?;
    let groups = object::ad_groups(&groups);
    let campaign_name = |id: &str| {
        campaigns
            .iter()
            .find(|(c, _)| *c == id)
            .map_or("", |(_, c)| c.name.as_str())
    };
    // Names only: the picks need no sizes, which would compute each
    // audience's members.
    let audiences = crate::audiences::stored_audiences(state, account).await?;
    Ok(Offered::from([
        (
            Options::Campaigns,
            campaigns
                .iter()
                .map(|(id, c)| (id.to_string(), c.name.clone()))
                .collect(),
        ),
        (
            Options::AdGroups,
            groups
                .iter()
                .map(|(id, g)| {
                    let label = format!("{} › {}", campaign_name(&g.campaign_id), g.name);
                    (id.to_string(), label)
                })
                .collect(),
        ),
        (
            Options::Audiences,
            audiences
                .iter()
                .map(|a| {
                    (
                        a.id.clone(),
                        format!("{} ({})", a.name, form::humanize(a.audience_type())),
                    )
                })
                .collect(),
        ),
        (
            Options::CustomerLists,
            crate::audiences::stored_lists(state, account)
                .await?
                .into_iter()
                .map(|l| (l.id, l.name))
                .collect(),
        ),
        (
            Options::Tags,
            store
                .list_conversion_tags(account)
                .await?
                .into_iter()
                .map(|t| (t.id, t.name))
                .collect(),
        ),
    ]))
}

/// The form, filled with `values`, and the refusal to show if any.
struct Shown<'a> {
    kind: Kind,
    account: &'a str,
    existing: Option<&'a StoredObject>,
    values: Values,
    error: Option<Invalid>,
    /// An ad group's reach estimate, when asked for.
    reach: Option<ReportedSize>,
}

async fn show(state: &AppState, csrf: &Csrf, shown: Shown<'_>) -> Result<Page, ApiError> {
    let Shown {
        kind,
        account,
        existing,
        values,
        error,
        reach,
    } = shown;
    let offered = offered(state, account).await?;
    let fields = fields(kind);
    let (title, action) = match existing {
        Some(o) => (
            format!("Edit {}", noun(kind)),
            format!("/console/accounts/{account}/{}/{}", segment(kind), o.id),
        ),
        None => (
            format!("New {}", noun(kind)),
            format!("/console/accounts/{account}/{}", segment(kind)),
        ),
    };
    // A refusal about a field not on this form shows above it.
    let elsewhere = error
        .as_ref()
        .filter(|e| !fields.iter().any(|f| f.path == e.field));
    let review = existing.and_then(|o| match &o.record {
        Record::Ad(ad) => Some(ad),
        _ => None,
    });
    let body = html! {
        p { a href={ "/console/accounts/" (account) } { "← Back to the ad account" } }
        h1 { (title) }
        @if error.is_some() {
            div class="notice error" role="alert" {
                "This was not saved. "
                @if let Some(e) = elsewhere { (e.field) ": " (e.reason) } @else { "Check the field marked below." }
            }
        }
        @if let Some(ad) = review {
            p { "Review: " (super::review_badge(ad)) }
            @if !ad.rejection_labels.is_empty() {
                ul class="hint" { @for l in &ad.rejection_labels { li { (l) } } }
            }
        }
        form method="post" action=(action) enctype=[(kind == Kind::Ad).then_some("multipart/form-data")] {
            (csrf.field())
            (form::render(fields, &values, &offered, error.as_ref(), existing.is_some()))
            @if kind == Kind::AdGroup {
                section class="state" aria-labelledby="reach" {
                    h2 id="reach" { "Reach" }
                    p role="status" {
                        @match reach {
                            Some(ReportedSize { size: Some(size), .. }) => {
                                "About " strong { (size) } " people match this targeting now."
                            }
                            Some(_) => { "Fewer than 100 people match this targeting: an ad group this narrow may not deliver." }
                            None => { "Estimate how many people this targeting reaches before you save it." }
                        }
                    }
                    p class="hint" {
                        "Rounded; people who switched off \"Use info from our ad partners\" are not counted for audiences built on your data; devices are not counted (they are the request's)."
                    }
                    button type="submit" name="action" value="estimate" class="secondary" { "Estimate reach" }
                }
            }
            button type="submit" { @if existing.is_some() { "Save" } @else { "Create " (noun(kind)) } }
        }
    };
    let page = Page::new(layout(&title, body));
    Ok(match error {
        Some(_) => page.with_status(StatusCode::BAD_REQUEST),
        None => page,
    })
}

fn answer(result: Result<Page, ApiError>, csrf: &Csrf) -> Response {
    match result {
        Ok(page) => csrf.onto(page).into_response(),
        Err(e) => Page::from(e).into_response(),
    }
}

async fn blank(
    State(state): State<AppState>,
    csrf: Csrf,
    headers: HeaderMap,
    Path((account, kinds)): Path<(String, String)>,
) -> Response {
    let kind = match reach(&state, &headers, &account, &kinds).await {
        Ok(kind) => kind,
        Err(answer) => return answer,
    };
    let shown = Shown {
        kind,
        account: &account,
        existing: None,
        values: Values::new(),
        error: None,
        reach: None,
    };
    answer(show(&state, &csrf, shown).await, &csrf)
}

/// The stored object with its pin's fields (`pin.title`, ...) when it is
/// an ad, as the form reads them.
async fn form_answer(state: &AppState, stored: &StoredObject) -> Result<Value, ApiError> {
    let mut answer = view(stored, state.engine.clock.now());
    if let Record::AdGroup(_) = &stored.record {
        let lines: Vec<String> =
            crate::keywords::group_keywords(state, &stored.ad_account_id, &stored.id)
                .await?
                .iter()
                .map(keyword::to_line)
                .collect();
        answer[KEYWORDS] = json!(lines.join("\n"));
    }
    if let Record::Ad(ad) = &stored.record {
        if let Some(Record::Pin(pin)) = state
            .engine
            .owned_object(&stored.ad_account_id, ObjectKind::Pin, &ad.pin_id)
            .await?
            .map(|o| o.record)
        {
            answer["pin"] = pin_fields(&pin_view(&pin));
        }
    }
    Ok(answer)
}

/// A pin's answer as the ad form's `pin.*` fields.
fn pin_fields(pin: &Value) -> Value {
    json!({
        "title": pin["title"],
        "description": pin["description"],
        "link": pin["link"],
        "alt_text": pin["alt_text"],
        "image_url": pin.pointer("/media/images/originals/url"),
    })
}

async fn owned(
    state: &AppState,
    kind: Kind,
    account: &str,
    id: &str,
) -> Result<StoredObject, ApiError> {
    state
        .engine
        .owned_object(account, kind.into(), id)
        .await?
        .ok_or_else(|| ApiError::not_found(noun(kind)))
}

async fn edit(
    State(state): State<AppState>,
    csrf: Csrf,
    headers: HeaderMap,
    Path((account, kinds, id)): Path<(String, String, String)>,
) -> Response {
    let kind = match reach(&state, &headers, &account, &kinds).await {
        Ok(kind) => kind,
        Err(answer) => return answer,
    };
    let result = async {
        let stored = owned(&state, kind, &account, &id).await?;
        let values = form::values_of(fields(kind), &form_answer(&state, &stored).await?);
        let shown = Shown {
            kind,
            account: &account,
            existing: Some(&stored),
            values,
            error: None,
            reach: None,
        };
        show(&state, &csrf, shown).await
    }
    .await;
    answer(result, &csrf)
}

/// Writes the form's object through the API's rules: its id, or the
/// refusal.
async fn save(
    state: &AppState,
    kind: Kind,
    account: &str,
    existing: Option<&StoredObject>,
    form: &FormData,
) -> Result<Result<String, Invalid>, ApiError> {
    let values = form::posted(fields(kind), &form.fields);
    let mut input = match form::to_json(fields(kind), &values, existing.is_some()) {
        Ok(input) => input,
        Err(invalid) => return Ok(Err(invalid)),
    };
    // An ad group's keywords, checked before anything is stored.
    let keywords = match input.remove(KEYWORDS) {
        Some(Value::String(lines)) => {
            match lines
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(keyword::parse_line)
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(keywords) => Some(keywords),
                Err(invalid) => return Ok(Err(invalid)),
            }
        }
        _ if kind == Kind::AdGroup => Some(Vec::new()),
        _ => None,
    };
    if kind == Kind::Ad {
        let mut pin = input.remove("pin").unwrap_or_default();
        if let Some(upload) = form.file("pin.image") {
            match state.engine.upload_image(account, upload.to_vec()).await {
                Ok(id) => pin["image_url"] = json!(media_url(state, &id)),
                Err(EngineError::Invalid(invalid)) => {
                    return Ok(Err(Invalid::new("pin.image", invalid.reason)))
                }
                Err(e) => return Err(e.into()),
            }
        }
        let kept = match existing {
            Some(o) => {
                let before = form_answer(state, o).await?;
                match (&o.record, before.get("pin") == Some(&pin)) {
                    (Record::Ad(ad), true) => Some(ad.pin_id.clone()),
                    _ => None,
                }
            }
            None => None,
        };
        let pin_id = match kept {
            Some(id) => id,
            None => match new_pin(state, account, &input, &pin).await? {
                Ok(id) => id,
                Err(invalid) => return Ok(Err(invalid)),
            },
        };
        input.insert("pin_id".into(), json!(pin_id));
    }
    let prepared = match existing {
        None => prepare_new(state, kind, account, &input).await?,
        Some(o) => prepare_update(state, kind, account, o.clone(), &input).await?,
    };
    match prepared {
        Ok(object) => {
            let id = object.id.clone();
            state.engine.put_objects(vec![object]).await?;
            if let Some(keywords) = keywords {
                crate::keywords::set_group_keywords(state, account, &id, &keywords).await?;
            }
            Ok(Ok(id))
        }
        Err(invalid) => Ok(Err(invalid)),
    }
}

/// The reach of the form's targeting, through the disclosure policy.
async fn estimate(
    state: &AppState,
    account: &str,
    form: &FormData,
) -> Result<Result<ReportedSize, Invalid>, ApiError> {
    let values = form::posted(&AD_GROUP, &form.fields);
    let spec = form::to_json(&AD_GROUP, &values, false).and_then(|input| {
        let sent = targeting(input.get("targeting_spec").unwrap_or(&Value::Null))?;
        TargetingSpec::parse(&sent)
    });
    match spec {
        Ok(spec) => match state.engine.estimate_reach(account, &spec).await {
            Ok(size) => Ok(Ok(size)),
            Err(EngineError::Invalid(invalid)) => Ok(Err(invalid)),
            Err(e) => Err(e.into()),
        },
        Err(invalid) => Ok(Err(invalid)),
    }
}

/// Makes the ad's pin from the form's `pin.*` fields, once the ad's own
/// fields pass (so that a refused ad leaves no pin behind).
async fn new_pin(
    state: &AppState,
    account: &str,
    ad: &Object,
    pin: &Value,
) -> Result<Result<String, Invalid>, ApiError> {
    let mut probe = ad.clone();
    probe.insert("pin_id".into(), json!("0"));
    if let Err(invalid) = read(Kind::Ad, &probe) {
        return Ok(Err(invalid));
    }
    let mut input = Object::new();
    for key in ["title", "description", "link", "alt_text"] {
        input.insert(key.into(), pin[key].clone());
    }
    if let Some(url) = pin["image_url"].as_str() {
        input.insert(
            "media_source".into(),
            json!({"source_type": "image_url", "url": url}),
        );
    }
    match prepare_new(state, Kind::Pin, account, &input).await? {
        Ok(pin) => {
            let id = pin.id.clone();
            state.engine.put_objects(vec![pin]).await?;
            Ok(Ok(id))
        }
        Err(invalid) => {
            let field = match invalid.field.as_str() {
                f if f.starts_with("media") => "pin.image_url".to_owned(),
                f => format!("pin.{f}"),
            };
            Ok(Err(Invalid::new(field, invalid.reason)))
        }
    }
}

/// Where adloom serves an uploaded image.
pub fn media_url(state: &AppState, id: &str) -> String {
    format!(
        "{}{}",
        state.config.public_url.trim_end_matches('/'),
        adloom_engine::media::media_path(id)
    )
}

fn saved(account: &str, kind: Kind) -> Response {
    Redirect::to(&format!(
        "/console/accounts/{account}?saved={}#{}",
        segment(kind),
        segment(kind)
    ))
    .into_response()
}

async fn create(
    State(state): State<AppState>,
    csrf: Csrf,
    headers: HeaderMap,
    Path((account, kinds)): Path<(String, String)>,
    form: FormData,
) -> Response {
    let kind = match reach(&state, &headers, &account, &kinds).await {
        Ok(kind) => kind,
        Err(answer) => return answer,
    };
    if !csrf.accepts(form.get("csrf")) {
        return forged().into_response();
    }
    submit(&state, &csrf, kind, &account, None, &form).await
}

async fn update(
    State(state): State<AppState>,
    csrf: Csrf,
    headers: HeaderMap,
    Path((account, kinds, id)): Path<(String, String, String)>,
    form: FormData,
) -> Response {
    let kind = match reach(&state, &headers, &account, &kinds).await {
        Ok(kind) => kind,
        Err(answer) => return answer,
    };
    if !csrf.accepts(form.get("csrf")) {
        return forged().into_response();
    }
    let stored = match owned(&state, kind, &account, &id).await {
        Ok(stored) => stored,
        Err(e) => return Page::from(e).into_response(),
    };
    submit(&state, &csrf, kind, &account, Some(&stored), &form).await
}

/// A posted form: its reach estimated ("Estimate reach" on an ad group),
/// or the object saved; on a refusal, or with the estimate, the form again
/// as it was typed.
async fn submit(
    state: &AppState,
    csrf: &Csrf,
    kind: Kind,
    account: &str,
    existing: Option<&StoredObject>,
    form: &FormData,
) -> Response {
    let (error, reach) = if kind == Kind::AdGroup && form.get("action") == "estimate" {
        match estimate(state, account, form).await {
            Ok(Ok(size)) => (None, Some(size)),
            Ok(Err(invalid)) => (Some(invalid), None),
            Err(e) => return Page::from(e).into_response(),
        }
    } else {
        match save(state, kind, account, existing, form).await {
            Ok(Ok(_)) => return saved(account, kind),
            Ok(Err(invalid)) => (Some(invalid), None),
            Err(e) => return Page::from(e).into_response(),
        }
    };
    let shown = Shown {
        kind,
        account,
        existing,
        values: form::posted(fields(kind), &form.fields),
        error,
        reach,
    };
    answer(show(state, csrf, shown).await, csrf)
}

/// Pause or resume (`status` ACTIVE or PAUSED), as a PATCH of the status.
async fn set_status(
    State(state): State<AppState>,
    csrf: Csrf,
    headers: HeaderMap,
    Path((account, kinds, id)): Path<(String, String, String)>,
    form: FormData,
) -> Response {
    let kind = match reach(&state, &headers, &account, &kinds).await {
        Ok(kind) => kind,
        Err(answer) => return answer,
    };
    if !csrf.accepts(form.get("csrf")) {
        return forged().into_response();
    }
    let result = async {
        let stored = owned(&state, kind, &account, &id).await?;
        let patch = Object::from_iter([("status".to_owned(), json!(form.get("status")))]);
        match prepare_update(&state, kind, &account, stored, &patch).await? {
            Ok(object) => state
                .engine
                .put_objects(vec![object])
                .await
                .map_err(ApiError::from),
            Err(invalid) => Err(ApiError::invalid(invalid.to_string())),
        }
    }
    .await;
    match result {
        Ok(()) => saved(&account, kind),
        Err(e) => Page::from(e).into_response(),
    }
}

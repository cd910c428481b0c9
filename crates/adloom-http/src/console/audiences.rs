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
use crate::audiences::{
    change_audience, change_list, new_audience, new_list, one_audience, one_list, AudienceBody,
    AudienceView, ListView,
};
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
        .route(
            "/console/accounts/{id}/customer_lists/{list_id}",
            get(existing_list_page),
        )
        .route("/console/accounts/{id}/customer_lists", post(create_list))
        .route(
            "/console/accounts/{id}/customer_lists/{list_id}/records",
            post(add_records),
        )
        .route("/console/accounts/{id}/audiences/new", get(audience_page))
        .route("/console/accounts/{id}/audiences", post(create_audience))
        .route(
            "/console/accounts/{id}/audiences/{audience_id}",
            get(edit_audience_page).post(edit_audience),
        )
        .route(
            "/console/accounts/{id}/audiences/{audience_id}/remove",
            post(remove_audience),
        )
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
    csrf.onto(upload_page(&csrf, &account, None))
        .into_response()
}

/// An uploaded list: its counts, and the same upload, to add people to it
/// or to take them off.
async fn existing_list_page(
    State(state): State<AppState>,
    csrf: Csrf,
    headers: HeaderMap,
    Path((account, list_id)): Path<(String, String)>,
) -> Response {
    if let Err(answer) = account_session(&state, &headers, &account).await {
        return answer;
    }
    match one_list(&state, &account, &list_id).await {
        Ok(list) => csrf
            .onto(upload_page(&csrf, &account, Some(&list)))
            .into_response(),
        Err(e) => Page::from(e).into_response(),
    }
}

/// The upload form: for a new list (`None`), or to add to or remove from
/// `list`.
fn upload_page(csrf: &Csrf, account: &str, list: Option<&ListView>) -> Page {
    let title = match list {
        None => "New customer list".to_owned(),
        Some(l) => format!("Customer list: {}", l.name),
    };
    let body = html! {
        p { a href={ "/console/accounts/" (account) } { "← Back to the ad account" } }
        h1 { (title) }
        @if let Some(l) = list {
            dl class="facts" {
                dt { "Records uploaded" } dd { (l.num_uploaded_user_records) }
                dt { "Records removed" } dd { (l.num_removed_user_records) }
                dt { "Status" } dd { (l.status) }
            }
            p {
                "To add customers to this list, or to take customers off it (when they ask you to, "
                "or are no longer customers), choose a CSV file of their emails, phone numbers or mobile ad IDs."
            }
        } @else {
            p {
                "Choose a CSV file with your customers' emails, phone numbers (with their country code) "
                "or mobile ad IDs, in any columns."
            }
        }
        p {
            "Your browser normalizes and hashes each of them "
            "(SHA-256) before anything is sent: adloom never receives the file, nor any plain email or number."
        }
        form id="list-upload" data-account=(account) data-csrf=(csrf.token)
            data-list=[list.map(|l| l.id.as_str())] {
            @if list.is_some() {
                fieldset class="field" {
                    legend { "What to do with the people in the file" }
                    label { input type="radio" name="operation" value="ADD" checked; " Add them to the list" }
                    label { input type="radio" name="operation" value="REMOVE"; " Take them off the list" }
                }
            } @else {
                div class="field" {
                    label for="list-name" { "List name" }
                    input id="list-name" name="name" type="text" required aria-describedby="list-name-error";
                    p class="field-error" id="list-name-error" hidden {}
                }
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
    Page::new(layout(&title, body))
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

/// Each further batch of digests: added (`operation_type` ADD, the
/// default) or taken off (REMOVE).
async fn add_records(
    State(state): State<AppState>,
    csrf: Csrf,
    headers: HeaderMap,
    Path((account, list_id)): Path<(String, String)>,
    ListBody(mut body): ListBody,
) -> Result<Json<ListView>, ApiError> {
    script_session(&state, &csrf, &headers, &account).await?;
    body.operation_type.get_or_insert_with(|| "ADD".to_owned());
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
    let form = AudienceForm {
        account: &account,
        editing: None,
        fields: AUDIENCE.to_vec(),
    };
    match form.page(&state, &csrf, &Values::new(), None).await {
        Ok(page) => csrf.onto(page).into_response(),
        Err(e) => Page::from(e).into_response(),
    }
}

/// The audience form: for a new audience, or for one that exists, which
/// keeps its type and shows the rule's fields of that type.
struct AudienceForm<'a> {
    account: &'a str,
    editing: Option<&'a AudienceView>,
    fields: Vec<Field>,
}

impl<'a> AudienceForm<'a> {
    fn editing(account: &'a str, audience: &'a AudienceView) -> AudienceForm<'a> {
        let of_its_type: &[&str] = match audience.audience_type {
            "CUSTOMER_LIST" => &["rule.customer_list_id"],
            "VISITOR" => &[
                "rule.visitor_source_id",
                "rule.event",
                "rule.url",
                "rule.retention_days",
            ],
            _ => &["rule.engagement_type", "rule.retention_days"],
        };
        let fields = AUDIENCE
            .iter()
            .filter(|f| matches!(f.path, "name" | "description") || of_its_type.contains(&f.path))
            .copied()
            .collect();
        AudienceForm {
            account,
            editing: Some(audience),
            fields,
        }
    }

    /// The values the form shows for the audience it edits.
    fn shown(&self) -> Values {
        let Some(audience) = self.editing else {
            return Values::new();
        };
        let answer = serde_json::to_value(audience).unwrap_or_default();
        let mut values = form::values_of(&self.fields, &answer);
        // The form's URL rule is one "contains"; a rule written otherwise
        // through the API shows empty and is kept unless one is typed.
        if values.contains_key("rule.url") {
            // On the wire: ["contains:/shoes"].
            let contains = match answer.pointer("/rule/url") {
                Some(Value::Array(rules)) if rules.len() == 1 => rules[0]
                    .as_str()
                    .and_then(|rule| rule.strip_prefix("contains:")),
                _ => None,
            };
            values.insert(
                "rule.url".into(),
                contains.map(str::to_owned).into_iter().collect(),
            );
        }
        values
    }

    async fn page(
        &self,
        state: &AppState,
        csrf: &Csrf,
        values: &Values,
        error: Option<&Invalid>,
    ) -> Result<Page, ApiError> {
        let offered = offered(state, self.account).await?;
        let elsewhere = error.filter(|e| !self.fields.iter().any(|f| f.path == e.field));
        let account = self.account;
        let (title, action) = match self.editing {
            None => (
                "New audience".to_owned(),
                format!("/console/accounts/{account}/audiences"),
            ),
            Some(a) => (
                format!("Audience: {}", a.name),
                format!("/console/accounts/{account}/audiences/{}", a.id),
            ),
        };
        let body = html! {
            p { a href={ "/console/accounts/" (account) } { "← Back to the ad account" } }
            h1 { (title) }
            @if let Some(a) = self.editing {
                dl class="facts" {
                    dt { "Type" } dd { (form::humanize(a.audience_type)) }
                    dt { "Size" } dd { (a.size.map(|s| s.to_string()).unwrap_or_else(|| "fewer than 100".into())) }
                    dt { "Status" } dd { (a.status) }
                }
            }
            @if error.is_some() {
                div class="notice error" role="alert" {
                    "This was not saved. "
                    @if let Some(e) = elsewhere { (e.reason) } @else { "Check the field marked below." }
                }
            }
            form method="post" action=(action) {
                (csrf.field())
                (form::render(&self.fields, values, &offered, error, self.editing.is_some()))
                button type="submit" { @if self.editing.is_some() { "Save audience" } @else { "Create audience" } }
            }
            @if let Some(a) = self.editing {
                h2 { "Remove this audience" }
                p { "Ad groups stop reaching or leaving out its people. This cannot be undone." }
                form method="post" action={ "/console/accounts/" (account) "/audiences/" (a.id) "/remove" } {
                    (csrf.field())
                    button type="submit" class="danger" { "Remove audience" }
                }
            }
        };
        let page = Page::new(layout(&title, body));
        Ok(match error {
            Some(_) => page.with_status(StatusCode::BAD_REQUEST),
            None => page,
        })
    }

    /// The API's body for the posted values: everything for a new audience;
    /// for one that exists, its name and description, and its rule only
    /// when a field of the rule changed, then only those fields (what the
    /// form does not show, such as a rule's ingestion source, is kept).
    fn body(&self, values: &Values) -> Result<AudienceBody, ApiError> {
        let mut input = Value::Object(form::to_json(&self.fields, values, self.editing.is_some())?);
        // The form's URL rule is "contains".
        if let Some(part) = input["rule"]["url"].as_str().map(str::to_owned) {
            input["rule"]["url"] = json!({"contains": [part]});
        }
        if let Some(audience) = self.editing {
            let shown = self.shown();
            let changed: Vec<&str> = self
                .fields
                .iter()
                .filter_map(|f| f.path.strip_prefix("rule."))
                .filter(|key| {
                    shown.get(&format!("rule.{key}")) != values.get(&format!("rule.{key}"))
                })
                .collect();
            let mut rule = audience.rule.clone();
            for key in &changed {
                match input["rule"].get(*key) {
                    None | Some(Value::Null) => {
                        rule.as_object_mut().map(|r| r.remove(*key));
                    }
                    Some(v) => rule[*key] = v.clone(),
                }
            }
            input["rule"] = if changed.is_empty() {
                Value::Null
            } else {
                rule
            };
            // An emptied description is cleared (the API keeps a missing one).
            if input["description"].is_null() {
                input["description"] = json!("");
            }
            input["operation_type"] = json!("UPDATE");
        }
        serde_json::from_value(input).map_err(|e| ApiError::invalid(format!("invalid form: {e}")))
    }

    /// Saves the posted form through the API's code; a refusal the form
    /// can show comes back as the field and its reason.
    async fn save(
        &self,
        state: &AppState,
        pairs: &[(String, String)],
    ) -> Result<Result<(), (Values, Invalid)>, ApiError> {
        let values = form::posted(&self.fields, pairs);
        let saved = match self.body(&values) {
            Err(e) => Err(e),
            Ok(body) => match self.editing {
                None => new_audience(state, self.account, body).await.map(|_| ()),
                Some(a) => change_audience(state, self.account, &a.id, body)
                    .await
                    .map(|_| ()),
            },
        };
        match saved {
            Ok(()) => Ok(Ok(())),
            Err(e)
                if e.status == StatusCode::BAD_REQUEST
                    || e.status == StatusCode::TOO_MANY_REQUESTS =>
            {
                // The API's message is "field: reason".
                let refusal = match e.message.split_once(": ") {
                    Some((field, reason)) if self.fields.iter().any(|f| f.path == field) => {
                        Invalid::new(field, reason)
                    }
                    _ => Invalid::new("", e.message),
                };
                Ok(Err((values, refusal)))
            }
            Err(e) => Err(e),
        }
    }

    /// Saves, then back to the account; or the form again with why not.
    async fn submit(&self, state: &AppState, csrf: &Csrf, form: &FormData) -> Response {
        if !csrf.accepts(form.get("csrf")) {
            return forged().into_response();
        }
        let (values, refusal) = match self.save(state, &form.fields).await {
            Ok(Ok(())) => return saved_audiences(self.account),
            Ok(Err(refused)) => refused,
            Err(e) => return Page::from(e).into_response(),
        };
        match self.page(state, csrf, &values, Some(&refusal)).await {
            Ok(page) => csrf.onto(page).into_response(),
            Err(e) => Page::from(e).into_response(),
        }
    }
}

fn saved_audiences(account: &str) -> Response {
    Redirect::to(&format!(
        "/console/accounts/{account}?saved=audiences#audiences"
    ))
    .into_response()
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
    let audience_form = AudienceForm {
        account: &account,
        editing: None,
        fields: AUDIENCE.to_vec(),
    };
    audience_form.submit(&state, &csrf, &form).await
}

async fn edit_audience_page(
    State(state): State<AppState>,
    csrf: Csrf,
    headers: HeaderMap,
    Path((account, id)): Path<(String, String)>,
) -> Response {
    if let Err(answer) = account_session(&state, &headers, &account).await {
        return answer;
    }
    let audience = match one_audience(&state, &account, &id).await {
        Ok(a) => a,
        Err(e) => return Page::from(e).into_response(),
    };
    let form = AudienceForm::editing(&account, &audience);
    match form.page(&state, &csrf, &form.shown(), None).await {
        Ok(page) => csrf.onto(page).into_response(),
        Err(e) => Page::from(e).into_response(),
    }
}

async fn edit_audience(
    State(state): State<AppState>,
    csrf: Csrf,
    headers: HeaderMap,
    Path((account, id)): Path<(String, String)>,
    form: FormData,
) -> Response {
    if let Err(answer) = account_session(&state, &headers, &account).await {
        return answer;
    }
    let audience = match one_audience(&state, &account, &id).await {
        Ok(a) => a,
        Err(e) => return Page::from(e).into_response(),
    };
    AudienceForm::editing(&account, &audience)
        .submit(&state, &csrf, &form)
        .await
}

async fn remove_audience(
    State(state): State<AppState>,
    csrf: Csrf,
    headers: HeaderMap,
    Path((account, id)): Path<(String, String)>,
    form: FormData,
) -> Response {
    if let Err(answer) = account_session(&state, &headers, &account).await {
        return answer;
    }
    if !csrf.accepts(form.get("csrf")) {
        return forged().into_response();
    }
    let body = AudienceBody {
        operation_type: Some("REMOVE".to_owned()),
        ..AudienceBody::default()
    };
    match change_audience(&state, &account, &id, body).await {
        Ok(_) => saved_audiences(&account),
        Err(e) => Page::from(e).into_response(),
    }
}

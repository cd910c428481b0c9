//! `/v1/people/{user_id}/ads_settings`: "Use info from our ad partners".

use adloom_core::ads_setting::{validate_source, AdsSetting, SettingChange};
use adloom_core::consent::{self, strings};
use adloom_core::page::PageRequest;
use adloom_core::person::validate_user_id;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::ApiError;
use crate::extract::{Admin, ApiJson, ApiPath, ApiQuery};
use crate::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct SettingsView {
    use_partner_info: Option<bool>,
    effective: Effective,
    updated_at: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Effective {
    partner_targeting: bool,
    off_platform_sharing: bool,
    /// A stable code, such as `region_default_off`.
    reason: &'static str,
    /// The same reason in plain words, for the person.
    explanation: String,
}

async fn view(
    state: &AppState,
    user_id: &str,
    setting: AdsSetting,
) -> Result<SettingsView, ApiError> {
    let person = state
        .engine
        .store
        .get_person(user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("person"))?;
    let decision = consent::for_person(
        setting.use_partner_info,
        person.country,
        strings::read_last_known(person.regs.as_ref(), &state.engine.config.tcf),
        &state.engine.config.region_defaults,
    );
    // Both outputs have the same reason at the person level; the settings
    // page shows the one about their ads.
    let reason = decision.partner_targeting.reason;
    Ok(SettingsView {
        use_partner_info: setting.use_partner_info,
        effective: Effective {
            partner_targeting: decision.partner_targeting.allowed,
            off_platform_sharing: decision.off_platform_sharing.allowed,
            reason: reason.code(),
            explanation: reason.explanation(),
        },
        updated_at: setting.updated_at,
    })
}

/// `GET`: the setting as the person set it, and what it means now.
#[utoipa::path(
    get,
    path = "/v1/people/{user_id}/ads_settings",
    operation_id = "ads_settings/get",
    tag = "ads settings",
    params(("user_id" = String, Path, description = "The platform's id of the person.")),
    responses(
        (status = 200, description = "\"Use info from our ad partners\" as the person set it, and what it means now.", body = SettingsView),
        (status = 400, description = "A field is malformed.", body = crate::error::ErrorBody),
        (status = 401, description = "No valid token.", body = crate::error::ErrorBody),
        (status = 403, description = "Not the operator's token.", body = crate::error::ErrorBody),
        (status = 404, description = "No such person.", body = crate::error::ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(user_id): ApiPath<String>,
) -> Result<Json<SettingsView>, ApiError> {
    validate_user_id(&user_id)?;
    let setting = state.engine.store.get_ads_setting(&user_id).await?;
    Ok(Json(view(&state, &user_id, setting).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SettingsUpdate {
    /// `true`, `false`, or `null` to go back to the region default. Required.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<bool>, required = true)]
    use_partner_info: Option<Option<bool>>,
    #[serde(default)]
    source: Option<String>,
}

/// Tells an explicit `null` (Some(None)) from a missing field (None).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<bool>>, D::Error> {
    Option::<bool>::deserialize(d).map(Some)
}

/// `PUT`: the platform records the person's choice. It applies to the next
/// request at once, and is appended to the history.
#[utoipa::path(
    put,
    path = "/v1/people/{user_id}/ads_settings",
    operation_id = "ads_settings/put",
    tag = "ads settings",
    params(("user_id" = String, Path, description = "The platform's id of the person.")),
    request_body = SettingsUpdate,
    responses(
        (status = 200, description = "The setting as recorded; it applies to the next request.", body = SettingsView),
        (status = 400, description = "A field is malformed.", body = crate::error::ErrorBody),
        (status = 401, description = "No valid token.", body = crate::error::ErrorBody),
        (status = 403, description = "Not the operator's token.", body = crate::error::ErrorBody),
        (status = 404, description = "No such person.", body = crate::error::ErrorBody),
    )
)]
pub async fn put(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(user_id): ApiPath<String>,
    ApiJson(update): ApiJson<SettingsUpdate>,
) -> Result<Json<SettingsView>, ApiError> {
    validate_user_id(&user_id)?;
    let use_partner_info = update
        .use_partner_info
        .ok_or_else(|| ApiError::invalid("use_partner_info: required (true, false or null)"))?;
    let change = SettingChange {
        use_partner_info,
        changed_at: state.engine.clock.now(),
        source: validate_source(update.source)?,
    };
    let setting = adloom_engine::settings::record(&state.engine, &user_id, change).await?;
    Ok(Json(view(&state, &user_id, setting).await?))
}

#[derive(Deserialize)]
pub struct PageParams {
    page_size: Option<u32>,
    bookmark: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct HistoryPage {
    items: Vec<HistoryItem>,
    bookmark: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct HistoryItem {
    use_partner_info: Option<bool>,
    changed_at: i64,
    source: String,
}

/// `GET .../history`: every change, newest first. It outlives the person.
#[utoipa::path(
    get,
    path = "/v1/people/{user_id}/ads_settings/history",
    operation_id = "ads_settings/history",
    tag = "ads settings",
    params(
        ("user_id" = String, Path, description = "The platform's id of the person."),
        ("page_size" = Option<u32>, Query, description = "1 to 250, default 25."),
        ("bookmark" = Option<String>, Query, description = "Where the previous page ended."),
    ),
    responses(
        (status = 200, description = "Every change, newest first.", body = HistoryPage),
        (status = 400, description = "A field is malformed.", body = crate::error::ErrorBody),
        (status = 401, description = "No valid token.", body = crate::error::ErrorBody),
        (status = 403, description = "Not the operator's token.", body = crate::error::ErrorBody),
    )
)]
pub async fn history(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(user_id): ApiPath<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<HistoryPage>, ApiError> {
    validate_user_id(&user_id)?;
    let page = PageRequest::new(params.page_size, params.bookmark)?;
    let page = state
        .engine
        .store
        .ads_setting_history(&user_id, page)
        .await?;
    Ok(Json(HistoryPage {
        items: page
            .items
            .into_iter()
            .map(|c| HistoryItem {
                use_partner_info: c.use_partner_info,
                changed_at: c.changed_at,
                source: c.source,
            })
            .collect(),
        bookmark: page.next,
    }))
}

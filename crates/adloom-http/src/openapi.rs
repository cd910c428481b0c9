//! adloom's own API document: OpenAPI 3.1 of every route that is not
//! Pinterest's (the operator's `/v1` API, decisions and beacons, the tag's
//! pixel and script, health and metrics), of adloom's operation on
//! Pinterest's objects (`PATCH` of a conversion tag) and of the fields
//! adloom adds to Pinterest's objects. It is generated from the handlers'
//! types and `#[utoipa::path]` attributes, and served at
//! `GET /openapi.json`. Pinterest's own routes are described by Pinterest's
//! spec (tests/conformance), which adloom follows field by field.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::{
    ad_accounts, audiences, conversions, feedback, pair, people, pixel, reviews, serving, settings,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "adloom",
        description = "adloom's own routes: the platform operator's API (people, their ads settings, access tokens), decisions and beacons, the tag's pixel and script, and operations. The Ads API under `/v5` is Pinterest's REST API v5, described by Pinterest's spec; adloom's additions to it are the `extensions` here.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        people::upsert,
        people::get,
        people::delete,
        settings::get,
        settings::put,
        settings::history,
        audiences::why,
        ad_accounts::create_access_token,
        ad_accounts::list_access_tokens,
        ad_accounts::revoke_access_token,
        reviews::queue,
        reviews::decide,
        feedback::hide,
        feedback::list,
        feedback::unhide,
        feedback::report,
        feedback::advertisers,
        serving::decide,
        serving::impression,
        serving::click,
        pixel::pixel,
        pixel::core_js,
        conversions::update_tag,
        pair::start,
        pair::advertiser_ids,
        pair::publisher_ids,
        pair::matched,
        crate::health,
        crate::ready,
        crate::render_metrics,
        crate::echo,
        crate::feed_sdk,
        crate::media::serve,
        document,
    ),
    components(schemas(AdGroupExtensions, ReportRowExtensions)),
    modifiers(&BearerToken),
    security(("bearer" = [])),
    tags(
        (name = "people", description = "The platform's people, synced by the operator."),
        (name = "ads settings", description = "\"Use info from our ad partners\", as each person sets it."),
        (name = "access tokens", description = "Advertisers' tokens, issued by the operator."),
        (name = "ad review", description = "The operator's say over which ads run."),
        (name = "people's controls", description = "\"Hide this ad\" and \"Report this ad\", sent by the platform for the person."),
        (name = "serving", description = "Decisions for the platform's feed, and the beacons of what was shown."),
        (name = "tag", description = "The advertisers' website tag."),
        (name = "extensions", description = "adloom's additions to Pinterest's v5 API."),
        (name = "PAIR", description = "Publisher Advertiser Identity Reconciliation: matching an advertiser's customers with the platform's people without either side reading the other's list (adloom is the publisher's side; `adloom pair` the advertiser's)."),
        (name = "operations", description = "Health, readiness, metrics."),
    ),
)]
struct ApiDoc;

/// Every route takes `Authorization: Bearer <token>` unless it says
/// otherwise: the operator's admin token, or an advertiser's access token.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Fields adloom adds to Pinterest's ad groups (`AdGroupCreateRequest`,
/// `AdGroupUpdateRequest`, `AdGroupResponse`).
#[derive(ToSchema)]
#[allow(dead_code)] // Read only by the document.
struct AdGroupExtensions {
    /// Impressions of the ad group per person per UTC day, 1 to 1000
    /// (default 5).
    #[schema(minimum = 1, maximum = 1000)]
    adloom_daily_frequency_cap: Option<u32>,
}

/// Columns adloom adds to the rows of Pinterest's analytics
/// (`AdsAnalyticsResponse`).
#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)] // Read only by the document; named as the columns are.
struct ReportRowExtensions {
    /// Clicks that billed nothing: a click without its impression, or a
    /// repeat by one person on one ad group the same day. Asked for by
    /// name in `columns`.
    ADLOOM_INVALID_CLICKTHROUGH: Option<u64>,
    /// In hourly rows (`granularity=HOUR`): the hour, 0 to 23 UTC, of
    /// `DATE`.
    #[schema(minimum = 0, maximum = 23)]
    HOUR: Option<u8>,
}

/// The document, built once.
fn json() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .expect("the document is plain data")
    })
}

/// `GET /openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "operations",
    security(()),
    responses((status = 200, description = "This document.", body = Object))
)]
pub async fn document() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], json()).into_response()
}

#[cfg(test)]
mod tests {
    use adloom_core::campaign::FREQUENCY_CAP_FIELD;
    use adloom_core::report::{HOUR_COLUMN, INVALID_CLICKS};
    use serde_json::Value;

    #[test]
    fn the_extensions_are_named_as_the_code_names_them() {
        let doc: Value = serde_json::from_str(super::json()).unwrap();
        let schemas = &doc["components"]["schemas"];
        assert!(schemas["AdGroupExtensions"]["properties"][FREQUENCY_CAP_FIELD].is_object());
        let row = &schemas["ReportRowExtensions"]["properties"];
        assert!(row[INVALID_CLICKS].is_object() && row[HOUR_COLUMN].is_object());
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    }
}

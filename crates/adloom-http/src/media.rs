//! `GET /media/{id}`: the images advertisers uploaded, served by adloom
//! (from the store, so from every node). An id is the digest of the bytes,
//! so an answer never changes and may be cached for good.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::AppState;

#[utoipa::path(
    get,
    path = "/media/{id}",
    operation_id = "media/get",
    tag = "serving",
    description = "An image an advertiser uploaded for a pin in Ads Manager, checked and encoded again by adloom. Its id is the digest of its bytes, so it may be cached for good.",
    params(("id" = String, Path, description = "The image's id: its SHA-256, hex.")),
    security(()),
    responses(
        (status = 200, description = "The image.", content_type = "image/png", body = Vec<u8>),
        (status = 404, description = "No such image.", body = crate::error::ErrorBody),
    )
)]
pub async fn serve(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.engine.store.get_media(&id).await {
        Ok(Some(media)) => {
            let mut res = media.bytes.into_response();
            let headers = res.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&media.content_type) {
                headers.insert(header::CONTENT_TYPE, v);
            }
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            // Opened on its own, an image runs nothing.
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; sandbox"),
            );
            // Feeds on other origins (the feed SDK) show it.
            headers.insert(
                "cross-origin-resource-policy",
                HeaderValue::from_static("cross-origin"),
            );
            res
        }
        Ok(None) => ApiError::not_found("image").into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

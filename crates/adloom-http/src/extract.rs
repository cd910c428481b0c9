//! Extractors that turn bad requests into [`ApiError`]s in the API's shape,
//! and the bearer-token authentication.

use adloom_core::access::Caller;
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::AppState;

/// A JSON object body, with rejections in the API's error shape. Like
/// `axum::Json`, but it also refuses a top-level array or scalar (serde would
/// read an array into a struct by position) and accepts a body without a
/// content type or labelled form-encoded, as hand-written `curl -d` calls
/// send.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let JsonObject(bytes) = JsonObject::from_request(req, state).await?;
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|e| ApiError::invalid(format!("invalid json: {e}")))
    }
}

/// The bytes of a JSON object body, checked as `ApiJson` checks them, for
/// handlers that parse it themselves (borrowing large strings instead of
/// copying them).
pub struct JsonObject(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        json_body(req, state, b'{', "a json object")
            .await
            .map(JsonObject)
    }
}

/// The bytes of a JSON array body (the batch endpoints take arrays),
/// checked like `JsonObject`.
pub struct JsonArray(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonArray {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        json_body(req, state, b'[', "a json array")
            .await
            .map(JsonArray)
    }
}

/// A body must be JSON, or say nothing of its type.
pub(crate) fn check_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    {
        let json_or_none = headers
            .get(header::CONTENT_TYPE)
            .map(|v| {
                let ct = v.to_str().unwrap_or_default().to_ascii_lowercase();
                let essence = ct.split(';').next().unwrap_or_default().trim().to_owned();
                // curl -d labels every body form-encoded; take it as JSON.
                essence == "application/json"
                    || essence.ends_with("+json")
                    || essence == "application/x-www-form-urlencoded"
            })
            .unwrap_or(true);
        if !json_or_none {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                415,
                "expected a body with content-type application/json",
            ));
        }
    }
    Ok(())
}

async fn json_body<S: Send + Sync>(
    req: Request,
    state: &S,
    opening: u8,
    what: &str,
) -> Result<Bytes, ApiError> {
    {
        check_json_content_type(req.headers())?;
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            match rejection.status() {
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    413,
                    "request body is too large",
                ),
                _ => ApiError::invalid("the request body could not be read"),
            }
        })?;
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&opening) {
            return Err(ApiError::invalid(format!("invalid json: expected {what}")));
        }
        Ok(bytes)
    }
}

/// `axum::extract::Query`, with rejections in the API's error shape.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|r: QueryRejection| {
                ApiError::invalid(format!("invalid query: {}", r.body_text()))
            })
    }
}

/// `axum::extract::Path`, with rejections in the API's error shape.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|r: PathRejection| {
                ApiError::invalid(format!("invalid path: {}", r.body_text()))
            })
    }
}

/// Whoever holds the request's bearer token: the operator or an
/// advertiser. Refuses the request with 401 without a known token.
impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(parts).ok_or_else(ApiError::unauthenticated)?;
        state
            .auth
            .caller(token, state.engine.store.as_ref(), state.engine.clock.now())
            .await
    }
}

/// The operator, and only the operator: advertisers get 403.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Caller::from_request_parts(parts, state).await? {
            Caller::Admin => Ok(Admin),
            Caller::Advertiser { .. } => Err(ApiError::forbidden()),
        }
    }
}

/// The `{ad_account_id}` of the path, once the caller is allowed to touch
/// it. Another account's id gets 403 whether or not it exists (the check
/// comes before any lookup); an account the caller may touch but that does
/// not exist gets 404.
pub struct AccountAccess {
    pub ad_account_id: String,
}

impl FromRequestParts<AppState> for AccountAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::internal())?;
        let ad_account_id = params
            .iter()
            .find(|(name, _)| *name == "ad_account_id")
            .map(|(_, value)| value.to_owned())
            .ok_or_else(ApiError::internal)?;
        if !caller.may_access(&ad_account_id) {
            return Err(ApiError::forbidden());
        }
        if state
            .engine
            .store
            .get_ad_account(&ad_account_id)
            .await?
            .is_none()
        {
            return Err(ApiError::not_found("ad account"));
        }
        Ok(AccountAccess { ad_account_id })
    }
}

fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The client's address, when the server knows it (not for requests made
/// in process, as tests and the demo make them).
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// The value of a cookie the browser sent.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// What this browser says about itself: Global Privacy Control, and the
/// opt-out cookie of the choices page. The pixel and the pages read it the
/// same way; the consent policy decides what it means.
pub fn browser_signals(headers: &HeaderMap) -> adloom_core::consent::BrowserSignals {
    adloom_core::consent::BrowserSignals {
        global_privacy_control: headers
            .get("sec-gpc")
            .is_some_and(|v| v.as_bytes().trim_ascii() == b"1"),
        opt_out_cookie: cookie(headers, adloom_core::pixel::OPT_OUT_COOKIE) == Some("1"),
    }
}

/// A page's posted form, url-encoded or multipart (a form with a file):
/// its text fields in order, and its files. Malformed bodies answer with
/// the pages' problem page, not the API's JSON.
pub struct FormData {
    pub fields: Vec<(String, String)>,
    pub files: Vec<Upload>,
}

/// A file posted with a form.
pub struct Upload {
    pub field: String,
    pub bytes: Bytes,
}

impl FormData {
    /// The first value of the field `name`, or "".
    pub fn get(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The file posted as `name`, if one was chosen.
    pub fn file(&self, name: &str) -> Option<&Bytes> {
        self.files
            .iter()
            .find(|f| f.field == name && !f.bytes.is_empty())
            .map(|f| &f.bytes)
    }
}

impl<S: Send + Sync> FromRequest<S> for FormData {
    type Rejection = axum::response::Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        use axum::response::IntoResponse;
        let unreadable = || {
            crate::pages::problem(
                StatusCode::BAD_REQUEST,
                "That did not work",
                "The form could not be read, or a file in it was too large.",
            )
            .into_response()
        };
        let multipart = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        if !multipart {
            let axum::Form(fields) = axum::Form::<Vec<(String, String)>>::from_request(req, state)
                .await
                .map_err(|_| unreadable())?;
            return Ok(FormData {
                fields,
                files: Vec::new(),
            });
        }
        let mut parts = axum::extract::Multipart::from_request(req, state)
            .await
            .map_err(|_| unreadable())?;
        let (mut fields, mut files) = (Vec::new(), Vec::new());
        while let Some(part) = parts.next_field().await.map_err(|_| unreadable())? {
            let name = part.name().unwrap_or_default().to_owned();
            if part.file_name().is_some() {
                let bytes = part.bytes().await.map_err(|_| unreadable())?;
                files.push(Upload { field: name, bytes });
            } else {
                fields.push((name, part.text().await.map_err(|_| unreadable())?));
            }
        }
        Ok(FormData { fields, files })
    }
}

//! The one error type of the HTTP API, in Pinterest's error shape
//! `{"code": int, "message": string}`.

use adloom_core::Invalid;
use adloom_store::StoreError;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// Pinterest's codes where the spec gives one; elsewhere the HTTP status.
pub mod code {
    pub const INVALID: u32 = 4196;
    pub const AUTHENTICATION_FAILED: u32 = 2;
    pub const NOT_PERMITTED: u32 = 29;
    pub const RATE_LIMITED: u32 = 8;
}

/// An error as the client sees it. Internal details never get in here: they
/// are logged where they happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: u32,
    pub message: String,
    /// Seconds to wait, sent as `Retry-After`.
    pub retry_after: Option<u64>,
}

/// As a tool that calls the API in-process reports it: `400 (4196): message`.
impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

/// Every error, as Pinterest's API shapes it: `code` is Pinterest's (2 for
/// 401, 29 for 403, 4196 for 400) or else the HTTP status.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody<'a> {
    code: u32,
    message: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, code: u32, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 429 in Pinterest's shape (code 8), with how long to wait.
    pub fn rate_limited(message: impl Into<String>, retry_after_secs: u64) -> ApiError {
        ApiError {
            retry_after: Some(retry_after_secs.max(1)),
            ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, code::RATE_LIMITED, message)
        }
    }

    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code::INVALID, message)
    }

    pub fn unauthenticated() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            code::AUTHENTICATION_FAILED,
            "Authentication failed.",
        )
    }

    pub fn forbidden() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            code::NOT_PERMITTED,
            "You are not permitted to access that resource.",
        )
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, 404, format!("{what} not found"))
    }

    pub fn too_large(limit: u64) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            413,
            format!("request body is larger than the limit of {limit} bytes"),
        )
    }

    pub fn internal() -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, 500, "internal error")
    }

    /// The error for a bare status, such as a timeout or an unknown route.
    pub fn from_status(status: StatusCode) -> ApiError {
        let message = status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase();
        match status {
            StatusCode::BAD_REQUEST => ApiError::invalid(message),
            StatusCode::UNAUTHORIZED => ApiError::unauthenticated(),
            StatusCode::FORBIDDEN => ApiError::forbidden(),
            s => ApiError::new(s, u32::from(s.as_u16()), message),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (
            self.status,
            Json(ErrorBody {
                code: self.code,
                message: &self.message,
            }),
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        res
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> ApiError {
        ApiError::invalid(e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound => ApiError::not_found("resource"),
            StoreError::AlreadyExists => {
                ApiError::new(StatusCode::CONFLICT, 409, "resource already exists")
            }
            StoreError::Invalid(invalid) => invalid.into(),
            // Already logged by the store.
            StoreError::Internal { .. } => ApiError::internal(),
            // A URL names a backend this build left out, or a store a newer
            // build wrote: refused when the server starts; never a client's.
            StoreError::WithoutFeature { .. } | StoreError::SchemaTooNew { .. } => {
                ApiError::internal()
            }
        }
    }
}

impl From<adloom_engine::EngineError> for ApiError {
    fn from(e: adloom_engine::EngineError) -> ApiError {
        use adloom_engine::EngineError;
        match e {
            EngineError::NotFound(what) => ApiError::not_found(what),
            EngineError::Invalid(e) => e.into(),
            EngineError::Store(e) => e.into(),
            // Already logged by the engine.
            EngineError::Internal(_) => ApiError::internal(),
        }
    }
}

/// Puts error responses that did not come from [`ApiError`] (an unknown
/// route, a wrong method, a timeout) into the API's error shape.
pub async fn into_error_shape(res: Response) -> Response {
    let status = res.status();
    // Pages answer their own errors in HTML; the rest is shaped here.
    let shaped_already = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes().starts_with(b"application/json") || v.as_bytes().starts_with(b"text/html")
    });
    if (status.is_client_error() || status.is_server_error()) && !shaped_already {
        let mut shaped = ApiError::from_status(status).into_response();
        for name in [header::ALLOW, header::RETRY_AFTER] {
            if let Some(v) = res.headers().get(&name) {
                shaped.headers_mut().insert(name, v.clone());
            }
        }
        return shaped;
    }
    res
}

//! Error answers: a status and `{"error": what, "detail": why}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::store::StoreError;

/// An API failure as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: &'static str,
    pub detail: String,
}

impl ApiError {
    pub fn new(status: StatusCode, error: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error,
            detail: detail.into(),
        }
    }

    pub fn not_found(error: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, error, detail)
    }

    pub fn bad_request(error: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, error, detail)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        if let StoreError::Db(sqlx::Error::PoolTimedOut) = e {
            tracing::warn!("no database connection free in time");
            return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", e.to_string());
        }
        tracing::error!(error = %e, "store failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store failed",
            e.to_string(),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "error": self.error, "detail": self.detail })),
        )
            .into_response()
    }
}

/// Reads a UTF-8 body.
pub fn utf8_body(body: &[u8]) -> Result<&str, ApiError> {
    std::str::from_utf8(body).map_err(|e| ApiError::bad_request("body is not UTF-8", e.to_string()))
}

/// Reads a JSON object body.
pub fn json_object(body: &[u8]) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("invalid JSON", "empty body"));
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request(
            "invalid JSON",
            "the body must be a JSON object",
        )),
        Err(e) => Err(ApiError::bad_request("invalid JSON", e.to_string())),
    }
}

/// An optional string member of a JSON object; an empty string counts as absent.
pub fn optional_string(
    map: &serde_json::Map<String, serde_json::Value>,
    key: &'static str,
) -> Result<Option<String>, ApiError> {
    match map.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) if s.is_empty() => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::bad_request(
            "invalid JSON",
            format!("{key} must be a string"),
        )),
    }
}

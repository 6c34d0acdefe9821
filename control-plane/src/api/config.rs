//! The config service: Clearwater's configuration files, checked on upload,
//! served on the provisioning and HSS-cache listeners (engines read them
//! from the latter). Files are plain text.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::error::utf8_body;
use super::{ApiError, SharedState};
use crate::config::{self, ConfigError};

/// The config routes.
pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/config", get(list))
        .route("/config/", get(list))
        .route(
            "/config/{name}",
            get(get_file).put(put_file).delete(delete_file),
        )
}

fn known(name: &str) -> Result<(), ApiError> {
    if config::CONFIG_FILES.contains(&name) {
        Ok(())
    } else {
        Err(ApiError::not_found(
            "no such configuration file",
            ConfigError::UnknownFile(name.to_owned()).to_string(),
        ))
    }
}

async fn list(State(s): State<SharedState>) -> Result<Response, ApiError> {
    Ok(Json(json!({ "files": s.store.config_names().await? })).into_response())
}

async fn get_file(
    State(s): State<SharedState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    known(&name)?;
    match s.store.get_config(&name).await? {
        Some(text) => Ok(([(header::CONTENT_TYPE, "text/plain")], text).into_response()),
        None => Err(ApiError::not_found("configuration file not set", name)),
    }
}

async fn put_file(
    State(s): State<SharedState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    known(&name)?;
    let text = utf8_body(&body)?;
    config::validate(&name, text)
        .map_err(|e| ApiError::bad_request("invalid configuration", e.to_string()))?;
    s.store.put_config(&name, text).await?;
    tracing::info!(file = %name, "configuration stored");
    Ok(StatusCode::OK.into_response())
}

async fn delete_file(
    State(s): State<SharedState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    known(&name)?;
    if s.store.delete_config(&name).await? {
        Ok(StatusCode::OK.into_response())
    } else {
        Ok(StatusCode::NO_CONTENT.into_response())
    }
}

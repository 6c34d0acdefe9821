//! Homer's XDMS (default port 7888): simservs documents per IMPU. Errors on
//! this interface are plain text, as Homer's XSD errors were.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::SharedState;
use crate::simservs;

/// The XDMS routes.
pub fn router() -> Router<SharedState> {
    Router::new().route(
        "/org.etsi.ngn.simservs/users/{impu}/simservs.xml",
        get(get_doc).put(put_doc).delete(delete_doc),
    )
}

fn text(status: StatusCode, reason: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain")], reason).into_response()
}

fn store_failed(e: crate::store::StoreError) -> Response {
    tracing::error!(error = %e, "store failed");
    text(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("store failed: {e}"),
    )
}

async fn get_doc(State(s): State<SharedState>, Path(impu): Path<String>) -> Response {
    match s.store.get_simservs(&impu).await {
        Ok(Some(doc)) => ([(header::CONTENT_TYPE, "application/xml")], doc).into_response(),
        Ok(None) => text(
            StatusCode::NOT_FOUND,
            format!("no simservs document for {impu}"),
        ),
        Err(e) => store_failed(e),
    }
}

async fn put_doc(State(s): State<SharedState>, Path(impu): Path<String>, body: Bytes) -> Response {
    let Ok(doc) = std::str::from_utf8(&body) else {
        return text(StatusCode::BAD_REQUEST, "document is not UTF-8".into());
    };
    if let Err(e) = simservs::validate(doc) {
        return text(StatusCode::BAD_REQUEST, e.to_string());
    }
    match s.store.put_simservs(&impu, doc).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => store_failed(e),
    }
}

async fn delete_doc(State(s): State<SharedState>, Path(impu): Path<String>) -> Response {
    match s.store.delete_simservs(&impu).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => store_failed(e),
    }
}

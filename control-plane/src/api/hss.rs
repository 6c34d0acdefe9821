//! Homestead's HSS-cache API (default port 8888), the one the engine calls:
//! authentication vectors, registration state and User-Data, and the
//! serving S-CSCF. Without an external HSS, as Homestead with none configured.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;

use super::error::{json_object, optional_string};
use super::{ApiError, SharedState};
use crate::digest::Algorithms;
use crate::store::{RegDataOutcome, RegReqType, StoreError};
use crate::xml;

/// Diameter's DIAMETER_SUCCESS, the result code Homestead reports without an HSS.
pub const DIAMETER_SUCCESS: u32 = 2001;

/// The HSS-cache routes.
pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/impi/{impi}/av", get(av_digest))
        .route("/impi/{impi}/av/digest", get(av_digest))
        .route("/impi/{impi}/av/aka", get(av_aka))
        .route("/impi/{impi}/registration-status", get(registration_status))
        .route("/impu/{impu}/reg-data", get(get_reg_data).put(put_reg_data))
        .route("/impu/{impu}/location", get(location))
}

/// A store failure here is Homestead's "the database failed": 502 (503 when
/// no connection came free in time: overload).
fn bad_gateway(e: StoreError) -> ApiError {
    if let StoreError::Db(sqlx::Error::PoolTimedOut) = e {
        return ApiError::from(e);
    }
    tracing::error!(error = %e, "store failed");
    ApiError::new(StatusCode::BAD_GATEWAY, "store failed", e.to_string())
}

#[derive(Deserialize)]
struct AvQuery {
    impu: Option<String>,
}

async fn av_digest(
    State(s): State<SharedState>,
    Path(impi): Path<String>,
    Query(q): Query<AvQuery>,
) -> Result<Response, ApiError> {
    match s.store.digest_for(&impi, q.impu.as_deref()).await? {
        Some(d) => {
            let mut body = json!({
                "digest": {
                    "ha1": d.ha1,
                    "qop": "auth",
                    "realm": d.realm.clone().unwrap_or_else(|| s.home_domain.clone()),
                }
            });
            // Riptide's extension beside Homestead's `digest`, only when the
            // IMPI may use more than MD5 (Clearwater clients ignore it):
            // what the IMPI may use, with the HA1s, preferred first.
            if d.algorithms != Algorithms::MD5_ONLY {
                body["digest_algorithms"] = d
                    .usable()
                    .into_iter()
                    .map(|(a, h)| json!({ "algorithm": a, "ha1": h }))
                    .collect();
            }
            Ok(Json(body).into_response())
        }
        None => Err(ApiError::not_found(
            "no authentication vector",
            match q.impu {
                Some(u) => format!("{impi} is unknown or may not authenticate {u}"),
                None => format!("{impi} is unknown"),
            },
        )),
    }
}

async fn av_aka(Path(impi): Path<String>) -> ApiError {
    ApiError::not_found(
        "no authentication vector",
        format!("{impi}: AKA vectors need an HSS, and none is configured"),
    )
}

#[derive(Deserialize)]
struct RegistrationStatusQuery {
    impu: Option<String>,
}

async fn registration_status(
    State(s): State<SharedState>,
    Path(impi): Path<String>,
    Query(q): Query<RegistrationStatusQuery>,
) -> Result<Response, ApiError> {
    let Some(impu) = q.impu else {
        return Err(ApiError::bad_request(
            "missing query parameter",
            "impu is required",
        ));
    };
    let Some(impis) = s.store.public_private_ids(&impu).await? else {
        return Err(ApiError::not_found("no such public identity", impu));
    };
    if !impis.contains(&impi) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not authorized",
            format!("{impi} may not register {impu}"),
        ));
    }
    let server = s
        .store
        .registration(&impu)
        .await?
        .and_then(|(_, server)| server)
        .unwrap_or_else(|| s.scscf_uri.clone());
    Ok(Json(json!({ "result-code": DIAMETER_SUCCESS, "scscf": server })).into_response())
}

#[derive(Deserialize)]
struct RegDataQuery {
    private_id: Option<String>,
}

fn reg_data_response(state: xml::RegState, sub: &xml::Subscription) -> Response {
    (
        [(header::CONTENT_TYPE, "application/xml")],
        xml::reg_data_document(state, sub),
    )
        .into_response()
}

async fn get_reg_data(
    State(s): State<SharedState>,
    Path(impu): Path<String>,
    Query(q): Query<RegDataQuery>,
) -> Result<Response, ApiError> {
    match s
        .store
        .reg_data(&impu, q.private_id.as_deref())
        .await
        .map_err(bad_gateway)?
    {
        Some((state, sub)) => Ok(reg_data_response(state, &sub)),
        None => Err(ApiError::not_found("no such public identity", impu)),
    }
}

async fn put_reg_data(
    State(s): State<SharedState>,
    Path(impu): Path<String>,
    Query(q): Query<RegDataQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let obj = json_object(&body)?;
    let reqtype = optional_string(&obj, "reqtype")?
        .ok_or_else(|| ApiError::bad_request("invalid JSON", "reqtype is required"))?;
    let req = RegReqType::parse(&reqtype).ok_or_else(|| {
        ApiError::bad_request("invalid reqtype", format!("unknown reqtype {reqtype:?}"))
    })?;
    let server_name = optional_string(&obj, "server_name")?.unwrap_or_else(|| s.scscf_uri.clone());
    match s
        .store
        .put_reg_data(&impu, q.private_id.as_deref(), req, &server_name)
        .await
        .map_err(bad_gateway)?
    {
        RegDataOutcome::Ok(state, sub, moved) => {
            tracing::debug!(%impu, %reqtype, state = state.as_str(), "reg-data updated");
            if let Some(impus) = moved {
                // Another S-CSCF served this IRS: engines that cached it as
                // registered with them must ask again on their next REGISTER.
                s.engines
                    .invalidate(&crate::notify::Changed {
                        impis: Vec::new(),
                        impus,
                    })
                    .await;
            }
            Ok(reg_data_response(state, &sub))
        }
        RegDataOutcome::UnknownImpu => Err(ApiError::not_found("no such public identity", impu)),
        RegDataOutcome::NotRegistered(state) => {
            tracing::error!(%impu, %reqtype, "deregistration of a user that is not registered");
            Err(ApiError::bad_request(
                "not registered",
                format!("{impu} is {}, not REGISTERED", state.as_str()),
            ))
        }
    }
}

async fn location(
    State(s): State<SharedState>,
    Path(impu): Path<String>,
) -> Result<Response, ApiError> {
    match s.store.registration(&impu).await? {
        Some((_, server)) => Ok(Json(json!({
            "result-code": DIAMETER_SUCCESS,
            "scscf": server.unwrap_or_else(|| s.scscf_uri.clone()),
        }))
        .into_response()),
        None => Err(ApiError::not_found("no such public identity", impu)),
    }
}

//! Homestead-prov's provisioning API (default port 8889), with its paths,
//! status codes and JSON keys, plus Riptide's bulk extension
//! (`POST /riptide/bulk-users`).

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::Deserialize;
use serde_json::json;

use super::error::{json_object, optional_string, utf8_body};
use super::{ApiError, SharedState};
use crate::digest::{self, Algorithms};
use crate::notify::Changed;
use crate::store::{BulkUser, LinkOutcome, PutPublicOutcome};
use crate::xml;

/// Most users one bulk request may carry.
pub const BULK_USERS_MAX: usize = 10_000;
/// Largest bulk request body.
pub const BULK_BODY_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Default and largest page of `GET /public/`.
pub const PUBLIC_PAGE_DEFAULT: u64 = 1000;
pub const PUBLIC_PAGE_MAX: u64 = 10_000;

/// The provisioning routes.
pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/impi/{impi}/digest", get(impi_digest))
        .route("/impu/{impu}", get(impu_subscription))
        .route(
            "/private/{impi}",
            put(put_private).get(get_private).delete(delete_private),
        )
        .route(
            "/private/{impi}/associated_implicit_registration_sets",
            get(private_irses),
        )
        .route(
            "/private/{impi}/associated_implicit_registration_sets/",
            get(private_irses),
        )
        .route(
            "/private/{impi}/associated_implicit_registration_sets/{irs}",
            put(link_private_irs).delete(unlink_private_irs),
        )
        .route(
            "/private/{impi}/associated_public_ids",
            get(private_public_ids),
        )
        .route("/irs", post(create_irs))
        .route("/irs/", post(create_irs))
        .route("/irs/{irs}", axum::routing::delete(delete_irs))
        .route("/irs/{irs}/public_ids", get(irs_public_ids))
        .route("/irs/{irs}/private_ids", get(irs_private_ids))
        .route(
            "/irs/{irs}/private_ids/{impi}",
            put(irs_link_private).delete(irs_unlink_private),
        )
        .route("/irs/{irs}/service_profiles", post(create_service_profile))
        .route(
            "/irs/{irs}/service_profiles/{sp}",
            axum::routing::delete(delete_service_profile),
        )
        .route(
            "/irs/{irs}/service_profiles/{sp}/public_ids",
            get(service_profile_public_ids),
        )
        .route(
            "/irs/{irs}/service_profiles/{sp}/public_ids/{impu}",
            put(put_public_id)
                .get(get_public_id)
                .delete(delete_public_id),
        )
        .route(
            "/irs/{irs}/service_profiles/{sp}/filter_criteria",
            put(put_filter_criteria).get(get_filter_criteria),
        )
        .route(
            "/public/{impu}/service_profile",
            get(public_service_profile),
        )
        .route("/public/{impu}/irs", get(public_irs))
        .route("/public/{impu}/irs/", get(public_irs))
        .route(
            "/public/{impu}/associated_private_ids",
            get(public_private_ids),
        )
        .route("/public", get(list_public))
        .route("/public/", get(list_public))
        .route(
            "/riptide/bulk-users",
            post(bulk_users).layer(DefaultBodyLimit::max(BULK_BODY_BYTES_MAX)),
        )
}

fn xml_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

fn see_other(location: String) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

fn unknown_impi(impi: &str) -> ApiError {
    ApiError::not_found("no such private identity", impi.to_owned())
}

fn unknown_impu(impu: &str) -> ApiError {
    ApiError::not_found("no such public identity", impu.to_owned())
}

fn unknown_irs(irs: &str) -> ApiError {
    ApiError::not_found("no such implicit registration set", irs.to_owned())
}

fn unknown_sp(sp: &str) -> ApiError {
    ApiError::not_found("no such service profile", sp.to_owned())
}

#[derive(Deserialize)]
struct DigestQuery {
    public_id: Option<String>,
}

async fn impi_digest(
    State(s): State<SharedState>,
    Path(impi): Path<String>,
    Query(q): Query<DigestQuery>,
) -> Result<Response, ApiError> {
    match s.store.digest_for(&impi, q.public_id.as_deref()).await? {
        Some(d) => Ok(Json(json!({ "digest_ha1": d.ha1 })).into_response()),
        None => Err(ApiError::not_found(
            "no digest",
            match q.public_id {
                Some(u) => format!("{impi} has no digest or may not authenticate {u}"),
                None => format!("{impi} has no digest"),
            },
        )),
    }
}

async fn impu_subscription(
    State(s): State<SharedState>,
    Path(impu): Path<String>,
) -> Result<Response, ApiError> {
    match s.store.subscription(&impu, None).await? {
        Some(sub) => Ok(xml_response(xml::ims_subscription_document(&sub))),
        None => Err(unknown_impu(&impu)),
    }
}

/// The `digest_algorithms` extension key: a list of algorithm names.
fn algorithms_key(
    obj: &serde_json::Map<String, serde_json::Value>,
) -> Result<Option<Algorithms>, ApiError> {
    let Some(v) = obj.get("digest_algorithms") else {
        return Ok(None);
    };
    let names: Vec<&str> = v
        .as_array()
        .map(|a| a.iter().filter_map(|n| n.as_str()).collect())
        .filter(|n: &Vec<&str>| Some(n.len()) == v.as_array().map(Vec::len))
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid digest_algorithms",
                "digest_algorithms must be a list of names (MD5, SHA-256)",
            )
        })?;
    Algorithms::parse(&names)
        .map(Some)
        .map_err(|e| ApiError::bad_request("invalid digest_algorithms", e))
}

/// A bad request unless some allowed algorithm has an HA1.
fn check_usable(algorithms: Algorithms, sha256: Option<&str>) -> Result<(), ApiError> {
    if algorithms.md5 || (algorithms.sha256 && sha256.is_some()) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "no usable digest",
            "SHA-256 only needs plaintext_password or digest_ha1_sha256",
        ))
    }
}

async fn put_private(
    State(s): State<SharedState>,
    Path(impi): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let obj = json_object(&body)?;
    let plaintext = optional_string(&obj, "plaintext_password")?;
    let digest_ha1 = optional_string(&obj, "digest_ha1")?;
    let given_sha256 = optional_string(&obj, "digest_ha1_sha256")?;
    let realm = optional_string(&obj, "realm")?.unwrap_or_else(|| s.home_domain.clone());
    let (ha1, sha256, stored_plaintext) = match (plaintext, digest_ha1) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "invalid JSON - too many keys",
                "give digest_ha1 or plaintext_password, not both",
            ));
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                "invalid JSON - missing keys",
                "digest_ha1 or plaintext_password is required",
            ));
        }
        (Some(p), None) => (
            digest::ha1(&impi, &realm, &p),
            Some(digest::ha1_sha256(&impi, &realm, &p)),
            Some(p),
        ),
        (None, Some(h)) if digest::is_ha1(&h) => {
            let sha256 = match given_sha256 {
                Some(x) if digest::is_ha1_sha256(&x) => Some(x.to_ascii_lowercase()),
                Some(_) => {
                    return Err(ApiError::bad_request(
                        "invalid digest_ha1_sha256",
                        "digest_ha1_sha256 must be 64 hexadecimal digits",
                    ));
                }
                None => None,
            };
            (h.to_ascii_lowercase(), sha256, None)
        }
        (None, Some(_)) => {
            return Err(ApiError::bad_request(
                "invalid digest_ha1",
                "digest_ha1 must be 32 hexadecimal digits",
            ));
        }
    };
    // Omitted, the setting stays as it was (MD5 only for a new IMPI).
    let algorithms = match algorithms_key(&obj)? {
        Some(a) => a,
        None => s.store.private_algorithms(&impi).await?.unwrap_or_default(),
    };
    check_usable(algorithms, sha256.as_deref())?;
    s.store
        .put_private(
            &impi,
            &realm,
            &ha1,
            sha256.as_deref(),
            stored_plaintext.as_deref(),
            algorithms,
        )
        .await?;
    tracing::info!(%impi, algorithms = %algorithms.column(), "private identity stored");
    s.engines.invalidate(&Changed::impi(&impi)).await;
    Ok(StatusCode::OK.into_response())
}

async fn get_private(
    State(s): State<SharedState>,
    Path(impi): Path<String>,
) -> Result<Response, ApiError> {
    let Some(p) = s.store.get_private(&impi).await? else {
        return Err(unknown_impi(&impi));
    };
    let mut body = json!({
        "digest_ha1": p.digest_ha1,
        "realm": p.realm.unwrap_or_else(|| s.home_domain.clone()),
    });
    if let Some(pw) = p.plaintext_password {
        body["plaintext_password"] = json!(pw);
    }
    // Riptide's extension, shown only when it says more than Homestead would.
    if p.algorithms != Algorithms::MD5_ONLY {
        body["digest_algorithms"] = json!(p.algorithms.names());
        if let Some(h) = p.digest_ha1_sha256 {
            body["digest_ha1_sha256"] = json!(h);
        }
    }
    Ok(Json(body).into_response())
}

/// Every identity of an IRS (the IMPUs whose reg-data it makes, the IMPIs
/// whose `av` depends on it), plus `impi`: what an engine must forget when
/// the IRS changes.
async fn irs_identities(
    s: &SharedState,
    irs: &str,
    impi: Option<&str>,
) -> Result<Changed, ApiError> {
    let mut c = Changed {
        impus: s.store.irs_public_ids(irs).await?.unwrap_or_default(),
        impis: s.store.irs_private_ids(irs).await?.unwrap_or_default(),
    };
    if let Some(i) = impi {
        if !c.impis.iter().any(|x| x == i) {
            c.impis.push(i.to_owned());
        }
    }
    Ok(c)
}

fn deleted(existed: bool) -> Response {
    if existed {
        StatusCode::OK.into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    }
}

async fn delete_private(
    State(s): State<SharedState>,
    Path(impi): Path<String>,
) -> Result<Response, ApiError> {
    let existed = s.store.delete_private(&impi).await?;
    s.engines.invalidate(&Changed::impi(&impi)).await;
    Ok(deleted(existed))
}

/// Link an IMPI and an IRS (both URL shapes of Homestead-prov), creating
/// the IMPI when `create_impi`, and tell the engines the IRS changed.
async fn link(
    s: &SharedState,
    impi: &str,
    irs: &str,
    create_impi: bool,
) -> Result<Response, ApiError> {
    match s.store.link_impi_irs(impi, irs, create_impi).await? {
        LinkOutcome::Linked => {
            s.engines
                .invalidate(&irs_identities(s, irs, Some(impi)).await?)
                .await;
            Ok(StatusCode::OK.into_response())
        }
        LinkOutcome::NoIrs => Err(unknown_irs(irs)),
        LinkOutcome::NoImpi => Err(unknown_impi(impi)),
    }
}

/// Unlink an IMPI and an IRS (both URL shapes), telling the engines.
async fn unlink(s: &SharedState, impi: &str, irs: &str) -> Result<Response, ApiError> {
    let existed = s.store.unlink_impi_irs(impi, irs).await?;
    s.engines
        .invalidate(&irs_identities(s, irs, Some(impi)).await?)
        .await;
    Ok(deleted(existed))
}

async fn private_irses(
    State(s): State<SharedState>,
    Path(impi): Path<String>,
) -> Result<Response, ApiError> {
    match s.store.private_irses(&impi).await? {
        Some(v) => Ok(Json(json!({ "associated_implicit_registration_sets": v })).into_response()),
        None => Err(unknown_impi(&impi)),
    }
}

async fn link_private_irs(
    State(s): State<SharedState>,
    Path((impi, irs)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    // Ellis links the IRS before it PUTs the digest, so the IMPI is created here.
    link(&s, &impi, &irs, true).await
}

async fn unlink_private_irs(
    State(s): State<SharedState>,
    Path((impi, irs)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    unlink(&s, &impi, &irs).await
}

async fn private_public_ids(
    State(s): State<SharedState>,
    Path(impi): Path<String>,
) -> Result<Response, ApiError> {
    match s.store.private_public_ids(&impi).await? {
        Some(v) => Ok(Json(json!({ "associated_public_ids": v })).into_response()),
        None => Err(unknown_impi(&impi)),
    }
}

async fn create_irs(State(s): State<SharedState>) -> Result<Response, ApiError> {
    let uuid = s.store.create_irs().await?;
    Ok((StatusCode::CREATED, [(header::LOCATION, uuid)]).into_response())
}

async fn delete_irs(
    State(s): State<SharedState>,
    Path(irs): Path<String>,
) -> Result<Response, ApiError> {
    let changed = irs_identities(&s, &irs, None).await?;
    let existed = s.store.delete_irs(&irs).await?;
    s.engines.invalidate(&changed).await;
    Ok(deleted(existed))
}

async fn irs_public_ids(
    State(s): State<SharedState>,
    Path(irs): Path<String>,
) -> Result<Response, ApiError> {
    match s.store.irs_public_ids(&irs).await? {
        Some(v) => Ok(Json(json!({ "public_ids": v })).into_response()),
        None => Err(unknown_irs(&irs)),
    }
}

async fn irs_private_ids(
    State(s): State<SharedState>,
    Path(irs): Path<String>,
) -> Result<Response, ApiError> {
    match s.store.irs_private_ids(&irs).await? {
        Some(v) => Ok(Json(json!({ "private_ids": v })).into_response()),
        None => Err(unknown_irs(&irs)),
    }
}

async fn irs_link_private(
    State(s): State<SharedState>,
    Path((irs, impi)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    link(&s, &impi, &irs, false).await
}

async fn irs_unlink_private(
    State(s): State<SharedState>,
    Path((irs, impi)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    unlink(&s, &impi, &irs).await
}

async fn create_service_profile(
    State(s): State<SharedState>,
    Path(irs): Path<String>,
) -> Result<Response, ApiError> {
    match s.store.create_service_profile(&irs).await? {
        Some(sp) => Ok((
            StatusCode::CREATED,
            [(
                header::LOCATION,
                format!("/irs/{irs}/service_profiles/{sp}"),
            )],
        )
            .into_response()),
        None => Err(unknown_irs(&irs)),
    }
}

async fn delete_service_profile(
    State(s): State<SharedState>,
    Path((irs, sp)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let changed = irs_identities(&s, &irs, None).await?;
    let existed = s.store.delete_service_profile(&irs, &sp).await?;
    s.engines.invalidate(&changed).await;
    Ok(deleted(existed))
}

async fn service_profile_public_ids(
    State(s): State<SharedState>,
    Path((irs, sp)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    match s.store.service_profile_public_ids(&irs, &sp).await? {
        Some(v) => Ok(Json(json!({ "public_ids": v })).into_response()),
        None => Err(unknown_sp(&sp)),
    }
}

async fn put_public_id(
    State(s): State<SharedState>,
    Path((irs, sp, impu)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let text = utf8_body(&body)?;
    let doc = xml::parse_public_identity(text)
        .map_err(|e| ApiError::bad_request("invalid PublicIdentity XML", e.to_string()))?;
    if doc.identity != impu {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "identity mismatch",
            format!("the URL names {impu} but <Identity> is {}", doc.identity),
        ));
    }
    match s
        .store
        .put_public_id(&irs, &sp, &impu, doc.barred, &doc.xml)
        .await?
    {
        PutPublicOutcome::Stored => {
            tracing::info!(%impu, %irs, "public identity stored");
            s.engines
                .invalidate(&irs_identities(&s, &irs, None).await?)
                .await;
            Ok(StatusCode::OK.into_response())
        }
        PutPublicOutcome::NoServiceProfile => Err(unknown_sp(&sp)),
    }
}

async fn get_public_id(
    State(s): State<SharedState>,
    Path((irs, sp, impu)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    match s.store.get_public_id(&irs, &sp, &impu).await? {
        Some(x) => Ok(xml_response(x)),
        None => Err(unknown_impu(&impu)),
    }
}

async fn delete_public_id(
    State(s): State<SharedState>,
    Path((irs, sp, impu)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let changed = irs_identities(&s, &irs, None).await?;
    if s.store.delete_public_id(&irs, &sp, &impu).await? {
        s.engines.invalidate(&changed).await;
        Ok(StatusCode::OK.into_response())
    } else {
        Err(unknown_impu(&impu))
    }
}

async fn put_filter_criteria(
    State(s): State<SharedState>,
    Path((irs, sp)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let text = utf8_body(&body)?;
    let doc = xml::parse_filter_criteria(text)
        .map_err(|e| ApiError::bad_request("invalid ServiceProfile XML", e.to_string()))?;
    if s.store
        .put_filter_criteria(&irs, &sp, &doc.document, &doc.ifcs)
        .await?
    {
        s.engines
            .invalidate(&irs_identities(&s, &irs, None).await?)
            .await;
        Ok(StatusCode::OK.into_response())
    } else {
        Err(unknown_sp(&sp))
    }
}

async fn get_filter_criteria(
    State(s): State<SharedState>,
    Path((irs, sp)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    match s.store.get_filter_criteria(&irs, &sp).await? {
        Some(doc) => Ok(xml_response(doc)),
        None => Err(ApiError::not_found(
            "no filter criteria",
            format!("service profile {sp} does not exist or has no iFCs"),
        )),
    }
}

async fn public_service_profile(
    State(s): State<SharedState>,
    Path(impu): Path<String>,
) -> Result<Response, ApiError> {
    match s.store.public_location(&impu).await? {
        Some((irs, sp)) => Ok(see_other(format!("/irs/{irs}/service_profiles/{sp}"))),
        None => Err(unknown_impu(&impu)),
    }
}

async fn public_irs(
    State(s): State<SharedState>,
    Path(impu): Path<String>,
) -> Result<Response, ApiError> {
    match s.store.public_location(&impu).await? {
        Some((irs, _)) => Ok(see_other(format!("/irs/{irs}"))),
        None => Err(unknown_impu(&impu)),
    }
}

async fn public_private_ids(
    State(s): State<SharedState>,
    Path(impu): Path<String>,
) -> Result<Response, ApiError> {
    match s.store.public_private_ids(&impu).await? {
        Some(v) => Ok(Json(json!({ "private_ids": v })).into_response()),
        None => Err(unknown_impu(&impu)),
    }
}

#[derive(Deserialize)]
struct PageQuery {
    start: Option<String>,
    limit: Option<String>,
}

fn number(v: Option<String>, name: &'static str, default: u64) -> Result<u64, ApiError> {
    match v {
        None => Ok(default),
        Some(s) => s.parse().map_err(|_| {
            ApiError::bad_request("invalid query", format!("{name} must be a number"))
        }),
    }
}

async fn list_public(
    State(s): State<SharedState>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let start = number(q.start, "start", 0)?;
    let limit = number(q.limit, "limit", PUBLIC_PAGE_DEFAULT)?.clamp(1, PUBLIC_PAGE_MAX);
    let page = s.store.list_public_ids(start, limit).await?;
    Ok(Json(page).into_response())
}

#[derive(Deserialize)]
struct BulkRequest {
    users: Vec<BulkRequestUser>,
    /// A `<ServiceProfile>` document of iFCs given to every new user.
    #[serde(default)]
    ifc: Option<String>,
    /// Keep the plaintext passwords (as Homestead-prov's `plaintext_password`).
    #[serde(default)]
    store_plaintext: bool,
    /// Also store Ellis's default simservs document for every new user (as
    /// Clearwater's bulk_create did on Homer).
    #[serde(default)]
    simservs: bool,
    /// Digest algorithms of every new user unless a user says otherwise (default MD5).
    #[serde(default)]
    digest_algorithms: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct BulkRequestUser {
    impu: String,
    impi: String,
    #[serde(default)]
    realm: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    digest_ha1: Option<String>,
    #[serde(default)]
    digest_ha1_sha256: Option<String>,
    #[serde(default)]
    digest_algorithms: Option<Vec<String>>,
}

async fn bulk_users(State(s): State<SharedState>, body: Bytes) -> Result<Response, ApiError> {
    let req: BulkRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("invalid JSON", e.to_string()))?;
    if req.users.len() > BULK_USERS_MAX {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too many users",
            format!("at most {BULK_USERS_MAX} users per request"),
        ));
    }
    let ifc = match &req.ifc {
        Some(doc) => Some(
            xml::parse_filter_criteria(doc)
                .map_err(|e| ApiError::bad_request("invalid ServiceProfile XML", e.to_string()))?,
        ),
        None => None,
    };
    let default_algorithms = match &req.digest_algorithms {
        Some(names) => Algorithms::parse(names)
            .map_err(|e| ApiError::bad_request("invalid digest_algorithms", e))?,
        None => Algorithms::MD5_ONLY,
    };
    let mut users = Vec::with_capacity(req.users.len());
    for (i, u) in req.users.into_iter().enumerate() {
        if u.impu.is_empty() || u.impi.is_empty() {
            return Err(ApiError::bad_request(
                "invalid user",
                format!("user {i}: impu and impi are required"),
            ));
        }
        let realm = u
            .realm
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| s.home_domain.clone());
        let (digest_ha1, sha256, plaintext) = match (u.password, u.digest_ha1) {
            (Some(p), None) => (
                digest::ha1(&u.impi, &realm, &p),
                Some(digest::ha1_sha256(&u.impi, &realm, &p)),
                req.store_plaintext.then_some(p),
            ),
            (None, Some(h))
                if digest::is_ha1(&h)
                    && u.digest_ha1_sha256
                        .as_deref()
                        .is_none_or(digest::is_ha1_sha256) =>
            {
                (
                    h.to_ascii_lowercase(),
                    u.digest_ha1_sha256.map(|x| x.to_ascii_lowercase()),
                    None,
                )
            }
            _ => {
                return Err(ApiError::bad_request(
                    "invalid user",
                    format!(
                        "user {i} ({}): give password or a 32-hex-digit digest_ha1 (and optionally a 64-hex-digit digest_ha1_sha256)",
                        u.impu
                    ),
                ));
            }
        };
        let algorithms = match &u.digest_algorithms {
            Some(names) => Algorithms::parse(names)
                .map_err(|e| ApiError::bad_request("invalid digest_algorithms", e))?,
            None => default_algorithms,
        };
        check_usable(algorithms, sha256.as_deref())?;
        users.push(BulkUser {
            public_identity_xml: xml::public_identity_xml(&u.impu, false),
            impu: u.impu,
            impi: u.impi,
            realm,
            digest_ha1,
            plaintext_password: plaintext,
            digest_ha1_sha256: sha256,
            algorithms,
        });
    }
    let out = s
        .store
        .bulk_create(
            &users,
            ifc.as_ref().map(|f| f.document.as_str()),
            ifc.as_ref().map(|f| f.ifcs.as_str()),
            req.simservs.then_some(crate::simservs::DEFAULT_DOCUMENT),
        )
        .await?;
    // Existing IMPUs were left alone; the new ones' IMPIs may have had a
    // (404) answer nobody cached, but an IMPI may have existed before.
    let changed = Changed {
        impis: users
            .iter()
            .filter(|u| !out.existing.contains(&u.impu))
            .map(|u| u.impi.clone())
            .collect(),
        impus: Vec::new(),
    };
    s.engines.invalidate(&changed).await;
    Ok(Json(json!({ "created": out.created, "existing": out.existing })).into_response())
}

//! The OpenAPI 3.0 description of all three listeners, served at
//! `/openapi.json` on each. Written as a table here rather than generated:
//! the paths and codes are Clearwater's and change rarely.

use axum::Json;
use serde_json::{Map, Value, json};

/// (listener, method, path, summary, status codes)
const OPERATIONS: &[(&str, &str, &str, &str, &[u16])] = &[
    ("all", "get", "/ping", "Liveness", &[200]),
    (
        "provisioning",
        "get",
        "/impi/{impi}/digest",
        "Digest HA1 of an IMPI, optionally only if it may authenticate ?public_id=",
        &[200, 404],
    ),
    (
        "provisioning",
        "get",
        "/impu/{impu}",
        "IMSSubscription XML of an IMPU",
        &[200, 404],
    ),
    (
        "provisioning",
        "put",
        "/private/{impi}",
        "Create or update an IMPI: {digest_ha1[, digest_ha1_sha256]|plaintext_password[, realm][, digest_algorithms: [\"SHA-256\",\"MD5\"]]}; engines are told",
        &[200, 400],
    ),
    (
        "provisioning",
        "get",
        "/private/{impi}",
        "An IMPI's digest_ha1, realm[, plaintext_password][, digest_algorithms, digest_ha1_sha256 unless MD5 only]",
        &[200, 404],
    ),
    (
        "provisioning",
        "delete",
        "/private/{impi}",
        "Delete an IMPI",
        &[200, 204],
    ),
    (
        "provisioning",
        "get",
        "/private/{impi}/associated_implicit_registration_sets/",
        "IRSs an IMPI authenticates",
        &[200, 404],
    ),
    (
        "provisioning",
        "put",
        "/private/{impi}/associated_implicit_registration_sets/{irs}",
        "Let an IMPI authenticate an IRS (creates the IMPI if new)",
        &[200, 404],
    ),
    (
        "provisioning",
        "delete",
        "/private/{impi}/associated_implicit_registration_sets/{irs}",
        "Stop an IMPI authenticating an IRS",
        &[200, 204],
    ),
    (
        "provisioning",
        "get",
        "/private/{impi}/associated_public_ids",
        "IMPUs an IMPI authenticates",
        &[200, 404],
    ),
    (
        "provisioning",
        "post",
        "/irs",
        "Create an IRS (Location: <uuid>)",
        &[201],
    ),
    (
        "provisioning",
        "delete",
        "/irs/{irs}",
        "Delete an IRS",
        &[200, 204],
    ),
    (
        "provisioning",
        "get",
        "/irs/{irs}/public_ids",
        "IMPUs of an IRS",
        &[200, 404],
    ),
    (
        "provisioning",
        "get",
        "/irs/{irs}/private_ids",
        "IMPIs of an IRS",
        &[200, 404],
    ),
    (
        "provisioning",
        "put",
        "/irs/{irs}/private_ids/{impi}",
        "Let an existing IMPI authenticate the IRS",
        &[200, 404],
    ),
    (
        "provisioning",
        "delete",
        "/irs/{irs}/private_ids/{impi}",
        "Stop an IMPI authenticating the IRS",
        &[200, 204],
    ),
    (
        "provisioning",
        "post",
        "/irs/{irs}/service_profiles",
        "Create a service profile (Location: /irs/<irs>/service_profiles/<uuid>)",
        &[201, 404],
    ),
    (
        "provisioning",
        "delete",
        "/irs/{irs}/service_profiles/{sp}",
        "Delete a service profile",
        &[200, 204],
    ),
    (
        "provisioning",
        "get",
        "/irs/{irs}/service_profiles/{sp}/public_ids",
        "IMPUs of a service profile",
        &[200, 404],
    ),
    (
        "provisioning",
        "put",
        "/irs/{irs}/service_profiles/{sp}/public_ids/{impu}",
        "Create or update an IMPU from a <PublicIdentity> document",
        &[200, 400, 403, 404],
    ),
    (
        "provisioning",
        "get",
        "/irs/{irs}/service_profiles/{sp}/public_ids/{impu}",
        "The IMPU's <PublicIdentity> document",
        &[200, 404],
    ),
    (
        "provisioning",
        "delete",
        "/irs/{irs}/service_profiles/{sp}/public_ids/{impu}",
        "Delete an IMPU",
        &[200, 404],
    ),
    (
        "provisioning",
        "put",
        "/irs/{irs}/service_profiles/{sp}/filter_criteria",
        "Set iFCs from a <ServiceProfile> document",
        &[200, 400, 404],
    ),
    (
        "provisioning",
        "get",
        "/irs/{irs}/service_profiles/{sp}/filter_criteria",
        "The iFC <ServiceProfile> document",
        &[200, 404],
    ),
    (
        "provisioning",
        "get",
        "/public/{impu}/service_profile",
        "Redirect to the IMPU's service profile",
        &[303, 404],
    ),
    (
        "provisioning",
        "get",
        "/public/{impu}/irs/",
        "Redirect to the IMPU's IRS",
        &[303, 404],
    ),
    (
        "provisioning",
        "get",
        "/public/{impu}/associated_private_ids",
        "IMPIs that authenticate an IMPU",
        &[200, 404],
    ),
    (
        "provisioning",
        "get",
        "/public/",
        "A page of all IMPUs (?start=offset&limit=n), a JSON array",
        &[200, 400],
    ),
    (
        "provisioning",
        "post",
        "/riptide/bulk-users",
        "Riptide extension: provision many single-IMPU users in one transaction",
        &[200, 400, 413],
    ),
    (
        "provisioning",
        "get",
        "/config",
        "Config service: the stored file names {files:[...]} (also on the hss listener)",
        &[200],
    ),
    (
        "provisioning",
        "get",
        "/config/{name}",
        "A configuration file (shared_config, local_config, user_settings, s-cscf.json, bgcf.json, enum.json)",
        &[200, 404],
    ),
    (
        "provisioning",
        "put",
        "/config/{name}",
        "Store a configuration file; 400 names the file, line and key",
        &[200, 400, 404],
    ),
    (
        "provisioning",
        "delete",
        "/config/{name}",
        "Delete a configuration file",
        &[200, 204, 404],
    ),
    (
        "hss",
        "get",
        "/impi/{impi}/av",
        "Digest AV {digest:{ha1,qop,realm}[, digest_algorithms:[{algorithm,ha1}] unless MD5 only]} (?impu=)",
        &[200, 404],
    ),
    (
        "hss",
        "get",
        "/impi/{impi}/av/digest",
        "Digest AV {digest:{ha1,qop,realm}[, digest_algorithms:[{algorithm,ha1}] unless MD5 only]} (?impu=)",
        &[200, 404],
    ),
    (
        "hss",
        "get",
        "/impi/{impi}/av/aka",
        "AKA AV (needs an HSS; none configured)",
        &[404],
    ),
    (
        "hss",
        "get",
        "/impi/{impi}/registration-status",
        "User authorization (?impu=): {result-code, scscf}",
        &[200, 400, 403, 404],
    ),
    (
        "hss",
        "get",
        "/impu/{impu}/reg-data",
        "ClearwaterRegData XML",
        &[200, 404],
    ),
    (
        "hss",
        "put",
        "/impu/{impu}/reg-data",
        "Change registration state: {reqtype, server_name} (?private_id=)",
        &[200, 400, 404, 502],
    ),
    (
        "hss",
        "get",
        "/impu/{impu}/location",
        "Serving S-CSCF: {result-code, scscf}",
        &[200, 404],
    ),
    (
        "xdms",
        "get",
        "/org.etsi.ngn.simservs/users/{impu}/simservs.xml",
        "The simservs document",
        &[200, 404],
    ),
    (
        "xdms",
        "put",
        "/org.etsi.ngn.simservs/users/{impu}/simservs.xml",
        "Store a simservs document (400 with the reason when invalid)",
        &[200, 400],
    ),
    (
        "xdms",
        "delete",
        "/org.etsi.ngn.simservs/users/{impu}/simservs.xml",
        "Delete the simservs document",
        &[204],
    ),
];

/// The document.
pub fn build() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for (listener, method, path, summary, codes) in OPERATIONS {
        let responses: Map<String, Value> = codes
            .iter()
            .map(|c| (c.to_string(), json!({ "description": status_text(*c) })))
            .collect();
        let parameters: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| {
                json!({ "name": name, "in": "path", "required": true,
                        "description": "URL-encoded", "schema": { "type": "string" } })
            })
            .collect();
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        if let Some(obj) = entry.as_object_mut() {
            obj.insert(
                method.to_string(),
                json!({ "summary": summary, "tags": [listener],
                        "parameters": parameters, "responses": responses }),
            );
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "riptide-control",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Clearwater-compatible provisioning (Homestead-prov, port 8889), HSS cache (Homestead, port 8888) and XDMS (Homer, port 7888). Errors are {\"error\", \"detail\"} JSON except on the XDMS (plain text)."
        },
        "tags": [
            { "name": "provisioning" }, { "name": "hss" }, { "name": "xdms" }, { "name": "all" }
        ],
        "paths": paths,
    })
}

fn status_text(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        204 => "No Content (absent)",
        303 => "See Other",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        413 => "Payload Too Large",
        502 => "Bad Gateway (store failed)",
        _ => "",
    }
}

pub async fn document() -> Json<Value> {
    Json(build())
}

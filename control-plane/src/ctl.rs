//! What `riptidectl` does, as a library: subscriber operations against a
//! running `riptide-control` over its HTTP APIs (the Ellis sequence for one
//! line, Riptide's bulk endpoint for many).

use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt, stream};
use reqwest::{Client, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};

use crate::digest;

/// Users per bulk request.
pub const BULK_BATCH_USERS: usize = 1000;
/// Bulk requests in flight at once.
pub const BULK_CONCURRENCY: usize = 4;
/// Lines provisioned at once by `create-user` with a range.
pub const CREATE_CONCURRENCY: usize = 16;
/// Largest DN range one command accepts.
pub const RANGE_LEN_MAX: u64 = 10_000_000;
/// Page size of `list-users`.
pub const LIST_PAGE: u64 = 1000;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    #[error("cannot reach the server: {0}")]
    Http(#[from] reqwest::Error),
    #[error("{what}: the server answered {status}: {body}")]
    Status {
        what: String,
        status: StatusCode,
        body: String,
    },
    #[error("{0}")]
    Input(String),
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("no random source: {0}")]
    Random(getrandom::Error),
}

/// The iFC Ellis gave a new line: INVITEs to the MMTel AS of the domain.
pub fn default_ifc(domain: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><ServiceProfile><InitialFilterCriteria><Priority>0</Priority><TriggerPoint><ConditionTypeCNF>0</ConditionTypeCNF><SPT><ConditionNegated>0</ConditionNegated><Group>0</Group><Method>INVITE</Method><Extension></Extension></SPT></TriggerPoint><ApplicationServer><ServerName>sip:mmtel.{domain}</ServerName><DefaultHandling>0</DefaultHandling></ApplicationServer></InitialFilterCriteria></ServiceProfile>"#
    )
}

/// Expands `6505550000..6505550099` (or one DN) keeping leading zeros.
pub fn expand_dns(spec: &str) -> Result<Vec<String>, CtlError> {
    let Some((a, b)) = spec.split_once("..") else {
        if spec.is_empty() {
            return Err(CtlError::Input("empty directory number".into()));
        }
        return Ok(vec![spec.to_owned()]);
    };
    let bad = || {
        CtlError::Input(format!(
            "{spec:?} is not a range like 6505550000..6505550099"
        ))
    };
    let start: u64 = a.parse().map_err(|_| bad())?;
    let end: u64 = b.parse().map_err(|_| bad())?;
    if end < start || end - start >= RANGE_LEN_MAX {
        return Err(bad());
    }
    let width = a.len();
    Ok((start..=end).map(|n| format!("{n:0width$}")).collect())
}

/// One subscriber to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewUser {
    pub impu: String,
    pub impi: String,
    pub realm: String,
    pub password: String,
}

impl NewUser {
    /// Clearwater's defaults: IMPI = the IMPU's user@host, realm = its host.
    pub fn from_parts(
        impu: &str,
        impi: Option<&str>,
        realm: Option<&str>,
        password: Option<&str>,
    ) -> Result<NewUser, CtlError> {
        let impu = if impu.contains(':') {
            impu.to_owned()
        } else {
            format!("sip:{impu}")
        };
        let user_host = impu
            .split_once(':')
            .map(|(_, rest)| rest)
            .unwrap_or_default()
            .to_owned();
        let Some((_, host)) = user_host.split_once('@') else {
            return Err(CtlError::Input(format!("{impu} has no domain")));
        };
        let host = host.to_owned();
        let password = match password.filter(|p| !p.is_empty()) {
            Some(p) => p.to_owned(),
            None => digest::random_password().map_err(CtlError::Random)?,
        };
        Ok(NewUser {
            impi: impi
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .unwrap_or(user_host),
            realm: realm
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .unwrap_or(host),
            impu,
            password,
        })
    }
}

/// Parses a bulk CSV: `public id[,private id[,realm[,password]]]` per line;
/// blank lines and `#` comments are skipped.
pub fn parse_csv(text: &str) -> Result<Vec<NewUser>, CtlError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() > 4 || fields[0].is_empty() {
            return Err(CtlError::Input(format!(
                "line {}: expected public id[,private id[,realm[,password]]]",
                i + 1
            )));
        }
        let user = NewUser::from_parts(
            fields[0],
            fields.get(1).copied(),
            fields.get(2).copied(),
            fields.get(3).copied(),
        )
        .map_err(|e| CtlError::Input(format!("line {}: {e}", i + 1)))?;
        out.push(user);
    }
    Ok(out)
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A client of one `riptide-control`.
#[derive(Debug, Clone)]
pub struct Ctl {
    http: Client,
    prov: String,
    xdms: Option<String>,
    /// Digest algorithms given to the users this client creates or whose
    /// password it changes; None leaves the server's setting (MD5 for new users).
    pub digest_algorithms: Option<digest::Algorithms>,
}

/// What `display-user` shows.
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub impu: String,
    pub irs: String,
    pub service_profile: String,
    pub private_ids: Vec<Value>,
    pub public_ids: Vec<String>,
    pub ims_subscription: String,
}

/// What a bulk run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BulkSummary {
    pub requested: u64,
    pub created: u64,
    pub existing: u64,
    pub seconds: f64,
    pub users_per_second: f64,
}

async fn check(
    what: &str,
    r: reqwest::Response,
    ok: &[StatusCode],
) -> Result<reqwest::Response, CtlError> {
    if ok.contains(&r.status()) {
        return Ok(r);
    }
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    Err(CtlError::Status {
        what: what.to_owned(),
        status,
        body,
    })
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

impl Ctl {
    /// `server` is the provisioning base URL; `xdms` Homer's, if simservs
    /// documents should be written as Ellis did.
    pub fn new(server: &str, xdms: Option<&str>) -> Result<Ctl, CtlError> {
        let http = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(120))
            .build()?;
        Ok(Ctl {
            http,
            prov: server.trim_end_matches('/').to_owned(),
            xdms: xdms.map(|x| x.trim_end_matches('/').to_owned()),
            digest_algorithms: None,
        })
    }

    /// The `PUT /private/<impi>` body for `password`: the plaintext, or the
    /// HA1s computed here (the SHA-256 one only when SHA-256 is allowed).
    fn credentials(&self, impi: &str, realm: &str, password: &str, store_plaintext: bool) -> Value {
        let mut body = if store_plaintext {
            json!({"plaintext_password": password, "realm": realm})
        } else {
            json!({"digest_ha1": digest::ha1(impi, realm, password), "realm": realm})
        };
        if let Some(a) = self.digest_algorithms {
            body["digest_algorithms"] = json!(a.names());
            if a.sha256 && !store_plaintext {
                body["digest_ha1_sha256"] = json!(digest::ha1_sha256(impi, realm, password));
            }
        }
        body
    }

    /// `GET /ping`.
    pub async fn health(&self) -> Result<(), CtlError> {
        let r = self.http.get(format!("{}/ping", self.prov)).send().await?;
        check("ping", r, &[StatusCode::OK]).await.map(|_| ())
    }

    /// Provisions one line with Ellis's sequence.
    pub async fn create_user(
        &self,
        u: &NewUser,
        ifc: Option<&str>,
        store_plaintext: bool,
    ) -> Result<(), CtlError> {
        let p = &self.prov;
        let what = |step: &str| format!("{} ({step})", u.impu);
        let r = self.http.post(format!("{p}/irs")).send().await?;
        let irs = location(&check(&what("POST /irs"), r, &[StatusCode::CREATED]).await?);
        let r = self
            .http
            .put(format!(
                "{p}/private/{}/associated_implicit_registration_sets/{irs}",
                enc(&u.impi)
            ))
            .send()
            .await?;
        check(&what("link IRS"), r, &[StatusCode::OK]).await?;
        let body = self.credentials(&u.impi, &u.realm, &u.password, store_plaintext);
        let r = self
            .http
            .put(format!("{p}/private/{}", enc(&u.impi)))
            .body(body.to_string())
            .send()
            .await?;
        check(&what("PUT private"), r, &[StatusCode::OK]).await?;
        let r = self
            .http
            .post(format!("{p}/irs/{irs}/service_profiles"))
            .send()
            .await?;
        let sp = location(&check(&what("POST service profile"), r, &[StatusCode::CREATED]).await?);
        let r = self
            .http
            .put(format!("{p}{sp}/public_ids/{}", enc(&u.impu)))
            .body(crate::xml::public_identity_xml(&u.impu, false))
            .send()
            .await?;
        check(&what("PUT public id"), r, &[StatusCode::OK]).await?;
        if let Some(ifc) = ifc {
            let r = self
                .http
                .put(format!("{p}{sp}/filter_criteria"))
                .body(ifc.to_owned())
                .send()
                .await?;
            check(&what("PUT filter_criteria"), r, &[StatusCode::OK]).await?;
        }
        if let Some(x) = &self.xdms {
            let r = self
                .http
                .put(format!(
                    "{x}/org.etsi.ngn.simservs/users/{}/simservs.xml",
                    enc(&u.impu)
                ))
                .body(crate::simservs::DEFAULT_DOCUMENT)
                .send()
                .await?;
            check(&what("PUT simservs"), r, &[StatusCode::OK]).await?;
        }
        Ok(())
    }

    /// Creates many lines, [`CREATE_CONCURRENCY`] at a time.
    pub async fn create_users(
        &self,
        users: &[NewUser],
        ifc: Option<&str>,
        store_plaintext: bool,
    ) -> Result<(), CtlError> {
        stream::iter(
            users
                .iter()
                .map(|u| self.create_user(u, ifc, store_plaintext)),
        )
        .buffer_unordered(CREATE_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await
        .map(|_| ())
    }

    async fn irs_of(&self, impu: &str) -> Result<Option<String>, CtlError> {
        let r = self
            .http
            .get(format!("{}/public/{}/irs/", self.prov, enc(impu)))
            .send()
            .await?;
        if r.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let r = check(impu, r, &[StatusCode::SEE_OTHER]).await?;
        Ok(Some(location(&r).trim_start_matches("/irs/").to_owned()))
    }

    async fn get_json(&self, url: String, what: &str) -> Result<Value, CtlError> {
        let r = self.http.get(url).send().await?;
        Ok(check(what, r, &[StatusCode::OK]).await?.json().await?)
    }

    /// Deletes a line: its IRS (with its identities) and every IMPI left
    /// authenticating nothing. False when the IMPU was unknown.
    pub async fn delete_user(&self, impu: &str) -> Result<bool, CtlError> {
        let p = &self.prov;
        let Some(irs) = self.irs_of(impu).await? else {
            return Ok(false);
        };
        let impis = self
            .get_json(
                format!("{p}/public/{}/associated_private_ids", enc(impu)),
                impu,
            )
            .await?;
        let r = self.http.delete(format!("{p}/irs/{irs}")).send().await?;
        check(impu, r, &[StatusCode::OK, StatusCode::NO_CONTENT]).await?;
        for impi in impis["private_ids"].as_array().into_iter().flatten() {
            let Some(impi) = impi.as_str() else { continue };
            let left = self
                .get_json(
                    format!(
                        "{p}/private/{}/associated_implicit_registration_sets/",
                        enc(impi)
                    ),
                    impi,
                )
                .await?;
            if left["associated_implicit_registration_sets"]
                .as_array()
                .is_some_and(Vec::is_empty)
            {
                let r = self
                    .http
                    .delete(format!("{p}/private/{}", enc(impi)))
                    .send()
                    .await?;
                check(impi, r, &[StatusCode::OK, StatusCode::NO_CONTENT]).await?;
            }
        }
        if let Some(x) = &self.xdms {
            let r = self
                .http
                .delete(format!(
                    "{x}/org.etsi.ngn.simservs/users/{}/simservs.xml",
                    enc(impu)
                ))
                .send()
                .await?;
            check(impu, r, &[StatusCode::NO_CONTENT]).await?;
        }
        Ok(true)
    }

    /// Changes a line's password (every IMPI that authenticates it, each in
    /// its own realm) and/or its iFCs. False when the IMPU is unknown.
    pub async fn update_user(
        &self,
        impu: &str,
        password: Option<&str>,
        ifc: Option<&str>,
        store_plaintext: bool,
    ) -> Result<bool, CtlError> {
        let p = &self.prov;
        if self.irs_of(impu).await?.is_none() {
            return Ok(false);
        }
        if let Some(password) = password {
            let impis = self
                .get_json(
                    format!("{p}/public/{}/associated_private_ids", enc(impu)),
                    impu,
                )
                .await?;
            for impi in impis["private_ids"].as_array().into_iter().flatten() {
                let Some(impi) = impi.as_str() else { continue };
                let r = self
                    .http
                    .get(format!("{p}/private/{}", enc(impi)))
                    .send()
                    .await?;
                let realm = if r.status() == StatusCode::OK {
                    r.json::<Value>().await?["realm"]
                        .as_str()
                        .map(str::to_owned)
                } else {
                    None
                };
                let realm = realm.unwrap_or_else(|| {
                    impi.split_once('@')
                        .map(|(_, d)| d.to_owned())
                        .unwrap_or_default()
                });
                let body = self.credentials(impi, &realm, password, store_plaintext);
                let r = self
                    .http
                    .put(format!("{p}/private/{}", enc(impi)))
                    .body(body.to_string())
                    .send()
                    .await?;
                check(impi, r, &[StatusCode::OK]).await?;
            }
        }
        if let Some(ifc) = ifc {
            let r = self
                .http
                .get(format!("{p}/public/{}/service_profile", enc(impu)))
                .send()
                .await?;
            let sp = location(&check(impu, r, &[StatusCode::SEE_OTHER]).await?);
            let r = self
                .http
                .put(format!("{p}{sp}/filter_criteria"))
                .body(ifc.to_owned())
                .send()
                .await?;
            check(impu, r, &[StatusCode::OK]).await?;
        }
        Ok(true)
    }

    /// Everything provisioning knows about a line; None when unknown.
    pub async fn display_user(&self, impu: &str) -> Result<Option<UserView>, CtlError> {
        let p = &self.prov;
        let Some(irs) = self.irs_of(impu).await? else {
            return Ok(None);
        };
        let r = self
            .http
            .get(format!("{p}/public/{}/service_profile", enc(impu)))
            .send()
            .await?;
        let service_profile = location(&check(impu, r, &[StatusCode::SEE_OTHER]).await?);
        let impis = self
            .get_json(
                format!("{p}/public/{}/associated_private_ids", enc(impu)),
                impu,
            )
            .await?;
        let mut private_ids = Vec::new();
        for impi in impis["private_ids"].as_array().into_iter().flatten() {
            let Some(impi) = impi.as_str() else { continue };
            let r = self
                .http
                .get(format!("{p}/private/{}", enc(impi)))
                .send()
                .await?;
            let mut v = if r.status() == StatusCode::OK {
                r.json::<Value>().await?
            } else {
                json!({})
            };
            v["private_id"] = json!(impi);
            private_ids.push(v);
        }
        let public = self
            .get_json(format!("{p}/irs/{irs}/public_ids"), impu)
            .await?;
        let public_ids = public["public_ids"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        let r = self
            .http
            .get(format!("{p}/impu/{}", enc(impu)))
            .send()
            .await?;
        let ims_subscription = check(impu, r, &[StatusCode::OK]).await?.text().await?;
        Ok(Some(UserView {
            impu: impu.to_owned(),
            irs,
            service_profile,
            private_ids,
            public_ids,
            ims_subscription,
        }))
    }

    /// The names of the stored configuration files.
    pub async fn config_names(&self) -> Result<Vec<String>, CtlError> {
        let v = self
            .get_json(format!("{}/config", self.prov), "config")
            .await?;
        Ok(v["files"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str().map(str::to_owned))
            .collect())
    }

    /// A stored configuration file; None when not set.
    pub async fn config_get(&self, name: &str) -> Result<Option<String>, CtlError> {
        let r = self
            .http
            .get(format!("{}/config/{}", self.prov, enc(name)))
            .send()
            .await?;
        if r.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        Ok(Some(check(name, r, &[StatusCode::OK]).await?.text().await?))
    }

    /// Uploads a configuration file; the server checks it first.
    pub async fn config_upload(&self, name: &str, text: String) -> Result<(), CtlError> {
        let r = self
            .http
            .put(format!("{}/config/{}", self.prov, enc(name)))
            .body(text)
            .send()
            .await?;
        if r.status() == StatusCode::BAD_REQUEST || r.status() == StatusCode::NOT_FOUND {
            let v: Value = r.json().await.unwrap_or(Value::Null);
            return Err(CtlError::Input(
                v["detail"].as_str().unwrap_or("refused").to_owned(),
            ));
        }
        check(name, r, &[StatusCode::OK]).await.map(|_| ())
    }

    /// One page of IMPUs.
    pub async fn list_page(&self, start: u64, limit: u64) -> Result<Vec<String>, CtlError> {
        let r = self
            .http
            .get(format!("{}/public/?start={start}&limit={limit}", self.prov))
            .send()
            .await?;
        Ok(check("list", r, &[StatusCode::OK]).await?.json().await?)
    }

    /// Creates users through the bulk endpoint in batches of
    /// [`BULK_BATCH_USERS`], [`BULK_CONCURRENCY`] batches in flight;
    /// `progress` is called with the number of users done so far.
    pub async fn bulk_create(
        &self,
        users: &[NewUser],
        ifc: Option<&str>,
        store_plaintext: bool,
        mut progress: impl FnMut(u64),
    ) -> Result<BulkSummary, CtlError> {
        let started = Instant::now();
        let url = format!("{}/riptide/bulk-users", self.prov);
        let mut results = stream::iter(users.chunks(BULK_BATCH_USERS).map(|batch| {
            let body = json!({
                "users": batch.iter().map(|u| json!({
                    "impu": u.impu, "impi": u.impi, "realm": u.realm, "password": u.password,
                })).collect::<Vec<_>>(),
                "ifc": ifc,
                "store_plaintext": store_plaintext,
                "simservs": self.xdms.is_some(),
                "digest_algorithms": self.digest_algorithms.map(|a| a.names()),
            });
            let req = self.http.post(url.clone()).json(&body);
            async move {
                let r = check("bulk-users", req.send().await?, &[StatusCode::OK]).await?;
                let v: Value = r.json().await?;
                Ok::<_, CtlError>((
                    batch.len() as u64,
                    v["created"].as_u64().unwrap_or(0),
                    v["existing"].as_array().map_or(0, Vec::len) as u64,
                ))
            }
        }))
        .buffer_unordered(BULK_CONCURRENCY);
        let mut summary = BulkSummary {
            requested: users.len() as u64,
            ..BulkSummary::default()
        };
        let mut done = 0;
        while let Some(r) = results.next().await {
            let (n, created, existing) = r?;
            done += n;
            summary.created += created;
            summary.existing += existing;
            progress(done);
        }
        summary.seconds = started.elapsed().as_secs_f64();
        summary.users_per_second = if summary.seconds > 0.0 {
            summary.requested as f64 / summary.seconds
        } else {
            0.0
        };
        Ok(summary)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ranges_keep_leading_zeros() {
        assert_eq!(
            expand_dns("0099..0101").unwrap(),
            vec!["0099", "0100", "0101"]
        );
        assert_eq!(expand_dns("6505550000").unwrap(), vec!["6505550000"]);
        assert!(expand_dns("5..3").is_err());
        assert!(expand_dns("a..b").is_err());
    }

    #[test]
    fn csv_rows_get_clearwaters_defaults() {
        let users = parse_csv(
            "# comment\nsip:6505550000@example.com,6505550000@example.com,example.com,7kkzTyGW\n\nsip:6505550001@example.com\nsip:x@example.com,,other.net,pw\n",
        )
        .unwrap();
        assert_eq!(users.len(), 3);
        assert_eq!(users[0].password, "7kkzTyGW");
        assert_eq!(users[1].impi, "6505550001@example.com");
        assert_eq!(users[1].realm, "example.com");
        assert_eq!(users[1].password.len(), digest::GENERATED_PASSWORD_LEN);
        assert_eq!(users[2].impi, "x@example.com");
        assert_eq!(users[2].realm, "other.net");
        let err = parse_csv("sip:a@b,c,d,e,f\n").unwrap_err().to_string();
        assert!(err.starts_with("line 1:"), "{err}");
        assert!(parse_csv("sip:nodomain\n").is_err());
    }
}

//! Starts the real `riptide-control` binary on ephemeral loopback ports, on
//! SQLite and (when RIPTIDE_TEST_POSTGRES_URL is set) on a fresh PostgreSQL
//! database, and provisions lines the way Ellis did.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Stdio;

use reqwest::StatusCode;
use sqlx::Connection;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Where a test server keeps its data.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    /// The admin URL (a database the role may CREATE DATABASE from).
    Postgres(String),
}

/// SQLite always; PostgreSQL too when RIPTIDE_TEST_POSTGRES_URL is set.
pub fn backends() -> Vec<Backend> {
    let mut v = vec![Backend::Sqlite];
    match std::env::var("RIPTIDE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => v.push(Backend::Postgres(url)),
        _ => eprintln!("RIPTIDE_TEST_POSTGRES_URL is not set: PostgreSQL runs skipped"),
    }
    v
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// A running `riptide-control`.
pub struct Server {
    child: Child,
    pub label: String,
    pub prov: String,
    pub hss: String,
    pub xdms: String,
    pub database_url: String,
    data_dir: PathBuf,
    pg: Option<(String, String)>,
    extra: Vec<String>,
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn db_url_for(admin: &str, db: &str) -> String {
    let (base, _) = admin.rsplit_once('/').expect("admin URL has a path");
    format!("{base}/{db}")
}

impl Server {
    /// A fresh server with an empty database.
    pub async fn start(backend: &Backend) -> Result<Server, Box<dyn std::error::Error>> {
        Self::start_with(backend, &[]).await
    }

    /// As [`Server::start`], with more command-line arguments.
    pub async fn start_with(
        backend: &Backend,
        extra: &[String],
    ) -> Result<Server, Box<dyn std::error::Error>> {
        let data_dir = std::env::temp_dir().join(unique("riptide-control-test-"));
        std::fs::create_dir_all(&data_dir)?;
        let (label, database_url, pg) = match backend {
            Backend::Sqlite => (
                "sqlite".to_owned(),
                format!(
                    "sqlite://{}?mode=rwc",
                    data_dir.join("riptide-control.sqlite").display()
                ),
                None,
            ),
            Backend::Postgres(admin) => {
                let db = unique("riptide_test_");
                let mut conn = sqlx::PgConnection::connect(admin).await?;
                sqlx::query(&format!("CREATE DATABASE {db}"))
                    .execute(&mut conn)
                    .await?;
                conn.close().await?;
                (
                    "postgres".to_owned(),
                    db_url_for(admin, &db),
                    Some((admin.clone(), db)),
                )
            }
        };
        Self::start_on(label, database_url, data_dir, pg, extra.to_vec()).await
    }

    /// Starts another server on the same database (a restart).
    pub async fn restart(self) -> Result<Server, Box<dyn std::error::Error>> {
        let Server {
            label,
            database_url,
            data_dir,
            pg,
            extra,
            ..
        } = self.stop_keeping_data().await?;
        Self::start_on(label, database_url, data_dir, pg, extra).await
    }

    async fn start_on(
        label: String,
        database_url: String,
        data_dir: PathBuf,
        pg: Option<(String, String)>,
        extra: Vec<String>,
    ) -> Result<Server, Box<dyn std::error::Error>> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_riptide-control"))
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--database-url")
            .arg(&database_url)
            .args(["--home-domain", "example.com"])
            .args(["--listen-provisioning", "127.0.0.1:0"])
            .args(["--listen-hss", "127.0.0.1:0"])
            .args(["--listen-xdms", "127.0.0.1:0"])
            .args(["--log-level", "2"])
            .args(&extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let (mut prov, mut hss, mut xdms) = (None, None, None);
        while prov.is_none() || hss.is_none() || xdms.is_none() {
            let line = lines
                .next_line()
                .await?
                .ok_or("riptide-control exited before listening")?;
            let mut parts = line.split_whitespace();
            if parts.next() != Some("listening") {
                continue;
            }
            let name = parts.next().unwrap_or_default().to_owned();
            let addr = format!("http://{}", parts.next().unwrap_or_default());
            match name.as_str() {
                "provisioning" => prov = Some(addr),
                "hss" => hss = Some(addr),
                "xdms" => xdms = Some(addr),
                _ => {}
            }
        }
        Ok(Server {
            child,
            label,
            prov: prov.unwrap_or_default(),
            hss: hss.unwrap_or_default(),
            xdms: xdms.unwrap_or_default(),
            database_url,
            data_dir,
            pg,
            extra,
        })
    }

    /// SIGTERM, then waits for a clean exit.
    async fn stop_keeping_data(mut self) -> Result<Server, Box<dyn std::error::Error>> {
        let pid = self.child.id().ok_or("already exited")?;
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await?;
        assert!(status.success(), "kill -TERM {pid}");
        let exit = self.child.wait().await?;
        assert!(
            exit.success(),
            "riptide-control exited with {exit} after SIGTERM"
        );
        Ok(self)
    }

    /// Stops the server (SIGTERM, clean exit asserted) and removes its data.
    pub async fn stop(self) -> TestResult {
        let s = self.stop_keeping_data().await?;
        let _ = std::fs::remove_dir_all(&s.data_dir);
        if let Some((admin, db)) = &s.pg {
            let mut conn = sqlx::PgConnection::connect(admin).await?;
            sqlx::query(&format!("DROP DATABASE IF EXISTS {db}"))
                .execute(&mut conn)
                .await?;
            conn.close().await?;
        }
        Ok(())
    }
}

/// `sip:6505550001@example.com` → `sip%3A6505550001%40example.com`.
pub fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

pub const IFC: &str = r#"<?xml version="1.0" encoding="UTF-8"?><ServiceProfile><InitialFilterCriteria><Priority>0</Priority><TriggerPoint><ConditionTypeCNF>0</ConditionTypeCNF><SPT><ConditionNegated>0</ConditionNegated><Group>0</Group><Method>INVITE</Method><Extension></Extension></SPT></TriggerPoint><ApplicationServer><ServerName>sip:mmtel.example.com</ServerName><DefaultHandling>0</DefaultHandling></ApplicationServer></InitialFilterCriteria></ServiceProfile>"#;

/// A provisioned line: its IRS UUID and service profile path.
pub struct Line {
    pub irs: String,
    pub sp_path: String,
}

/// Ellis's sequence, verbatim, asserting each answer.
pub async fn provision_line(
    http: &reqwest::Client,
    prov: &str,
    impu: &str,
    impi: &str,
    digest_ha1: &str,
) -> Result<Line, Box<dyn std::error::Error>> {
    let r = http.post(format!("{prov}/irs")).send().await?;
    assert_eq!(r.status(), StatusCode::CREATED);
    let irs = location(&r);
    assert_eq!(irs.len(), 36, "Location is a bare UUID: {irs}");
    let r = http
        .put(format!(
            "{prov}/private/{}/associated_implicit_registration_sets/{irs}",
            enc(impi)
        ))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK);
    let r = http
        .put(format!("{prov}/private/{}", enc(impi)))
        .body(format!(r#"{{"digest_ha1": "{digest_ha1}"}}"#))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK);
    let r = http
        .post(format!("{prov}/irs/{irs}/service_profiles"))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::CREATED);
    let sp_path = location(&r);
    assert!(
        sp_path.starts_with(&format!("/irs/{irs}/service_profiles/")),
        "{sp_path}"
    );
    let r = http
        .put(format!("{prov}{sp_path}/public_ids/{}", enc(impu)))
        .body(format!(
            "<PublicIdentity><BarringIndication>0</BarringIndication><Identity>{impu}</Identity></PublicIdentity>"
        ))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK);
    let r = http
        .put(format!("{prov}{sp_path}/filter_criteria"))
        .body(IFC)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK);
    Ok(Line { irs, sp_path })
}

/// Add `impu` to the line's service profile (so to its implicit
/// registration set), asserting 200.
pub async fn add_public_id(
    http: &reqwest::Client,
    prov: &str,
    line: &Line,
    impu: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let r = http
        .put(format!("{prov}{}/public_ids/{}", line.sp_path, enc(impu)))
        .body(format!(
            "<PublicIdentity><Identity>{impu}</Identity></PublicIdentity>"
        ))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK);
    Ok(())
}

/// The HA1 of (impi, realm, password).
pub fn ha1(impi: &str, realm: &str, password: &str) -> String {
    control_plane::digest::ha1(impi, realm, password)
}

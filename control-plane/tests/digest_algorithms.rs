//! SHA-256 beside MD5: what provisioning stores (the schema migration keeps
//! existing rows valid), what the HSS cache's `av` answers (read with the
//! engine's own parser), and the subscriber-cache invalidations pushed to
//! engines when provisioning changes a subscriber.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};

use common::{
    Backend, Server, TestResult, add_public_id, backends, client, enc, ha1, provision_line,
};
use control_plane::digest::{Algorithms, ha1_sha256};
use control_plane::store::Store;
use engine::hss::parse_auth_vector;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const IMPU: &str = "sip:6505550001@example.com";
const TEL: &str = "tel:+16505550001";
const IMPI: &str = "6505550001@example.com";
const REALM: &str = "example.com";

async fn av(s: &Server) -> Result<(u16, Value, Vec<u8>), Box<dyn std::error::Error>> {
    let r = client()
        .get(format!(
            "{}/impi/{}/av/digest?impu={}",
            s.hss,
            enc(IMPI),
            enc(IMPU)
        ))
        .send()
        .await?;
    let status = r.status().as_u16();
    let body = r.bytes().await?.to_vec();
    let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Ok((status, v, body))
}

/// The engine's reading of an `av` answer: (algorithm, HA1), preferred first.
fn offers(body: &[u8]) -> Result<Vec<(String, String)>, Box<dyn std::error::Error>> {
    Ok(parse_auth_vector(200, body)?
        .offers()
        .into_iter()
        .map(|(a, h)| (a.as_str().to_owned(), h.to_owned()))
        .collect())
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, h)| ((*a).to_owned(), (*h).to_owned()))
        .collect()
}

async fn put_private(s: &Server, body: Value) -> Result<StatusCode, Box<dyn std::error::Error>> {
    Ok(client()
        .put(format!("{}/private/{}", s.prov, enc(IMPI)))
        .body(body.to_string())
        .send()
        .await?
        .status())
}

#[tokio::test]
async fn sha256_is_offered_only_when_allowed_and_md5_keeps_homesteads_shape() -> TestResult {
    for b in backends() {
        let s = Server::start(&b).await?;
        let md5 = ha1(IMPI, REALM, "secret");
        provision_line(&client(), &s.prov, IMPU, IMPI, &md5).await?;
        let (status, v, body) = av(&s).await?;
        assert_eq!(status, 200);
        assert_eq!(
            v,
            json!({"digest": {"ha1": md5, "qop": "auth", "realm": REALM}}),
            "{}: exactly Homestead's answer",
            s.label
        );
        assert_eq!(offers(&body)?, pairs(&[("MD5", &md5)]));

        // A plaintext password with both algorithms: both HA1s, SHA-256 first.
        let status = put_private(
            &s,
            json!({"plaintext_password": "secret", "digest_algorithms": ["MD5", "SHA-256"]}),
        )
        .await?;
        assert_eq!(status, StatusCode::OK);
        let sha = ha1_sha256(IMPI, REALM, "secret");
        let private: Value = client()
            .get(format!("{}/private/{}", s.prov, enc(IMPI)))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(private["digest_algorithms"], json!(["SHA-256", "MD5"]));
        assert_eq!(private["digest_ha1_sha256"], json!(sha));
        let (_, v, body) = av(&s).await?;
        assert_eq!(v["digest"]["ha1"], json!(md5));
        assert_eq!(
            v["digest_algorithms"],
            json!([{"algorithm": "SHA-256", "ha1": sha}, {"algorithm": "MD5", "ha1": md5}])
        );
        assert_eq!(offers(&body)?, pairs(&[("SHA-256", &sha), ("MD5", &md5)]));

        // A new password without the key keeps the setting, with new HA1s.
        assert_eq!(
            put_private(&s, json!({"plaintext_password": "other"})).await?,
            StatusCode::OK
        );
        let (_, v, _) = av(&s).await?;
        assert_eq!(
            v["digest_algorithms"][0]["ha1"],
            json!(ha1_sha256(IMPI, REALM, "other"))
        );

        // An MD5 HA1 alone drops the SHA-256 HA1 of the old password: MD5 is
        // all that is usable, until a SHA-256 HA1 comes with it.
        let md5_new = ha1(IMPI, REALM, "third");
        assert_eq!(
            put_private(&s, json!({"digest_ha1": md5_new})).await?,
            StatusCode::OK
        );
        let (_, v, _) = av(&s).await?;
        assert_eq!(
            v["digest_algorithms"],
            json!([{"algorithm": "MD5", "ha1": md5_new}])
        );
        for bad in [
            json!({"digest_ha1": md5_new, "digest_algorithms": ["SHA-256"]}),
            json!({"plaintext_password": "x", "digest_algorithms": ["SHA-1"]}),
            json!({"plaintext_password": "x", "digest_algorithms": []}),
            json!({"plaintext_password": "x", "digest_algorithms": "MD5"}),
            json!({"digest_ha1": md5_new, "digest_ha1_sha256": "zz"}),
        ] {
            assert_eq!(
                put_private(&s, bad.clone()).await?,
                StatusCode::BAD_REQUEST,
                "{bad}"
            );
        }
        let sha_new = ha1_sha256(IMPI, REALM, "third");
        assert_eq!(
            put_private(
                &s,
                json!({"digest_ha1": md5_new, "digest_ha1_sha256": sha_new, "digest_algorithms": ["SHA-256"]})
            )
            .await?,
            StatusCode::OK
        );
        let (_, v, body) = av(&s).await?;
        assert_eq!(
            v["digest_algorithms"],
            json!([{"algorithm": "SHA-256", "ha1": sha_new}])
        );
        assert_eq!(offers(&body)?, pairs(&[("SHA-256", &sha_new)]));

        // Back to MD5 only: Homestead's shape again.
        assert_eq!(
            put_private(
                &s,
                json!({"plaintext_password": "fourth", "digest_algorithms": ["MD5"]})
            )
            .await?,
            StatusCode::OK
        );
        let (_, v, _) = av(&s).await?;
        assert!(v.get("digest_algorithms").is_none(), "{v}");
        s.stop().await?;
    }
    Ok(())
}

#[tokio::test]
async fn bulk_users_may_be_given_sha256() -> TestResult {
    let s = Server::start(&Backend::Sqlite).await?;
    let r = client()
        .post(format!("{}/riptide/bulk-users", s.prov))
        .body(
            json!({
                "users": [
                    {"impu": IMPU, "impi": IMPI, "password": "secret"},
                    {"impu": "sip:6505550002@example.com", "impi": "6505550002@example.com",
                     "password": "secret", "digest_algorithms": ["MD5"]},
                ],
                "digest_algorithms": ["SHA-256", "MD5"],
            })
            .to_string(),
        )
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK);
    let (_, v, _) = av(&s).await?;
    assert_eq!(
        v["digest_algorithms"][0],
        json!({"algorithm": "SHA-256", "ha1": ha1_sha256(IMPI, REALM, "secret")})
    );
    let other: Value = client()
        .get(format!(
            "{}/impi/{}/av",
            s.hss,
            enc("6505550002@example.com")
        ))
        .send()
        .await?
        .json()
        .await?;
    assert!(other.get("digest_algorithms").is_none(), "{other}");
    s.stop().await?;
    Ok(())
}

/// A database at the first schema with a subscriber in it, then the
/// current schema: the subscriber is still MD5 only, with its HA1.
#[tokio::test]
async fn the_migration_keeps_existing_subscribers_valid() -> TestResult {
    sqlx::any::install_default_drivers();
    let first = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations/20260101000001_subscribers.sql");
    let old = std::env::temp_dir().join(format!(
        "riptide-migration-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(old.join("migrations"))?;
    std::fs::copy(
        &first,
        old.join("migrations/20260101000001_subscribers.sql"),
    )?;
    let mut urls = vec![format!(
        "sqlite://{}?mode=rwc",
        old.join("db.sqlite").display()
    )];
    let mut pg = None;
    if let Ok(admin) = std::env::var("RIPTIDE_TEST_POSTGRES_URL") {
        if !admin.is_empty() {
            let db = format!("riptide_migration_{}", uuid::Uuid::new_v4().simple());
            let admin_pool = sqlx::AnyPool::connect(&admin).await?;
            sqlx::query(&format!("CREATE DATABASE {db}"))
                .execute(&admin_pool)
                .await?;
            admin_pool.close().await;
            let (base, _) = admin.rsplit_once('/').ok_or("admin URL has a path")?;
            urls.push(format!("{base}/{db}"));
            pg = Some((admin, db));
        }
    }
    let md5 = ha1(IMPI, REALM, "secret");
    for url in &urls {
        let pool = sqlx::AnyPool::connect(url).await?;
        sqlx::migrate::Migrator::new(old.join("migrations"))
            .await?
            .run(&pool)
            .await?;
        sqlx::query("INSERT INTO private_ids (impi, realm, digest_ha1) VALUES ($1, $2, $3)")
            .bind(IMPI)
            .bind(REALM)
            .bind(md5.clone())
            .execute(&pool)
            .await?;
        pool.close().await;

        let store = Store::connect(url).await?;
        let d = store.digest_for(IMPI, None).await?.ok_or("still there")?;
        assert_eq!(d.ha1, md5, "{url}");
        assert_eq!(d.ha1_sha256, None);
        assert_eq!(d.algorithms, Algorithms::MD5_ONLY);
        assert_eq!(d.usable(), vec![("MD5", md5.as_str())]);
        let p = store.get_private(IMPI).await?.ok_or("still there")?;
        assert_eq!(p.algorithms, Algorithms::MD5_ONLY);
        store.close().await;
    }
    if let Some((admin, db)) = pg {
        let admin_pool = sqlx::AnyPool::connect(&admin).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {db}"))
            .execute(&admin_pool)
            .await?;
        admin_pool.close().await;
    }
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

type Seen = Arc<Mutex<Vec<(String, Value)>>>;

/// An engine's management listener as far as invalidations go: records
/// each request's path and JSON body, answers 200.
async fn fake_engine() -> Result<(String, Seen), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = conn.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    let Some((head, body)) = text.split_once("\r\n\r\n") else {
                        continue;
                    };
                    let len = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if body.len() < len {
                        continue;
                    }
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                    let v = serde_json::from_str(&body[..len]).unwrap_or(Value::Null);
                    log.lock().unwrap().push((path, v));
                    let _ = conn
                        .write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                        )
                        .await;
                    return;
                }
            });
        }
    });
    Ok((addr, seen))
}

fn taken(seen: &Seen) -> Vec<(String, Value)> {
    std::mem::take(&mut *seen.lock().unwrap())
}

#[tokio::test]
async fn provisioning_changes_reach_every_engine_before_the_answer() -> TestResult {
    let (a, seen_a) = fake_engine().await?;
    let (b, seen_b) = fake_engine().await?;
    let s = Server::start_with(
        &Backend::Sqlite,
        &[
            "--engine".into(),
            a,
            "--engine".into(),
            b,
            // Nobody listens here: logged, and provisioning still succeeds.
            "--engine".into(),
            "127.0.0.1:9".into(),
        ],
    )
    .await?;
    let http = client();
    let line = provision_line(&http, &s.prov, IMPU, IMPI, &ha1(IMPI, REALM, "secret")).await?;
    taken(&seen_a);
    taken(&seen_b);

    // A password change: the IMPI.
    assert_eq!(
        put_private(&s, json!({"plaintext_password": "new"})).await?,
        StatusCode::OK
    );
    let expect = vec![(
        "/subscriber-cache/invalidate".to_owned(),
        json!({"impis": [IMPI], "impus": []}),
    )];
    assert_eq!(taken(&seen_a), expect);
    assert_eq!(taken(&seen_b), expect);

    // Another identity in the IRS: every IMPU of the IRS, and its IMPIs.
    add_public_id(&http, &s.prov, &line, TEL).await?;
    let irs_change = vec![(
        "/subscriber-cache/invalidate".to_owned(),
        json!({"impis": [IMPI], "impus": [IMPU, TEL]}),
    )];
    assert_eq!(taken(&seen_a), irs_change);
    assert_eq!(taken(&seen_b), irs_change);

    // Registration moves between S-CSCFs: only the move is announced.
    for (server, announced) in [
        ("sip:a.example.com", false),
        ("sip:a.example.com", false),
        ("sip:b.example.com", true),
    ] {
        let r = http
            .put(format!(
                "{}/impu/{}/reg-data?private_id={}",
                s.hss,
                enc(IMPU),
                enc(IMPI)
            ))
            .body(json!({"reqtype": "reg", "server_name": server}).to_string())
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK);
        let want = if announced {
            vec![(
                "/subscriber-cache/invalidate".to_owned(),
                json!({"impis": [], "impus": [IMPU, TEL]}),
            )]
        } else {
            vec![]
        };
        assert_eq!(taken(&seen_a), want, "{server}");
        taken(&seen_b);
    }

    // The IRS goes: what it held is named (read before the delete).
    let r = http
        .delete(format!("{}/irs/{}", s.prov, line.irs))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        taken(&seen_b),
        vec![(
            "/subscriber-cache/invalidate".to_owned(),
            json!({"impis": [IMPI], "impus": [IMPU, TEL]}),
        ),]
    );
    s.stop().await?;
    Ok(())
}

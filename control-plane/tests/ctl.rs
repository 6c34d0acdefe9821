//! `riptidectl` against the real `riptide-control`, both binaries as built.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Server, TestResult, backends, client, enc, ha1};
use reqwest::StatusCode;
use serde_json::Value;

async fn ctl(
    s: &Server,
    args: &[&str],
) -> Result<(bool, String, String), Box<dyn std::error::Error>> {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_riptidectl"))
        .args(["--server", &s.prov, "--xdms", &s.xdms])
        .args(args)
        .output()
        .await?;
    Ok((
        out.status.success(),
        String::from_utf8(out.stdout)?,
        String::from_utf8(out.stderr)?,
    ))
}

#[tokio::test]
async fn create_display_list_and_delete_users() -> TestResult {
    for b in backends() {
        let s = Server::start(&b).await?;
        let http = client();
        let (ok, out, err) = ctl(&s, &["health"]).await?;
        assert!(ok, "{err}");
        assert!(out.contains("is up"));

        let (ok, out, err) = ctl(
            &s,
            &[
                "create-user",
                "6505550098..6505550100",
                "example.com",
                "s3cret",
            ],
        )
        .await?;
        assert!(ok, "{}: {err}", s.label);
        assert_eq!(out.lines().count(), 3, "{out}");
        assert!(
            out.contains("Created sip:6505550098@example.com (private id 6505550098@example.com)")
        );

        // The engine's view: digest from the password, MMTel iFC, simservs written.
        let v: Value = http
            .get(format!(
                "{}/impi/{}/av?impu={}",
                s.hss,
                enc("6505550099@example.com"),
                enc("sip:6505550099@example.com")
            ))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(
            v["digest"]["ha1"],
            ha1("6505550099@example.com", "example.com", "s3cret")
        );
        let simservs = format!(
            "{}/org.etsi.ngn.simservs/users/{}/simservs.xml",
            s.xdms,
            enc("sip:6505550099@example.com")
        );
        assert_eq!(http.get(&simservs).send().await?.status(), StatusCode::OK);

        let (ok, out, _) =
            ctl(&s, &["--json", "display-user", "6505550099", "example.com"]).await?;
        assert!(ok);
        let v: Value = serde_json::from_str(&out)?;
        assert_eq!(v["impu"], "sip:6505550099@example.com");
        assert_eq!(v["private_ids"][0]["private_id"], "6505550099@example.com");
        assert!(
            v["private_ids"][0].get("plaintext_password").is_none(),
            "{v}"
        );
        assert!(
            v["ims_subscription"]
                .as_str()
                .unwrap()
                .contains("sip:mmtel.example.com")
        );

        let (ok, out, _) = ctl(&s, &["--json", "list-users"]).await?;
        assert!(ok);
        let v: Value = serde_json::from_str(&out)?;
        assert_eq!(
            v,
            serde_json::json!([
                "sip:6505550098@example.com",
                "sip:6505550099@example.com",
                "sip:6505550100@example.com"
            ])
        );

        // update-user: a new password and a new iFC.
        let (ok, out, err) = ctl(
            &s,
            &[
                "update-user",
                "6505550100",
                "example.com",
                "--password",
                "n3w",
            ],
        )
        .await?;
        assert!(ok, "{err}");
        assert_eq!(out.trim(), "Updated sip:6505550100@example.com");
        let v: Value = http
            .get(format!(
                "{}/impi/{}/av",
                s.hss,
                enc("6505550100@example.com")
            ))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(
            v["digest"]["ha1"],
            ha1("6505550100@example.com", "example.com", "n3w")
        );
        let (ok, _, err) = ctl(
            &s,
            &[
                "update-user",
                "6505550777",
                "example.com",
                "--password",
                "x",
            ],
        )
        .await?;
        assert!(!ok);
        assert!(err.contains("not found"), "{err}");

        let (ok, out, _) = ctl(&s, &["delete-user", "6505550099", "example.com"]).await?;
        assert!(ok);
        assert_eq!(out.trim(), "Deleted sip:6505550099@example.com");
        assert_eq!(
            http.get(&simservs).send().await?.status(),
            StatusCode::NOT_FOUND
        );
        let r = http
            .get(format!(
                "{}/private/{}",
                s.prov,
                enc("6505550099@example.com")
            ))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let (ok, _, err) = ctl(&s, &["delete-user", "6505550099", "example.com"]).await?;
        assert!(!ok);
        assert!(err.contains("not found"), "{err}");
        let (ok, _, err) = ctl(&s, &["display-user", "6505550099", "example.com"]).await?;
        assert!(!ok);
        assert!(
            err.contains("no such user sip:6505550099@example.com"),
            "{err}"
        );
        s.stop().await?;
    }
    Ok(())
}

#[tokio::test]
async fn bulk_create_applies_clearwaters_defaults_and_writes_the_passwords() -> TestResult {
    for b in backends() {
        let s = Server::start(&b).await?;
        let http = client();
        let dir =
            std::env::temp_dir().join(format!("riptidectl-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        let csv = dir.join("users.csv");
        let mut text = String::from("# public id, private id, realm, password\n");
        for i in 0..2500 {
            text.push_str(&format!("sip:65055{i:05}@example.com\n"));
        }
        text.push_str("sip:full@example.com,full-impi@example.com,other.net,pw\n");
        std::fs::write(&csv, text)?;
        let (ok, out, err) = ctl(&s, &["--json", "bulk-create", csv.to_str().unwrap()]).await?;
        assert!(ok, "{}: {err}", s.label);
        let v: Value = serde_json::from_str(&out)?;
        assert_eq!(v["summary"]["requested"], 2501);
        assert_eq!(v["summary"]["created"], 2501);
        assert_eq!(v["summary"]["existing"], 0);

        let written = std::fs::read_to_string(dir.join("users.csv.created.csv"))?;
        assert_eq!(written.lines().count(), 2501);
        let row: Vec<&str> = written.lines().nth(7).unwrap().split(',').collect();
        assert_eq!(
            &row[..3],
            [
                "sip:6505500007@example.com",
                "6505500007@example.com",
                "example.com"
            ]
        );
        let v: Value = http
            .get(format!("{}/impi/{}/av", s.hss, enc(row[1])))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(v["digest"]["ha1"], ha1(row[1], row[2], row[3]));
        let v: Value = http
            .get(format!(
                "{}/impi/{}/av?impu={}",
                s.hss,
                enc("full-impi@example.com"),
                enc("sip:full@example.com")
            ))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(
            v["digest"]["ha1"],
            ha1("full-impi@example.com", "other.net", "pw")
        );
        assert_eq!(v["digest"]["realm"], "other.net");
        let r = http
            .get(format!(
                "{}/org.etsi.ngn.simservs/users/{}/simservs.xml",
                s.xdms,
                enc("sip:full@example.com")
            ))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.text().await?, control_plane::simservs::DEFAULT_DOCUMENT);

        // A second run creates nothing.
        let (ok, out, _) = ctl(&s, &["bulk-create", csv.to_str().unwrap()]).await?;
        assert!(ok);
        assert!(
            out.starts_with("2501 users: 0 created, 2501 already existed"),
            "{out}"
        );

        // A malformed CSV names its line and provisions nothing.
        let bad = dir.join("bad.csv");
        std::fs::write(&bad, "sip:ok@example.com\nsip:a@b,c,d,e,f\n")?;
        let (ok, _, err) = ctl(&s, &["bulk-create", bad.to_str().unwrap()]).await?;
        assert!(!ok);
        assert!(err.contains("line 2"), "{err}");
        let r = http
            .get(format!(
                "{}/public/{}/irs/",
                s.prov,
                enc("sip:ok@example.com")
            ))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let _ = std::fs::remove_dir_all(&dir);
        s.stop().await?;
    }
    Ok(())
}

#[tokio::test]
async fn digest_algorithms_are_set_on_create_and_update() -> TestResult {
    let s = Server::start(&common::Backend::Sqlite).await?;
    let impi = "6505550077@example.com";
    let av = || async {
        client()
            .get(format!("{}/impi/{}/av", s.hss, enc(impi)))
            .send()
            .await?
            .json::<Value>()
            .await
    };
    let (ok, _, err) = ctl(
        &s,
        &[
            "create-user",
            "6505550077",
            "example.com",
            "s3cret",
            "--digest-algorithms",
            "SHA-256,MD5",
        ],
    )
    .await?;
    assert!(ok, "{err}");
    let v = av().await?;
    assert_eq!(
        v["digest_algorithms"],
        serde_json::json!([
            {"algorithm": "SHA-256", "ha1": control_plane::digest::ha1_sha256(impi, "example.com", "s3cret")},
            {"algorithm": "MD5", "ha1": ha1(impi, "example.com", "s3cret")},
        ])
    );
    // Algorithms need the password they are computed from.
    let (ok, _, err) = ctl(
        &s,
        &[
            "update-user",
            "6505550077",
            "example.com",
            "--ifc",
            "/dev/null",
            "--digest-algorithms",
            "MD5",
        ],
    )
    .await?;
    assert!(!ok);
    assert!(
        err.contains("--digest-algorithms needs --password"),
        "{err}"
    );
    let (ok, _, err) = ctl(
        &s,
        &[
            "update-user",
            "6505550077",
            "example.com",
            "--password",
            "n3w",
            "--digest-algorithms",
            "SHA-256",
        ],
    )
    .await?;
    assert!(ok, "{err}");
    let v = av().await?;
    assert_eq!(
        v["digest_algorithms"],
        serde_json::json!([
            {"algorithm": "SHA-256", "ha1": control_plane::digest::ha1_sha256(impi, "example.com", "n3w")},
        ])
    );
    let (ok, _, err) = ctl(
        &s,
        &[
            "create-user",
            "6505550078",
            "example.com",
            "x",
            "--digest-algorithms",
            "SHA-1",
        ],
    )
    .await?;
    assert!(!ok);
    assert!(err.contains("unknown digest algorithm"), "{err}");
    s.stop().await?;
    Ok(())
}

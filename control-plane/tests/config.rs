//! The config service of the real binary, over HTTP and through riptidectl,
//! on every backend.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Server, TestResult, backends, client};
use reqwest::StatusCode;
use serde_json::{Value, json};

const SHARED: &str = "# Deployment definitions\nhome_domain=example.com\nsprout_hostname=sprout.example.com\nreg_max_expires=300\n";

#[tokio::test]
async fn config_files_are_checked_stored_and_served_to_engines() -> TestResult {
    for b in backends() {
        let s = Server::start(&b).await?;
        let http = client();
        let url = format!("{}/config/shared_config", s.prov);
        assert_eq!(
            http.get(&url).send().await?.status(),
            StatusCode::NOT_FOUND,
            "{}",
            s.label
        );
        assert_eq!(
            http.put(&url).body(SHARED).send().await?.status(),
            StatusCode::OK
        );
        // Engines read it from the HSS-cache listener.
        let r = http
            .get(format!("{}/config/shared_config", s.hss))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.text().await?, SHARED);

        let r = http
            .put(&url)
            .body("home_domain=example.com\nhome_domian=typo\n")
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let v: Value = r.json().await?;
        assert_eq!(
            v,
            json!({"error": "invalid configuration", "detail": "shared_config line 2: unknown key home_domian"})
        );
        let r = http
            .put(format!("{}/config/bgcf.json", s.prov))
            .body(r#"{"routes": [{"name": "x", "route": ["sip:a"]}]}"#)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let v: Value = r.json().await?;
        assert_eq!(
            v["detail"],
            "bgcf.json: routes[0]: needs exactly one of domain and number"
        );
        let r = http
            .put(format!("{}/config/passwd", s.prov))
            .body("x")
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        // The refused uploads left the stored file alone.
        assert_eq!(http.get(&url).send().await?.text().await?, SHARED);

        // riptidectl config upload/show.
        let dir =
            std::env::temp_dir().join(format!("riptide-config-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        let enum_json = dir.join("enum.json");
        std::fs::write(
            &enum_json,
            r#"{"number_blocks": [{"name": "local", "prefix": "650555", "regex": "^(.*)$!sip:\\1@example.com!"}]}"#,
        )?;
        let bad = dir.join("user_settings");
        std::fs::write(&bad, "log_level=5\nlog_levle=4\n")?;
        let ctl = |args: Vec<String>| {
            let prov = s.prov.clone();
            async move {
                tokio::process::Command::new(env!("CARGO_BIN_EXE_riptidectl"))
                    .args(["--server", &prov])
                    .args(args)
                    .output()
                    .await
            }
        };
        let out = ctl(vec![
            "config".into(),
            "upload".into(),
            enum_json.display().to_string(),
        ])
        .await?;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8(out.stdout)?, "Uploaded enum.json\n");
        let out = ctl(vec![
            "config".into(),
            "upload".into(),
            bad.display().to_string(),
        ])
        .await?;
        assert!(!out.status.success());
        let err = String::from_utf8(out.stderr)?;
        assert!(
            err.contains("user_settings line 2: unknown key log_levle"),
            "{err}"
        );
        let out = ctl(vec!["--json".into(), "config".into(), "show".into()]).await?;
        assert!(out.status.success());
        let v: Value = serde_json::from_slice(&out.stdout)?;
        assert_eq!(v["shared_config"], SHARED);
        assert!(v["enum.json"].as_str().unwrap().contains("650555"));
        assert!(v.get("user_settings").is_none());
        let r = http.get(format!("{}/config", s.prov)).send().await?;
        assert_eq!(
            r.json::<Value>().await?,
            json!({"files": ["enum.json", "shared_config"]})
        );

        assert_eq!(http.delete(&url).send().await?.status(), StatusCode::OK);
        assert_eq!(
            http.delete(&url).send().await?.status(),
            StatusCode::NO_CONTENT
        );
        let _ = std::fs::remove_dir_all(&dir);
        s.stop().await?;
    }
    Ok(())
}

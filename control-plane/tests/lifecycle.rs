//! The binary itself: ports reported, /ping and /openapi.json on every
//! listener, unknown paths, data kept across a SIGTERM restart.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Server, TestResult, backends, client, enc, ha1, provision_line};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn every_listener_answers_ping_and_describes_the_api() -> TestResult {
    let s = Server::start(&common::Backend::Sqlite).await?;
    let http = client();
    for base in [&s.prov, &s.hss, &s.xdms] {
        let r = http.get(format!("{base}/ping")).send().await?;
        assert_eq!(r.status(), StatusCode::OK, "{base}");
        let doc: Value = http
            .get(format!("{base}/openapi.json"))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(doc["openapi"], "3.0.3");
        assert!(
            doc["paths"]["/irs/{irs}/service_profiles/{sp}/public_ids/{impu}"]["put"]["responses"]
                ["403"]
                .is_object()
        );
        assert!(doc["paths"]["/impu/{impu}/reg-data"]["put"].is_object());
        let r = http.get(format!("{base}/no/such/thing")).send().await?;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let v: Value = r.json().await?;
        assert_eq!(v["error"], "no such resource");
    }
    s.stop().await
}

#[tokio::test]
async fn subscribers_and_registration_state_survive_a_restart() -> TestResult {
    for b in backends() {
        let s = Server::start(&b).await?;
        let http = client();
        let impu = "sip:restart@example.com";
        let impi = "restart@example.com";
        provision_line(&http, &s.prov, impu, impi, &ha1(impi, "example.com", "pw")).await?;
        let r = http
            .put(format!("{}/impu/{}/reg-data", s.hss, enc(impu)))
            .body(r#"{"reqtype": "reg", "server_name": "sip:s1.example.com"}"#)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK);

        let s = s.restart().await?;
        let r = http
            .get(format!("{}/impu/{}/reg-data", s.hss, enc(impu)))
            .send()
            .await?;
        let body = r.text().await?;
        assert!(
            body.contains("<RegistrationState>REGISTERED</RegistrationState>"),
            "{}: {body}",
            s.label
        );
        let v: Value = http
            .get(format!("{}/impu/{}/location", s.hss, enc(impu)))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(v["scscf"], "sip:s1.example.com");
        s.stop().await?;
    }
    Ok(())
}

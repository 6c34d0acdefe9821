//! The Homestead-prov API of the real binary, over HTTP, on every backend.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Server, TestResult, backends, client, enc, ha1, location, provision_line};
use reqwest::StatusCode;
use serde_json::{Value, json};

const IMPU: &str = "sip:6505550001@example.com";
const IMPI: &str = "6505550001@example.com";

async fn json_of(r: reqwest::Response) -> Result<Value, reqwest::Error> {
    r.json::<Value>().await
}

#[tokio::test]
async fn ellis_sequence_provisions_a_line_every_read_sees() -> TestResult {
    for b in backends() {
        let s = Server::start(&b).await?;
        let http = client();
        let p = &s.prov;
        let digest = ha1(IMPI, "example.com", "secret");
        let line = provision_line(&http, p, IMPU, IMPI, &digest).await?;

        let r = http
            .get(format!("{p}/private/{}", enc(IMPI)))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK, "{}", s.label);
        assert_eq!(
            json_of(r).await?,
            json!({"digest_ha1": digest, "realm": "example.com"})
        );

        let r = http
            .get(format!(
                "{p}/private/{}/associated_implicit_registration_sets/",
                enc(IMPI)
            ))
            .send()
            .await?;
        assert_eq!(
            json_of(r).await?,
            json!({"associated_implicit_registration_sets": [line.irs]})
        );
        let r = http
            .get(format!("{p}/private/{}/associated_public_ids", enc(IMPI)))
            .send()
            .await?;
        assert_eq!(json_of(r).await?, json!({"associated_public_ids": [IMPU]}));
        let r = http
            .get(format!("{p}/irs/{}/public_ids", line.irs))
            .send()
            .await?;
        assert_eq!(json_of(r).await?, json!({"public_ids": [IMPU]}));
        let r = http
            .get(format!("{p}/irs/{}/private_ids", line.irs))
            .send()
            .await?;
        assert_eq!(json_of(r).await?, json!({"private_ids": [IMPI]}));
        let r = http
            .get(format!("{p}{}/public_ids", line.sp_path))
            .send()
            .await?;
        assert_eq!(json_of(r).await?, json!({"public_ids": [IMPU]}));
        let r = http
            .get(format!("{p}{}/filter_criteria", line.sp_path))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.text().await?, common::IFC);
        let r = http
            .get(format!("{p}{}/public_ids/{}", line.sp_path, enc(IMPU)))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            r.text()
                .await?
                .contains("<Identity>sip:6505550001@example.com</Identity>")
        );

        // Read-only public views: 303s to the IRS and the service profile.
        let r = http
            .get(format!("{p}/public/{}/irs/", enc(IMPU)))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&r), format!("/irs/{}", line.irs));
        let r = http
            .get(format!("{p}/public/{}/service_profile", enc(IMPU)))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&r), line.sp_path);
        let r = http
            .get(format!("{p}/public/{}/associated_private_ids", enc(IMPU)))
            .send()
            .await?;
        assert_eq!(json_of(r).await?, json!({"private_ids": [IMPI]}));

        // The digest view and the subscription document.
        let r = http
            .get(format!(
                "{p}/impi/{}/digest?public_id={}",
                enc(IMPI),
                enc(IMPU)
            ))
            .send()
            .await?;
        assert_eq!(json_of(r).await?, json!({"digest_ha1": digest}));
        let r = http
            .get(format!(
                "{p}/impi/{}/digest?public_id={}",
                enc(IMPI),
                enc("sip:other@example.com")
            ))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let r = http.get(format!("{p}/impu/{}", enc(IMPU))).send().await?;
        assert_eq!(r.status(), StatusCode::OK);
        let xml = r.text().await?;
        assert!(
            xml.contains("<PrivateID>6505550001@example.com</PrivateID>"),
            "{xml}"
        );
        assert!(
            xml.contains("<ServerName>sip:mmtel.example.com</ServerName>"),
            "{xml}"
        );
        s.stop().await?;
    }
    Ok(())
}

#[tokio::test]
async fn private_identity_put_get_delete_and_bad_bodies() -> TestResult {
    for b in backends() {
        let s = Server::start(&b).await?;
        let http = client();
        let url = format!("{}/private/{}", s.prov, enc("alice@example.com"));

        let r = http
            .put(&url)
            .body(r#"{"plaintext_password": "pw", "realm": "other.net"}"#)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK);
        let r = http.get(&url).send().await?;
        assert_eq!(
            json_of(r).await?,
            json!({"digest_ha1": ha1("alice@example.com", "other.net", "pw"),
                   "plaintext_password": "pw", "realm": "other.net"})
        );
        // A later digest PUT removes the plaintext and defaults the realm.
        let digest = ha1("alice@example.com", "example.com", "pw2");
        let r = http
            .put(&url)
            .body(json!({"digest_ha1": digest}).to_string())
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK);
        let r = http.get(&url).send().await?;
        assert_eq!(
            json_of(r).await?,
            json!({"digest_ha1": digest, "realm": "example.com"})
        );

        for (body, error) in [
            ("", "invalid JSON"),
            ("{not json", "invalid JSON"),
            ("[1]", "invalid JSON"),
            (r#"{"realm": "x"}"#, "invalid JSON - missing keys"),
            (
                r#"{"digest_ha1": "0123456789abcdef0123456789abcdef", "plaintext_password": "p"}"#,
                "invalid JSON - too many keys",
            ),
            (r#"{"digest_ha1": "nothex"}"#, "invalid digest_ha1"),
            (r#"{"digest_ha1": 7}"#, "invalid JSON"),
        ] {
            let r = http.put(&url).body(body).send().await?;
            assert_eq!(
                r.status(),
                StatusCode::BAD_REQUEST,
                "{} body {body:?}",
                s.label
            );
            let v = json_of(r).await?;
            assert_eq!(v["error"], error, "body {body:?}: {v}");
            assert!(v["detail"].as_str().is_some_and(|d| !d.is_empty()), "{v}");
        }
        // Nothing half-written: still the last good digest.
        let r = http.get(&url).send().await?;
        assert_eq!(json_of(r).await?["digest_ha1"], digest);

        assert_eq!(http.delete(&url).send().await?.status(), StatusCode::OK);
        assert_eq!(
            http.delete(&url).send().await?.status(),
            StatusCode::NO_CONTENT
        );
        let r = http.get(&url).send().await?;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let v = json_of(r).await?;
        assert_eq!(v["error"], "no such private identity");
        assert_eq!(v["detail"], "alice@example.com");
        for path in [
            "associated_implicit_registration_sets/",
            "associated_public_ids",
        ] {
            let r = http.get(format!("{url}/{path}")).send().await?;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        }
        s.stop().await?;
    }
    Ok(())
}

#[tokio::test]
async fn public_identity_and_filter_criteria_errors() -> TestResult {
    for b in backends() {
        let s = Server::start(&b).await?;
        let http = client();
        let p = &s.prov;
        let line = provision_line(&http, p, IMPU, IMPI, &ha1(IMPI, "example.com", "x")).await?;
        let pub_url = format!(
            "{p}{}/public_ids/{}",
            line.sp_path,
            enc("sip:two@example.com")
        );

        let r = http
            .put(&pub_url)
            .body("<PublicIdentity><Identity>sip:two@example.com</Identity>")
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(json_of(r).await?["error"], "invalid PublicIdentity XML");
        let r = http
            .put(&pub_url)
            .body("<PublicIdentity><Identity>sip:three@example.com</Identity></PublicIdentity>")
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(json_of(r).await?["error"], "identity mismatch");
        let r = http
            .put(format!(
                "{p}/irs/{}/service_profiles/00000000-0000-0000-0000-000000000000/public_ids/{}",
                line.irs,
                enc("sip:two@example.com")
            ))
            .body("<PublicIdentity><Identity>sip:two@example.com</Identity></PublicIdentity>")
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(json_of(r).await?["error"], "no such service profile");

        // A second, barred identity joins the IRS after the first.
        let r = http.put(&pub_url).body("<PublicIdentity><BarringIndication>1</BarringIndication><Identity>sip:two@example.com</Identity></PublicIdentity>").send().await?;
        assert_eq!(r.status(), StatusCode::OK);
        let r = http
            .get(format!("{p}/irs/{}/public_ids", line.irs))
            .send()
            .await?;
        assert_eq!(
            json_of(r).await?,
            json!({"public_ids": [IMPU, "sip:two@example.com"]})
        );

        let fc = format!("{p}{}/filter_criteria", line.sp_path);
        for body in [
            "<ServiceProfile>",
            "<ServiceProfile></ServiceProfile>",
            "<Other/>",
        ] {
            let r = http.put(&fc).body(body).send().await?;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(json_of(r).await?["error"], "invalid ServiceProfile XML");
        }
        let r = http
            .get(format!(
                "{p}/irs/{}/service_profiles/nope/filter_criteria",
                line.irs
            ))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);

        // Deleting the second identity, then again.
        assert_eq!(http.delete(&pub_url).send().await?.status(), StatusCode::OK);
        assert_eq!(
            http.delete(&pub_url).send().await?.status(),
            StatusCode::NOT_FOUND
        );
        s.stop().await?;
    }
    Ok(())
}

#[tokio::test]
async fn irs_links_deletes_and_unknown_identities() -> TestResult {
    for b in backends() {
        let s = Server::start(&b).await?;
        let http = client();
        let p = &s.prov;
        let line = provision_line(&http, p, IMPU, IMPI, &ha1(IMPI, "example.com", "x")).await?;

        // A second IMPI may authenticate the IRS only once it exists.
        let second = format!(
            "{p}/irs/{}/private_ids/{}",
            line.irs,
            enc("second@example.com")
        );
        let r = http.put(&second).send().await?;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(json_of(r).await?["error"], "no such private identity");
        http.put(format!("{p}/private/{}", enc("second@example.com")))
            .body(r#"{"plaintext_password": "p"}"#)
            .send()
            .await?;
        assert_eq!(http.put(&second).send().await?.status(), StatusCode::OK);
        let r = http
            .get(format!("{p}/public/{}/associated_private_ids", enc(IMPU)))
            .send()
            .await?;
        assert_eq!(
            json_of(r).await?,
            json!({"private_ids": [IMPI, "second@example.com"]})
        );
        let r = http
            .put(format!("{p}/irs/not-an-irs/private_ids/{}", enc(IMPI)))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            json_of(r).await?["error"],
            "no such implicit registration set"
        );

        // Unlink from the IMPI side: 200, then 204.
        let link = format!(
            "{p}/private/{}/associated_implicit_registration_sets/{}",
            enc("second@example.com"),
            line.irs
        );
        assert_eq!(http.delete(&link).send().await?.status(), StatusCode::OK);
        assert_eq!(
            http.delete(&link).send().await?.status(),
            StatusCode::NO_CONTENT
        );
        let r = http
            .put(format!(
                "{p}/private/{}/associated_implicit_registration_sets/nope",
                enc(IMPI)
            ))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);

        // Unknown public identities and IRSs.
        for path in [
            format!("/public/{}/irs/", enc("sip:nobody@example.com")),
            format!("/public/{}/service_profile", enc("sip:nobody@example.com")),
            format!(
                "/public/{}/associated_private_ids",
                enc("sip:nobody@example.com")
            ),
            format!("/impu/{}", enc("sip:nobody@example.com")),
            "/irs/nope/public_ids".to_owned(),
            "/irs/nope/private_ids".to_owned(),
            format!("/irs/{}/service_profiles/nope/public_ids", line.irs),
        ] {
            let r = http.get(format!("{p}{path}")).send().await?;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
            let v = json_of(r).await?;
            assert!(
                v["error"].is_string() && v["detail"].is_string(),
                "{path}: {v}"
            );
        }
        assert_eq!(
            http.post(format!("{p}/irs/nope/service_profiles"))
                .send()
                .await?
                .status(),
            StatusCode::NOT_FOUND
        );

        // Deleting the service profile removes its identity; deleting the IRS removes the rest.
        assert_eq!(
            http.delete(format!("{p}{}", line.sp_path))
                .send()
                .await?
                .status(),
            StatusCode::OK
        );
        assert_eq!(
            http.delete(format!("{p}{}", line.sp_path))
                .send()
                .await?
                .status(),
            StatusCode::NO_CONTENT
        );
        let r = http
            .get(format!("{p}/irs/{}/public_ids", line.irs))
            .send()
            .await?;
        assert_eq!(json_of(r).await?, json!({"public_ids": []}));
        assert_eq!(
            http.delete(format!("{p}/irs/{}", line.irs))
                .send()
                .await?
                .status(),
            StatusCode::OK
        );
        assert_eq!(
            http.delete(format!("{p}/irs/{}", line.irs))
                .send()
                .await?
                .status(),
            StatusCode::NO_CONTENT
        );
        let r = http
            .get(format!(
                "{p}/private/{}/associated_implicit_registration_sets/",
                enc(IMPI)
            ))
            .send()
            .await?;
        assert_eq!(
            json_of(r).await?,
            json!({"associated_implicit_registration_sets": []})
        );
        s.stop().await?;
    }
    Ok(())
}

#[tokio::test]
async fn public_listing_pages_and_bulk_provisioning() -> TestResult {
    for b in backends() {
        let s = Server::start(&b).await?;
        let http = client();
        let p = &s.prov;
        let users: Vec<Value> = (0..25)
            .map(|i| json!({"impu": format!("sip:65055501{i:02}@example.com"), "impi": format!("65055501{i:02}@example.com"), "password": "pw"}))
            .collect();
        let r = http
            .post(format!("{p}/riptide/bulk-users"))
            .json(&json!({"users": users, "ifc": common::IFC}))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(json_of(r).await?, json!({"created": 25, "existing": []}));
        // Again: nothing new, every IMPU reported as existing.
        let r = http
            .post(format!("{p}/riptide/bulk-users"))
            .json(&json!({"users": users[..2]}))
            .send()
            .await?;
        assert_eq!(
            json_of(r).await?,
            json!({"created": 0, "existing": ["sip:6505550100@example.com", "sip:6505550101@example.com"]})
        );
        // A bad user refuses the whole batch.
        let r = http
            .post(format!("{p}/riptide/bulk-users"))
            .json(&json!({"users": [{"impu": "sip:new@example.com", "impi": "new@example.com", "password": "p"}, {"impu": "sip:bad@example.com", "impi": "bad@example.com"}]}))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let r = http
            .get(format!("{p}/public/{}/irs/", enc("sip:new@example.com")))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);

        let page = |start: u32, limit: u32| {
            let http = http.clone();
            let url = format!("{p}/public/?start={start}&limit={limit}");
            async move { http.get(url).send().await?.json::<Vec<String>>().await }
        };
        let first = page(0, 10).await?;
        assert_eq!(first.len(), 10);
        assert_eq!(first[0], "sip:6505550100@example.com");
        let last = page(20, 10).await?;
        assert_eq!(last.len(), 5);
        assert_eq!(last[4], "sip:6505550124@example.com");
        let r = http.get(format!("{p}/public/?limit=ten")).send().await?;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);

        // A bulk user authenticates like an Ellis one.
        let r = http
            .get(format!(
                "{}/impi/{}/av?impu={}",
                s.hss,
                enc("6505550107@example.com"),
                enc("sip:6505550107@example.com")
            ))
            .send()
            .await?;
        assert_eq!(
            json_of(r).await?["digest"]["ha1"],
            ha1("6505550107@example.com", "example.com", "pw")
        );
        s.stop().await?;
    }
    Ok(())
}

//! The HSS-cache API of the real binary, driven by the engine's own
//! Homestead client (`engine::hss`: requests encoded, responses framed and
//! parsed exactly as a shard does) over one keep-alive connection.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Server, TestResult, add_public_id, backends, client, enc, ha1, provision_line};
use engine::hss::{
    HssError, HssRequest, HttpResponse, HttpResponseFramer, RegData, RegDataReqType,
    RegistrationState, parse_auth_vector,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const IMPU: &str = "sip:6505550001@example.com";
const TEL: &str = "tel:+16505550001";
const IMPI: &str = "6505550001@example.com";

/// The engine's view of the HSS cache: one keep-alive connection.
struct EngineClient {
    stream: TcpStream,
    host: String,
    framer: HttpResponseFramer,
}

impl EngineClient {
    async fn connect(base: &str) -> Result<EngineClient, Box<dyn std::error::Error>> {
        let host = base.trim_start_matches("http://").to_owned();
        Ok(EngineClient {
            stream: TcpStream::connect(&host).await?,
            host,
            framer: HttpResponseFramer::new(1 << 20),
        })
    }

    async fn call(&mut self, req: &HssRequest) -> Result<HttpResponse, Box<dyn std::error::Error>> {
        self.stream.write_all(&req.encode(&self.host)).await?;
        let mut buf = [0u8; 8192];
        loop {
            if let Some(r) = self.framer.next_response()? {
                return Ok(r);
            }
            let n = self.stream.read(&mut buf).await?;
            if n == 0 {
                return Err("connection closed".into());
            }
            self.framer.push(&buf[..n]);
        }
    }

    async fn put_reg(
        &mut self,
        impu: &str,
        reqtype: RegDataReqType,
    ) -> Result<HttpResponse, Box<dyn std::error::Error>> {
        self.call(&HssRequest::PutRegData {
            impu: impu.to_owned(),
            impi: Some(IMPI.to_owned()),
            reqtype,
            server_name: Some("sip:scscf1.example.com:5054;transport=tcp".to_owned()),
        })
        .await
    }
}

async fn provision(s: &Server) -> Result<common::Line, Box<dyn std::error::Error>> {
    let http = client();
    let line = provision_line(
        &http,
        &s.prov,
        IMPU,
        IMPI,
        &ha1(IMPI, "example.com", "secret"),
    )
    .await?;
    add_public_id(&http, &s.prov, &line, TEL).await?;
    Ok(line)
}

#[tokio::test]
async fn engine_fetches_digest_vectors() -> TestResult {
    for b in backends() {
        let s = Server::start(&b).await?;
        provision(&s).await?;
        let mut engine = EngineClient::connect(&s.hss).await?;
        let r = engine
            .call(&HssRequest::DigestAv {
                impi: IMPI.into(),
                impu: Some(IMPU.into()),
            })
            .await?;
        let av = parse_auth_vector(r.status, &r.body)?;
        assert_eq!(av.ha1, ha1(IMPI, "example.com", "secret"), "{}", s.label);
        assert_eq!(av.realm, "example.com");
        assert_eq!(av.qop, "auth");

        // Unknown IMPI, and an IMPI asked about an IMPU it may not authenticate: 404 (→ 403 in SIP).
        for req in [
            HssRequest::DigestAv {
                impi: "nobody@example.com".into(),
                impu: None,
            },
            HssRequest::DigestAv {
                impi: IMPI.into(),
                impu: Some("sip:other@example.com".into()),
            },
        ] {
            let r = engine.call(&req).await?;
            assert_eq!(r.status, 404, "{req:?}");
            assert_eq!(
                parse_auth_vector(r.status, &r.body),
                Err(HssError::NotFound)
            );
        }

        // The bare /av path answers the same; /av/aka needs an HSS.
        let http = client();
        let v: Value = http
            .get(format!("{}/impi/{}/av", s.hss, enc(IMPI)))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(v["digest"]["ha1"], ha1(IMPI, "example.com", "secret"));
        let r = http
            .get(format!("{}/impi/{}/av/aka", s.hss, enc(IMPI)))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        s.stop().await?;
    }
    Ok(())
}

#[tokio::test]
async fn reg_data_moves_through_homestead_states_and_parses_in_the_engine() -> TestResult {
    for b in backends() {
        let s = Server::start(&b).await?;
        provision(&s).await?;
        let mut engine = EngineClient::connect(&s.hss).await?;

        let r = engine
            .call(&HssRequest::GetRegData { impu: IMPU.into() })
            .await?;
        assert_eq!(r.status, 200);
        let data = RegData::parse(&r.body)?;
        assert_eq!(data.state, RegistrationState::NotRegistered, "{}", s.label);
        assert_eq!(data.subscription.private_id.as_deref(), Some(IMPI));
        assert_eq!(
            data.subscription.unbarred().collect::<Vec<_>>(),
            vec![IMPU, TEL]
        );
        let ifcs = &data.subscription.service_profiles[0].initial_filter_criteria_xml;
        assert_eq!(ifcs.len(), 1);
        assert!(
            ifcs[0].contains("<ServerName>sip:mmtel.example.com</ServerName>"),
            "{}",
            ifcs[0]
        );

        // Deregistering a user that is not registered: 400, nothing changes.
        let r = engine.put_reg(IMPU, RegDataReqType::DeregUser).await?;
        assert_eq!(r.status, 400);
        // call → UNREGISTERED (unregistered service); reg → REGISTERED for the whole IRS.
        let r = engine.put_reg(IMPU, RegDataReqType::Call).await?;
        assert_eq!(
            RegData::parse(&r.body)?.state,
            RegistrationState::Unregistered
        );
        let r = engine.put_reg(IMPU, RegDataReqType::Reg).await?;
        assert_eq!(r.status, 200);
        assert_eq!(
            RegData::parse(&r.body)?.state,
            RegistrationState::Registered
        );
        let r = engine
            .call(&HssRequest::GetRegData { impu: TEL.into() })
            .await?;
        assert_eq!(
            RegData::parse(&r.body)?.state,
            RegistrationState::Registered
        );
        // An auth failure changes nothing; a call leaves a registered user registered.
        for req in [RegDataReqType::DeregAuthFailure, RegDataReqType::Call] {
            let r = engine.put_reg(IMPU, req).await?;
            assert_eq!(
                RegData::parse(&r.body)?.state,
                RegistrationState::Registered,
                "{req:?}"
            );
        }

        // The S-CSCF that registered it is what location and registration-status name.
        let r = engine
            .call(&HssRequest::Location {
                impu: TEL.into(),
                originating: false,
            })
            .await?;
        assert_eq!(r.status, 200);
        let v: Value = serde_json::from_slice(&r.body)?;
        assert_eq!(
            v,
            json!({"result-code": 2001, "scscf": "sip:scscf1.example.com:5054;transport=tcp"})
        );
        let r = engine
            .call(&HssRequest::RegistrationStatus {
                impi: IMPI.into(),
                impu: IMPU.into(),
            })
            .await?;
        let v: Value = serde_json::from_slice(&r.body)?;
        assert_eq!(
            v,
            json!({"result-code": 2001, "scscf": "sip:scscf1.example.com:5054;transport=tcp"})
        );

        // Without an HSS, every dereg reqtype leaves the user UNREGISTERED.
        for req in [
            RegDataReqType::DeregUser,
            RegDataReqType::DeregTimeout,
            RegDataReqType::DeregAdmin,
        ] {
            let r = engine.put_reg(IMPU, RegDataReqType::Reg).await?;
            assert_eq!(r.status, 200);
            let r = engine.put_reg(IMPU, req).await?;
            assert_eq!(r.status, 200, "{req:?}");
            assert_eq!(
                RegData::parse(&r.body)?.state,
                RegistrationState::Unregistered,
                "{req:?}"
            );
        }
        let r = engine
            .call(&HssRequest::GetRegData { impu: TEL.into() })
            .await?;
        assert_eq!(
            RegData::parse(&r.body)?.state,
            RegistrationState::Unregistered
        );

        // Unknown users.
        let nobody = "sip:nobody@example.com";
        for req in [
            HssRequest::GetRegData {
                impu: nobody.into(),
            },
            HssRequest::PutRegData {
                impu: nobody.into(),
                impi: None,
                reqtype: RegDataReqType::Reg,
                server_name: None,
            },
            HssRequest::Location {
                impu: nobody.into(),
                originating: true,
            },
            HssRequest::RegistrationStatus {
                impi: IMPI.into(),
                impu: nobody.into(),
            },
        ] {
            let r = engine.call(&req).await?;
            assert_eq!(r.status, 404, "{req:?}");
        }
        let r = engine
            .call(&HssRequest::RegistrationStatus {
                impi: "stranger@example.com".into(),
                impu: IMPU.into(),
            })
            .await?;
        assert_eq!(r.status, 403);
        s.stop().await?;
    }
    Ok(())
}

#[tokio::test]
async fn reg_data_put_refuses_bad_bodies_and_unregistered_users_get_the_default_scscf() -> TestResult
{
    for b in backends() {
        let s = Server::start(&b).await?;
        provision(&s).await?;
        let http = client();
        let url = format!("{}/impu/{}/reg-data", s.hss, enc(IMPU));
        for (body, error) in [
            ("", "invalid JSON"),
            ("{", "invalid JSON"),
            (r#"{"server_name": "sip:x"}"#, "invalid JSON"),
            (r#"{"reqtype": "teleport"}"#, "invalid reqtype"),
        ] {
            let r = http.put(&url).body(body).send().await?;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
            let v: Value = r.json().await?;
            assert_eq!(v["error"], error, "{body}");
        }
        let v: Value = http
            .get(format!("{}/impu/{}/location", s.hss, enc(IMPU)))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(
            v,
            json!({"result-code": 2001, "scscf": "sip:scscf.example.com:5054;transport=tcp"})
        );
        let r = http
            .get(format!("{}/impi/{}/registration-status", s.hss, enc(IMPI)))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        // reg without server_name: the configured S-CSCF.
        let r = http.put(&url).body(r#"{"reqtype": "reg"}"#).send().await?;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/xml")
        );
        let v: Value = http
            .get(format!("{}/impu/{}/location", s.hss, enc(IMPU)))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(v["scscf"], "sip:scscf.example.com:5054;transport=tcp");
        s.stop().await?;
    }
    Ok(())
}

//! The Homer XDMS of the real binary, over HTTP, on every backend.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Server, TestResult, backends, client, enc};
use reqwest::StatusCode;

#[tokio::test]
async fn simservs_documents_are_validated_stored_and_deleted() -> TestResult {
    for b in backends() {
        let s = Server::start(&b).await?;
        let http = client();
        let url = format!(
            "{}/org.etsi.ngn.simservs/users/{}/simservs.xml",
            s.xdms,
            enc("sip:6505550001@example.com")
        );
        let r = http.get(&url).send().await?;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{}", s.label);

        let doc = control_plane::simservs::DEFAULT_DOCUMENT;
        assert_eq!(
            http.put(&url).body(doc).send().await?.status(),
            StatusCode::OK
        );
        let r = http.get(&url).send().await?;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.text().await?, doc);

        // Replaced by a document with diversion on.
        let diverted = r#"<simservs xmlns="http://uri.etsi.org/ngn/params/xml/simservs/xcap" xmlns:cp="urn:ietf:params:xml:ns:common-policy"><communication-diversion active="true"><NoReplyTimer>20</NoReplyTimer><cp:ruleset><cp:rule id="1"><cp:conditions/><cp:actions><forward-to><target>sip:6505550002@example.com</target></forward-to></cp:actions></cp:rule></cp:ruleset></communication-diversion></simservs>"#;
        assert_eq!(
            http.put(&url).body(diverted).send().await?.status(),
            StatusCode::OK
        );
        assert_eq!(http.get(&url).send().await?.text().await?, diverted);

        // Invalid documents: 400 with the reason, and the stored one untouched.
        for (body, reason) in [
            ("<simservs>", "not well-formed XML"),
            (
                "<services/>",
                "expected root element <simservs>, found <services>",
            ),
            (
                "<simservs><teleport/></simservs>",
                "unknown service element <teleport>",
            ),
            (
                r#"<simservs><incoming-communication-barring active="perhaps"/></simservs>"#,
                "invalid active attribute",
            ),
            (
                "<simservs><communication-diversion><NoReplyTimer>0</NoReplyTimer></communication-diversion></simservs>",
                "NoReplyTimer",
            ),
            (
                "<simservs><originating-identity-presentation-restriction><default-behaviour>secret</default-behaviour></originating-identity-presentation-restriction></simservs>",
                "default-behaviour",
            ),
        ] {
            let r = http.put(&url).body(body).send().await?;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
            let text = r.text().await?;
            assert!(text.contains(reason), "{body}: {text}");
        }
        assert_eq!(http.get(&url).send().await?.text().await?, diverted);

        assert_eq!(
            http.delete(&url).send().await?.status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            http.delete(&url).send().await?.status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(http.get(&url).send().await?.status(), StatusCode::NOT_FOUND);
        s.stop().await?;
    }
    Ok(())
}

//! Telling engines that subscribers changed: each engine caches digest
//! vectors and reg-data per shard, and drops the entries named here
//! (`POST /subscriber-cache/invalidate` on its management listener) so that
//! the next REGISTER sees a new password, algorithm set or subscription.
//!
//! A provisioning request answers only after every configured engine has
//! answered or [`NOTIFY_TIMEOUT`] passed; an engine that took too long or
//! refused is logged (its entries age out with their TTL instead); one that
//! does not listen at all is not running, so it has nothing cached.

use std::time::Duration;

use serde_json::json;

/// How long one engine may take to acknowledge.
pub const NOTIFY_TIMEOUT: Duration = Duration::from_secs(2);

/// What changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changed {
    pub impis: Vec<String>,
    pub impus: Vec<String>,
}

impl Changed {
    pub fn impi(impi: &str) -> Changed {
        Changed {
            impis: vec![impi.to_owned()],
            impus: Vec::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.impis.is_empty() && self.impus.is_empty()
    }
}

/// The engines to tell (management addresses, `host:port`).
#[derive(Debug, Clone, Default)]
pub struct Engines {
    addrs: Vec<String>,
    http: reqwest::Client,
}

impl Engines {
    pub fn new(addrs: Vec<String>) -> Engines {
        let http = reqwest::Client::builder()
            .timeout(NOTIFY_TIMEOUT)
            .build()
            .unwrap_or_default();
        Engines { addrs, http }
    }

    pub fn addrs(&self) -> &[String] {
        &self.addrs
    }

    /// Tell every engine; returns how many acknowledged.
    pub async fn invalidate(&self, changed: &Changed) -> usize {
        if changed.is_empty() || self.addrs.is_empty() {
            return 0;
        }
        let body = json!({ "impis": changed.impis, "impus": changed.impus }).to_string();
        let calls = self.addrs.iter().map(|addr| {
            let req = self
                .http
                .post(format!("http://{addr}/subscriber-cache/invalidate"))
                .header("content-type", "application/json")
                .body(body.clone())
                .send();
            async move {
                match req.await {
                    Ok(r) if r.status().is_success() => true,
                    Ok(r) => {
                        tracing::warn!(engine = %addr, status = %r.status(), "engine refused a subscriber-cache invalidation");
                        false
                    }
                    // Nothing listens: an engine not running caches nothing
                    // (it starts empty), so this is no loss.
                    Err(e) if e.is_connect() => {
                        tracing::debug!(engine = %addr, error = %e, "engine not running; no subscriber cache to invalidate");
                        false
                    }
                    Err(e) => {
                        tracing::warn!(engine = %addr, error = %e, "engine did not take a subscriber-cache invalidation; its entries expire with their TTL");
                        false
                    }
                }
            }
        });
        futures_util::future::join_all(calls)
            .await
            .into_iter()
            .filter(|ok| *ok)
            .count()
    }
}

//! REGISTER at the S-CSCF: challenge, verify, then apply the bindings.

use sip_fastpath::{HeaderName, Message};

use super::deps::{BindingStore, HssCache};
use super::outcome::{RegisterOutcome, RegistrationKind};
use super::{Scscf, impu_of};
use crate::auth::{Challenge, Verdict, verify};
use crate::hss::RegDataReqType;
use crate::registrar::{RegisterKind, apply_register};
use crate::roles::{Decision, RequestContext};

/// Attempts at a compare-and-set of the AoR before giving up with 500.
const CAS_ATTEMPTS_MAX: usize = 3;

fn respond_with(status: u16, reason: &'static str, headers: Vec<(HeaderName, String)>) -> Decision {
    Decision::Respond {
        status,
        reason,
        headers: headers
            .into_iter()
            .map(|(n, v)| (n, bytes::Bytes::from(v)))
            .collect(),
    }
}

impl<H: HssCache, S: BindingStore> Scscf<H, S> {
    pub(super) async fn on_register(
        &self,
        req: &Message,
        ctx: &RequestContext,
        out: &mut RegisterOutcome,
    ) -> Decision {
        let Some(impu) = req
            .to()
            .ok()
            .and_then(|t| t.uri().ok())
            .as_ref()
            .and_then(impu_of)
        else {
            return Decision::respond(400, "Bad Request - Unusable To URI");
        };
        let creds = match req.auth(HeaderName::Authorization) {
            Ok(c) => c,
            Err(_) => return Decision::respond(400, "Bad Request - Malformed Authorization"),
        };
        // Clearwater's convention: the IMPI is the Authorization username, else the IMPU without its scheme.
        let impi = creds
            .as_ref()
            .and_then(|c| c.get(b"username"))
            .map(|u| String::from_utf8_lossy(u).into_owned())
            .unwrap_or_else(|| impu.trim_start_matches("sip:").to_owned());

        if self.cfg.accept_all_registers {
            // Clearwater's `authentication=Y`: no challenge at all.
            return self.register(req, &impi, &impu, ctx, out).await;
        }
        let Some(creds) = creds.filter(|c| c.get(b"response").is_some()) else {
            return self.challenge(&impi, &impu, false, ctx).await;
        };
        let nonce = creds
            .get(b"nonce")
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        let mut stored = match self.store.get_challenge(&impi, &nonce).await {
            Ok(c) => c,
            // Never re-challenge because the store failed (Clearwater sprout #1404).
            Err(_) => {
                return Decision::respond(
                    500,
                    "Server Internal Error - Registration Store Unavailable",
                );
            }
        };
        let method = req.method_bytes().unwrap_or(b"REGISTER");
        let verdict = verify(
            stored.as_mut().map(|v| &mut v.value),
            &creds,
            method,
            ctx.now_ms,
            self.cfg.nonce_count_supported,
        );
        // Clearwater counts a stale nonce as a failed authentication.
        out.digest = Some(verdict == Verdict::Ok);
        match verdict {
            Verdict::Ok => {
                if let Some(ch) = &stored {
                    // Against the version read: of two concurrent uses of
                    // one nonce, only one goes on; the other is stale.
                    match self.store.put_challenge(&impi, &ch.value, ch.version).await {
                        Ok(true) => {}
                        Ok(false) => {
                            out.digest = Some(false);
                            return self.challenge(&impi, &impu, true, ctx).await;
                        }
                        Err(_) => {
                            return Decision::respond(
                                500,
                                "Server Internal Error - Registration Store Unavailable",
                            );
                        }
                    }
                }
                self.register(req, &impi, &impu, ctx, out).await
            }
            Verdict::Stale => self.challenge(&impi, &impu, true, ctx).await,
            Verdict::Wrong | Verdict::WrongAlgorithm => {
                let _ = self
                    .hss
                    .put_reg_data(&impu, Some(&impi), RegDataReqType::DeregAuthFailure)
                    .await;
                Decision::respond(403, "Forbidden")
            }
            Verdict::Malformed => Decision::respond(400, "Bad Request - Malformed Authorization"),
        }
    }

    async fn challenge(
        &self,
        impi: &str,
        impu: &str,
        stale: bool,
        ctx: &RequestContext,
    ) -> Decision {
        let av = match self.hss.digest_av(impi, impu).await {
            Ok(av) => av,
            Err(e) => {
                let status = e.sip_status();
                let reason = match status {
                    403 => "Forbidden",
                    504 => "Server Time-out",
                    _ => "Server Internal Error",
                };
                return Decision::respond(status, reason);
            }
        };
        // One challenge per algorithm the subscriber may use, preferred
        // (SHA-256) first, each with its own nonce bound to its HA1: the
        // nonce a response names says which HA1 verifies it.
        let mut headers = Vec::new();
        for (algorithm, ha1) in av.offers() {
            let mut random = [0u8; 24];
            if getrandom::fill(&mut random).is_err() {
                return Decision::respond(500, "Server Internal Error - No Randomness");
            }
            let ch = Challenge::new(random, &av.realm, ha1, algorithm, ctx.now_ms);
            // A new nonce: version 0 (a conflict would be a collision of
            // 192 random bits, or a store that lies).
            if !matches!(self.store.put_challenge(impi, &ch, 0).await, Ok(true)) {
                return Decision::respond(
                    500,
                    "Server Internal Error - Registration Store Unavailable",
                );
            }
            headers.push((HeaderName::WwwAuthenticate, ch.www_authenticate(stale)));
        }
        respond_with(401, "Unauthorized", headers)
    }

    async fn register(
        &self,
        req: &Message,
        impi: &str,
        impu: &str,
        ctx: &RequestContext,
        out: &mut RegisterOutcome,
    ) -> Decision {
        // Until the AoR is read, a failure counts by what the request asks for.
        out.registration = Some((RegistrationKind::asked_by(req), false));
        let reg = match self
            .hss
            .put_reg_data(impu, Some(impi), RegDataReqType::Reg)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                return Decision::respond(
                    e.sip_status(),
                    if e.sip_status() == 504 {
                        "Server Time-out"
                    } else {
                        "Server Internal Error"
                    },
                );
            }
        };
        let associated: Vec<&str> = reg.subscription.unbarred().collect();
        // Bindings live under the default IMPU: the first unbarred identity.
        let default_impu = associated.first().copied().unwrap_or(impu).to_owned();
        let now_s = ctx.now_ms / 1000;
        for _ in 0..CAS_ATTEMPTS_MAX {
            let current = match self.store.get_aor(&default_impu).await {
                Ok(c) => c,
                Err(_) => {
                    return Decision::respond(
                        500,
                        "Server Internal Error - Registration Store Unavailable",
                    );
                }
            };
            out.registration = Some((RegistrationKind::for_aor(req, &current.value), false));
            let outcome = match apply_register(
                req,
                &current.value,
                &default_impu,
                &associated,
                now_s,
                &self.cfg.registrar,
            ) {
                Ok(o) => o,
                Err(r) => return respond_with(r.status, r.reason, r.headers),
            };
            if outcome.kind != RegisterKind::Fetch {
                match self
                    .store
                    .set_aor(&default_impu, &outcome.aor, current.version)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(_) => {
                        return Decision::respond(
                            500,
                            "Server Internal Error - Registration Store Unavailable",
                        );
                    }
                }
            }
            out.registration = Some((RegistrationKind::from(outcome.kind), true));
            if matches!(outcome.kind, RegisterKind::Initial | RegisterKind::Refresh) {
                if let Some(last_s) = outcome.aor.last_expiry_s() {
                    self.hss.registered_until(impu, last_s.saturating_mul(1000));
                }
            }
            if outcome.kind == RegisterKind::Deregistration {
                let _ = self
                    .hss
                    .put_reg_data(impu, Some(impi), RegDataReqType::DeregUser)
                    .await;
            }
            return Decision::Ready(outcome.response);
        }
        Decision::respond(500, "Server Internal Error - Registration Conflict")
    }
}

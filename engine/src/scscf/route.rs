//! Terminating routing: a request for a served IMPU goes to every binding of
//! its AoR in parallel, through each binding's Path (Clearwater "always
//! INVITEs all registered endpoints").

use bytes::Bytes;
use sip_fastpath::Message;
use smallvec::SmallVec;

use super::deps::{BindingStore, HssCache};
use super::{Scscf, impu_of};
use crate::hss::{HssError, RegistrationState};
use crate::proxy::ForkTarget;
use crate::roles::{Decision, RequestContext};

impl<H: HssCache, S: BindingStore> Scscf<H, S> {
    pub(super) async fn route_terminating(&self, req: &Message, ctx: &RequestContext) -> Decision {
        let Some(impu) = req.request_uri().ok().as_ref().and_then(impu_of) else {
            return Decision::respond(404, "Not Found");
        };
        let reg = match self.hss.get_reg_data(&impu).await {
            Ok(r) => r,
            Err(HssError::NotFound) => return Decision::respond(404, "Not Found"),
            Err(e) if e.sip_status() == 504 => return Decision::respond(504, "Server Time-out"),
            Err(_) => return Decision::respond(500, "Server Internal Error"),
        };
        if reg.state != RegistrationState::Registered {
            return Decision::respond(480, "Temporarily Unavailable");
        }
        let default_impu = reg
            .subscription
            .unbarred()
            .next()
            .unwrap_or(&impu)
            .to_owned();
        let aor = match self.store.get_aor(&default_impu).await {
            Ok(a) => a.value,
            Err(_) => {
                return Decision::respond(
                    500,
                    "Server Internal Error - Registration Store Unavailable",
                );
            }
        };
        let now_s = ctx.now_ms / 1000;
        let mut live: Vec<_> = aor
            .bindings
            .iter()
            .filter(|b| b.expires_at_s > now_s)
            .collect();
        if live.is_empty() {
            return Decision::respond(480, "Temporarily Unavailable");
        }
        // Highest q first (RFC 3261 §16.6); all are tried in parallel.
        live.sort_by_key(|b| std::cmp::Reverse(b.q_millis.unwrap_or(1000)));
        let targets: SmallVec<[ForkTarget; 2]> = live
            .into_iter()
            .map(|b| ForkTarget {
                uri: Some(Bytes::from(b.uri.clone())),
                route: b.path.iter().map(|p| Bytes::from(p.clone())).collect(),
            })
            .collect();
        Decision::Forward(targets)
    }
}

//! Terminating routing: a request for a served IMPU goes to every binding of
//! its AoR in parallel, through each binding's Path (Clearwater "always
//! INVITEs all registered endpoints"); a request for a public GRUU we issued
//! (`sip:aor;gr=<instance>`, RFC 5627 §5.5) goes only to the bindings of
//! that instance.

use bytes::Bytes;
use sip_fastpath::{Message, Uri};
use smallvec::SmallVec;

use super::deps::{BindingStore, HssCache};
use super::{Scscf, impu_of};
use crate::hss::{HssError, RegData, RegistrationState};
use crate::proxy::ForkTarget;
use crate::registrar::Binding;
use crate::roles::{Decision, RequestContext};

/// What the Request-URI's `gr` parameter asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Gruu {
    /// No `gr`: every binding of the AoR.
    None,
    /// `gr=<instance>`: the bindings of that `+sip.instance` only.
    Instance(String),
    /// `gr` without a value: not a GRUU we hand out.
    Invalid,
}

impl Gruu {
    pub(super) fn of(uri: &Uri<'_>) -> Gruu {
        match uri.params.get(b"gr") {
            None => Gruu::None,
            Some(None) => Gruu::Invalid,
            Some(Some(v)) => {
                let mut out = Vec::with_capacity(v.len());
                sip_fastpath::uri::unescape_into(v, &mut out);
                match String::from_utf8(out) {
                    Ok(s) if !s.is_empty() => Gruu::Instance(s),
                    _ => Gruu::Invalid,
                }
            }
        }
    }

    /// Does `binding` belong to the asked instance? Instance URNs compare
    /// without the `<>` and quotes the Contact carried, case-insensitively
    /// (RFC 8141 §3: `urn:` and UUID hex digits are).
    fn admits(&self, binding: &Binding) -> bool {
        match self {
            Gruu::None => true,
            Gruu::Invalid => false,
            Gruu::Instance(want) => binding.instance.as_deref().is_some_and(|i| {
                i.trim_matches(|c| c == '"' || c == '<' || c == '>')
                    .eq_ignore_ascii_case(want)
            }),
        }
    }
}

/// An HSS-cache failure on the terminating side, as Sprout answers it.
pub(super) fn hss_failure(e: &HssError) -> Decision {
    match e {
        HssError::NotFound => Decision::respond(404, "Not Found"),
        e if e.sip_status() == 504 => Decision::respond(504, "Server Time-out"),
        _ => Decision::respond(500, "Server Internal Error"),
    }
}

impl<H: HssCache, S: BindingStore> Scscf<H, S> {
    pub(super) async fn route_terminating(&self, req: &Message, ctx: &RequestContext) -> Decision {
        let Ok(uri) = req.request_uri() else {
            return Decision::respond(404, "Not Found");
        };
        let Some(impu) = impu_of(&uri) else {
            return Decision::respond(404, "Not Found");
        };
        let gruu = Gruu::of(&uri);
        if gruu == Gruu::Invalid {
            return Decision::respond(404, "Not Found");
        }
        match self.hss.get_reg_data(&impu).await {
            Ok(reg) => self.to_bindings(&impu, &reg, &gruu, ctx).await,
            Err(e) => hss_failure(&e),
        }
    }

    /// Fork to the live bindings of `impu`'s AoR that `gruu` admits,
    /// highest `q` first; 480 when there are none.
    pub(super) async fn to_bindings(
        &self,
        impu: &str,
        reg: &RegData,
        gruu: &Gruu,
        ctx: &RequestContext,
    ) -> Decision {
        if reg.state != RegistrationState::Registered {
            return Decision::respond(480, "Temporarily Unavailable");
        }
        let default_impu = reg.subscription.default_impu().unwrap_or(impu);
        let aor = match self.store.get_aor(default_impu).await {
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
            .filter(|b| b.expires_at_s > now_s && gruu.admits(b))
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

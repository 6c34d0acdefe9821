//! Originating handling (TS 24.229 §5.4.3.2, as Sprout's S-CSCF does it
//! without application servers): a request from a served user that came in
//! on our Service-Route (`orig` on the Route we consumed).
//!
//! 1. The served user is the P-Asserted-Identity, else the From (Sprout's
//!    order after P-Served-User). When it is one of ours (a home-domain SIP
//!    URI or a TEL URI) the HSS must know it (404 if not, 504 when the HSS
//!    cache is unavailable) and it must not be barred (403). Like Sprout,
//!    being registered is not required, and a served user from elsewhere
//!    gets no services but is still routed.
//! 2. The target: a Request-URI of ours that the HSS knows gets terminating
//!    routing here (Sprout reaches the same through the I-CSCF). Anything
//!    else is off-net and goes to the BGCF (`bgcf_uri`); without one we do
//!    what Sprout's BGCF does with no route: a number gets 404 "No route to
//!    target", a foreign SIP URI goes to its own domain. An unknown
//!    home-domain user that is not a number gets 404.

use bytes::Bytes;
use sip_fastpath::{HeaderName, Message, Scheme, Uri};
use smallvec::smallvec;

use super::deps::{BindingStore, HssCache};
use super::route::{Gruu, hss_failure};
use super::{Scscf, impu_of};
use crate::hss::HssError;
use crate::proxy::ForkTarget;
use crate::roles::{Decision, RequestContext};

/// A user part that is a telephone number: digits with an optional leading
/// `+` and RFC 3966 visual separators (Sprout's local/global phone number
/// classes, with `enforce_user_phone` off, its default).
fn is_number(user: &[u8]) -> bool {
    let digits = user.strip_prefix(b"+").unwrap_or(user);
    digits.iter().any(u8::is_ascii_digit)
        && digits
            .iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b'-' | b'.' | b'(' | b')'))
}

/// Is this Request-URI a telephone number (a TEL URI, `user=phone`, or a
/// numeric user part)?
fn is_phone_number(uri: &Uri<'_>) -> bool {
    uri.scheme == Scheme::Tel
        || uri
            .user_param()
            .is_some_and(|p| p.eq_ignore_ascii_case(b"phone"))
        || uri.user.is_some_and(is_number)
}

impl<H: HssCache, S: BindingStore> Scscf<H, S> {
    /// A TEL URI, or a SIP URI in one of our home domains.
    fn is_ours(&self, uri: &Uri<'_>) -> bool {
        match uri.scheme {
            Scheme::Tel => true,
            Scheme::Sip | Scheme::Sips => self
                .cfg
                .home_domains
                .iter()
                .any(|d| d.as_bytes().eq_ignore_ascii_case(uri.host)),
            Scheme::Other => false,
        }
    }

    /// The served user's IMPU when it is one of ours.
    fn served_user(&self, req: &Message) -> Option<String> {
        let who = match req.first_name_addr(HeaderName::PAssertedIdentity) {
            Ok(Some(pai)) => pai,
            _ => req.from().ok()?,
        };
        let uri = who.uri().ok()?;
        if !self.is_ours(&uri) {
            return None;
        }
        impu_of(&uri)
    }

    /// The Route value that sends a request to the BGCF.
    fn bgcf_route(&self) -> Option<Bytes> {
        let uri = self.cfg.bgcf_uri.as_deref()?;
        let lr = Uri::parse(uri.as_bytes()).is_ok_and(|u| u.is_loose_router());
        Some(Bytes::from(if lr {
            format!("<{uri}>")
        } else {
            format!("<{uri};lr>")
        }))
    }

    pub(super) async fn route_originating(&self, req: &Message, ctx: &RequestContext) -> Decision {
        // In-dialog requests follow their route set, not the served user's.
        if req.to().ok().and_then(|t| t.tag()).is_some() {
            return Decision::Forward(smallvec![ForkTarget::unchanged()]);
        }
        if let Some(user) = self.served_user(req) {
            match self.hss.get_reg_data(&user).await {
                Ok(reg) => {
                    let barred = reg
                        .subscription
                        .service_profiles
                        .iter()
                        .flat_map(|sp| sp.public_identities.iter())
                        .any(|p| p.barred && p.identity == user);
                    if barred {
                        return Decision::respond(403, "Forbidden");
                    }
                }
                Err(e) if e.sip_status() == 504 => {
                    return Decision::respond(504, "Server Time-out");
                }
                Err(_) => return Decision::respond(404, "Not Found"),
            }
        }
        let Ok(uri) = req.request_uri() else {
            return Decision::respond(404, "Not Found");
        };
        let number = is_phone_number(&uri);
        if self.is_ours(&uri) {
            if let Some(impu) = impu_of(&uri) {
                let gruu = Gruu::of(&uri);
                match self.hss.get_reg_data(&impu).await {
                    Ok(_) if gruu == Gruu::Invalid => return Decision::respond(404, "Not Found"),
                    Ok(reg) => return self.to_bindings(&impu, &reg, &gruu, ctx).await,
                    Err(HssError::NotFound) => {}
                    Err(e) => return hss_failure(&e),
                }
            }
            if !number {
                return Decision::respond(404, "Not Found");
            }
        }
        match self.bgcf_route() {
            Some(route) => Decision::Forward(smallvec![ForkTarget {
                uri: None,
                route: smallvec![route],
            }]),
            None if uri.scheme == Scheme::Tel || self.is_ours(&uri) => {
                Decision::respond(404, "No route to target")
            }
            None => Decision::Forward(smallvec![ForkTarget::unchanged()]),
        }
    }
}

//! The S-CSCF role: registrar with digest authentication (REGISTER),
//! originating handling for requests on our Service-Route (`orig`), and
//! terminating routing to registered bindings or one GRUU's binding
//! (everything else), over two dependencies it awaits — the HSS cache
//! ([`HssCache`]) and the registration store ([`BindingStore`]).

mod deps;
mod originating;
mod outcome;
mod register;
mod route;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_auth;
#[cfg(test)]
mod tests_routing;

pub use deps::{BindingStore, HssCache, StoreError, Versioned};
pub use outcome::{RegisterOutcome, RegistrationKind};

use sip_fastpath::{Message, Method, Scheme, Uri};

use crate::registrar::RegistrarConfig;
use crate::roles::{Decision, RequestContext, Role};

/// S-CSCF settings (Clearwater's names).
#[derive(Debug, Clone, Default)]
pub struct ScscfConfig {
    pub registrar: RegistrarConfig,
    /// `nonce_count_supported`: accept a nonce-count above 1 (off by default).
    pub nonce_count_supported: bool,
    /// The S-CSCF name given to the HSS in reg-data PUTs (`scscf_uri`).
    pub server_name: String,
    /// Clearwater's `authentication=Y` (user_settings): accept every
    /// REGISTER without a challenge. Insecure; for test setups only.
    pub accept_all_registers: bool,
    /// Clearwater's `home_domain` and `additional_home_domains`: the domains
    /// whose users originating handling routes to locally.
    pub home_domains: Vec<String>,
    /// Clearwater's `bgcf_uri`: where originating requests for targets that
    /// are not ours go (off-net). Unset: as Sprout's BGCF with no route —
    /// 404 for a number, a foreign SIP URI goes to its own domain.
    pub bgcf_uri: Option<String>,
}

/// The S-CSCF over its HSS cache `H` and binding store `S`.
pub struct Scscf<H, S> {
    pub hss: H,
    pub store: S,
    pub cfg: ScscfConfig,
}

impl<H: HssCache, S: BindingStore> Role for Scscf<H, S> {
    fn name(&self) -> &'static str {
        "scscf"
    }

    async fn on_request(&self, request: &Message, ctx: &RequestContext) -> Decision {
        self.on_request_observed(request, ctx).await.0
    }
}

impl<H: HssCache, S: BindingStore> Scscf<H, S> {
    /// As [`Role::on_request`], also saying what a REGISTER came to (for
    /// the registration and authentication statistics).
    pub async fn on_request_observed(
        &self,
        request: &Message,
        ctx: &RequestContext,
    ) -> (Decision, RegisterOutcome) {
        let mut outcome = RegisterOutcome::default();
        let decision = if request.method() == Some(Method::Register) {
            self.on_register(request, ctx, &mut outcome).await
        } else if is_originating(request) {
            self.route_originating(request, ctx).await
        } else {
            self.route_terminating(request, ctx).await
        };
        (decision, outcome)
    }
}

/// An IMPU as the HSS cache keys it: `sip:user@host` (no port, parameters or
/// headers), or a TEL URI's number with its scheme.
pub fn impu_of(uri: &Uri<'_>) -> Option<String> {
    let user = std::str::from_utf8(uri.user?).ok()?;
    match uri.scheme {
        Scheme::Sip | Scheme::Sips => {
            let host = std::str::from_utf8(uri.host).ok()?;
            Some(format!("sip:{user}@{}", host.to_ascii_lowercase()))
        }
        Scheme::Tel => Some(format!("tel:{user}")),
        Scheme::Other => None,
    }
}

/// Did the request arrive on our Service-Route (RFC 3608): does its top
/// Route — ours, which the proxy consumes — carry `orig` (TS 24.229
/// §5.4.3.2)? The caller has established that the top Route names us.
pub fn is_originating(req: &Message) -> bool {
    if req.header(sip_fastpath::HeaderName::Route).is_none() {
        return false;
    }
    req.top_route()
        .ok()
        .flatten()
        .and_then(|r| r.uri().ok())
        .is_some_and(|u| u.params.has(b"orig"))
}

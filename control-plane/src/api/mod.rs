//! The three HTTP listeners of `riptide-control`: provisioning
//! (Homestead-prov, [`prov`]), the HSS cache (Homestead, [`hss`]) and the
//! XDMS (Homer, [`xdms`]). Each also answers `/ping` and `/openapi.json`.

pub mod config;
pub mod error;
pub mod hss;
pub mod openapi;
pub mod prov;
pub mod xdms;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use crate::store::Store;

pub use error::ApiError;

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    pub store: Store,
    /// Realm given to a private identity PUT without one.
    pub home_domain: String,
    /// The S-CSCF named when no server has been assigned (Clearwater's `scscf_uri`).
    pub scscf_uri: String,
    /// Engines told when a subscriber changes (their subscriber caches).
    pub engines: crate::notify::Engines,
}

pub type SharedState = Arc<AppState>;

/// The three bound listeners.
#[derive(Debug)]
pub struct Listeners {
    pub provisioning: TcpListener,
    pub hss: TcpListener,
    pub xdms: TcpListener,
}

fn with_common(router: Router<SharedState>, state: SharedState) -> Router {
    router
        .route("/ping", axum::routing::get(|| async { "OK" }))
        .route("/openapi.json", axum::routing::get(openapi::document))
        .fallback(|| async { ApiError::not_found("no such resource", "unknown path") })
        .with_state(state)
}

/// Serves the three APIs until `shutdown` completes, then finishes the
/// requests in flight.
pub async fn serve<F>(state: SharedState, listeners: Listeners, shutdown: F) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::watch::channel(false);
    let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let prov = axum::serve(
        listeners.provisioning,
        with_common(prov::router().merge(config::router()), state.clone()),
    )
    .with_graceful_shutdown(wait(rx.clone()));
    let hss = axum::serve(
        listeners.hss,
        with_common(hss::router().merge(config::router()), state.clone()),
    )
    .with_graceful_shutdown(wait(rx.clone()));
    let xdms = axum::serve(listeners.xdms, with_common(xdms::router(), state.clone()))
        .with_graceful_shutdown(wait(rx));
    tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    let (a, b, c) = tokio::join!(prov.into_future(), hss.into_future(), xdms.into_future());
    a?;
    b?;
    c
}

//! A running engine node: the shards with [`app::EngineApp`] on each, the
//! management listener, and signal handling (SIGTERM/SIGINT drain and exit).

/// A line on stdout for whoever started us (`listening ...`); a closed pipe
/// is not our problem and must not stop the node.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

pub mod all_in_one;
pub mod aor_codec;
pub mod app;
pub mod bindings;
pub mod bindings_query;
pub mod config;
pub mod config_files;
pub mod config_view;
pub mod hss_client;
pub mod metrics;
pub mod mgmt;
pub mod records;
pub mod redis_bindings;
pub mod remote_aor;
pub mod subscriber_cache;

pub use config::EngineConfig;

use shards::{Runtime, RuntimeConfig};
use std::net::SocketAddr;

/// Why the node could not run.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Start(#[from] shards::StartError),
    #[error("management listener {addr}: {source}")]
    Management {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("signal handler: {0}")]
    Signals(std::io::Error),
    #[error(transparent)]
    Shard(#[from] shards::ShardFailed),
    #[error("redis: {0}")]
    Redis(String),
    #[error("all-in-one: {0}")]
    AllInOne(String),
    #[error("registration store in {dir}: {source}")]
    Store {
        dir: std::path::PathBuf,
        source: stores::StoreError,
    },
}

/// Start the node, print what it listens on (one `listening <what> <addr>`
/// line each, for scripts and tests), and run until SIGTERM, SIGINT or
/// `/quiesce`; then drain and return.
pub fn run(cfg: EngineConfig) -> Result<(), NodeError> {
    let sip = SocketAddr::new(cfg.local_ip, cfg.sip_port);
    let rt = RuntimeConfig {
        shards: cfg.shards,
        pin: cfg.pin,
        udp: vec![sip],
        tcp: vec![sip],
        limits: cfg.limits,
        signaling_namespace: cfg.signaling_namespace.clone(),
        udp_driver: cfg.udp_driver,
        tcp_config: cfg.tcp.clone(),
        mesh_capacity: cfg.shard_queue_depth,
        ..RuntimeConfig::default()
    };
    // Open every shard's store here, so a bad data directory stops the
    // start with a clear error; each shard then takes its own.
    if let Some(url) = &cfg.redis {
        redis_bindings::RedisBindings::new(
            url,
            std::time::Duration::from_millis(cfg.hss_timeout_ms),
            cfg.redis_key_prefix.clone(),
        )
        .map_err(|e| NodeError::Redis(e.to_string()))?;
    }
    let mut opened = Vec::new();
    if cfg.hss.is_some() && cfg.redis.is_none() {
        for shard in 0..cfg.shards {
            let dir = cfg.data_dir.join(format!("shard-{shard}"));
            let store = stores::embedded::ShardStore::open(&dir, cfg.store, bindings::unix_ms())
                .map_err(|source| NodeError::Store { dir, source })?;
            opened.push(Some(store));
        }
    }
    let stores = std::sync::Arc::new(std::sync::Mutex::new(opened));
    // Every shard's metrics exist before the shards do, so the management
    // thread holds them all; each shard takes its own.
    let shard_metrics: Vec<std::sync::Arc<metrics::ShardMetrics>> = (0..cfg.shards)
        .map(|i| std::sync::Arc::new(metrics::ShardMetrics::new(i)))
        .collect();
    let (query_tx, query_rx): (Vec<_>, Vec<_>) = (0..cfg.shards)
        .map(|_| std::sync::mpsc::channel::<bindings_query::BindingsQuery>())
        .map(|(tx, rx)| (tx, Some(rx)))
        .unzip();
    let query_rx = std::sync::Arc::new(std::sync::Mutex::new(query_rx));
    let inboxes: Vec<std::sync::Arc<subscriber_cache::InvalidationInbox>> =
        (0..cfg.shards).map(|_| std::sync::Arc::default()).collect();
    let factory_inboxes = inboxes.clone();
    if cfg.accept_all_registers {
        tracing::warn!(
            "authentication=Y: every REGISTER is accepted without a challenge (insecure; test setups only)"
        );
    }
    let factory_metrics = shard_metrics.clone();
    let app_cfg = cfg.clone();
    let handle = Runtime::start(rt, move |info| {
        let mut c = app_cfg.clone();
        // Port 0 asks the kernel; Via and Record-Route need the real one.
        if let Some(a) = info.bound.udp.first() {
            c.sip_port = a.port();
        }
        let store = stores
            .lock()
            .ok()
            .and_then(|mut s| s.get_mut(info.id).and_then(Option::take));
        let queries = query_rx
            .lock()
            .ok()
            .and_then(|mut q| q.get_mut(info.id).and_then(Option::take));
        let m = factory_metrics
            .get(info.id)
            .cloned()
            .unwrap_or_else(|| std::sync::Arc::new(metrics::ShardMetrics::new(info.id)));
        app::EngineApp::new(
            &c,
            info.id,
            shards::Clock::new().now_us(),
            store,
            m,
            queries,
            factory_inboxes.get(info.id).cloned().unwrap_or_default(),
        )
    })?;
    let stop = handle.stop_flag();
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, std::sync::Arc::clone(&stop))
            .map_err(NodeError::Signals)?;
    }
    let node_stats =
        std::sync::Arc::new(std::sync::Mutex::new(metrics::sampler::NodeStats::default()));
    let mgmt_err = |source| NodeError::Management {
        addr: cfg.management,
        source,
    };
    metrics::sampler::start(
        shard_metrics.clone(),
        std::sync::Arc::clone(&node_stats),
        std::sync::Arc::clone(&stop),
    )
    .map_err(mgmt_err)?;
    let mut shown = cfg.clone();
    if let Some(a) = handle.bound().udp.first() {
        shown.sip_port = a.port();
    }
    let management = mgmt::Management {
        stop: std::sync::Arc::clone(&stop),
        shards: shard_metrics,
        stats: node_stats,
        config: config_view::config_json(&shown),
        bindings: if cfg.hss.is_some() {
            query_tx
        } else {
            Vec::new()
        },
        subscriber_caches: inboxes,
    };
    let mgmt = mgmt::start(cfg.management, management).map_err(mgmt_err)?;
    for a in &handle.bound().udp {
        say!("listening sip-udp {a}");
    }
    for a in &handle.bound().tcp {
        say!("listening sip-tcp {a}");
    }
    say!("listening management {mgmt}");
    tracing::info!(shards = cfg.shards, %mgmt, "riptide running");
    handle.join()?;
    Ok(())
}

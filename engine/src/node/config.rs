//! The engine's settings, as flags and Clearwater-style names give them.

use crate::proxy::{LocalIdentity, Proxy};
use crate::resolve::StaticResolver;
use crate::roles::{StaticRoute, StaticRoutes};
use bytes::Bytes;
use shards::{Exemptions, ThrottleConfig};
use sip_fastpath::Limits;
use std::net::{IpAddr, SocketAddr};

/// What a node runs with.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Clearwater's `local_ip`: the address SIP binds and Via/Record-Route name.
    pub local_ip: IpAddr,
    /// SIP port (UDP and TCP).
    pub sip_port: u16,
    pub shards: usize,
    pub pin: bool,
    /// Management HTTP listener (health, quiesce).
    pub management: SocketAddr,
    /// Other names this node answers to (Clearwater's `alias_list`).
    pub aliases: Vec<String>,
    pub home_domains: Vec<String>,
    pub record_route: bool,
    pub routes: StaticRoutes,
    pub resolver: StaticResolver,
    pub limits: Limits,
    pub throttle: ThrottleConfig,
    pub exemptions: Exemptions,
    pub signaling_namespace: Option<String>,
    /// The HSS cache (Homestead API, riptide-control's port 8888): when set,
    /// the S-CSCF serves requests for the home domains.
    pub hss: Option<SocketAddr>,
    pub hss_timeout_ms: u64,
    /// Registration state in Redis (`redis://host:port[/db]`) instead of the
    /// embedded store.
    pub redis: Option<String>,
    /// Put before every Redis key (several deployments may share a Redis).
    pub redis_key_prefix: String,
    /// Registration state lives under `<data_dir>/shard-<n>/`.
    pub data_dir: std::path::PathBuf,
    pub store: stores::embedded::ShardStoreConfig,
    /// Clearwater's `reg_max_expires` (default 300 s).
    pub reg_max_expires: u32,
    /// Riptide's `reg_min_expires`: a non-zero expiry below it gets 423 with
    /// Min-Expires (RFC 3261 §10.3 step 7; Clearwater had no minimum).
    pub reg_min_expires: u32,
    /// Clearwater's `nonce_count_supported`.
    pub nonce_count_supported: bool,
    /// Who moves UDP in each shard (the shard's io_uring, or glommio's path).
    pub udp_driver: shards::UdpDriver,
    /// Clearwater's `authentication=Y`: accept every REGISTER unchallenged.
    pub accept_all_registers: bool,
    /// The per-shard subscriber cache's lifetimes and size.
    pub subscriber_cache: super::subscriber_cache::SubscriberCacheConfig,
    /// Clearwater's `bgcf_uri`: where the S-CSCF sends originating requests
    /// for targets that are not ours (off-net).
    pub bgcf_uri: Option<String>,
    /// SIP over TCP: Clearwater's `sip_tcp_connect_timeout` and
    /// `sip_tcp_send_timeout`, idle and per-IP limits.
    pub tcp: shards::TcpConfig,
    /// Clearwater's `log_level` (1 errors ... 5 debug).
    pub log_level: u8,
    /// Most server transactions a shard holds (completed non-INVITE ones
    /// make room first; beyond it new requests get 503).
    pub server_transactions_max: usize,
    /// Messages each shard-to-shard queue holds; beyond it a request handed
    /// to its owner shard gets 503 with Retry-After (0: nothing is handed).
    pub shard_queue_depth: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            local_ip: IpAddr::from([127, 0, 0, 1]),
            sip_port: 5060,
            shards: std::thread::available_parallelism().map_or(1, |n| n.get()),
            pin: true,
            management: SocketAddr::from(([127, 0, 0, 1], 9886)),
            aliases: Vec::new(),
            home_domains: vec!["example.com".to_owned()],
            record_route: false,
            routes: StaticRoutes::default(),
            resolver: StaticResolver::new(),
            limits: Limits::default(),
            throttle: ThrottleConfig::default(),
            exemptions: Exemptions::default(),
            signaling_namespace: None,
            hss: None,
            hss_timeout_ms: 2000,
            redis: None,
            redis_key_prefix: "riptide:".to_owned(),
            data_dir: std::path::PathBuf::from("riptide-data"),
            store: stores::embedded::ShardStoreConfig::default(),
            reg_max_expires: 300,
            reg_min_expires: 1,
            nonce_count_supported: false,
            udp_driver: shards::UdpDriver::default(),
            accept_all_registers: false,
            subscriber_cache: super::subscriber_cache::SubscriberCacheConfig::default(),
            bgcf_uri: None,
            tcp: shards::TcpConfig::default(),
            log_level: 2,
            shard_queue_depth: shards::RuntimeConfig::default().mesh_capacity,
            server_transactions_max: crate::core::CoreConfig::default().server_transactions_max,
        }
    }
}

impl EngineConfig {
    /// The address Via and Record-Route carry (`ip:port`, IPv6 bracketed).
    pub fn sent_by(&self) -> String {
        SocketAddr::new(self.local_ip, self.sip_port).to_string()
    }

    /// The S-CSCF's own URI (Clearwater's `scscf_uri`), given to the HSS as
    /// the serving S-CSCF and put in Service-Route.
    pub fn scscf_uri(&self) -> String {
        format!("sip:{};transport=tcp", self.sent_by())
    }

    pub fn scscf_config(&self) -> crate::scscf::ScscfConfig {
        let registrar = crate::registrar::RegistrarConfig {
            reg_max_expires_s: self.reg_max_expires,
            reg_min_expires_s: self.reg_min_expires,
            scscf_uri: self.scscf_uri(),
        };
        crate::scscf::ScscfConfig {
            registrar,
            nonce_count_supported: self.nonce_count_supported,
            server_name: self.scscf_uri(),
            accept_all_registers: self.accept_all_registers,
            home_domains: self.home_domains.clone(),
            bgcf_uri: self.bgcf_uri.clone(),
        }
    }

    pub fn proxy(&self) -> Proxy {
        let mut hosts: Vec<String> =
            vec![self.local_ip.to_string(), format!("[{}]", self.local_ip)];
        hosts.extend(self.aliases.iter().cloned());
        let sent_by = self.sent_by();
        Proxy {
            local: LocalIdentity::new(hosts, &[self.sip_port]),
            record_route: self
                .record_route
                .then(|| Bytes::from(format!("<sip:{sent_by};lr>"))),
            sent_by: Bytes::from(sent_by),
            home_domains: self
                .home_domains
                .iter()
                .map(|d| d.as_bytes().to_vec().into_boxed_slice())
                .collect(),
        }
    }

    /// Add a static route from `HOST=URI` (`*` for any host).
    pub fn add_route(&mut self, spec: &str) -> Result<(), String> {
        let (host, target) = spec
            .split_once('=')
            .ok_or_else(|| format!("route {spec:?}: expected HOST=URI"))?;
        if sip_fastpath::Uri::parse_strict(target.as_bytes()).is_err() {
            return Err(format!("route {spec:?}: {target:?} is not a SIP URI"));
        }
        self.routes.routes.push(StaticRoute {
            host: host.to_owned(),
            target: Bytes::from(target.to_owned()),
        });
        Ok(())
    }

    /// Add a static host entry from `NAME=IP[,IP...]`.
    pub fn add_host(&mut self, spec: &str) -> Result<(), String> {
        let (name, ips) = spec
            .split_once('=')
            .ok_or_else(|| format!("host {spec:?}: expected NAME=IP[,IP]"))?;
        let ips = ips
            .split(',')
            .map(|ip| {
                ip.trim()
                    .parse::<IpAddr>()
                    .map_err(|e| format!("host {spec:?}: {ip:?}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.resolver.insert(name, ips);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authentication_y_reaches_the_scscf() {
        let mut cfg = EngineConfig::default();
        assert!(!cfg.scscf_config().accept_all_registers);
        cfg.accept_all_registers = true;
        assert!(cfg.scscf_config().accept_all_registers);
        let v = super::super::config_view::config_json(&cfg);
        assert_eq!(v["config"]["authentication"], "Y");
        assert_eq!(v["config"]["av_cache_ttl"], 300);
        assert_eq!(v["config"]["reg_data_cache_ttl"], 4800);
    }
}

//! `/config`: the settings the node runs with, as JSON, with secrets left
//! out (a Redis URL's password), and a version that changes when they do.

use super::config::EngineConfig;
use serde_json::{Value, json};

/// A Redis URL without its user information (`redis://:pw@h` → `redis://***@h`).
fn redacted_url(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, _)), Some(at)) => format!("{scheme}://***@{}", &url[at + 1..]),
        _ => url.to_owned(),
    }
}

/// FNV-1a over the rendered settings: the snapshot's version.
fn version_of(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The active configuration as `/config` shows it.
pub fn config_json(cfg: &EngineConfig) -> Value {
    let t = &cfg.throttle;
    let mut settings = json!({
        "local_ip": cfg.local_ip.to_string(),
        "sip_port": cfg.sip_port,
        "shards": cfg.shards,
        "pin": cfg.pin,
        "management": cfg.management.to_string(),
        "alias_list": cfg.aliases,
        "home_domain": cfg.home_domains,
        "record_route": cfg.record_route,
        "routes": cfg.routes.routes.iter().map(|r| json!({
            "host": r.host,
            "target": String::from_utf8_lossy(&r.target),
        })).collect::<Vec<_>>(),
        "signaling_namespace": cfg.signaling_namespace,
        "hss": cfg.hss.map(|a| a.to_string()),
        "hss_timeout_ms": cfg.hss_timeout_ms,
        "redis": cfg.redis.as_deref().map(redacted_url),
        "redis_key_prefix": cfg.redis_key_prefix,
        "data_dir": cfg.data_dir.display().to_string(),
        "reg_max_expires": cfg.reg_max_expires,
        "reg_min_expires": cfg.reg_min_expires,
        "nonce_count_supported": cfg.nonce_count_supported,
        "authentication": if cfg.accept_all_registers { "Y" } else { "N" },
        "av_cache_ttl": cfg.subscriber_cache.av_ttl_ms / 1000,
        "reg_data_cache_ttl": cfg.subscriber_cache.reg_data_ttl_ms / 1000,
        "subscriber_cache_entries_max": cfg.subscriber_cache.entries_max,
        "bgcf_uri": cfg.bgcf_uri,
        "log_level": cfg.log_level,
        "shard_queue_depth": cfg.shard_queue_depth,
        "sip_tcp_connect_timeout": cfg.tcp.connect_timeout_ms,
        "sip_tcp_send_timeout": cfg.tcp.send_timeout_ms,
        "udp_driver": format!("{:?}", cfg.udp_driver).to_lowercase(),
        "throttle": {
            "target_latency_us": t.target_latency_us,
            "max_tokens": t.max_tokens,
            "init_token_rate": t.init_token_rate,
            "min_token_rate": t.min_token_rate,
            "max_token_rate": t.max_token_rate,
            "adjust_period": t.adjust_period,
        },
        "limits": format!("{:?}", cfg.limits),
        "exemptions": format!("{:?}", cfg.exemptions),
        "store": format!("{:?}", cfg.store),
    });
    // The limits, apart: one json! of everything passes the macro's
    // recursion limit.
    let limits = json!({
        "server_transactions_max": cfg.server_transactions_max,
        "sip_message_max_bytes": cfg.limits.message_bytes_max,
        "sip_headers_max": cfg.limits.headers_max,
        "sip_header_line_max_bytes": cfg.limits.header_line_bytes_max,
        "sip_tcp_max_connections": cfg.tcp.max_connections,
        "sip_tcp_max_connections_per_ip": cfg.tcp.max_per_ip,
        "sip_tcp_idle_timeout": cfg.tcp.idle_timeout_ms,
    });
    if let (Some(all), Value::Object(limits)) = (settings.as_object_mut(), limits) {
        all.extend(limits);
    }
    let version = version_of(&settings.to_string());
    json!({ "version": version, "config": settings })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_stay_out_and_the_version_follows_the_settings() {
        let mut cfg = EngineConfig {
            redis: Some("redis://:hunter2@10.0.0.5:6379/0".to_owned()),
            ..EngineConfig::default()
        };
        let v = config_json(&cfg);
        assert!(!v.to_string().contains("hunter2"));
        assert_eq!(v["config"]["redis"], "redis://***@10.0.0.5:6379/0");
        assert_eq!(v["config"]["reg_max_expires"], 300);
        cfg.reg_max_expires = 600;
        assert_ne!(config_json(&cfg)["version"], v["version"]);
        assert_eq!(redacted_url("redis://h:6379"), "redis://h:6379");
    }
}

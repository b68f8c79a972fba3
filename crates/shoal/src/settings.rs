//! From a loaded `lightstreamer_conf.xml` to what the engine and the
//! listeners run with.

use shoal_config::{
    AllowedHost, Config, CrossDomainPolicy, Listener, PortType as ConfPortType, SocketTimeouts,
};
use shoal_engine::EngineConfig;
use shoal_transport::{
    ControlLinkRule, HostRule, ListenerConfig, OriginPolicy, OriginRule, PortType, Timeouts,
};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// One listener to open.
#[derive(Debug, Clone)]
pub struct ListenerPlan {
    pub addr: SocketAddr,
    pub conf: ListenerConfig,
    /// The configuration's listener (for TLS and reports).
    pub source: Listener,
}

pub fn engine_config(config: &Config) -> anyhow::Result<EngineConfig> {
    let e = &config.engine;
    let mut out = EngineConfig::default();
    let ms = Duration::from_millis;
    if let Some(v) = e.request_limit {
        out.request_limit = v;
    }
    if let Some(v) = e.default_keepalive_millis {
        out.keepalive = ms(v);
    }
    if let Some(v) = e.min_keepalive_millis {
        out.min_keepalive = ms(v);
    }
    if let Some(v) = e.max_keepalive_millis {
        out.max_keepalive = ms(v);
    }
    if let Some(v) = e.content_length {
        out.content_length = v;
    }
    if let Some(v) = e.max_polling_millis {
        out.max_polling = ms(v);
    }
    if let Some(v) = e.max_idle_millis {
        out.max_idle = ms(v);
    }
    if let Some(v) = e.session_timeout_millis {
        out.session_timeout = ms(v);
    }
    if let Some(v) = e.session_recovery_millis {
        out.recovery_window = ms(v);
    }
    if let Some(v) = e.max_buffer_size {
        out.max_buffer = usize::try_from(v).unwrap_or(usize::MAX).max(1);
    }
    if let Some(v) = e.max_sessions {
        out.max_sessions = usize::try_from(v).unwrap_or(usize::MAX);
    }
    if let Some(v) = e.missing_message_timeout_millis {
        out.message_max_wait = ms(v);
    }
    if let Some(v) = e.max_delay_millis {
        out.max_delay = ms(v);
    }
    if let Some(v) = e.max_session_duration_minutes.filter(|&m| m > 0) {
        out.max_session_duration = Some(Duration::from_secs(v.saturating_mul(60)));
    }
    let l = &config.limits;
    let size = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    if let Some(v) = l.max_recovery_length {
        out.recovery_max_bytes = size(v);
    }
    if let Some(v) = l.session_buffers_budget_mb {
        out.session_buffers_budget = size(v.saturating_mul(1024 * 1024));
    }
    if let Some(v) = l.stalled_client_millis {
        out.stall_timeout = ms(v);
    }
    if let Some(v) = l.max_subscriptions_per_session {
        out.max_subscriptions = size(v);
    }
    // Written values are checked against each other by the parser; Shoal's
    // defaults for the others must fit too.
    if !(out.min_keepalive <= out.keepalive && out.keepalive <= out.max_keepalive) {
        anyhow::bail!(
            "keepalive settings do not fit together: min_keepalive_millis {} <= default_keepalive_millis {} <= max_keepalive_millis {} must hold (Shoal's defaults are 1000, 5000, 30000; set the others too)",
            out.min_keepalive.as_millis(),
            out.keepalive.as_millis(),
            out.max_keepalive.as_millis()
        );
    }
    Ok(out)
}

/// The connection time limits: Shoal's default when not written, none for 0.
pub fn timeouts(t: &SocketTimeouts) -> Timeouts {
    let limit = |millis: Option<u64>, default: Duration| match millis {
        None => Some(default),
        Some(0) => None,
        Some(ms) => Some(Duration::from_millis(ms)),
    };
    Timeouts {
        read: limit(t.read_millis, Timeouts::DEFAULT_READ),
        write: limit(t.write_millis, Timeouts::DEFAULT_WRITE),
        tls_handshake: limit(t.handshake_millis, Timeouts::DEFAULT_TLS_HANDSHAKE),
    }
}

pub fn listeners(config: &Config) -> Vec<ListenerPlan> {
    let rule = ControlLinkRule {
        address: config
            .control_link_address
            .as_ref()
            .map(|c| (c.host.clone(), c.port)),
        machine_name: config.control_link_machine_name.clone(),
    };
    config
        .listeners
        .iter()
        .map(|l| ListenerPlan {
            addr: SocketAddr::new(
                l.listening_interface
                    .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                l.port,
            ),
            conf: ListenerConfig {
                server_name: l.name.clone(),
                control_link: rule.clone(),
                port_type: match l.port_type {
                    ConfPortType::CreateOnly => PortType::CreateOnly,
                    ConfPortType::ControlOnly => PortType::ControlOnly,
                    ConfPortType::GeneralPurpose | ConfPortType::Priority => {
                        PortType::GeneralPurpose
                    }
                },
                trusted_forwards: l.skip_local_forwards,
                pages_dir: config.pages_dir.clone(),
                // Decided once the adapter sets are known (main.rs).
                demo_pages: false,
                origins: origin_policy(config.cross_domain_policy.as_ref()),
                healthcheck: config
                    .healthcheck
                    .as_ref()
                    .is_none_or(|h| h.available_on(&l.name)),
                timeouts: timeouts(&config.timeouts),
                // Mounted by console::Plan, which holds the token.
                console: None,
            },
            source: l.clone(),
        })
        .collect()
}

/// `<cross_domain_policy>` as the listeners match it; without one, only
/// requests without `Origin` and pages of the server's own origin pass.
fn origin_policy(policy: Option<&CrossDomainPolicy>) -> OriginPolicy {
    let Some(p) = policy else {
        return OriginPolicy::default();
    };
    OriginPolicy {
        accept_credentials: p.accept_credentials,
        extra_headers: p.accept_extra_headers.clone(),
        max_age: p.options_max_age,
        rules: p
            .allow
            .iter()
            .map(|r| OriginRule {
                scheme: r.scheme.clone(),
                host: match &r.host {
                    AllowedHost::Any => HostRule::Any,
                    AllowedHost::Name(name) => HostRule::Exact(name.clone()),
                    // Display gives the canonical form (IPv6 compressed).
                    AllowedHost::Ip(ip) => HostRule::Exact(ip.to_string()),
                    AllowedHost::Subdomains(domain) => HostRule::Subdomains(format!(".{domain}")),
                },
                port: r.port,
            })
            .collect(),
    }
}

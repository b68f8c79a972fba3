//! Starting the adapter sets of `adapters.xml`: each proxy adapter opens
//! its ports for its remote adapter, `LiteralBasedProvider` runs in
//! process, the broker data adapters (`shoal.redis`, `shoal.nats`) are
//! started by [`crate::broker`], and the server's start waits for the
//! remotes it must.

use crate::literal::LiteralBased;
use anyhow::Context;
use futures_util::future::join_all;
use shoal_adapter::{AdapterSet, DataProvider, MetadataProvider};
use shoal_config::{DataSource, MetadataAdapter, RemoteHost, RemoteProxy};
use shoal_remote::{AdapterName, Credentials, EventsRecovery, ProxySettings, RemoteState};
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// The server's start waiting for one proxy's first remote.
type StartWait = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Starts every set; returns once the remotes the start waits for are
/// there (plain proxies: always; robust ones: for
/// `first_connection_timeout_millis`).
pub async fn start_sets(sets: Vec<shoal_config::AdapterSet>) -> anyhow::Result<Vec<AdapterSet>> {
    let instance = instance_id();
    let mut started = Vec::with_capacity(sets.len());
    let mut waits: Vec<StartWait> = Vec::new();
    for set in &sets {
        started.push(start_set(set, &instance, &mut waits).await?);
    }
    join_all(waits).await;
    Ok(started)
}

async fn start_set(
    set: &shoal_config::AdapterSet,
    instance: &str,
    waits: &mut Vec<StartWait>,
) -> anyhow::Result<AdapterSet> {
    let at = |line: u32| format!("{}:{line}", set.file.display());
    let metadata: Arc<dyn MetadataProvider> = match &set.metadata.adapter {
        MetadataAdapter::Remote(r) => {
            let name = AdapterName {
                adapter_set: set.id.clone(),
                data_adapter: None,
            };
            let mut settings = proxy_settings(name, &r.proxy, None, instance)
                .await
                .with_context(|| at(set.metadata.line))?;
            if let Some(robust) = &r.robust {
                if let shoal_config::NotifyUserOnDisconnection::SendCode { code, message } =
                    &robust.notify_user_on_disconnection
                {
                    settings.login_refusal = Some((*code, message.clone().unwrap_or_default()));
                }
            }
            let s = shoal_remote::start_metadata(settings.clone()).await?;
            waits.push(start_wait(settings, s.wait_state()));
            s.adapter
        }
        MetadataAdapter::LiteralBased(l) => {
            Arc::new(LiteralBased::new(l).with_context(|| at(set.metadata.line))?)
        }
    };
    let mut data: HashMap<String, Arc<dyn DataProvider>> = HashMap::new();
    for d in &set.data {
        let remote = match &d.source {
            DataSource::Remote(r) => r,
            DataSource::Broker(feed) => {
                // broker providers are started by crate::broker (issue 13)
                let adapter = crate::broker::start(&set.id, &d.name, feed)
                    .await
                    .with_context(|| at(d.line))?;
                data.insert(d.name.clone(), adapter);
                continue;
            }
            DataSource::Memory(m) => {
                data.insert(d.name.clone(), crate::broker::memory(&set.id, &d.name, m));
                continue;
            }
        };
        let name = AdapterName {
            adapter_set: set.id.clone(),
            data_adapter: Some(d.name.clone()),
        };
        let mut settings = proxy_settings(name, &remote.proxy, remote.notify_port, instance)
            .await
            .with_context(|| at(d.line))?;
        if let Some(r) = &remote.robust {
            settings.events_recovery = match r.events_recovery {
                shoal_config::EventsRecovery::LeaveHole => EventsRecovery::LeaveHole,
                shoal_config::EventsRecovery::UseSnapshot => EventsRecovery::UseSnapshot,
                shoal_config::EventsRecovery::EnforceSnapshot => EventsRecovery::EnforceSnapshot,
            };
            settings.status_item = r.status_item.clone();
        }
        let s = shoal_remote::start_data(settings.clone()).await?;
        waits.push(start_wait(settings, s.wait_state()));
        data.insert(d.name.clone(), s.adapter);
    }
    tracing::info!(adapter_set = %set.id, file = %set.file.display(), data_adapters = data.len(), "adapter set started");
    Ok(AdapterSet {
        name: set.id.clone(),
        metadata,
        data,
        ignores_control_link: false,
    })
}

/// Waits, as the settings say, for the first remote of a proxy.
fn start_wait(
    settings: ProxySettings,
    ready: impl Future<Output = RemoteState> + Send + 'static,
) -> StartWait {
    Box::pin(async move {
        let limit = settings.first_connection_timeout;
        if limit == Some(Duration::ZERO) {
            return;
        }
        tracing::info!(adapter = %settings.name, "the server starts once this remote adapter is connected");
        let got = match limit {
            Some(limit) => tokio::time::timeout(limit, ready).await.ok(),
            None => Some(ready.await),
        };
        if got.is_none() {
            tracing::warn!(adapter = %settings.name, "no remote adapter within first_connection_timeout_millis: starting without it");
        }
    })
}

/// A proxy's settings from its `adapters.xml` params.
async fn proxy_settings(
    name: AdapterName,
    p: &RemoteProxy,
    notify_port: Option<u16>,
    instance: &str,
) -> anyhow::Result<ProxySettings> {
    let ip = p.interface.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let mut s = ProxySettings::new(name, SocketAddr::new(ip, p.request_reply_port));
    s.robust = p.robust.is_some();
    s.notify = notify_port.map(|port| SocketAddr::new(ip, port));
    s.timeout = p.timeout_millis.map(Duration::from_millis);
    s.keepalive_timeout = p.keepalive_timeout_millis.map(Duration::from_millis);
    s.keepalive_hint = p.keepalive_hint_millis.map(Duration::from_millis);
    s.credentials = p.credentials.as_ref().map(|c| {
        Credentials(
            c.iter()
                .map(|c| (c.user.clone(), c.password.clone()))
                .collect(),
        )
    });
    if let Some(k) = &p.tls {
        let certs = shoal_tls::load(&shoal_tls::CertSource::from_config(k))
            .with_context(|| format!("tls.keystore of {} (line {})", s.name, k.line))?;
        let config = shoal_tls::server_config(certs)
            .with_context(|| format!("tls.keystore of {} (line {})", s.name, k.line))?;
        // No TLS 1.3 session tickets: a remote never resumes, and tickets
        // arriving after the handshake race with the first write of SDKs
        // that read and write one TLS socket from two threads (Python's).
        let mut config = (*config).clone();
        config.send_tls13_tickets = 0;
        s.tls = Some(Arc::new(config));
    }
    s.remote_params = p
        .remote_params
        .iter()
        .map(|p| (p.name.clone(), p.value.clone()))
        .collect();
    if !p.remote_address_whitelist.is_empty() {
        s.whitelist = Some(whitelist(&p.remote_address_whitelist).await?);
    }
    s.first_connection_timeout = p
        .robust
        .and_then(|r| r.first_connection_timeout_millis)
        .map(Duration::from_millis);
    s.server_instance = instance.to_owned();
    Ok(s)
}

/// `remote_address_whitelist`, host names resolved now.
async fn whitelist(hosts: &[RemoteHost]) -> anyhow::Result<Vec<IpAddr>> {
    let mut ips = Vec::new();
    for h in hosts {
        match h {
            RemoteHost::Ip(ip) => ips.push(*ip),
            RemoteHost::Name(name) => {
                let found = tokio::net::lookup_host((name.as_str(), 0))
                    .await
                    .with_context(|| format!("remote_address_whitelist: cannot resolve {name}"))?;
                ips.extend(found.map(|a| a.ip()));
            }
        }
    }
    Ok(ips)
}

/// A name for this server process, sent to remotes as `server.instance_id`.
fn instance_id() -> String {
    let pid = std::process::id();
    let nonce: u32 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("shoal-{pid}-{nonce:08x}")
}

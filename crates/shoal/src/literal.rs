//! `com.lightstreamer.adapters.metadata.LiteralBasedProvider`, the metadata
//! adapter Lightstreamer ships for sets whose names say it all: a group is
//! a space-separated list of item names, a schema a space-separated list of
//! field names, the same limits apply to every item, and item families
//! (patterns on item names) say which modes each item allows.

use regex::Regex;
use shoal_adapter::{
    ready, AdapterError, BoxFuture, Grant, ItemData, Login, MetadataProvider, Mode, ModeSet,
    SessionInfo,
};
use shoal_protocol::code;

/// One `item_family_<n>` rule.
#[derive(Debug)]
struct Family {
    pattern: Regex,
    data_adapter: Option<String>,
    modes: ModeSet,
}

/// The provider, built from its `adapters.xml` params.
#[derive(Debug)]
pub struct LiteralBased {
    allowed_users: Option<Vec<String>>,
    /// `max_bandwidth`, kbit/s per session; 0 is unlimited.
    max_bandwidth: f64,
    limits: ItemData,
    families: Vec<Family>,
}

fn mode(m: shoal_config::Mode) -> Mode {
    match m {
        shoal_config::Mode::Raw => Mode::Raw,
        shoal_config::Mode::Merge => Mode::Merge,
        shoal_config::Mode::Distinct => Mode::Distinct,
        shoal_config::Mode::Command => Mode::Command,
    }
}

impl LiteralBased {
    /// `conf` was checked when read: patterns compile (`regex` and the
    /// configuration's checker share their syntax).
    pub fn new(conf: &shoal_config::LiteralBasedProvider) -> anyhow::Result<Self> {
        let mut families = Vec::with_capacity(conf.item_families.len());
        for f in &conf.item_families {
            // The whole name must match.
            let pattern = Regex::new(&format!("^(?:{})$", f.pattern))
                .map_err(|e| anyhow::anyhow!("item_family_{} (line {}): {e}", f.number, f.line))?;
            families.push(Family {
                pattern,
                data_adapter: f.data_adapter.clone(),
                modes: f.modes.iter().copied().map(mode).collect(),
            });
        }
        let positive = |v: f64| (v > 0.0).then_some(v);
        Ok(Self {
            allowed_users: conf.allowed_users.clone(),
            max_bandwidth: conf.max_bandwidth,
            limits: ItemData {
                allowed_modes: ModeSet::ALL,
                max_frequency: positive(conf.max_frequency),
                max_buffer_size: (conf.buffer_size > 0).then_some(u64::from(conf.buffer_size)),
                distinct_snapshot_length: Some(u64::from(conf.distinct_snapshot_length)),
            },
            families,
        })
    }

    /// The modes `item` allows in subscriptions to `data_adapter`: with no
    /// families, all; else those of the first family that matches, or none.
    fn modes(&self, data_adapter: &str, item: &str) -> ModeSet {
        if self.families.is_empty() {
            return ModeSet::ALL;
        }
        self.families
            .iter()
            .find(|f| {
                f.data_adapter.as_deref().is_none_or(|d| d == data_adapter)
                    && f.pattern.is_match(item)
            })
            .map_or(ModeSet::NONE, |f| f.modes)
    }
}

impl MetadataProvider for LiteralBased {
    fn notify_user<'a>(&'a self, login: &'a Login) -> BoxFuture<'a, Result<(), AdapterError>> {
        let allowed = match (&self.allowed_users, &login.user) {
            (None, _) => true,
            (Some(users), Some(user)) => users.iter().any(|u| u == user),
            (Some(_), None) => false,
        };
        ready(if allowed {
            Ok(())
        } else {
            Err(AdapterError::access_denied("user not allowed"))
        })
    }

    /// The class's `max_bandwidth` param, for every user it accepts.
    fn notify_user_grant<'a>(
        &'a self,
        login: &'a Login,
    ) -> BoxFuture<'a, Result<Grant, AdapterError>> {
        let checked = self.notify_user(login);
        let grant = Grant::bandwidth(self.max_bandwidth);
        Box::pin(async move { checked.await.map(|()| grant) })
    }

    fn item_data<'a>(
        &'a self,
        _session: &'a SessionInfo,
        data_adapter: &'a str,
        items: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<ItemData>, AdapterError>> {
        let data = items
            .iter()
            .map(|item| ItemData {
                allowed_modes: self.modes(data_adapter, item),
                ..self.limits
            })
            .collect();
        ready(Ok(data))
    }

    fn notify_user_message<'a>(
        &'a self,
        _session: &'a SessionInfo,
        _message: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, AdapterError>> {
        // The class accepts no messages.
        ready(Err(AdapterError::new(
            code::ADAPTER_EXCEPTION,
            "LiteralBasedProvider does not accept client messages",
        )))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn conf() -> shoal_config::LiteralBasedProvider {
        shoal_config::LiteralBasedProvider {
            allowed_users: None,
            max_bandwidth: 0.0,
            max_frequency: 0.0,
            buffer_size: 0,
            distinct_snapshot_length: 10,
            prefilter_frequency: 0.0,
            item_families: Vec::new(),
        }
    }

    fn family(
        n: u32,
        pattern: &str,
        adapter: Option<&str>,
        modes: &[shoal_config::Mode],
    ) -> shoal_config::ItemFamily {
        shoal_config::ItemFamily {
            number: n,
            pattern: pattern.into(),
            data_adapter: adapter.map(str::to_owned),
            modes: modes.to_vec(),
            line: 1,
        }
    }

    #[tokio::test]
    async fn names_are_literal_lists_and_users_may_be_listed() {
        let mut c = conf();
        c.allowed_users = Some(vec!["alice".into()]);
        let p = LiteralBased::new(&c).unwrap();
        let s = SessionInfo::default();
        assert_eq!(p.get_items(&s, " a  b ").await.unwrap(), ["a", "b"]);
        assert_eq!(p.get_schema(&s, "g", "x").await.unwrap(), ["x"]);
        assert_eq!(p.get_items(&s, " ").await.unwrap_err().code, 21);
        let alice = Login {
            user: Some("alice".into()),
            ..Login::default()
        };
        assert!(p.notify_user(&alice).await.is_ok());
        assert_eq!(p.notify_user(&Login::default()).await.unwrap_err().code, 1);
    }

    #[tokio::test]
    async fn max_bandwidth_is_granted_to_every_user_and_0_is_unlimited() {
        let mut c = conf();
        let unlimited = LiteralBased::new(&c).unwrap();
        let grant = unlimited.notify_user_grant(&Login::default()).await;
        assert_eq!(grant.unwrap().max_bandwidth, None);
        c.max_bandwidth = 40.5;
        c.allowed_users = Some(vec!["alice".into()]);
        let limited = LiteralBased::new(&c).unwrap();
        let alice = Login {
            user: Some("alice".into()),
            ..Login::default()
        };
        let grant = limited.notify_user_grant(&alice).await;
        assert_eq!(grant.unwrap().max_bandwidth, Some(40.5));
        let refused = limited.notify_user_grant(&Login::default()).await;
        assert_eq!(refused.unwrap_err().code, 1);
    }

    #[tokio::test]
    async fn the_first_matching_family_decides_the_modes() {
        use shoal_config::Mode::*;
        let mut c = conf();
        c.max_frequency = 2.0;
        c.item_families = vec![
            family(1, "item.*", Some("QUOTES"), &[Merge]),
            family(2, "item.*", None, &[Raw, Distinct]),
        ];
        let p = LiteralBased::new(&c).unwrap();
        let s = SessionInfo::default();
        let items = vec!["item1".to_owned(), "other".to_owned(), "xitem1".to_owned()];
        let q = p.item_data(&s, "QUOTES", &items).await.unwrap();
        assert!(q[0].allowed_modes.contains(Mode::Merge));
        assert!(!q[0].allowed_modes.contains(Mode::Raw));
        assert_eq!(q[1].allowed_modes, ModeSet::NONE);
        // The pattern must match the whole name.
        assert_eq!(q[2].allowed_modes, ModeSet::NONE);
        assert_eq!(q[0].max_frequency, Some(2.0));
        assert_eq!(q[0].distinct_snapshot_length, Some(10));
        let o = p.item_data(&s, "OTHER", &items).await.unwrap();
        assert!(o[0].allowed_modes.contains(Mode::Raw));
        assert!(!o[0].allowed_modes.contains(Mode::Merge));
    }
}

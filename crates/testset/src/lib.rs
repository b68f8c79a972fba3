//! The `TEST` adapter set: what the official clients' own test suite
//! (`TestClient` of the Haxe client library, from which the Node.js, web and
//! Python clients are built) expects of the server it runs against.
//! `shoal serve --test-adapters` serves it beside the other sets.
//!
//! | data adapter        | item                     | mode     | fields | behaviour |
//! |---------------------|--------------------------|----------|--------|-----------|
//! | `COUNT`             | `count`                  | not RAW  | `count` | a counter, snapshot then one update every [`COUNT_PERIOD`] |
//! | `MULT_TABLE`        | `mult_table`             | COMMAND  | `key value1 value2 command` | rows `1`..`5` (`value1` = key, `value2` = key × n, n = 1 in the snapshot), then UPDATEs of one row at a time with a growing n |
//! | `TWO_LEVEL_COMMAND` | `two_level_command_count…` | COMMAND | `key command` | one row, key `count`: the `count` item of `COUNT` as second level (any suffix: the suite adds the transport's name) |
//! | `STRANGE_NAMES`     | `strange:àìùòlè`         | any      | any    | accepted, no data |
//! | `CLEAR_SNAPSHOT`    | `clear_snapshot`         | DISTINCT | any    | an update, then a clear of the snapshot, again and again |
//! | `END_OF_SNAPSHOT`   | `end_of_snapshot`        | DISTINCT | `value` | three snapshot events, then end of snapshot |
//! | `OVERFLOW`          | `overflow`               | any      | `value` | bursts faster than the bandwidth lets go; a buffer of [`OVERFLOW_BUFFER`] events |
//! | `JSON_COUNT`        | `count`                  | any      | `count` | `{"value":n,"note":"…"}`, n counting up every 300 ms; `count` declared JSONPATCH |
//! | `DIFF_COUNT`        | `count`                  | any      | `count` | `value=n; …`, n counting up every 300 ms; `count` declared DIFF_MATCH_PATCH |
//!
//! The metadata provider accepts every user and grants each session
//! [`MAX_BANDWIDTH_KBPS`] kbit/s; the client messages are processed, with no
//! response except [`RESULT_MESSAGE`], answered [`RESULT_RESPONSE`], and
//! [`ERROR_MESSAGE`], refused with code [`ERROR_CODE`] and [`ERROR_TEXT`].
//! A RAW subscription to `COUNT` is refused (code 24); the group
//! [`EMPTY_GROUP`] has no items. Other groups and schemas are read as
//! space-separated names.
//!
//! The data adapters run a task per subscribed item, so `subscribe` must be
//! called from inside a tokio runtime (the server always does).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use shoal_adapter::{
    literal, ready, AdapterError, AdapterSet, BoxFuture, DataProvider, Grant, ItemData, Login,
    MetadataProvider, Mode, ModeSet, SessionInfo,
};

mod data;

use data::{Script, Scripted};

/// Name of the adapter set (`LS_adapter_set`).
pub const ADAPTER_SET: &str = "TEST";
/// The bandwidth granted to every session, in kbit/s: the suite expects the
/// client to see 40 whatever it asks above it.
pub const MAX_BANDWIDTH_KBPS: f64 = 40.0;
/// The message whose outcome carries a response.
pub const RESULT_MESSAGE: &str = "give me a result";
/// That response.
pub const RESULT_RESPONSE: &str = "result:ok";
/// The group the metadata adapter resolves to no items.
pub const EMPTY_GROUP: &str = "empty_group";
/// The message the metadata adapter refuses.
pub const ERROR_MESSAGE: &str = "throw me an error";
/// The code of that refusal (an adapter's own code: negative).
pub const ERROR_CODE: i32 = -123;
/// The text of that refusal.
pub const ERROR_TEXT: &str = "test error";
/// Time between two updates of the `count` item. Long: the suite's round
/// trip expects exactly one update (the snapshot) between the subscription
/// and the unsubscription, and the item is shared by every session, so an
/// update may fall at any moment of a test.
pub const COUNT_PERIOD: Duration = Duration::from_secs(60);
/// Events kept for an `OVERFLOW` item: small, so that a slow session
/// overflows at once.
pub const OVERFLOW_BUFFER: u64 = 10;

/// Data adapter names.
pub const COUNT: &str = "COUNT";
pub const MULT_TABLE: &str = "MULT_TABLE";
pub const TWO_LEVEL_COMMAND: &str = "TWO_LEVEL_COMMAND";
pub const STRANGE_NAMES: &str = "STRANGE_NAMES";
pub const CLEAR_SNAPSHOT: &str = "CLEAR_SNAPSHOT";
pub const END_OF_SNAPSHOT: &str = "END_OF_SNAPSHOT";
pub const OVERFLOW: &str = "OVERFLOW";
pub const JSON_COUNT: &str = "JSON_COUNT";
pub const DIFF_COUNT: &str = "DIFF_COUNT";

/// Builds a fresh `TEST` adapter set, with state of its own.
pub fn adapter_set() -> AdapterSet {
    let scripts = [
        (COUNT, Script::Count),
        (MULT_TABLE, Script::MultTable),
        (TWO_LEVEL_COMMAND, Script::TwoLevel),
        (STRANGE_NAMES, Script::Strange),
        (CLEAR_SNAPSHOT, Script::ClearSnapshot),
        (END_OF_SNAPSHOT, Script::EndOfSnapshot),
        (OVERFLOW, Script::Overflow),
        (JSON_COUNT, Script::JsonCount),
        (DIFF_COUNT, Script::DiffCount),
    ];
    let data: HashMap<String, Arc<dyn DataProvider>> = scripts
        .into_iter()
        .map(|(name, script)| {
            (
                name.to_owned(),
                Arc::new(Scripted::new(script)) as Arc<dyn DataProvider>,
            )
        })
        .collect();
    AdapterSet {
        name: ADAPTER_SET.to_owned(),
        metadata: Arc::new(TestMetadata),
        data,
        ignores_control_link: false,
    }
}

/// The metadata provider of `TEST`.
#[derive(Debug)]
struct TestMetadata;

impl MetadataProvider for TestMetadata {
    fn notify_user<'a>(&'a self, _login: &'a Login) -> BoxFuture<'a, Result<(), AdapterError>> {
        ready(Ok(()))
    }

    fn notify_user_grant<'a>(
        &'a self,
        _login: &'a Login,
    ) -> BoxFuture<'a, Result<Grant, AdapterError>> {
        ready(Ok(Grant::bandwidth(MAX_BANDWIDTH_KBPS)))
    }

    fn get_items<'a>(
        &'a self,
        _session: &'a SessionInfo,
        group: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, AdapterError>> {
        ready(if group == EMPTY_GROUP {
            Ok(Vec::new())
        } else {
            literal::items(group)
        })
    }

    fn item_data<'a>(
        &'a self,
        _session: &'a SessionInfo,
        data_adapter: &'a str,
        items: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<ItemData>, AdapterError>> {
        let data = match data_adapter {
            COUNT => ItemData {
                allowed_modes: [Mode::Merge, Mode::Distinct, Mode::Command]
                    .into_iter()
                    .collect::<ModeSet>(),
                ..ItemData::default()
            },
            OVERFLOW => ItemData {
                max_buffer_size: Some(OVERFLOW_BUFFER),
                ..ItemData::default()
            },
            _ => ItemData::default(),
        };
        ready(Ok(vec![data; items.len()]))
    }

    fn notify_user_message<'a>(
        &'a self,
        _session: &'a SessionInfo,
        message: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, AdapterError>> {
        ready(match message {
            ERROR_MESSAGE => Err(AdapterError::new(ERROR_CODE, ERROR_TEXT)),
            RESULT_MESSAGE => Ok(Some(RESULT_RESPONSE.to_owned())),
            _ => Ok(None),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> SessionInfo {
        SessionInfo::default()
    }

    #[tokio::test]
    async fn the_metadata_grants_40_and_refuses_one_message() {
        let set = adapter_set();
        assert_eq!(set.name, "TEST");
        let grant = set
            .metadata
            .notify_user_grant(&Login::default())
            .await
            .unwrap();
        assert_eq!(grant.max_bandwidth, Some(40.0));
        let s = session();
        let err = set
            .metadata
            .notify_user_message(&s, "throw me an error")
            .await
            .unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (-123, "test error"));
        assert_eq!(
            set.metadata.notify_user_message(&s, "hello").await.unwrap(),
            None
        );
        assert_eq!(
            set.metadata
                .notify_user_message(&s, "give me a result")
                .await
                .unwrap()
                .as_deref(),
            Some("result:ok")
        );
    }

    #[tokio::test]
    async fn empty_group_has_no_items() {
        let set = adapter_set();
        let s = session();
        assert!(set
            .metadata
            .get_items(&s, "empty_group")
            .await
            .unwrap()
            .is_empty());
        assert_eq!(set.metadata.get_items(&s, "a b").await.unwrap(), ["a", "b"]);
    }

    #[tokio::test]
    async fn count_is_not_raw_and_overflow_has_a_small_buffer() {
        let set = adapter_set();
        let s = session();
        let items = ["count".to_owned()];
        let count = set.metadata.item_data(&s, COUNT, &items).await.unwrap();
        assert!(!count[0].allowed_modes.contains(Mode::Raw));
        assert!(count[0].allowed_modes.contains(Mode::Merge));
        let items = ["overflow".to_owned()];
        let over = set.metadata.item_data(&s, OVERFLOW, &items).await.unwrap();
        assert_eq!(over[0].max_buffer_size, Some(OVERFLOW_BUFFER));
    }
}

//! The DEMO metadata provider: open door, list-valued names.
#![allow(clippy::expect_used, clippy::unwrap_used)] // tests panic on failure

mod common;

use common::session;
use shoal_adapter::{Login, Mode};

#[tokio::test]
async fn everyone_may_connect() {
    let set = shoal_demo::adapter_set();
    assert_eq!(set.name, "DEMO");
    let m = &set.metadata;
    let anonymous = Login {
        client_ip: "1.2.3.4".into(),
        ..Login::default()
    };
    assert_eq!(m.notify_user(&anonymous).await, Ok(()));
    let someone = Login {
        user: Some("anyone".into()),
        password: Some("anything".into()),
        client_ip: "::1".into(),
        ..Login::default()
    };
    assert_eq!(m.notify_user(&someone).await, Ok(()));
    let mut names: Vec<&str> = set.data.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["CHAT_ROOM", "COUNTER", "PORTFOLIO_ADAPTER", "QUOTE_ADAPTER"]
    );
}

#[tokio::test]
async fn groups_and_schemas_are_space_separated_lists() {
    let set = shoal_demo::adapter_set();
    let m = &set.metadata;
    let s = session(Some("u"), "1.2.3.4");
    assert_eq!(
        m.get_items(&s, "item1 item2  item3").await,
        Ok(vec!["item1".into(), "item2".into(), "item3".into()])
    );
    assert_eq!(m.get_items(&s, "rate-10").await, Ok(vec!["rate-10".into()]));
    assert_eq!(
        m.get_schema(&s, "item1", "last_price  time pct_change")
            .await,
        Ok(vec![
            "last_price".into(),
            "time".into(),
            "pct_change".into()
        ])
    );
    // Only spaces separate names, as in Lightstreamer's literal-based
    // metadata adapter: a tab is part of a name.
    assert_eq!(
        m.get_items(&s, "a\tb c").await,
        Ok(vec!["a\tb".into(), "c".into()])
    );
    for empty in ["", "   "] {
        let err = m.get_items(&s, empty).await.expect_err("empty group");
        assert_eq!(err.code, 21);
        let err = m
            .get_schema(&s, "item1", empty)
            .await
            .expect_err("empty schema");
        assert_eq!(err.code, 23);
    }
    let items = vec!["portfolio1".to_owned()];
    let data = m.item_data(&s, "DEFAULT", &items).await.expect("item data");
    for mode in [Mode::Raw, Mode::Merge, Mode::Distinct, Mode::Command] {
        assert!(data[0].allowed_modes.contains(mode));
    }
}

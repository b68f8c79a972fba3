//! The DEMO metadata provider: open door, list-valued names.
#![allow(clippy::expect_used, clippy::unwrap_used)] // tests panic on failure

mod common;

use common::session;
use shoal_adapter::Mode;

#[tokio::test]
async fn everyone_may_connect() {
    let set = shoal_demo::adapter_set();
    assert_eq!(set.name, "DEMO");
    let m = &set.metadata;
    assert_eq!(m.notify_user(None, None, "1.2.3.4").await, Ok(()));
    assert_eq!(
        m.notify_user(Some("anyone"), Some("anything"), "::1").await,
        Ok(())
    );
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
    for empty in ["", "   ", "\t"] {
        let err = m.get_items(&s, empty).await.expect_err("empty group");
        assert_eq!(err.code, 21);
        let err = m
            .get_schema(&s, "item1", empty)
            .await
            .expect_err("empty schema");
        assert_eq!(err.code, 23);
    }
    for mode in [Mode::Raw, Mode::Merge, Mode::Distinct, Mode::Command] {
        assert!(m.mode_allowed("portfolio1", mode));
    }
}

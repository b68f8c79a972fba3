use super::*;
use std::collections::HashMap;
use std::sync::Mutex as StdMutex;

#[derive(Default)]
struct Lines(StdMutex<Vec<String>>);

impl ItemEventListener for Lines {
    fn update(&self, item: &str, event: ItemEvent, is_snapshot: bool) {
        let mut f: Vec<String> = event
            .fields()
            .map(|(n, v)| format!("{n}={}", v.unwrap_or("#")))
            .collect();
        f.sort();
        let kind = if is_snapshot { "snap" } else { "upd" };
        self.0
            .lock()
            .unwrap()
            .push(format!("{kind} {item} {}", f.join(",")));
    }
    fn end_of_snapshot(&self, item: &str) {
        self.0.lock().unwrap().push(format!("eos {item}"));
    }
    fn clear_snapshot(&self, item: &str) {
        self.0.lock().unwrap().push(format!("cls {item}"));
    }
    fn failure(&self, _: &str) {}
}

fn feed(max_items: usize) -> (Arc<MemoryFeed>, Arc<Lines>) {
    let f = MemoryFeed::new(MemorySettings {
        name: "S/D".into(),
        snapshot_length: 2,
        max_items,
        publish: PublishAuth {
            token: Some("t".into()),
            basic: None,
        },
        diff_fields: HashMap::new(),
    });
    let l = Arc::new(Lines::default());
    f.set_listener(l.clone());
    (f, l)
}

fn take(l: &Lines) -> Vec<String> {
    std::mem::take(&mut *l.0.lock().unwrap())
}

#[tokio::test]
async fn published_events_are_the_snapshot_then_the_updates() {
    let (f, l) = feed(10);
    for v in ["1", "2", "3"] {
        f.publish("x", ItemEvent::new().with("v", v)).await.unwrap();
    }
    assert!(take(&l).is_empty(), "nobody subscribed");
    f.subscribe("x").unwrap();
    assert_eq!(take(&l), ["snap x v=2", "snap x v=3", "eos x"]);
    let at = f
        .publish("x", ItemEvent::new().with("v", "4"))
        .await
        .unwrap();
    assert_eq!(at, Position::Local(4));
    assert_eq!(take(&l), ["upd x v=4"]);
    f.unsubscribe("x");
    f.publish("x", ItemEvent::new().with("v", "5"))
        .await
        .unwrap();
    assert!(take(&l).is_empty());
    // A subscription to an item nobody published yet: an empty snapshot,
    // then what comes.
    f.subscribe("new").unwrap();
    assert_eq!(take(&l), ["eos new"]);
    f.publish("new", ItemEvent::new().with("v", "a"))
        .await
        .unwrap();
    assert_eq!(take(&l), ["upd new v=a"]);
}

#[tokio::test]
async fn command_rows_are_kept_and_items_are_bounded() {
    let (f, l) = feed(1);
    let row = |c: &str, k: &str, q: &str| {
        ItemEvent::new()
            .with("command", c)
            .with("key", k)
            .with("qty", q)
    };
    f.publish("book", row("ADD", "a", "1")).await.unwrap();
    f.publish("book", row("ADD", "b", "2")).await.unwrap();
    f.publish("book", row("UPDATE", "a", "3")).await.unwrap();
    f.publish(
        "book",
        ItemEvent::new().with("command", "DELETE").with("key", "b"),
    )
    .await
    .unwrap();
    f.subscribe("book").unwrap();
    assert_eq!(take(&l), ["snap book command=ADD,key=a,qty=3", "eos book"]);
    assert!(matches!(
        f.publish("other", ItemEvent::new().with("v", "1")).await,
        Err(PublishError::Refused(m)) if m.contains("max_items")
    ));
    assert!(f.authorize(Some(&PublishCredentials::Bearer("t".into()))));
    assert!(!f.authorize(None));
}

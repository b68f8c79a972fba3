//! Session handoff between two engines (two nodes) sharing a broker: node
//! A serves a session until it "dies"; node B gets the client's recovery
//! request and continues the very same session. What the client reads
//! from B continues what it read from A: for RAW and DISTINCT items every
//! entry once, for MERGE the current values.
//!
//! The broker is simulated in memory (an ordered history per item, every
//! entry with its position, read back by position) and so is the journal
//! store; the engines are the real ones.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::type_complexity)]

mod common;

use common::*;
use shoal_adapter::{
    ready, AdapterError, AdapterSet, Bound, BoxFuture, DataProvider, ItemEvent, ItemEventListener,
    Position,
};
use shoal_engine::{BindContext, Engine, EngineConfig};
use shoal_handoff::{Loaded, Store, StoreError, Write};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, Weak};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

// ---------------------------------------------------------------------------
// The broker: item histories, and the feeds of the nodes reading them

#[derive(Default)]
struct Broker {
    history: Mutex<HashMap<String, Vec<(u64, Vec<(String, String)>)>>>,
    seq: Mutex<u64>,
    feeds: Mutex<Vec<Weak<Feed>>>,
}

impl Broker {
    /// Appends an entry to `item` and hands it to every node reading it.
    fn publish(&self, item: &str, fields: &[(&str, &str)]) {
        let seq = self.append(item, fields);
        self.hand_out(item, seq);
    }

    /// Appends an entry to `item` without handing it to the nodes yet (they
    /// have not read it); its sequence.
    fn append(&self, item: &str, fields: &[(&str, &str)]) -> u64 {
        let fields: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let seq = {
            let mut s = lock(&self.seq);
            *s += 1;
            *s
        };
        lock(&self.history)
            .entry(item.to_owned())
            .or_default()
            .push((seq, fields));
        seq
    }

    /// Hands the entry `seq` of `item` to every node reading it.
    fn hand_out(&self, item: &str, seq: u64) {
        let Some(fields) = lock(&self.history)
            .get(item)
            .and_then(|h| h.iter().find(|(s, _)| *s == seq).map(|(_, f)| f.clone()))
        else {
            return;
        };
        for feed in lock(&self.feeds).iter().filter_map(Weak::upgrade) {
            if lock(&feed.subscribed).contains(item) {
                if let Some(l) = feed.listener.get() {
                    l.update(item, entry(seq, &fields), false);
                }
            }
        }
    }
}

fn entry(seq: u64, fields: &[(String, String)]) -> ItemEvent {
    let mut ev = ItemEvent::new().with_position(Position::Local(seq));
    for (k, v) in fields {
        ev = ev.with(k.as_str(), v.as_str());
    }
    ev
}

/// One node's data adapter on the broker.
struct Feed {
    broker: Arc<Broker>,
    listener: OnceLock<Arc<dyn ItemEventListener>>,
    subscribed: Mutex<HashSet<String>>,
}

impl Feed {
    fn new(broker: &Arc<Broker>) -> Arc<Self> {
        let f = Arc::new(Self {
            broker: broker.clone(),
            listener: OnceLock::new(),
            subscribed: Mutex::new(HashSet::new()),
        });
        lock(&broker.feeds).push(Arc::downgrade(&f));
        f
    }
}

impl DataProvider for Feed {
    fn set_listener(&self, listener: Arc<dyn ItemEventListener>) {
        let _ = self.listener.set(listener);
    }

    fn subscribe(&self, item: &str) -> Result<(), AdapterError> {
        lock(&self.subscribed).insert(item.to_owned());
        // The snapshot: the item's last entries (DISTINCT keeps 10).
        let events: Vec<ItemEvent> = lock(&self.broker.history)
            .get(item)
            .map(|h| {
                h.iter()
                    .rev()
                    .take(10)
                    .rev()
                    .map(|(s, f)| entry(*s, f))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(l) = self.listener.get() {
            l.snapshot(item, events);
        }
        Ok(())
    }

    fn unsubscribe(&self, item: &str) {
        lock(&self.subscribed).remove(item);
    }

    fn is_snapshot_available(&self, _item: &str) -> bool {
        true
    }

    fn history<'a>(
        &'a self,
        item: &'a str,
        from: Bound,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<ItemEvent>, AdapterError>> {
        let h = lock(&self.broker.history);
        let out = h
            .get(item)
            .map(|h| {
                h.iter()
                    .filter(|(s, _)| match from {
                        Bound::From(Position::Local(p)) => *s >= p,
                        Bound::After(Position::Local(p)) => *s > p,
                        _ => false,
                    })
                    .take(limit)
                    .map(|(s, f)| entry(*s, f))
                    .collect()
            })
            .unwrap_or_default();
        ready(Ok(out))
    }
}

// ---------------------------------------------------------------------------
// The journal store

#[derive(Default)]
struct Records {
    sessions: HashMap<String, (String, Vec<Vec<u8>>)>,
    alive: HashSet<String>,
    /// Every write fails (the broker is unreachable).
    unreachable: bool,
    /// Writes that failed so.
    failures: usize,
    /// How long ago each dead node last announced itself (none: it left).
    silent: HashMap<String, std::time::Duration>,
    /// Nodes whose liveness key expires after this many more looks (a
    /// killed node's key outlives it by up to 3 s).
    expires_after_looks: HashMap<String, usize>,
}

struct MemStore {
    node: String,
    records: Arc<Mutex<Records>>,
}

impl MemStore {
    fn new(node: &str, records: &Arc<Mutex<Records>>) -> Arc<Self> {
        lock(records).alive.insert(node.to_owned());
        Arc::new(Self {
            node: node.to_owned(),
            records: records.clone(),
        })
    }
}

impl Store for MemStore {
    fn node(&self) -> &str {
        &self.node
    }

    fn write<'a>(&'a self, batch: &'a [Write]) -> BoxFuture<'a, Result<Vec<bool>, StoreError>> {
        let mut r = lock(&self.records);
        if r.unreachable {
            r.failures += 1;
            return ready(Err(StoreError::Broker("unreachable".into())));
        }
        let owned = batch
            .iter()
            .map(|w| {
                let slot = r
                    .sessions
                    .entry(w.session.clone())
                    .or_insert_with(|| (self.node.clone(), Vec::new()));
                if w.create {
                    *slot = (self.node.clone(), Vec::new());
                } else if slot.0 != self.node {
                    return false;
                }
                slot.1.extend(w.entries.iter().cloned());
                if let Some(k) = w.keep {
                    let cut = slot.1.len().saturating_sub(k);
                    slot.1.drain(..cut);
                }
                true
            })
            .collect();
        ready(Ok(owned))
    }

    fn remove<'a>(&'a self, sessions: &'a [String]) -> BoxFuture<'a, Result<(), StoreError>> {
        let mut r = lock(&self.records);
        for s in sessions {
            if r.sessions.get(s).is_some_and(|(o, _)| *o == self.node) {
                r.sessions.remove(s);
            }
        }
        ready(Ok(()))
    }

    fn touch<'a>(&'a self, _: &'a [String]) -> BoxFuture<'a, Result<(), StoreError>> {
        ready(Ok(()))
    }

    fn load<'a>(&'a self, session: &'a str) -> BoxFuture<'a, Result<Option<Loaded>, StoreError>> {
        let r = lock(&self.records);
        ready(Ok(r.sessions.get(session).map(|(owner, entries)| Loaded {
            owner: owner.clone(),
            entries: entries.clone(),
        })))
    }

    fn claim<'a>(
        &'a self,
        session: &'a str,
        from: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let mut r = lock(&self.records);
        ready(Ok(match r.sessions.get_mut(session) {
            Some((owner, _)) if owner == from => {
                *owner = self.node.clone();
                true
            }
            _ => false,
        }))
    }

    fn alive<'a>(&'a self, owner: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        let mut r = lock(&self.records);
        if let Some(looks) = r.expires_after_looks.get_mut(owner) {
            if *looks == 0 {
                r.alive.remove(owner);
            } else {
                *looks -= 1;
            }
        }
        ready(Ok(r.alive.contains(owner)))
    }

    fn silence<'a>(
        &'a self,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<Option<std::time::Duration>, StoreError>> {
        ready(Ok(lock(&self.records).silent.get(owner).copied()))
    }

    fn leave(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        lock(&self.records).alive.remove(&self.node);
        ready(Ok(()))
    }
}

// ---------------------------------------------------------------------------
// Two nodes

struct Node {
    engine: Arc<Engine>,
    store: Arc<MemStore>,
}

fn node(name: &str, broker: &Arc<Broker>, records: &Arc<Mutex<Records>>) -> Node {
    let meta = Arc::new(FakeMetadata::default());
    let mut data: HashMap<String, Arc<dyn DataProvider>> = HashMap::new();
    data.insert("DEFAULT".into(), Feed::new(broker));
    let set = AdapterSet {
        name: SET.into(),
        metadata: meta,
        data,
        ignores_control_link: false,
    };
    let engine = Engine::new(EngineConfig::default(), vec![set]);
    let store = MemStore::new(name, records);
    engine.enable_handoff(store.clone());
    Node { engine, store }
}

/// What a client application sees: every counted line, and the values of
/// each (subscription, item) decoded as the official clients decode them.
#[derive(Default, Debug)]
struct App {
    counted: u64,
    values: HashMap<(u32, u32), Vec<Vec<Option<String>>>>,
    eos: HashSet<(u32, u32)>,
}

impl App {
    fn take(&mut self, line: &str) {
        if !is_counted(line) {
            return;
        }
        self.counted += 1;
        let (tag, args) = split(line);
        let key = |args: &[String]| -> (u32, u32) {
            (args[0].parse().unwrap(), args[1].parse().unwrap())
        };
        match tag.as_str() {
            "U" => {
                let k = key(&args);
                let seen = self.values.entry(k).or_default();
                let previous = seen
                    .last()
                    .cloned()
                    .unwrap_or_else(|| vec![None; args[2].split('|').count()]);
                let v = values(line, &previous);
                seen.push(v);
            }
            "EOS" => {
                self.eos.insert(key(&args));
            }
            _ => {}
        }
    }

    /// The first field of every update of (sub, item), as numbers.
    fn seqs(&self, sub: u32, item: u32) -> Vec<u64> {
        self.values
            .get(&(sub, item))
            .map(|v| {
                v.iter()
                    .map(|u| u[0].as_deref().unwrap_or("?").parse().unwrap())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Every entry once, in order, from `first` to `last`.
fn assert_contiguous(seqs: &[u64], first: u64, last: u64, what: &str) {
    let expected: Vec<u64> = (first..=last).collect();
    assert_eq!(seqs, expected, "{what}");
}

async fn read_until(c: &mut Client, app: &mut App, done: impl Fn(&App) -> bool) {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let mut used = c.lines.len();
    while !done(app) {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {app:?}");
        let Some(Some(_)) = c.chunk_within(TIMEOUT).await else {
            panic!("the stream ended: {:?}", c.lines);
        };
        for l in &c.lines[used..] {
            app.take(l);
        }
        used = c.lines.len();
    }
}

/// A session on `n` subscribed to RAW `a` (`seq`): its client and id.
async fn raw_session(n: &Node) -> (Client, String) {
    let stream = n.engine.create_session(&create(""), &ws()).await.unwrap();
    let mut c = Client::new(stream);
    c.chunk().await;
    let sid = split(&c.lines[0]).1[0].clone();
    n.engine
        .control(&sid, control(&sid, &add(1, "RAW", "a", "seq", "")))
        .await
        .unwrap();
    (c, sid)
}

fn recovery(session: &str, from: u64) -> shoal_protocol::request::BindSession {
    bind(&format!("LS_session={session}&LS_recovery_from={from}"))
}

/// The scenario: a session on A with RAW `a` `b`, MERGE `m` and DISTINCT
/// `d`; entries published interleaved; the client has read `cut` counted
/// lines fewer than A sent when A dies; B takes over.
async fn takeover(cut: u64) {
    let broker = Arc::new(Broker::default());
    let records = Arc::new(Mutex::new(Records::default()));
    let a = node("A/1", &broker, &records);
    let b = node("B/1", &broker, &records);
    for i in 1..=3 {
        broker.publish("d", &[("seq", &i.to_string())]);
    }

    let stream = a.engine.create_session(&create(""), &ws()).await.unwrap();
    let mut c = Client::new(stream);
    c.chunk().await;
    let sid = split(&c.lines[0]).1[0].clone();
    let mut app = App::default();
    for params in [
        add(1, "RAW", "a b", "seq", ""),
        add(2, "MERGE", "m", "v", ""),
        add(3, "DISTINCT", "d", "seq", "LS_snapshot=true"),
    ] {
        a.engine
            .control(&sid, control(&sid, &params))
            .await
            .unwrap();
    }
    for i in 1..=20 {
        broker.publish("a", &[("seq", &i.to_string())]);
        if i % 2 == 0 {
            broker.publish("b", &[("seq", &(i / 2).to_string())]);
        }
        if i % 5 == 0 {
            broker.publish("m", &[("v", &format!("m{i}"))]);
            broker.publish("d", &[("seq", &(3 + i / 5).to_string())]);
        }
    }
    read_until(&mut c, &mut app, |app| {
        app.seqs(1, 1).last() == Some(&20) && app.seqs(3, 1).last() == Some(&7)
    })
    .await;
    // A dies; the client had `cut` lines fewer than A sent.
    lock(&records).alive.remove("A/1");
    let n = app.counted - cut;
    let mut had = App::default();
    for l in &c.lines {
        if had.counted == n && is_counted(l) {
            break;
        }
        had.take(l);
    }
    let before = (had.seqs(1, 1), had.seqs(1, 2), had.seqs(3, 1));
    drop(c);
    // Entries keep coming while the client is away.
    for i in 21..=30 {
        broker.publish("a", &[("seq", &i.to_string())]);
    }
    broker.publish("m", &[("v", "latest")]);

    // The client's recovery reaches B.
    let stream = b
        .engine
        .bind_or_adopt(&recovery(&sid, n), &ws())
        .await
        .expect("B takes the session over");
    let mut r = Client::new(stream);
    let head = r.through(|l| l.starts_with("PROG,")).await;
    assert_eq!(split(&head[0]).1[0], sid, "same session id: {head:?}");
    assert_eq!(
        head.last().map(String::as_str),
        Some(format!("PROG,{n}").as_str())
    );
    for i in 31..=35 {
        broker.publish("a", &[("seq", &i.to_string())]);
    }
    broker.publish("b", &[("seq", "11")]);
    broker.publish("d", &[("seq", "8")]);
    let mut used = r.lines.len();
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while had.seqs(1, 1).last() != Some(&35)
        || had.seqs(1, 2).last() != Some(&11)
        || had.seqs(3, 1).last() != Some(&8)
        || had
            .values
            .get(&(2, 1))
            .and_then(|v| v.last())
            .and_then(|v| v[0].clone())
            .as_deref()
            != Some("latest")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out: {had:?} {:?}",
            r.lines
        );
        let Some(Some(_)) = r.chunk_within(TIMEOUT).await else {
            panic!("B's stream ended: {:?}", r.lines);
        };
        for l in &r.lines[used..] {
            assert!(
                !l.starts_with("SUBOK"),
                "no subscription is confirmed twice: {l}"
            );
            had.take(l);
        }
        used = r.lines.len();
    }
    assert_contiguous(&had.seqs(1, 1), 1, 35, "RAW a across the takeover");
    assert_contiguous(&had.seqs(1, 2), 1, 11, "RAW b across the takeover");
    // DISTINCT: the snapshot (1..=3), then every entry once.
    assert_contiguous(&had.seqs(3, 1), 1, 8, "DISTINCT d across the takeover");
    assert!(had.eos.contains(&(3, 1)));
    assert!(before.0.len() <= 20 && before.2.len() <= 7);
    // B owns the session now; A's stale copy may no longer write its journal.
    assert_eq!(lock(&records).sessions[&sid].0, "B/1");
    assert!(b.engine.session(&sid).is_some());
    assert_eq!(b.engine.stats().sessions_taken_over, 1);
    assert_eq!(b.engine.stats().takeovers_refused, 0);
    let _ = a.store;
}

#[tokio::test]
async fn a_session_goes_on_on_another_node_with_nothing_lost_or_repeated() {
    takeover(0).await;
}

#[tokio::test]
async fn lines_the_client_never_got_come_again_from_the_adopter() {
    for cut in [1, 3, 7, 12] {
        takeover(cut).await;
    }
}

#[tokio::test]
async fn a_live_owner_keeps_its_session_and_a_second_adopter_loses() {
    let broker = Arc::new(Broker::default());
    let records = Arc::new(Mutex::new(Records::default()));
    let a = node("A/1", &broker, &records);
    let b = node("B/1", &broker, &records);
    let c = node("C/1", &broker, &records);
    let (mut client, sid) = raw_session(&a).await;
    client.through(|l| l.starts_with("CONF,")).await;
    // A is alive: B answers as for an unknown session.
    let refused = b.engine.bind_or_adopt(&recovery(&sid, 2), &ws()).await;
    assert_eq!(refused.err().map(|e| e.0), Some(20));
    assert!(a.engine.session(&sid).is_some());
    // A plain bind (a poll the balancer sent to the wrong node) is cut:
    // the session is another node's, so the client is to ask to recover
    // it, which may reach A.
    let plain = bind(&format!("LS_session={sid}"));
    let misrouted = b.engine.bind_or_adopt(&plain, &ws()).await;
    assert_eq!(
        misrouted.err().map(|e| e.0),
        Some(shoal_protocol::code::CUT_TO_RECOVER)
    );
    // A dies: a plain bind (a poll) reaching B is cut, so that the client
    // recovers with its count.
    lock(&records).alive.remove("A/1");
    let cut = b.engine.bind_or_adopt(&plain, &ws()).await;
    assert_eq!(
        cut.err().map(|e| e.0),
        Some(shoal_protocol::code::CUT_TO_RECOVER)
    );
    // A went silent longer ago than a journal is trusted (it may have gone
    // on without the broker): refused with 4, a new session follows.
    let silent = |secs| {
        lock(&records)
            .silent
            .insert("A/1".into(), std::time::Duration::from_secs(secs))
    };
    silent(11);
    let untrusted = b.engine.bind_or_adopt(&recovery(&sid, 2), &ws()).await;
    assert_eq!(untrusted.err().map(|e| e.0), Some(4));
    assert_eq!(b.engine.stats().takeovers_refused, 1);
    silent(3);
    // B and C are asked at once; one takes it, the other refuses.
    let (req, ctx) = (recovery(&sid, 2), ws());
    let (rb, rc) = tokio::join!(
        b.engine.bind_or_adopt(&req, &ctx),
        c.engine.bind_or_adopt(&req, &ctx)
    );
    assert_eq!(
        rb.is_ok() as u8 + rc.is_ok() as u8,
        1,
        "exactly one adopter: {:?} {:?}",
        rb.as_ref().err(),
        rc.as_ref().err()
    );
    // The client sends again a subscription it had no answer for: the
    // adopter already has it, and accepts it as it stands.
    let winner = if rb.is_ok() { &b } else { &c };
    let again = winner
        .engine
        .control(&sid, control(&sid, &add(1, "RAW", "a", "seq", "")))
        .await;
    assert_eq!(again, Ok(()));
    let other = winner
        .engine
        .control(&sid, control(&sid, &add(1, "MERGE", "a", "seq", "")))
        .await;
    assert_eq!(
        other.err().map(|e| e.0),
        Some(65),
        "another subscription under the same id is refused"
    );
    // A journal the client is past is refused with 4 (a new session follows).
    let d = node("D/1", &broker, &records);
    let owner = lock(&records).sessions[&sid].0.clone();
    lock(&records).alive.remove(&owner);
    let past = d.engine.bind_or_adopt(&recovery(&sid, 99), &ws()).await;
    assert_eq!(past.err().map(|e| e.0), Some(4));
    assert_eq!(d.engine.stats().takeovers_refused, 1);
}

#[tokio::test]
async fn an_entry_read_back_and_then_delivered_live_is_sent_once() {
    let broker = Arc::new(Broker::default());
    let records = Arc::new(Mutex::new(Records::default()));
    let a = node("A/1", &broker, &records);
    let b = node("B/1", &broker, &records);
    let (mut c, sid) = raw_session(&a).await;
    // B reads item `a` too (another client of B subscribed it).
    let _other = raw_session(&b).await;
    let mut app = App::default();
    for i in 1..=5 {
        broker.publish("a", &[("seq", &i.to_string())]);
    }
    read_until(&mut c, &mut app, |app| app.seqs(1, 1).last() == Some(&5)).await;
    lock(&records).alive.remove("A/1");
    let n = app.counted;
    drop(c);
    // Entry 6 is in the broker; B's feed has not delivered it yet when B
    // reads the item back, and delivers it after.
    let late = broker.append("a", &[("seq", "6")]);
    let stream = b
        .engine
        .bind_or_adopt(&recovery(&sid, n), &ws())
        .await
        .unwrap();
    let mut r = Client::new(stream);
    r.through(|l| l.starts_with("PROG,")).await;
    broker.hand_out("a", late);
    broker.publish("a", &[("seq", "7")]);
    read_until(&mut r, &mut app, |app| app.seqs(1, 1).last() == Some(&7)).await;
    assert_contiguous(
        &app.seqs(1, 1),
        1,
        7,
        "an entry read back is not sent again live",
    );
}

#[tokio::test]
async fn a_drained_node_sends_its_handed_over_clients_elsewhere() {
    let broker = Arc::new(Broker::default());
    let records = Arc::new(Mutex::new(Records::default()));
    let a = node("A/1", &broker, &records);
    let b = node("B/1", &broker, &records);
    let (mut c, sid) = raw_session(&a).await;
    let mut app = App::default();
    broker.publish("a", &[("seq", "1")]);
    read_until(&mut c, &mut app, |app| app.seqs(1, 1).last() == Some(&1)).await;
    // The drain: A leaves, then cuts the session's stream (no END).
    a.engine.leave_cluster().await;
    let session = a.engine.session(&sid).unwrap();
    a.engine.hand_over(&session);
    assert_eq!(a.engine.stats().sessions_handed_over, 1);
    assert_eq!(c.chunk().await, None, "the stream stops");
    assert!(c.stream.is_cut(), "its connection is to be cut, not closed");
    assert!(
        !c.lines.iter().any(|l| l.starts_with("END")),
        "{:?}",
        c.lines
    );
    // The client's recovery comes back to A (the balancer has not noticed
    // yet): cut again; then it reaches B, which takes the session over.
    let again = a
        .engine
        .bind_or_adopt(&recovery(&sid, app.counted), &ws())
        .await;
    assert_eq!(
        again.err().map(|e| e.0),
        Some(shoal_protocol::code::CUT_TO_RECOVER)
    );
    broker.publish("a", &[("seq", "2")]);
    let stream = b
        .engine
        .bind_or_adopt(&recovery(&sid, app.counted), &ws())
        .await
        .unwrap();
    let mut r = Client::new(stream);
    read_until(&mut r, &mut app, |app| app.seqs(1, 1).last() == Some(&2)).await;
    assert_contiguous(&app.seqs(1, 1), 1, 2, "the handed-over session goes on");
}

/// The subscriptions the store's journal of `sid` knows of.
fn journaled_subs(records: &Arc<Mutex<Records>>, sid: &str) -> Vec<u32> {
    let r = lock(records);
    let Some((_, entries)) = r.sessions.get(sid) else {
        return Vec::new();
    };
    let mut subs = Vec::new();
    for e in entries {
        match shoal_handoff::Entry::decode(e).unwrap().rec {
            shoal_handoff::Rec::Checkpoint(ck) => {
                subs = ck.subs.iter().map(|s| s.def.sub).collect()
            }
            shoal_handoff::Rec::Sub { def, .. } => subs.push(def.sub),
            shoal_handoff::Rec::Unsub { sub, .. } => subs.retain(|s| *s != sub),
            _ => {}
        }
    }
    subs
}

#[tokio::test]
async fn a_subscription_is_acknowledged_once_the_journal_has_it() {
    let broker = Arc::new(Broker::default());
    let records = Arc::new(Mutex::new(Records::default()));
    let a = node("A/1", &broker, &records);
    let (_c, sid) = raw_session(&a).await;
    // The official clients send again what got no REQOK, and forget what
    // did: by the REQOK, a node taking over must know the change.
    assert_eq!(journaled_subs(&records, &sid), [1], "after the add's REQOK");
    a.engine
        .control(&sid, control(&sid, &add(2, "RAW", "b", "seq", "")))
        .await
        .unwrap();
    assert_eq!(journaled_subs(&records, &sid), [1, 2]);
    a.engine
        .control(&sid, control(&sid, "LS_op=delete&LS_subId=1"))
        .await
        .unwrap();
    assert_eq!(
        journaled_subs(&records, &sid),
        [2],
        "after the delete's REQOK"
    );

    // Without the broker the session goes on: requests are answered.
    lock(&records).unreachable = true;
    a.engine
        .control(&sid, control(&sid, &add(3, "RAW", "c", "seq", "")))
        .await
        .unwrap();
    assert_eq!(journaled_subs(&records, &sid), [2]);
}

#[tokio::test]
async fn lines_wait_through_a_short_outage_so_the_journal_still_explains_them() {
    let broker = Arc::new(Broker::default());
    let records = Arc::new(Mutex::new(Records::default()));
    let a = node("A/1", &broker, &records);
    let (mut c, sid) = raw_session(&a).await;
    a.engine
        .control(&sid, control(&sid, &add(2, "RAW", "b", "seq", "")))
        .await
        .unwrap();
    let mut app = App::default();
    broker.publish("a", &[("seq", "1")]);
    read_until(&mut c, &mut app, |app| app.seqs(1, 1) == [1]).await;
    // The broker goes away: the update of `b` starts an entry it cannot
    // take.
    lock(&records).unreachable = true;
    broker.publish("b", &[("seq", "1")]);
    // It comes back once a write has failed.
    let back = {
        let records = records.clone();
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + TIMEOUT;
            while lock(&records).failures == 0 {
                assert!(tokio::time::Instant::now() < deadline, "no write failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            lock(&records).unreachable = false;
        })
    };
    // The update reaches the client only once the broker has a journal
    // that explains it (a checkpoint written when the broker is back): a
    // node taking over at any moment would find every line counted.
    read_until(&mut c, &mut app, |app| app.seqs(2, 1) == [1]).await;
    back.await.unwrap();
    let entries: Vec<shoal_handoff::Entry> = lock(&records).sessions[&sid]
        .1
        .iter()
        .map(|e| shoal_handoff::Entry::decode(e).unwrap())
        .collect();
    let plan = shoal_handoff::plan(&entries, app.counted).unwrap();
    // It knows the client has the entry of `b` (a stale journal would take
    // that line for one more of `a`, and send `b` again).
    let b = plan.subs.iter().find(|s| s.def.sub == 2).unwrap();
    assert!(
        matches!(b.items[..], [shoal_handoff::ItemPlan::Resume { .. }]),
        "the journal explains the line of `b`: {plan:?}"
    );
}

#[tokio::test]
async fn a_session_taken_over_by_the_dead_nodes_name_is_sent_to_this_nodes_control_link() {
    let broker = Arc::new(Broker::default());
    let records = Arc::new(Mutex::new(Records::default()));
    let a = node("A/1", &broker, &records);
    let b = node("B/1", &broker, &records);
    let (mut c, sid) = raw_session(&a).await;
    c.through(|l| l.starts_with("CONF,")).await;
    lock(&records).alive.remove("A/1");
    // The client reaches B by A's name (keepalived moved A's address to B).
    let by = |host: &str| BindContext {
        headers: vec![("host".to_owned(), format!("{host}:8080"))].into(),
        control_link: Some("push2.example.test".into()),
        ..ws()
    };
    let until_over = |stream| async move {
        let mut c = Client::new(stream);
        while c.chunk().await.is_some() {}
        c.lines
    };
    let first = b
        .engine
        .bind_or_adopt(&recovery(&sid, 2), &by("push1.example.test"))
        .await
        .unwrap();
    let lines = until_over(first).await;
    assert_eq!(lines.first().map(|l| l.starts_with("CONOK,")), Some(true));
    assert!(lines[0].ends_with(",push2.example.test"), "{lines:?}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("LOOP,0"),
        "{lines:?}"
    );
    // The official clients take the new control link from the next bind
    // only: that one, still by A's name, ends with LOOP too.
    let plain = bind(&format!("LS_session={sid}"));
    let second = b
        .engine
        .bind_or_adopt(&plain, &by("push1.example.test"))
        .await
        .unwrap();
    assert_eq!(
        until_over(second).await.last().map(String::as_str),
        Some("LOOP,0")
    );
    // By its own name, the stream goes on; and never more than twice by
    // another (a client that ignores control links is not sent round).
    let own = b
        .engine
        .bind_or_adopt(&plain, &by("push2.example.test"))
        .await
        .unwrap();
    let mut own = Client::new(own);
    own.through(|l| l.starts_with("CONOK,")).await;
    broker.publish("a", &[("seq", "1")]);
    own.through(|l| l.starts_with("U,1,1,")).await;
    let third = b
        .engine
        .bind_or_adopt(&plain, &by("push1.example.test"))
        .await
        .unwrap();
    let mut third = Client::new(third);
    third.through(|l| l.starts_with("CONOK,")).await;
    broker.publish("a", &[("seq", "2")]);
    let lines = third.through(|l| l.starts_with("U,1,1,")).await;
    assert!(!lines.iter().any(|l| l.starts_with("LOOP")), "{lines:?}");
}

#[tokio::test]
async fn a_session_taken_over_keeps_the_bandwidth_its_client_asked_for() {
    let broker = Arc::new(Broker::default());
    let records = Arc::new(Mutex::new(Records::default()));
    let a = node("A/1", &broker, &records);
    let b = node("B/1", &broker, &records);
    let stream = a
        .engine
        .create_session(&create("LS_requested_max_bandwidth=20"), &ws())
        .await
        .unwrap();
    let mut c = Client::new(stream);
    c.through(|l| l.starts_with("CONS,")).await;
    assert!(c.lines.iter().any(|l| l == "CONS,20"), "{:?}", c.lines);
    let sid = split(&c.lines[0]).1[0].clone();
    // The constraint's REQOK comes once the journal has it.
    a.engine
        .control(
            &sid,
            control(&sid, "LS_op=constrain&LS_requested_max_bandwidth=15.5"),
        )
        .await
        .unwrap();
    c.through(|l| l == "CONS,15.5").await;
    lock(&records).alive.remove("A/1");
    let taken = b
        .engine
        .bind_or_adopt(&recovery(&sid, 0), &ws())
        .await
        .unwrap();
    let mut taken = Client::new(taken);
    let head = taken.through(|l| l.starts_with("CONS,")).await;
    assert_eq!(
        head.last().map(String::as_str),
        Some("CONS,15.5"),
        "{head:?}"
    );
}

/// keepalived moves a killed node's address to a live node at once (its
/// health check fails), before the node's liveness key expires: the
/// client's first recovery by that address must wait for the key, not be
/// refused.
#[tokio::test]
async fn a_recovery_by_a_moved_address_waits_for_the_dead_nodes_key_to_expire() {
    let broker = Arc::new(Broker::default());
    let records = Arc::new(Mutex::new(Records::default()));
    let a = node("A/1", &broker, &records);
    let b = node("B/1", &broker, &records);
    let by = |host: &str| BindContext {
        headers: vec![("host".to_owned(), host.to_owned())].into(),
        control_link: Some("push2.example.test".into()),
        ..ws()
    };
    let (mut c, sid) = raw_session(&a).await;
    c.through(|l| l.starts_with("CONF,")).await;
    // By B's own name, a live owner's session is refused at once, even
    // though A's key would expire at the next look.
    lock(&records).expires_after_looks.insert("A/1".into(), 2);
    let refused = b
        .engine
        .bind_or_adopt(&recovery(&sid, 2), &by("push2.example.test"))
        .await
        .err();
    assert_eq!(refused.map(|r| r.0), Some(20));
    // By A's name (an address moved to B), B looks again until A's key
    // is gone, then takes the session over.
    let taken = b
        .engine
        .bind_or_adopt(&recovery(&sid, 2), &by("push1.example.test"))
        .await
        .unwrap();
    let mut taken = Client::new(taken);
    taken.through(|l| l == "PROG,2").await;
    assert!(taken.lines[0].starts_with(&format!("CONOK,{sid},")));
    assert!(!lock(&records).alive.contains("A/1"));
    // (That stream ends with LOOP: the client comes back by B's name.)
    let own = b
        .engine
        .bind_or_adopt(
            &bind(&format!("LS_session={sid}")),
            &by("push2.example.test"),
        )
        .await
        .unwrap();
    let mut own = Client::new(own);
    broker.publish("a", &[("seq", "1")]);
    own.through(|l| l.starts_with("U,1,1,")).await;

    // A live owner reached by its own moved name keeps its session once
    // the wait is over.
    let c2 = node("C/1", &broker, &records);
    let (mut c, sid) = raw_session(&c2).await;
    c.through(|l| l.starts_with("CONF,")).await;
    let refused = b
        .engine
        .bind_or_adopt(&recovery(&sid, 2), &by("push3.example.test"))
        .await
        .err();
    assert_eq!(refused.map(|r| r.0), Some(20));
    assert!(lock(&records).alive.contains("C/1"));
}

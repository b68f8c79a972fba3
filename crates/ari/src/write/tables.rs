//! Table information of `NNT` and `NTC`, in the layout of each version.
//!
//! A "table" is one subscription of a client session (TLCP's `subId`).
//!
//! * 1.8.x ([`TableLayout::Compact`]), 7 pairs:
//!   `I|<win index>|M|<mode>|S|<group>|S|<schema>|I|<first>|I|<last>|S|<selector>`
//! * 1.9.x ([`TableLayout::Extended`]):
//!   `I|<win index>|M|<mode>|S|<group>|S|<data adapter>|S|<schema>|I|<first>|I|<last>|S|<selector>|I|<n>|S|<item>…`
//!   and in `NTC` then `I|<m>` and `m` times `L|<real time>|L|<lost>|L|<filtered>`.
//!
//! The 1.8 SDKs (Node 1.5.3, Python 1.3.1) cut the tail into chunks of 14
//! tokens, so the compact layout must not carry anything more.

use bytes::BufMut;

use super::Line;
use crate::modes::Mode;
use crate::version::TableLayout;

/// One subscription, as told to the metadata adapter.
#[derive(Debug, Clone, Copy)]
pub struct TableInfo<'a, S = &'a str> {
    /// The subscription's number within its session.
    pub win_index: i32,
    pub mode: Mode,
    /// The group name as the client sent it (the item list's "id").
    pub group: &'a str,
    /// The data adapter's name (1.9 only).
    pub data_adapter: &'a str,
    pub schema: &'a str,
    /// 1-based index of the first and last item of the group subscribed.
    pub first_item: i32,
    pub last_item: i32,
    pub selector: Option<&'a str>,
    /// The items of the group (1.9 only).
    pub items: &'a [S],
    /// Per item, in `NTC` under 1.9 when the remote asked for statistics;
    /// empty otherwise.
    pub statistics: &'a [SubscriptionStatistics],
}

/// Final counts of one item of a closed subscription (1.9 `NTC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SubscriptionStatistics {
    /// Updates sent in real time.
    pub real_time: u64,
    /// Updates lost (buffer overflow).
    pub lost: u64,
    /// Updates filtered out (frequency limits, merges).
    pub filtered: u64,
}

pub(super) fn put_tables<B: BufMut, S: AsRef<str>>(
    l: &mut Line<'_, B>,
    layout: TableLayout,
    tables: &[TableInfo<'_, S>],
    with_statistics: bool,
) {
    for t in tables {
        let mut mode = [0u8; 4];
        l.typed_i64("I", t.win_index.into());
        l.raw("M").raw(t.mode.letter().encode_utf8(&mut mode));
        l.string(t.group);
        if layout == TableLayout::Extended {
            l.string(t.data_adapter);
        }
        l.string(t.schema);
        l.typed_i64("I", t.first_item.into());
        l.typed_i64("I", t.last_item.into());
        l.opt_string(t.selector);
        if layout == TableLayout::Compact {
            continue;
        }
        l.typed_u64("I", t.items.len() as u64);
        for item in t.items {
            l.string(item.as_ref());
        }
        if with_statistics {
            l.typed_u64("I", t.statistics.len() as u64);
            for s in t.statistics {
                l.typed_u64("L", s.real_time);
                l.typed_u64("L", s.lost);
                l.typed_u64("L", s.filtered);
            }
        }
    }
}

//! The reference part of docs/clustering.md, made from the same plans as the
//! kits so the two cannot drift apart (a test compares them).

use crate::plan::{plan, Options, Plan};
use crate::readme::route_table;
use crate::topology::TOPOLOGIES;
use crate::{haproxy, node_conf};
use std::fmt::Write;

/// Marks around the generated text in docs/clustering.md.
pub const BEGIN: &str =
    "<!-- cluster-plan:begin (made by `shoal cluster-plan --docs`; do not edit) -->";
pub const END: &str = "<!-- cluster-plan:end -->";

/// Every option with the default addresses, multihosting variants included.
pub fn reference() -> Result<String, crate::PlanError> {
    let mut s = String::new();
    s.push_str("### What every generated haproxy.cfg starts with\n\n```\n");
    s.push_str(haproxy::preamble().trim_end());
    s.push_str("\n```\n\n");
    for t in TOPOLOGIES {
        for mh in [false, true] {
            if mh && !t.multihosting {
                continue;
            }
            let p = plan(&Options {
                topology: t.id.into(),
                multihosting: mh,
                ..Options::default()
            })?;
            section(&mut s, &p);
        }
    }
    Ok(s)
}

fn section(s: &mut String, p: &Plan) {
    let t = p.topology;
    let mh = if p.options.multihosting {
        " (multihosting)"
    } else {
        ""
    };
    let flag = if p.options.multihosting {
        " --multihosting"
    } else {
        ""
    };
    let _ = writeln!(
        s,
        "### Option {}{mh}: {}\n\nGuide section {}. `shoal cluster-plan --topology {}{flag} --out DIR`\n\n{}\n",
        t.id, t.title, t.section, t.id, t.summary
    );
    s.push_str(&route_table(p));
    let _ = writeln!(s, "\n**WebSocket**: {}\n", t.websocket);
    if let Some(n) = p.nodes.first() {
        let _ = writeln!(
            s,
            "`{}.xml` (the other nodes differ only in addresses, names and certificates):\n\n```xml\n{}```\n",
            n.name,
            node_conf::render(p, n)
        );
    }
    let _ = writeln!(
        s,
        "`haproxy.cfg`, after the common part:\n\n```\n{}```\n",
        haproxy::proxies(p)
    );
}

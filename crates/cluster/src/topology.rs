//! The options of the clustering guide: what each one is, in words. How each
//! is laid out (addresses, listeners, balancer) is in `layout`.

/// How control and rebind (CR) requests reach the node that owns a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrRoute {
    /// The balancer inserts a cookie naming the node.
    Cookie,
    /// The balancer hashes the client's address.
    SourceIp,
    /// The node sends its own address in `CONOK` (`control_link_address`).
    ControlLink,
}

impl CrRoute {
    pub fn as_str(self) -> &'static str {
        match self {
            CrRoute::Cookie => "cookie",
            CrRoute::SourceIp => "source-ip",
            CrRoute::ControlLink => "control-link",
        }
    }
}

/// One option of the guide.
#[derive(Debug)]
pub struct Topology {
    /// The guide's option id (`1.A.2`), or `4` for direct instance access.
    pub id: &'static str,
    /// The guide's section.
    pub section: &'static str,
    pub title: &'static str,
    /// Whether clients use HTTPS.
    pub https: bool,
    pub cr_route: CrRoute,
    /// Whether the guide has a multihosting example of this option.
    pub multihosting: bool,
    /// What the guide says of WebSocket here.
    pub websocket: &'static str,
    /// One paragraph for operators.
    pub summary: &'static str,
}

pub const TOPOLOGIES: &[Topology] = &[
    Topology {
        id: "1.A.1",
        section: "2.1.1",
        title: "HTTP, balancer stickiness by client IP address",
        https: false,
        cr_route: CrRoute::SourceIp,
        multihosting: false,
        websocket: "The balancer works at level 4 (TCP), so WebSocket passes through it.",
        summary: "Every request goes to the balancer, which picks a node by a hash of the client's address: all the requests of one client reach the same node. Clients whose address changes between requests lose their session.",
    },
    Topology {
        id: "1.A.2",
        section: "2.1.2",
        title: "HTTP, balancer stickiness by inserted cookie",
        https: false,
        cr_route: CrRoute::Cookie,
        multihosting: false,
        websocket: "The balancer works at level 7 (HTTP) to insert its cookie; it must pass WebSocket upgrades (HAProxy does), otherwise clients stream over HTTP.",
        summary: "Every request goes to the balancer. It balances session creations and inserts a cookie naming the node; clients send it back, so their control and rebind requests reach the same node. Non-browser clients must keep cookies (the official Node.js client does).",
    },
    Topology {
        id: "1.B.1",
        section: "2.2.1",
        title: "HTTP, servers behind the balancer, routed by host name",
        https: false,
        cr_route: CrRoute::ControlLink,
        multihosting: true,
        websocket: "Upgrades pass through the balancer at level 7 when it allows them; otherwise clients notice and stream over HTTP.",
        summary: "Session creations go to push.<domain>, balanced. Each node sends its own name pushK.<domain> as control link; the balancer routes requests for pushK to node K by the Host header.",
    },
    Topology {
        id: "1.B.2",
        section: "2.2.2",
        title: "HTTP, servers partially behind the balancer",
        https: false,
        cr_route: CrRoute::ControlLink,
        multihosting: false,
        websocket: "Only session creations pass through the balancer; WebSocket goes straight to the nodes, so it works even when the balancer blocks it.",
        summary: "Session creations go to push.<domain>, balanced. Each node has its own public address pushK.<domain>, sent as control link: control and rebind requests go straight to the node.",
    },
    Topology {
        id: "2.A.1",
        section: "3.1.1",
        title: "HTTPS, balancer stickiness by client IP address, TLS passthrough",
        https: true,
        cr_route: CrRoute::SourceIp,
        multihosting: true,
        websocket: "The balancer works at level 4 (TCP) and does not see inside TLS, so WebSocket passes through it.",
        summary: "The balancer forwards TLS untouched and picks a node by a hash of the client's address; each node holds the certificate of push.<domain>. With multihosting each domain has its own balancer address and its own listener (and certificate) on each node.",
    },
    Topology {
        id: "2.A.2",
        section: "3.1.2",
        title: "HTTPS, balancer stickiness by inserted cookie, TLS offload",
        https: true,
        cr_route: CrRoute::Cookie,
        multihosting: false,
        websocket: "The balancer terminates TLS and works at level 7; it must pass WebSocket upgrades (HAProxy does).",
        summary: "The balancer terminates TLS with the certificate of push.<domain>, inserts a cookie naming the node and talks plain HTTP to the nodes.",
    },
    Topology {
        id: "2.B.1.1",
        section: "3.2.1.1",
        title: "HTTPS, wildcard certificate, servers behind the balancer",
        https: true,
        cr_route: CrRoute::ControlLink,
        multihosting: true,
        websocket: "The balancer works at level 4 (TCP), so WebSocket passes through it.",
        summary: "The balancer has one address per name (push, push1, push2) since it cannot read host names inside TLS: push is balanced, pushK goes to node K. Every node holds a wildcard certificate *.<domain> and sends pushK.<domain> as control link.",
    },
    Topology {
        id: "2.B.1.2",
        section: "3.2.1.2",
        title: "HTTPS, wildcard certificate, servers partially behind the balancer",
        https: true,
        cr_route: CrRoute::ControlLink,
        multihosting: false,
        websocket: "Only session creations pass through the balancer (at level 4); WebSocket goes straight to the nodes.",
        summary: "Session creations go through the balancer (TLS passthrough) to any node; each node has a public address pushK.<domain>, a wildcard certificate, and sends its name as control link.",
    },
    Topology {
        id: "2.B.1.3",
        section: "3.2.1.3",
        title: "HTTPS, wildcard certificate on the balancer (TLS offload), routed by host name",
        https: true,
        cr_route: CrRoute::ControlLink,
        multihosting: false,
        websocket: "The balancer terminates TLS and works at level 7; upgrades pass when it allows them, otherwise clients stream over HTTP.",
        summary: "The balancer terminates TLS with a wildcard certificate, then routes by host name as in 1.B.1: push balanced, pushK to node K. Nodes speak plain HTTP.",
    },
    Topology {
        id: "2.B.1.4",
        section: "3.2.1.4",
        title: "HTTPS, wildcard certificate, servers partially behind the balancer (TLS offload)",
        https: true,
        cr_route: CrRoute::ControlLink,
        multihosting: false,
        websocket: "Only session creations pass through the balancer; WebSocket goes straight to the nodes.",
        summary: "The balancer terminates TLS for push.<domain> and balances session creations to each node's private HTTP listener; each node also has a public HTTPS listener with the wildcard certificate for its control link pushK.<domain>.",
    },
    Topology {
        id: "2.B.2.1",
        section: "3.2.2.1",
        title: "HTTPS, individual certificates, servers behind the balancer",
        https: true,
        cr_route: CrRoute::ControlLink,
        multihosting: true,
        websocket: "The balancer works at level 4 (TCP), so WebSocket passes through it.",
        summary: "Each node has two HTTPS listeners: one with the certificate of push.<domain> for balanced session creations, one with its own certificate pushK.<domain> for control and rebind requests, which reach it through a balancer address of its own.",
    },
    Topology {
        id: "2.B.2.2",
        section: "3.2.2.2",
        title: "HTTPS, individual certificates, servers partially behind the balancer",
        https: true,
        cr_route: CrRoute::ControlLink,
        multihosting: false,
        websocket: "Only session creations pass through the balancer (at level 4); WebSocket goes straight to the nodes.",
        summary: "Each node has a private HTTPS listener with the certificate of push.<domain> (behind the balancer, TLS passthrough) and a public one with its own certificate pushK.<domain> on the same port of another address.",
    },
    Topology {
        id: "2.B.2.3",
        section: "3.2.2.3",
        title: "HTTPS, individual certificates on the balancer (TLS offload)",
        https: true,
        cr_route: CrRoute::ControlLink,
        multihosting: false,
        websocket: "The balancer terminates TLS and works at level 7; upgrades pass when it allows them, otherwise clients stream over HTTP.",
        summary: "The balancer has one address and one certificate per name: push balanced, pushK to node K; it terminates TLS and talks plain HTTP to the nodes.",
    },
    Topology {
        id: "2.B.2.4",
        section: "3.2.2.4",
        title: "HTTPS, individual certificates, servers partially behind the balancer (TLS offload)",
        https: true,
        cr_route: CrRoute::ControlLink,
        multihosting: false,
        websocket: "Only session creations pass through the balancer; WebSocket goes straight to the nodes.",
        summary: "The balancer terminates TLS for push.<domain> and balances session creations to each node's private HTTP listener; each node has a public HTTPS listener with its own certificate pushK.<domain>.",
    },
    Topology {
        id: "4",
        section: "4",
        title: "Direct access to each instance (beside 1.B.1)",
        https: false,
        cr_route: CrRoute::ControlLink,
        multihosting: false,
        websocket: "As in 1.B.1 through the balancer; direct connections to a node use WebSocket.",
        summary: "The 1.B.1 cluster, plus a name per node (nodeK.<domain>) that reaches the node itself, bypassing the balancer, e.g. for an internal monitor or tests. Clients that connect directly must ignore the control link (setServerInstanceAddressIgnored(true)), since the public name it gives may not be visible from inside.",
    },
];

/// The option with this id.
pub fn find(id: &str) -> Option<&'static Topology> {
    TOPOLOGIES.iter().find(|t| t.id.eq_ignore_ascii_case(id))
}

/// Every option id, for messages.
pub fn ids() -> String {
    TOPOLOGIES
        .iter()
        .map(|t| t.id)
        .collect::<Vec<_>>()
        .join(", ")
}

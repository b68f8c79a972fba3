//! Cluster kits: each option of Lightstreamer's clustering guide turned into
//! a balancer configuration, one Shoal configuration per node, certificates,
//! host names, start and stop scripts and a README (`shoal cluster-plan`);
//! with `--feed`, also one broker whose items every node serves.

pub mod docs;
pub mod feed;
mod haproxy;
pub mod keepalived;
pub mod kit;
mod layout;
mod nginx;
mod node_conf;
pub mod origins;
pub mod plan;
pub mod readme;
pub mod routes;
pub mod scripts;
pub mod topology;

pub use kit::{write, CaSource, KitError};
pub use plan::{plan, Balancer, Feed, Options, Plan, PlanError};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_fallback;
#[cfg(test)]
mod tests_feed;
#[cfg(test)]
mod tests_vrrp;

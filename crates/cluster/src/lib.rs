//! Cluster kits: each option of Lightstreamer's clustering guide turned into
//! a balancer configuration, one Shoal configuration per node, certificates,
//! host names and a README (`shoal cluster-plan`).

pub mod docs;
mod haproxy;
pub mod kit;
mod layout;
mod nginx;
mod node_conf;
pub mod plan;
pub mod readme;
pub mod routes;
pub mod topology;

pub use kit::{write, CaSource, KitError};
pub use plan::{plan, Balancer, Feed, Options, Plan, PlanError};

#[cfg(test)]
mod tests;

//! `<dashboard>`: where Shoal's monitor console is served and who may open
//! it. The element follows Lightstreamer's; its JMX tree and host name
//! lookup have no counterpart in Shoal and are only warned about.

use super::{Cx, Parsed};
use crate::xml::Element;
use crate::{ConfigError, Dashboard, DashboardUser};

/// Lightstreamer's default `<dashboard_url_path>`.
pub(crate) const DEFAULT_URL_PATH: &str = "/dashboard";

impl Cx<'_> {
    pub(super) fn dashboard(
        &mut self,
        el: &Element,
        parent: &str,
        listeners: &[Parsed],
    ) -> Result<Dashboard, ConfigError> {
        let path = format!("{parent}/{}", el.name);
        self.attributes(el, &path, &[]);
        let p = self.pick(
            el,
            &path,
            [
                "public",
                "available_on_all_servers",
                "dashboard_url_path",
                "jmxtree_enabled",
                "enable_hostname_lookup",
                "shoal_console_url",
                "shoal_node_name",
            ],
            &["user", "available_on_server", "shoal_cluster_node"],
        )?;
        let [public, all_servers, url_path, jmxtree, hostname_lookup, console_url, node_name] =
            p.single;
        let public = self.flag(public, &path)?.unwrap_or(false);
        let all_servers = self.flag(all_servers, &path)?.unwrap_or(false);
        // Both are Lightstreamer features Shoal does not have: Y is worth a
        // warning (the operator expects something), N is what Shoal does.
        for el in [jmxtree, hostname_lookup].into_iter().flatten() {
            if self.flag(Some(el), &path)? == Some(true) {
                let what = if el.is("jmxtree_enabled") {
                    "Shoal has no JMX tree"
                } else {
                    "Shoal does not look client host names up"
                };
                self.warn(
                    el.line,
                    format!("{path}/{}", el.name),
                    format!("not applicable to Shoal ({what}); ignored"),
                );
            }
        }
        let url_path = match self.child_value(url_path, &path)? {
            None => DEFAULT_URL_PATH.to_owned(),
            Some((value, line, at)) => {
                url_path_of(&value).map_err(|message| self.error(line, &at, message))?
            }
        };
        let console_url = match self.child_value(console_url, &path)? {
            None => None,
            Some((value, line, at)) => {
                Some(super::cluster_node::url_of(&value).map_err(|m| self.error(line, &at, m))?)
            }
        };
        let node_name = match self.child_value(node_name, &path)? {
            Some((value, line, at)) if value.trim().is_empty() => {
                return Err(self.error(line, &at, "must name this node, e.g. node1"))
            }
            other => other.map(|(value, _, _)| value.trim().to_owned()),
        };
        let mut users = Vec::new();
        let mut servers = Vec::new();
        let mut cluster_nodes: Vec<crate::ClusterNode> = Vec::new();
        for child in &p.many {
            let at = format!("{path}/{}", child.name);
            if child.is("user") {
                users.push(self.user(child, &at)?);
            } else if child.is("shoal_cluster_node") {
                let node = self.cluster_node(child, &at)?;
                if cluster_nodes.iter().any(|n| n.name == node.name) {
                    let message = format!("a node named \"{}\" is already listed", node.name);
                    return Err(self.error(child.line, &at, message));
                }
                cluster_nodes.push(node);
            } else {
                self.attributes(child, &at, &["name", "jmxtree_visible"]);
                let name = required(child, "name")
                    .ok_or_else(|| self.error(child.line, &at, "the name attribute is required: the name of an <http_server> or <https_server>"))?;
                if !listeners.iter().any(|l| l.listener.name == name) {
                    return Err(self.error(
                        child.line,
                        &at,
                        format!("no listener is named \"{name}\""),
                    ));
                }
                servers.push(name);
            }
        }
        Ok(Dashboard {
            public,
            users,
            all_servers,
            servers,
            url_path,
            node_name,
            console_url,
            cluster_nodes,
            line: el.line,
        })
    }

    /// `<user id=".." password=".."/>`: both attributes are required.
    fn user(&mut self, el: &Element, at: &str) -> Result<DashboardUser, ConfigError> {
        self.attributes(el, at, &["id", "password", "jmxtree_visible"]);
        let missing = |what: &str| {
            format!("the {what} attribute is required: <user id=\"...\" password=\"...\"/>")
        };
        let id = required(el, "id").ok_or_else(|| self.error(el.line, at, missing("id")))?;
        let password =
            required(el, "password").ok_or_else(|| self.error(el.line, at, missing("password")))?;
        if id.starts_with('$') || password.starts_with('$') {
            self.warn(
                el.line,
                at.to_owned(),
                "values of the form $name are not expanded by Shoal \
                 (Lightstreamer's variable expansion is not implemented); used as written",
            );
        }
        Ok(DashboardUser {
            id,
            password,
            line: el.line,
        })
    }
}

/// The trimmed, non-empty value of attribute `name`.
pub(super) fn required(el: &Element, name: &str) -> Option<String> {
    el.attrs
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name))
        .map(|a| a.value.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Checks a `<dashboard_url_path>` and drops a final `/`: it must be an
/// absolute path of plain segments, other than `/` itself (which would take
/// every page) and other than TLCP's own `/lightstreamer`.
fn url_path_of(value: &str) -> Result<String, String> {
    if !value.starts_with('/') {
        return Err(format!("must start with /, found \"{value}\""));
    }
    let trimmed = value.trim_end_matches('/');
    if trimmed.is_empty() {
        return Err("must name a path below /, such as /dashboard".into());
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_.~".contains(c);
    for segment in trimmed[1..].split('/') {
        if segment.is_empty() || segment == "." || segment == ".." || !segment.chars().all(plain) {
            return Err(format!(
                "\"{value}\" is not a plain path: use segments of letters, digits, '-', '_', '.' or '~' separated by single /"
            ));
        }
    }
    // Paths Shoal answers itself on every listener.
    const TAKEN: [&str; 5] = ["lightstreamer", "publish", "metrics", "livez", "readyz"];
    let first = trimmed[1..].split('/').next().unwrap_or_default();
    if TAKEN.iter().any(|t| first.eq_ignore_ascii_case(t)) {
        return Err(format!(
            "\"{value}\" is taken by Shoal's own /{first}; choose another path"
        ));
    }
    Ok(trimmed.to_owned())
}

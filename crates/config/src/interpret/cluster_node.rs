//! `<dashboard><shoal_cluster_node>` and `<dashboard><shoal_console_url>`:
//! Shoal's own elements (hence the `shoal_` prefix) for the console's
//! cluster view. A node lists the consoles of its peers; it polls each
//! one's `status.json` and shows them beside its own figures.

use super::dashboard::required;
use super::Cx;
use crate::xml::Element;
use crate::{ClusterNode, ConfigError};

impl Cx<'_> {
    /// `<shoal_cluster_node name=".." url=".." user=".." password=".."/>`:
    /// name and url are required; user and password go together.
    pub(super) fn cluster_node(
        &mut self,
        el: &Element,
        at: &str,
    ) -> Result<ClusterNode, ConfigError> {
        self.attributes(
            el,
            at,
            &[
                "name",
                "url",
                "user",
                "password",
                "ca_file",
                "tls_name",
                "proxy_protocol",
            ],
        );
        let shape = "<shoal_cluster_node name=\"node2\" url=\"http://node2:8080/dashboard/\"/>";
        let name = required(el, "name").ok_or_else(|| {
            let m = format!("the name attribute is required: {shape}");
            self.error(el.line, at, m)
        })?;
        let url = required(el, "url").ok_or_else(|| {
            let m = format!("the url attribute is required: {shape}");
            self.error(el.line, at, m)
        })?;
        let url = url_of(&url).map_err(|m| self.error(el.line, at, m))?;
        let user = required(el, "user");
        let password = required(el, "password");
        if user.is_some() != password.is_some() {
            let m =
                "user and password go together: give both (HTTP Basic for that console) or neither";
            return Err(self.error(el.line, at, m));
        }
        // A peer whose certificate comes from a private CA (a kit's own):
        // that CA's PEM certificates, trusted beside the public roots.
        let ca_file = match required(el, "ca_file") {
            None => None,
            Some(value) => {
                if !url.to_ascii_lowercase().starts_with("https://") {
                    let m = format!("ca_file is for https:// consoles; \"{url}\" is not one");
                    return Err(self.error(el.line, at, m));
                }
                let file = self.resolve(&value);
                self.check_readable(&file, el.line, &format!("{at}/@ca_file"))?;
                Some(file)
            }
        };
        // The name the peer's certificate carries, when the URL names the
        // peer otherwise (by address, say).
        let tls_name = required(el, "tls_name");
        if tls_name.is_some() && !url.to_ascii_lowercase().starts_with("https://") {
            let m = format!("tls_name is for https:// consoles; \"{url}\" is not one");
            return Err(self.error(el.line, at, m));
        }
        // A peer listener that takes connections from a balancer only,
        // each starting with a PROXY protocol header: the poll sends one.
        let proxy_protocol = match required(el, "proxy_protocol").as_deref() {
            None | Some("N") => false,
            Some("Y") => true,
            Some(other) => {
                let m = format!("proxy_protocol is Y or N, not \"{other}\"");
                return Err(self.error(el.line, at, m));
            }
        };
        Ok(ClusterNode {
            name,
            url,
            user,
            password,
            ca_file,
            tls_name,
            proxy_protocol,
            line: el.line,
        })
    }
}

/// Checks a console URL: absolute `http://` or `https://` with a host,
/// no query or fragment; a final `/` is added when missing, so that
/// `status.json` can be appended.
pub(super) fn url_of(value: &str) -> Result<String, String> {
    let lower = value.to_ascii_lowercase();
    let rest = ["http://", "https://"]
        .iter()
        .find_map(|scheme| lower.starts_with(scheme).then(|| &value[scheme.len()..]))
        .ok_or_else(|| {
            format!("\"{value}\" is not an absolute http:// or https:// URL of a console")
        })?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.contains('@') {
        return Err(format!(
            "\"{value}\" names no host (credentials go in user= and password=, not in the URL)"
        ));
    }
    if value.contains(['?', '#', ' ']) {
        return Err(format!("\"{value}\": no query, fragment or spaces, please"));
    }
    if value.ends_with('/') {
        Ok(value.to_owned())
    } else {
        Ok(format!("{value}/"))
    }
}

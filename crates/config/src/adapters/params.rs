//! The `<param>`s of a provider: read once, taken by name by the adapter
//! class that understands them; whatever is left gets a warning.

use super::Param;
use crate::cx::{edit_distance, Cx};
use crate::ConfigError;

/// The params of one provider, with which were used.
pub(super) struct Params<'p> {
    list: &'p [Param],
    used: Vec<bool>,
    /// Path of the provider element, e.g.
    /// `adapters_conf[id="X"]/data_provider[name="DEFAULT"]`.
    provider: String,
}

impl<'p> Params<'p> {
    pub(super) fn new(list: &'p [Param], provider: String) -> Self {
        Self {
            list,
            used: vec![false; list.len()],
            provider,
        }
    }

    /// The provider's path.
    pub(super) fn provider(&self) -> &str {
        &self.provider
    }

    /// The element path of a param.
    pub(super) fn at(&self, p: &Param) -> String {
        format!("{}/param[name=\"{}\"]", self.provider, p.name)
    }

    /// The param named exactly `name`, marked used.
    pub(super) fn take(&mut self, name: &str) -> Option<&'p Param> {
        let i = self.list.iter().position(|p| p.name == name)?;
        self.used[i] = true;
        Some(&self.list[i])
    }

    /// Every unused param whose name satisfies `pred`, marked used.
    pub(super) fn take_all(&mut self, pred: impl Fn(&str) -> bool) -> Vec<&'p Param> {
        let mut out = Vec::new();
        for (i, p) in self.list.iter().enumerate() {
            if !self.used[i] && pred(&p.name) {
                self.used[i] = true;
                out.push(p);
            }
        }
        out
    }

    /// One warning for each param not taken, with a hint when its name is
    /// close to one of `known`.
    pub(super) fn warn_unused(&mut self, cx: &mut Cx<'_>, what: &str, known: &[&str]) {
        for (i, p) in self.list.iter().enumerate() {
            if self.used[i] {
                continue;
            }
            self.used[i] = true;
            let mut message = format!("not a parameter of {what}; ignored");
            if let Some(close) = known
                .iter()
                .find(|k| edit_distance(&p.name.to_ascii_lowercase(), k) <= 2)
            {
                message.push_str(&format!(" (did you mean \"{close}\"?)"));
            }
            cx.warn(p.line, self.at(p), message);
        }
    }

    /// A warning for a param that is read but has no effect in Shoal.
    pub(super) fn ignore(&self, cx: &mut Cx<'_>, p: &Param, why: &str) {
        cx.warn(p.line, self.at(p), format!("{why}; ignored"));
    }

    pub(super) fn error(&self, cx: &Cx<'_>, p: &Param, message: impl Into<String>) -> ConfigError {
        cx.error(p.line, &self.at(p), message)
    }

    /// `Y` or `N`.
    pub(super) fn flag(
        &mut self,
        cx: &Cx<'_>,
        name: &str,
    ) -> Result<Option<(bool, &'p Param)>, ConfigError> {
        let Some(p) = self.take(name) else {
            return Ok(None);
        };
        match p.value.as_str() {
            "Y" => Ok(Some((true, p))),
            "N" => Ok(Some((false, p))),
            v => Err(self.error(cx, p, format!("expected Y or N, found \"{v}\""))),
        }
    }

    /// A whole number that may be negative (Lightstreamer's "negative
    /// means none" settings).
    pub(super) fn signed(
        &mut self,
        cx: &Cx<'_>,
        name: &str,
    ) -> Result<Option<(i64, &'p Param)>, ConfigError> {
        let Some(p) = self.take(name) else {
            return Ok(None);
        };
        match p.value.parse::<i64>() {
            Ok(n) => Ok(Some((n, p))),
            Err(_) => Err(self.error(
                cx,
                p,
                format!(
                    "expected a whole number of milliseconds (negative: none), found \"{}\"",
                    p.value
                ),
            )),
        }
    }

    /// A TCP port, 0 to 65535.
    pub(super) fn port(
        &mut self,
        cx: &Cx<'_>,
        name: &str,
    ) -> Result<Option<(u16, &'p Param)>, ConfigError> {
        let Some(p) = self.take(name) else {
            return Ok(None);
        };
        match p.value.parse::<u16>() {
            Ok(n) => Ok(Some((n, p))),
            Err(_) => Err(self.error(
                cx,
                p,
                format!(
                    "expected a TCP port number from 0 to 65535 (0: any free port), found \"{}\"",
                    p.value
                ),
            )),
        }
    }

    /// One of `choices` (written exactly).
    pub(super) fn choice<T: Copy>(
        &mut self,
        cx: &Cx<'_>,
        name: &str,
        choices: &[(&str, T)],
    ) -> Result<Option<(T, &'p Param)>, ConfigError> {
        let Some(p) = self.take(name) else {
            return Ok(None);
        };
        match choices.iter().find(|(s, _)| *s == p.value) {
            Some((_, v)) => Ok(Some((*v, p))),
            None => {
                let names: Vec<&str> = choices.iter().map(|(s, _)| *s).collect();
                Err(self.error(
                    cx,
                    p,
                    format!(
                        "unknown value \"{}\": expected {}",
                        p.value,
                        names.join(", ")
                    ),
                ))
            }
        }
    }
}

//! The params of `com.lightstreamer.adapters.metadata.LiteralBasedProvider`.

use super::params::Params;
use super::{ItemFamily, LiteralBasedProvider, Mode, Param};
use crate::cx::Cx;
use crate::ConfigError;
use std::collections::BTreeMap;

/// The class's default `distinct_snapshot_length`.
const DEFAULT_DISTINCT_SNAPSHOT_LENGTH: u32 = 10;

const FAMILY: &str = "item_family_";
const MODES: &str = "modes_for_item_family_";
const ADAPTER: &str = "data_adapter_for_item_family_";

const KNOWN: &[&str] = &[
    "allowed_users",
    "max_bandwidth",
    "max_frequency",
    "buffer_size",
    "distinct_snapshot_length",
    "prefilter_frequency",
];

/// `data_names`: the set's data provider names, to warn about families
/// that can never apply.
pub(super) fn literal_based(
    cx: &mut Cx<'_>,
    ps: &mut Params<'_>,
    data_names: &[&str],
) -> Result<LiteralBasedProvider, ConfigError> {
    let allowed_users = ps.take("allowed_users").map(|p| {
        p.value
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    });
    let max_bandwidth = rate(cx, ps, "max_bandwidth")?;
    let max_frequency = rate(cx, ps, "max_frequency")?;
    let prefilter_frequency = rate(cx, ps, "prefilter_frequency")?;
    let buffer_size = count(cx, ps, "buffer_size")?.unwrap_or(0);
    let distinct_snapshot_length =
        count(cx, ps, "distinct_snapshot_length")?.unwrap_or(DEFAULT_DISTINCT_SNAPSHOT_LENGTH);
    let item_families = families(cx, ps, data_names)?;
    ps.warn_unused(cx, "LiteralBasedProvider", KNOWN);
    Ok(LiteralBasedProvider {
        allowed_users,
        max_bandwidth,
        max_frequency,
        buffer_size,
        distinct_snapshot_length,
        prefilter_frequency,
        item_families,
    })
}

/// A decimal number, 0 or more (0: unlimited, the default).
fn rate(cx: &Cx<'_>, ps: &mut Params<'_>, name: &str) -> Result<f64, ConfigError> {
    let Some(p) = ps.take(name) else {
        return Ok(0.0);
    };
    match p.value.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(ps.error(
            cx,
            p,
            format!(
                "expected a number, 0 or more (0: unlimited), found \"{}\"",
                p.value
            ),
        )),
    }
}

fn count(cx: &Cx<'_>, ps: &mut Params<'_>, name: &str) -> Result<Option<u32>, ConfigError> {
    let Some(p) = ps.take(name) else {
        return Ok(None);
    };
    match p.value.parse::<u32>() {
        Ok(v) => Ok(Some(v)),
        Err(_) => Err(ps.error(
            cx,
            p,
            format!("expected a whole number, 0 or more, found \"{}\"", p.value),
        )),
    }
}

/// The `<n>` of a family param name: a positive number written without
/// leading zeros, as Lightstreamer requires.
fn family_number(
    cx: &Cx<'_>,
    ps: &Params<'_>,
    p: &Param,
    suffix: &str,
) -> Result<u32, ConfigError> {
    match suffix.parse::<u32>() {
        Ok(n) if n > 0 && n.to_string() == suffix => Ok(n),
        _ => Err(ps.error(
            cx,
            p,
            format!("\"{suffix}\" is not a family number: expected a whole number from 1, without leading zeros"),
        )),
    }
}

fn families(
    cx: &mut Cx<'_>,
    ps: &mut Params<'_>,
    data_names: &[&str],
) -> Result<Vec<ItemFamily>, ConfigError> {
    let patterns = ps.take_all(|n| n.starts_with(FAMILY));
    let modes = ps.take_all(|n| n.starts_with(MODES));
    let adapters = ps.take_all(|n| n.starts_with(ADAPTER));
    let mut by_number: BTreeMap<u32, (&Param, Option<&Param>, Option<&Param>)> = BTreeMap::new();
    for p in &patterns {
        let n = family_number(cx, ps, p, &p.name[FAMILY.len()..])?;
        by_number.insert(n, (p, None, None));
    }
    for (list, prefix, is_modes) in [(&modes, MODES, true), (&adapters, ADAPTER, false)] {
        for p in list {
            let n = family_number(cx, ps, p, &p.name[prefix.len()..])?;
            match by_number.get_mut(&n) {
                Some(entry) if is_modes => entry.1 = Some(p),
                Some(entry) => entry.2 = Some(p),
                None => ps.ignore(cx, p, &format!("there is no item_family_{n}")),
            }
        }
    }
    let mut out = Vec::new();
    for (number, (pattern, modes, adapter)) in by_number {
        regex_syntax::Parser::new()
            .parse(&pattern.value)
            .map_err(|e| {
                ps.error(
                    cx,
                    pattern,
                    format!(
                    "\"{}\" is not a pattern Shoal can use (Rust regex syntax: no look-around, \
                     no back-references): {}",
                    pattern.value,
                    e.to_string().lines().last().unwrap_or("invalid pattern")
                ),
                )
            })?;
        let modes = match modes {
            None => {
                ps.ignore_family(cx, pattern, number);
                Vec::new()
            }
            Some(p) => parse_modes(cx, ps, p)?,
        };
        if let Some(a) = adapter {
            if !data_names.contains(&a.value.as_str()) {
                cx.warn(
                    a.line,
                    ps.at(a),
                    format!(
                        "no data provider of this adapter set is named \"{}\": item family {number} never applies",
                        a.value
                    ),
                );
            }
        }
        out.push(ItemFamily {
            number,
            pattern: pattern.value.clone(),
            data_adapter: adapter.map(|a| a.value.clone()),
            modes,
            line: pattern.line,
        });
    }
    Ok(out)
}

/// Modes separated by commas or spaces, in upper case.
fn parse_modes(cx: &Cx<'_>, ps: &Params<'_>, p: &Param) -> Result<Vec<Mode>, ConfigError> {
    let mut out = Vec::new();
    for word in p.value.split([',', ' ']).filter(|w| !w.is_empty()) {
        let mode = match word {
            "RAW" => Mode::Raw,
            "MERGE" => Mode::Merge,
            "DISTINCT" => Mode::Distinct,
            "COMMAND" => Mode::Command,
            _ => {
                return Err(ps.error(
                    cx,
                    p,
                    format!("unknown mode \"{word}\": expected RAW, MERGE, DISTINCT or COMMAND (upper case), separated by commas or spaces"),
                ))
            }
        };
        if !out.contains(&mode) {
            out.push(mode);
        }
    }
    Ok(out)
}

impl Params<'_> {
    /// A family without modes: its items are allowed in no mode.
    fn ignore_family(&self, cx: &mut Cx<'_>, pattern: &Param, n: u32) {
        cx.warn(
            pattern.line,
            self.at(pattern),
            format!(
                "no modes_for_item_family_{n}: the items of this family are allowed in no mode \
                 (subscriptions to them are refused)"
            ),
        );
    }
}

//! The 30 fictional stocks of the demo, shared by the quote adapter (as
//! items) and the portfolio (as keys).

/// Number of stocks: items `item1`..`item30`.
pub(crate) const COUNT: usize = 30;

/// Company name and reference price (yesterday's close) in cents.
pub(crate) const STOCKS: [(&str, i64); COUNT] = [
    ("Arvenna Holdings", 1_842),
    ("Brightmoor Energy", 3_120),
    ("Calderix Pharma", 7_455),
    ("Dunmore Logistics", 1_208),
    ("Eastfield Mining", 566),
    ("Fyrelight Media", 2_390),
    ("Glenbrook Foods", 4_415),
    ("Halvard Shipping", 1_977),
    ("Ironvale Steel", 892),
    ("Juniper Reach Telecom", 2_733),
    ("Kestrel Aerospace", 11_260),
    ("Lumora Software", 6_684),
    ("Marrowind Utilities", 1_535),
    ("Northpass Insurance", 3_862),
    ("Oakhurst Retail", 1_046),
    ("Pellucid Optics", 5_218),
    ("Quillon Biotech", 349),
    ("Redcliffe Motors", 2_904),
    ("Saltmarsh Chemicals", 4_077),
    ("Tavistrand Bank", 1_689),
    ("Umberline Textiles", 731),
    ("Veloran Semiconductors", 9_312),
    ("Westhollow Timber", 1_354),
    ("Xandera Robotics", 4_826),
    ("Yarrowgate Property", 2_215),
    ("Zephyrine Airlines", 1_118),
    ("Ambergate Consulting", 3_547),
    ("Bellwether Cement", 1_763),
    ("Corvane Networks", 5_990),
    ("Driftwood Beverages", 2_468),
];

/// The index into [`STOCKS`] of an item name `item<N>`, 1 <= N <= 30, in
/// canonical form (no sign, no leading zeros), so each stock has one name.
pub(crate) fn parse_item(name: &str) -> Option<usize> {
    let digits = name.strip_prefix("item")?;
    if digits.is_empty()
        || digits.len() > 2
        || digits.starts_with('0')
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let n: usize = digits.parse().ok()?;
    (1..=COUNT).contains(&n).then(|| n - 1)
}

/// The item name of the stock at `index`.
pub(crate) fn item_name(index: usize) -> String {
    format!("item{}", index + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_names() {
        assert_eq!(parse_item("item1"), Some(0));
        assert_eq!(parse_item("item30"), Some(29));
        for bad in [
            "item0", "item31", "item01", "item", "item+1", "Item1", "item1 ", "x",
        ] {
            assert_eq!(parse_item(bad), None, "{bad}");
        }
        for i in 0..COUNT {
            assert_eq!(parse_item(&item_name(i)), Some(i));
        }
    }

    #[test]
    fn names_are_distinct() {
        let mut names: Vec<_> = STOCKS.iter().map(|s| s.0).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), COUNT);
    }
}

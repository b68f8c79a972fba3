//! LiteralBasedProvider params, and `<adapters_dir>` in lightstreamer_conf.xml.

use super::tests::{line_of, notes, one_err, Dir};
use super::*;
use std::path::Path;

#[test]
fn literal_based_provider_params() {
    let xml = r#"<adapters_conf id="S">
<metadata_provider>
  <adapter_class>com.lightstreamer.adapters.metadata.LiteralBasedProvider</adapter_class>
  <install_dir>metadata</install_dir>
  <param name="max_bandwidth">40.5</param>
  <param name="max_frequency">3</param>
  <param name="buffer_size">30</param>
  <param name="distinct_snapshot_length">30</param>
  <param name="prefilter_frequency">5</param>
  <param name="allowed_users">user123, user456,</param>
  <param name="item_family_1">item.*</param>
  <param name="data_adapter_for_item_family_1">QUOTES</param>
  <param name="modes_for_item_family_1">MERGE</param>
  <param name="item_family_2">chat_room\d{1,2}</param>
  <param name="modes_for_item_family_2">DISTINCT, RAW COMMAND</param>
  <param name="item_family_3">orphan</param>
  <param name="modes_for_item_family_9">RAW</param>
  <param name="data_adapter_for_item_family_2">NOPE</param>
  <param name="log_config">adapters_log_conf.xml</param>
</metadata_provider>
<data_provider name="QUOTES"><adapter_class>PROXY_FOR_REMOTE_ADAPTER</adapter_class>
  <param name="request_reply_port">0</param></data_provider>
</adapters_conf>"#;
    let d = Dir::new();
    std::fs::create_dir_all(d.dir.join("S/metadata")).unwrap();
    d.set("S", xml);
    let loaded = d.load().unwrap();
    let MetadataAdapter::LiteralBased(l) = &loaded.sets[0].metadata.adapter else {
        panic!()
    };
    assert_eq!(
        l.allowed_users,
        Some(vec!["user123".into(), "user456".into()])
    );
    assert_eq!(
        (l.max_bandwidth, l.max_frequency, l.prefilter_frequency),
        (40.5, 3.0, 5.0)
    );
    assert_eq!((l.buffer_size, l.distinct_snapshot_length), (30, 30));
    let f: Vec<(u32, &str, Option<&str>, Vec<Mode>)> = l
        .item_families
        .iter()
        .map(|f| {
            (
                f.number,
                f.pattern.as_str(),
                f.data_adapter.as_deref(),
                f.modes.clone(),
            )
        })
        .collect();
    assert_eq!(
        f,
        vec![
            (1, "item.*", Some("QUOTES"), vec![Mode::Merge]),
            (
                2,
                "chat_room\\d{1,2}",
                Some("NOPE"),
                vec![Mode::Distinct, Mode::Raw, Mode::Command]
            ),
            (3, "orphan", None, vec![]),
        ]
    );
    let n = notes(&loaded.warnings);
    let lines: Vec<u32> = n.iter().map(|w| w.0).collect();
    let at = |s: &str| line_of(xml, s);
    assert_eq!(
        lines,
        [
            at("<install_dir>"),
            at("item_family_3"),
            at("modes_for_item_family_9"),
            at("data_adapter_for_item_family_2"),
            at("log_config")
        ],
        "{n:#?}"
    );
    assert!(n[1].2.contains("allowed in no mode"), "{n:?}");
    assert!(n[3].2.contains("\"NOPE\""), "{n:?}");
    assert!(
        n[4].2.contains("not a parameter of LiteralBasedProvider"),
        "{n:?}"
    );
}

#[test]
fn literal_based_provider_errors() {
    let with = |params: &str| {
        format!("<adapters_conf id=\"S\">\n<metadata_provider>\n<adapter_class>{LITERAL_BASED_PROVIDER}</adapter_class>\n{params}\n</metadata_provider>\n<data_provider><adapter_class>PROXY_FOR_REMOTE_ADAPTER</adapter_class><param name=\"request_reply_port\">0</param></data_provider></adapters_conf>")
    };
    let path =
        |name: &str| format!("adapters_conf[id=\"S\"]/metadata_provider/param[name=\"{name}\"]");
    for (params, name, words) in [
        ("<param name=\"max_bandwidth\">-1</param>", "max_bandwidth", "0 or more"),
        ("<param name=\"max_frequency\">fast</param>", "max_frequency", "\"fast\""),
        ("<param name=\"buffer_size\">1.5</param>", "buffer_size", "whole number"),
        ("<param name=\"distinct_snapshot_length\">-3</param>", "distinct_snapshot_length", "whole number"),
        ("<param name=\"item_family_01\">a</param>", "item_family_01", "without leading zeros"),
        ("<param name=\"item_family_x\">a</param>", "item_family_x", "not a family number"),
        ("<param name=\"item_family_1\">a</param><param name=\"modes_for_item_family_1\">merge</param>", "modes_for_item_family_1", "unknown mode \"merge\""),
        ("<param name=\"item_family_1\">(a</param>", "item_family_1", "not a pattern Shoal can use"),
        ("<param name=\"item_family_1\">a(?=b)</param>", "item_family_1", "look-around"),
    ] {
        let e = one_err(&with(params));
        assert_eq!((e.line, e.element.clone()), (Some(4), path(name)), "{e}");
        assert!(e.message.contains(words), "{e}");
    }
}

#[test]
fn the_conf_file_names_the_adapters_dir() {
    let d = Dir::new();
    std::fs::create_dir_all(d.dir.join("adapters")).unwrap();
    let conf = d.dir.join("conf/lightstreamer_conf.xml");
    std::fs::create_dir_all(conf.parent().unwrap()).unwrap();
    std::fs::write(&conf, "placeholder").unwrap();
    let http = "<http_server name=\"H\"><port>8080</port></http_server>";
    let parse = |body: &str| {
        crate::parse(
            &format!("<lightstreamer_conf>\n{http}\n{body}\n</lightstreamer_conf>"),
            &conf,
        )
    };
    assert_eq!(parse("").unwrap().config.adapters_dir, None);
    let c = parse("<adapters_dir>../adapters</adapters_dir>").unwrap();
    assert_eq!(c.config.adapters_dir, Some(d.dir.join("conf/../adapters")));
    assert_eq!(c.warnings, vec![]);
    let e = parse("<adapters_dir>../missing</adapters_dir>").unwrap_err();
    assert_eq!(
        (e.line, e.element.as_str()),
        (Some(3), "lightstreamer_conf/adapters_dir"),
        "{e}"
    );
    assert!(
        e.message.contains("cannot read the folder of adapter sets"),
        "{e}"
    );
    let e = parse("<adapters_dir>lightstreamer_conf.xml</adapters_dir>").unwrap_err();
    assert!(e.message.contains("is a file, not a folder"), "{e}");
    assert!(Path::new(&d.dir).is_dir());
}

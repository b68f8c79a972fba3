//! docs/clustering.md carries the reference made from the kits' own plans.

#[test]
fn clustering_doc_matches_the_generated_reference() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/clustering.md");
    let doc = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let begin = shoal_cluster::docs::BEGIN;
    let end = shoal_cluster::docs::END;
    let (Some(a), Some(b)) = (doc.find(begin), doc.find(end)) else {
        panic!("{path} lacks the markers {begin} / {end}");
    };
    let inside = &doc[a + begin.len()..b];
    let expected = shoal_cluster::docs::reference().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        inside.trim() == expected.trim(),
        "{path} is out of date: run scripts/clustering-docs.sh"
    );
}

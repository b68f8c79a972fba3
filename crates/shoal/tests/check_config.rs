//! `shoal check-config` on the configuration fixtures: every server-side
//! snippet of the clustering guide is accepted, every broken file is refused
//! with a message that names the element and its line, and a non-zero exit.

use std::path::PathBuf;
use std::process::Command;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config/tests/fixtures")
}

fn check(file: &str) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .arg("check-config")
        .arg(fixtures().join(file))
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap_or_else(|e| panic!("cannot run shoal: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn names(prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap_or_else(|e| panic!("no fixtures: {e}"))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix) && n.ends_with(".xml"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_seed_snippet_is_accepted() {
    let seeds = names("seed_");
    assert!(seeds.len() >= 30, "expected the guide's snippets, found {}", seeds.len());
    for f in seeds {
        let (ok, out, err) = check(&f);
        assert!(ok, "{f} refused: {err}");
        assert!(out.contains("valid"), "{f}: {out}");
        assert!(out.contains("listeners:"), "{f}: {out}");
        assert!(!out.contains("warning:"), "{f} has warnings: {out}");
    }
}

#[test]
fn broken_files_name_element_and_line() {
    let bad = names("bad_");
    assert!(bad.len() >= 10, "found {}", bad.len());
    for f in bad {
        let (ok, _, err) = check(&f);
        assert!(!ok, "{f} was accepted");
        let msg = err.trim();
        assert!(!msg.contains("panicked"), "{f}: {msg}");
        assert!(!msg.contains("backtrace"), "{f}: {msg}");
        // "error: FILE:LINE: <ELEMENT>: message" (no line when the file
        // cannot be parsed at all is not expected for these fixtures).
        let re_ok = msg.starts_with("error: ")
            && msg.contains(&format!("{f}:"))
            && msg.contains("<lightstreamer_conf");
        let invalid_xml = f == "bad_invalid_xml.xml" && msg.contains(&format!("{f}:"));
        assert!(re_ok || invalid_xml, "{f}: {msg}");
    }
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let (ok, _, err) = check("no_such_file.xml");
    assert!(!ok);
    assert!(err.contains("no_such_file.xml") && err.contains("cannot read"), "{err}");
}

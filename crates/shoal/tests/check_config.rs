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

/// A copy of the seed fixtures where every keystore they name is a real JKS
/// made by `keytool` (password `mypassword`, as in the guide's snippets).
fn seed_site(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shoal-seed-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let mut stores = std::collections::BTreeSet::new();
    for f in names("seed_") {
        let text = std::fs::read_to_string(fixtures().join(&f)).unwrap_or_else(|e| panic!("{e}"));
        for part in text.split("<keystore_file>").skip(1) {
            let name = part
                .split('<')
                .next()
                .unwrap_or("")
                .trim()
                .trim_start_matches("./");
            stores.insert(name.to_owned());
        }
        std::fs::write(dir.join(&f), text).unwrap_or_else(|e| panic!("{e}"));
    }
    for name in stores {
        let host = name.trim_end_matches(".keystore").replace('_', ".");
        let status = Command::new("keytool")
            .args([
                "-genkeypair",
                "-alias",
                "server",
                "-keyalg",
                "RSA",
                "-keysize",
                "2048",
            ])
            .args([
                "-dname",
                &format!("CN={host}.example.test"),
                "-validity",
                "30",
            ])
            .args([
                "-storetype",
                "JKS",
                "-storepass",
                "mypassword",
                "-keypass",
                "mypassword",
            ])
            .arg("-keystore")
            .arg(dir.join(&name))
            .output()
            .unwrap_or_else(|e| panic!("keytool (Java) is needed to make test keystores: {e}"));
        assert!(
            status.status.success(),
            "keytool failed for {name}: {}",
            String::from_utf8_lossy(&status.stderr)
        );
    }
    dir
}

fn check_in(dir: &std::path::Path, file: &str) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .arg("check-config")
        .arg(dir.join(file))
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap_or_else(|e| panic!("cannot run shoal: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_seed_snippet_is_accepted_with_real_keystores() {
    let site = seed_site("check");
    let seeds = names("seed_");
    assert!(
        seeds.len() >= 30,
        "expected the guide's snippets, found {}",
        seeds.len()
    );
    for f in &seeds {
        let (ok, out, err) = check_in(&site, f);
        assert!(ok, "{f} refused: {err}");
        assert!(
            out.contains("valid") && out.contains("listeners:"),
            "{f}: {out}"
        );
        assert!(!out.contains("warning:"), "{f} has warnings: {out}");
        if out.contains("https://") {
            assert!(
                out.contains("certificate server: subject CN="),
                "{f}: {out}"
            );
        }
    }
    // A wrong password is refused, naming the keystore element's line.
    let text = std::fs::read_to_string(site.join("seed_2a1.xml")).unwrap_or_else(|e| panic!("{e}"));
    let line = text
        .lines()
        .position(|l| l.contains("<keystore>"))
        .map(|i| i + 1);
    std::fs::write(
        site.join("wrong.xml"),
        text.replace("mypassword", "nottheone"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (ok, _, err) = check_in(&site, "wrong.xml");
    assert!(!ok);
    assert!(
        err.contains(&format!("wrong.xml:{}:", line.unwrap_or(0))) && err.contains("password"),
        "{err}"
    );
    std::fs::remove_dir_all(site).unwrap_or_else(|e| panic!("{e}"));
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
    assert!(
        err.contains("no_such_file.xml") && err.contains("cannot read"),
        "{err}"
    );
}

/// `serve` starts with every seed snippet: ports become 0 and interfaces
/// loopback (the guide's public addresses do not exist here); each listener
/// must say where it listens, with the right scheme.
#[test]
fn serve_starts_with_every_seed_snippet() {
    use std::io::{BufRead, BufReader};
    let site = seed_site("serve");
    for f in names("seed_") {
        let text = std::fs::read_to_string(site.join(&f)).unwrap_or_else(|e| panic!("{e}"));
        let mut local = String::new();
        let mut rest = text.as_str();
        // Every <port>N</port> becomes 0, every interface 127.0.0.1.
        while let Some(i) = rest.find('<') {
            local.push_str(&rest[..i]);
            rest = &rest[i..];
            let tag_end = rest.find('>').map_or(rest.len(), |e| e + 1);
            let tag = &rest[..tag_end];
            let close = match tag {
                "<port>" => Some("</port>"),
                "<listening_interface>" => Some("</listening_interface>"),
                _ => None,
            };
            match close.and_then(|c| rest.find(c).map(|e| (c, e))) {
                Some((c, e)) => {
                    let value = if c == "</port>" { "0" } else { "127.0.0.1" };
                    local.push_str(&format!("{tag}{value}{c}"));
                    rest = &rest[e + c.len()..];
                }
                None => {
                    local.push_str(tag);
                    rest = &rest[tag_end..];
                }
            }
        }
        local.push_str(rest);
        let expected_https = text.matches("<https_server").count();
        let expected = text.matches("<http_server").count() + expected_https;
        let conf = site.join(format!("local_{f}"));
        std::fs::write(&conf, local).unwrap_or_else(|e| panic!("{e}"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_shoal"))
            .args(["serve", "--config"])
            .arg(&conf)
            .env_remove("RUST_BACKTRACE")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run shoal: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let lines: Vec<String> = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .take(expected)
            .collect();
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(lines.len(), expected, "{f}: {lines:?}");
        let https = lines
            .iter()
            .filter(|l| l.starts_with("listening on https://"))
            .count();
        assert_eq!(https, expected_https, "{f}: {lines:?}");
    }
    std::fs::remove_dir_all(site).unwrap_or_else(|e| panic!("{e}"));
}

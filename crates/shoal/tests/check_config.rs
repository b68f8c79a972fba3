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
            // Other announcements (the demo pages' address) come between.
            .filter(|l| l.starts_with("listening on "))
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

/// A scratch site: `conf/lightstreamer_conf.xml` and `adapters/<SET>/adapters.xml`.
struct Site(PathBuf);

impl Site {
    fn new(test: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("shoal-adapters-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("conf")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(dir.join("adapters")).unwrap_or_else(|e| panic!("{e}"));
        Site(dir)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let f = self.0.join(rel);
        std::fs::create_dir_all(f.parent().unwrap_or(&self.0)).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&f, text).unwrap_or_else(|e| panic!("{e}"));
        f
    }

    fn conf(&self, extra: &str) -> PathBuf {
        self.write(
            "conf/lightstreamer_conf.xml",
            &format!("<lightstreamer_conf>\n<http_server name=\"H\"><port>8080</port></http_server>\n{extra}\n</lightstreamer_conf>\n"),
        )
    }

    fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_shoal"))
            .current_dir(&self.0)
            .args(args)
            .env_remove("RUST_BACKTRACE")
            .output()
            .unwrap_or_else(|e| panic!("cannot run shoal: {e}"));
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const NODE_SET: &str = r#"<?xml version="1.0"?>
<adapters_conf id="PROXY_NODE">
  <metadata_provider>
    <adapter_class>ROBUST_PROXY_FOR_REMOTE_ADAPTER</adapter_class>
    <classloader>log-enabled</classloader>
    <param name="request_reply_port">8003</param>
  </metadata_provider>
  <data_provider>
    <adapter_class>ROBUST_PROXY_FOR_REMOTE_ADAPTER</adapter_class>
    <param name="request_reply_port">8001</param>
    <param name="notify_port">8002</param>
  </data_provider>
</adapters_conf>
"#;

const LITERAL_SET: &str = r#"<adapters_conf id="STOCKS">
  <metadata_provider>
    <adapter_class>com.lightstreamer.adapters.metadata.LiteralBasedProvider</adapter_class>
    <param name="item_family_1">item.*</param>
    <param name="modes_for_item_family_1">MERGE</param>
  </metadata_provider>
  <data_provider name="QUOTE_ADAPTER">
    <adapter_class>PROXY_FOR_REMOTE_ADAPTER</adapter_class>
    <param name="request_reply_port">6661</param>
  </data_provider>
</adapters_conf>
"#;

#[test]
fn adapter_sets_of_the_conf_are_checked_and_listed() {
    let site = Site::new("list");
    site.conf("<adapters_dir>../adapters</adapters_dir>");
    site.write("adapters/Node/adapters.xml", NODE_SET);
    site.write("adapters/Stocks/adapters.xml", LITERAL_SET);
    site.write("adapters/notes/readme.txt", "not a set");
    let (ok, out, err) = site.run(&["check-config", "conf/lightstreamer_conf.xml"]);
    assert!(ok, "{err}");
    for expected in [
        "conf/lightstreamer_conf.xml: valid",
        "adapters folder conf/../adapters: 2 adapter set(s)",
        "warning: conf/../adapters/notes: no adapters.xml in this folder",
        "conf/../adapters/Node/adapters.xml: valid",
        "warning: conf/../adapters/Node/adapters.xml:5: <adapters_conf[id=\"PROXY_NODE\"]/metadata_provider/classloader>: not applicable to Shoal",
        "adapter set \"PROXY_NODE\"\n  metadata: ROBUST_PROXY_FOR_REMOTE_ADAPTER  request_reply_port 8003\n  data \"DEFAULT\": ROBUST_PROXY_FOR_REMOTE_ADAPTER  request_reply_port 8001  notify_port 8002\n",
        "adapter set \"STOCKS\"\n  metadata: com.lightstreamer.adapters.metadata.LiteralBasedProvider  1 item family  any user\n  data \"QUOTE_ADAPTER\": PROXY_FOR_REMOTE_ADAPTER  request_reply_port 6661\n",
        "adapter set \"DEMO\": embedded demo",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }

    // --adapters-dir alone, and over <adapters_dir>.
    let (ok, out, err) = site.run(&["check-config", "--adapters-dir", "adapters"]);
    assert!(
        ok && out.starts_with("adapters folder adapters: 2 adapter set(s)"),
        "{out}{err}"
    );
    site.write(
        "other/Only/adapters.xml",
        &LITERAL_SET.replace("STOCKS", "DEMO"),
    );
    let (ok, out, err) = site.run(&[
        "check-config",
        "conf/lightstreamer_conf.xml",
        "--adapters-dir",
        "other",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("adapters folder other: 1 adapter set(s)"),
        "{out}"
    );
    assert!(
        out.contains("adapter set \"DEMO\" (replaces the embedded demo)"),
        "{out}"
    );
    assert!(
        !out.contains("adapter set \"DEMO\": embedded demo"),
        "{out}"
    );

    // Without any adapters folder, the embedded set.
    site.conf("");
    let (ok, out, _) = site.run(&["check-config", "conf/lightstreamer_conf.xml"]);
    assert!(ok && out.contains("adapter sets: DEMO (embedded"), "{out}");
}

#[test]
fn broken_adapter_sets_name_file_element_and_line() {
    let site = Site::new("broken");
    site.conf("<adapters_dir>../adapters</adapters_dir>");
    let cases = [
        (
            NODE_SET.replace("ROBUST_PROXY_FOR_REMOTE_ADAPTER</adapter_class>\n    <classloader>", "com.example.Auth</adapter_class>\n    <classloader>"),
            "adapters/S/adapters.xml:4: <adapters_conf[id=\"PROXY_NODE\"]/metadata_provider/adapter_class>: \"com.example.Auth\" is a Java class",
        ),
        (
            NODE_SET.replace(">8001<", ">80001<"),
            "adapters/S/adapters.xml:10: <adapters_conf[id=\"PROXY_NODE\"]/data_provider[name=\"DEFAULT\"]/param[name=\"request_reply_port\"]>: expected a TCP port number",
        ),
        (
            NODE_SET.replace(">8001<", ">8080<"),
            "adapters/S/adapters.xml:10: <adapters_conf[id=\"PROXY_NODE\"]/data_provider[name=\"DEFAULT\"]/param[name=\"request_reply_port\"]>: port 8080 is already the port of the listener \"H\"",
        ),
        (
            NODE_SET.replace(">8002<", ">8003<"),
            "adapters/S/adapters.xml:11: <adapters_conf[id=\"PROXY_NODE\"]/data_provider[name=\"DEFAULT\"]/param[name=\"notify_port\"]>: port 8003 is already used",
        ),
    ];
    for (xml, expected) in cases {
        site.write("adapters/S/adapters.xml", &xml);
        let (ok, _, err) = site.run(&["check-config", "conf/lightstreamer_conf.xml"]);
        assert!(!ok, "accepted: {expected}");
        assert!(
            err.starts_with("error: ") && err.contains(expected),
            "{err}\nexpected {expected}"
        );
    }
    site.conf("<adapters_dir>../nowhere</adapters_dir>");
    let (ok, _, err) = site.run(&["check-config", "conf/lightstreamer_conf.xml"]);
    assert!(!ok && err.contains("lightstreamer_conf.xml:3: <lightstreamer_conf/adapters_dir>: cannot read the folder of adapter sets"), "{err}");
    let (ok, _, err) = site.run(&["check-config"]);
    assert!(!ok && err.contains("<FILE>"), "{err}");
}

/// The keystore of a TLS proxy is loaded as an `<https_server>`'s: its
/// certificate is shown, a wrong password names the param and its line.
#[test]
fn proxy_keystores_are_loaded() {
    let site = Site::new("tls");
    std::fs::create_dir_all(site.0.join("adapters/S")).unwrap_or_else(|e| panic!("{e}"));
    let status = Command::new("keytool")
        .args([
            "-genkeypair",
            "-alias",
            "remote",
            "-keyalg",
            "RSA",
            "-keysize",
            "2048",
        ])
        .args(["-dname", "CN=adapters.example.test", "-validity", "30"])
        .args([
            "-storetype",
            "JKS",
            "-storepass",
            "secret1",
            "-keypass",
            "secret1",
        ])
        .arg("-keystore")
        .arg(site.0.join("adapters/S/remote.jks"))
        .output()
        .unwrap_or_else(|e| panic!("keytool (Java) is needed to make test keystores: {e}"));
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let tls = "<param name=\"tls\">Y</param>\n    <param name=\"tls.keystore.keystore_file\">remote.jks</param>\n    <param name=\"tls.keystore.keystore_password\">secret1</param>\n  </data_provider>";
    let xml = NODE_SET.replace(
        "</param>\n  </data_provider>",
        &format!("</param>\n    {tls}"),
    );
    site.write("adapters/S/adapters.xml", &xml);
    let (ok, out, err) = site.run(&["check-config", "--adapters-dir", "adapters"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("TLS keystore JKS adapters/S/remote.jks"),
        "{out}"
    );
    assert!(
        out.contains("certificate remote: subject CN=adapters.example.test"),
        "{out}"
    );
    site.write(
        "adapters/S/adapters.xml",
        &xml.replace(">secret1<", ">wrong<"),
    );
    let (ok, _, err) = site.run(&["check-config", "--adapters-dir", "adapters"]);
    assert!(!ok, "wrong password accepted");
    assert!(err.contains("adapters/S/adapters.xml:13: <adapters_conf[id=\"PROXY_NODE\"]/data_provider[name=\"DEFAULT\"]/param[name=\"tls.keystore.keystore_file\"]>") && err.contains("password"), "{err}");
}

/// `shoal.redis` and `shoal.nats` providers: one line each, passwords and
/// tokens masked, beside a proxy and on the listener's port number (a
/// broker provider opens no port).
#[test]
fn broker_providers_are_listed_without_secrets() {
    let site = Site::new("broker");
    site.write("adapters/F/ca.pem", "-----BEGIN CERTIFICATE-----\n");
    site.write(
        "adapters/F/adapters.xml",
        r#"<adapters_conf id="FEED">
  <metadata_provider>
    <adapter_class>com.lightstreamer.adapters.metadata.LiteralBasedProvider</adapter_class>
  </metadata_provider>
  <data_provider>
    <adapter_class>shoal.redis</adapter_class>
    <param name="url">rediss://ann:urlpw@127.0.0.1:8080/0</param>
    <param name="tls_ca_file">ca.pem</param>
    <param name="stream_prefix">shoal:</param>
    <param name="publish_token">pubtok</param>
  </data_provider>
  <data_provider name="N">
    <adapter_class>shoal.nats</adapter_class>
    <param name="url">nats://natstok@a:4222,nats://u:natspw@b</param>
    <param name="publish_user">bob</param>
    <param name="publish_password">bobpw</param>
    <param name="create_stream">N</param>
  </data_provider>
  <data_provider name="P">
    <adapter_class>PROXY_FOR_REMOTE_ADAPTER</adapter_class>
    <param name="request_reply_port">6661</param>
  </data_provider>
</adapters_conf>
"#,
    );
    site.conf("<adapters_dir>../adapters</adapters_dir>");
    let (ok, out, err) = site.run(&["check-config", "conf/lightstreamer_conf.xml"]);
    assert!(ok, "{err}");
    for expected in [
        "  data \"DEFAULT\": shoal.redis at rediss://ann:***@127.0.0.1:8080/0  streams \"shoal:<item>\"  TLS CA conf/../adapters/F/ca.pem  snapshot 10 entries  linger 5000 ms  publish with bearer token\n",
        "  data \"N\": shoal.nats at nats://***@a:4222,nats://u:***@b  subjects \"shoal.<item>\" in stream SHOAL  snapshot 10 entries  linger 5000 ms  publish with basic user bob\n",
        "  data \"P\": PROXY_FOR_REMOTE_ADAPTER  request_reply_port 6661\n",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    for secret in ["urlpw", "pubtok", "natstok", "natspw", "bobpw"] {
        assert!(!out.contains(secret) && !err.contains(secret), "{out}{err}");
    }
}

/// `serve --adapters-dir`: an empty folder keeps the embedded demo; with a
/// set of proxies, the start waits for their remotes.
#[test]
fn serve_takes_an_adapters_dir() {
    use std::io::{BufRead, BufReader};
    let site = Site::new("serve");
    let mut child = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .current_dir(&site.0)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--adapters-dir",
            "adapters",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run shoal: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let first = BufReader::new(stdout).lines().next();
    let _ = child.kill();
    let _ = child.wait();
    let first = first.and_then(Result::ok).unwrap_or_default();
    assert!(
        first.starts_with("listening on http://127.0.0.1:"),
        "{first}"
    );

    // With a set, the start waits for its remote adapters (a robust
    // metadata proxy waits for ever by default), after logging the file's
    // warnings. Ports 0: no port of the machine's is taken.
    let node = NODE_SET
        .replace(">8001<", ">0<")
        .replace(">8002<", ">0<")
        .replace(">8003<", ">0<");
    site.write("adapters/Node/adapters.xml", &node);
    let mut child = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .current_dir(&site.0)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--adapters-dir",
            "adapters",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run shoal: {e}"));
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut log = Vec::new();
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(30)) {
        let waits = line.contains("the server starts once this remote adapter is connected");
        log.push(line);
        if waits {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = log.join("\n");
    assert!(
        log.contains("the server starts once this remote adapter is connected"),
        "{log}"
    );
    assert!(
        log.contains("adapters/Node/adapters.xml:5"),
        "the warnings are logged: {log}"
    );
}

#[test]
fn check_config_says_where_the_console_is_and_who_may_open_it() {
    let site = Site::new("console");
    let line = |extra: &str| {
        site.conf(extra);
        let (ok, out, err) = site.run(&["check-config", "conf/lightstreamer_conf.xml"]);
        assert!(ok, "{out}{err}");
        out.lines()
            .find(|l| l.starts_with("monitor console:"))
            .unwrap_or_else(|| panic!("no console line in {out}"))
            .to_owned()
    };
    assert_eq!(
        line(""),
        "monitor console: /dashboard/ on every listener; open to local clients only (loopback, not forwarded)"
    );
    assert!(line("<dashboard/>").starts_with("monitor console: nowhere"));
    assert_eq!(
        line("<dashboard><available_on_server name=\"H\"/><user id=\"a\" password=\"b\"/><dashboard_url_path>/ops</dashboard_url_path></dashboard>"),
        "monitor console: /ops/ on every listener; open to local clients and 1 user(s) with HTTP Basic"
    );
    assert!(line("<dashboard><public>Y</public><available_on_all_servers>Y</available_on_all_servers></dashboard>")
        .ends_with("open to anyone (public)"));
}

//! Embeds the pages of `assets/` and the official Lightstreamer web client.
//!
//! The web client is a third-party file: it is never committed. This script
//! installs it with `npm ci` from `npm/package-lock.json` (pinned) into
//! `OUT_DIR`, once per change of the lock file; npm's own cache makes the
//! next clean build work offline. `SHOAL_WEB_CLIENT_JS` may name a copy of
//! `lightstreamer.min.js` instead (a build machine without npm).
//!
//! The pages under `assets/` are listed into `OUT_DIR/assets.rs`, one
//! `include_bytes!` each, so that a new page needs no code change.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The file of the npm package that pages load: the full browser bundle
/// (client, widgets). Its classes become globals (`LightstreamerClient`...),
/// or members of the namespace named by the `data-lightstreamer-ns`
/// attribute of its `<script>` tag (`lightstreamer` in Shoal's pages).
const CLIENT_FILE: &str = "node_modules/lightstreamer-client-web/lightstreamer.min.js";

fn main() {
    let manifest = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env("OUT_DIR"));
    println!("cargo:rerun-if-changed=npm/package.json");
    println!("cargo:rerun-if-changed=npm/package-lock.json");
    println!("cargo:rerun-if-changed=assets");
    println!("cargo:rerun-if-env-changed=SHOAL_WEB_CLIENT_JS");

    let client = match std::env::var_os("SHOAL_WEB_CLIENT_JS") {
        Some(path) => PathBuf::from(path),
        None => install_client(&manifest.join("npm"), &out.join("npm")),
    };
    if !client.is_file() {
        fail(&format!(
            "the Lightstreamer web client is not at {}",
            client.display()
        ));
    }

    let mut table = String::from("&[\n");
    let assets = manifest.join("assets");
    let mut files = Vec::new();
    walk(&assets, &mut files);
    files.sort();
    for file in &files {
        let Ok(rel) = file.strip_prefix(&assets) else {
            continue;
        };
        let rel = rel.to_string_lossy().replace('\\', "/");
        let _ = writeln!(
            table,
            "    ({rel:?}, include_bytes!({:?}) as &[u8]),",
            file.display().to_string()
        );
    }
    table.push(']');
    write(&out.join("assets.rs"), &table);
    write(
        &out.join("client.rs"),
        &format!("include_bytes!({:?})", client.display().to_string()),
    );
}

/// Runs `npm ci` in a copy of `src` under `dst` when the lock changed, and
/// returns the path of the client file.
fn install_client(src: &Path, dst: &Path) -> PathBuf {
    let lock = read(&src.join("package-lock.json"));
    let stamp = dst.join(".installed-lock");
    let target = dst.join(CLIENT_FILE);
    if target.is_file() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(lock.as_str()) {
        return target;
    }
    if let Err(e) = std::fs::create_dir_all(dst) {
        fail(&format!("cannot create {}: {e}", dst.display()));
    }
    for name in ["package.json", "package-lock.json"] {
        if let Err(e) = std::fs::copy(src.join(name), dst.join(name)) {
            fail(&format!("cannot copy {name} to {}: {e}", dst.display()));
        }
    }
    let status = Command::new("npm")
        .args([
            "ci",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--prefer-offline",
            "--loglevel=error",
        ])
        .current_dir(dst)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => fail(&format!(
            "`npm ci` in {} failed ({s}): the pinned lightstreamer-client-web package could not be installed",
            dst.display()
        )),
        Err(e) => fail(&format!(
            "cannot run npm ({e}): install Node.js 20 and npm, or set SHOAL_WEB_CLIENT_JS to a copy of lightstreamer.min.js 9.2.3"
        )),
    }
    write(&stamp, &lock);
    target
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => fail(&format!("cannot read {}: {e}", dir.display())),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if hidden {
            continue;
        }
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| fail(&format!("{name} is not set (run through cargo)")))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display())))
}

fn write(path: &Path, text: &str) {
    if let Err(e) = std::fs::write(path, text) {
        fail(&format!("cannot write {}: {e}", path.display()));
    }
}

fn fail(why: &str) -> ! {
    eprintln!("shoal-web build: {why}");
    std::process::exit(1)
}

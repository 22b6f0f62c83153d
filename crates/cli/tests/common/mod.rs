//! Helpers shared by the command-line tests: run `sscard` and `openssl`,
//! and give each test a scratch directory of its own.

#![allow(dead_code)]

pub mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the `sscard` binary built for this test run.
pub fn sscard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sscard"))
        .args(args)
        .output()
        .expect("run sscard")
}

/// Runs `sscard` with `stdin` as its standard input.
pub fn sscard_stdin(args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_sscard"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn sscard");
    // A command that refuses its arguments exits without reading stdin.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

/// Runs `openssl`; OpenSSL 3 is installed on every machine of the project,
/// so its absence fails the test rather than skipping it.
pub fn openssl(args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl command (OpenSSL 3) must be installed")
}

/// Asserts success and returns stdout.
#[track_caller]
pub fn ok(out: Output) -> Vec<u8> {
    assert!(
        out.status.success(),
        "exit {:?}, stderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// stdout as trimmed text.
#[track_caller]
pub fn ok_text(out: Output) -> String {
    String::from_utf8(ok(out)).unwrap().trim().to_string()
}

/// Asserts the exit code and that stderr is exactly one line; returns it.
#[track_caller]
pub fn fails(out: Output, code: i32) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "one line on stderr, got: {stderr:?}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr.trim().to_string()
}

/// The value of the `key: value` line of `key` in a command's output.
#[track_caller]
pub fn field(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no {key}: in {text}"))
        .to_string()
}

/// A new empty directory, unique to this call even when tests run in parallel.
pub fn scratch(name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A path inside `dir` as a `&str` argument.
pub fn arg(dir: &Path, file: &str) -> String {
    dir.join(file).to_str().unwrap().to_string()
}

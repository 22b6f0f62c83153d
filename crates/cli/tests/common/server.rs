//! A real `sscard serve` process for tests, and a small HTTP helper.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// A running server; killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: String,
    pub dir: PathBuf,
}

impl Server {
    /// `sscard serve --dev` on a free loopback port, with a data directory.
    pub fn dev(dir: &Path, extra: &[&str]) -> Self {
        let mut args = vec![
            "serve",
            "--dev",
            "--data",
            dir.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ];
        args.extend_from_slice(extra);
        Self::start(dir, &args)
    }

    /// `sscard serve` with any arguments after `serve --data DIR`.
    pub fn with_args(dir: &Path, extra: &[&str]) -> Self {
        let mut args = vec!["serve", "--data", dir.to_str().unwrap()];
        args.extend_from_slice(extra);
        Self::start(dir, &args)
    }

    /// `sscard serve` (sealed) on a free loopback port.
    pub fn sealed(dir: &Path) -> Self {
        Self::start(
            dir,
            &[
                "serve",
                "--data",
                dir.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
            ],
        )
    }

    fn start(dir: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sscard"))
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sscard serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening: ")
            .unwrap_or_else(|| panic!("the server did not start: {line:?}"))
            .to_string();
        Self {
            child,
            addr,
            dir: dir.to_path_buf(),
        }
    }

    /// The dev credentials file.
    pub fn credentials(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.dir.join("dev-credentials.json")).unwrap())
            .unwrap()
    }

    /// User name and password of a dev operator (`system`, `security`, `security2`, `audit`).
    pub fn operator(&self, label: &str) -> (String, String) {
        let c = self.credentials();
        let op = &c["operators"][label];
        (
            op["user"].as_str().unwrap().to_string(),
            op["password"].as_str().unwrap().to_string(),
        )
    }

    /// Logs a dev operator in and returns the token.
    pub fn login(&self, label: &str) -> String {
        let (user, password) = self.operator(label);
        let (status, body) = call(
            &self.addr,
            "POST",
            "/v1/auth/login",
            None,
            Some(serde_json::json!({"user": user, "password": password})),
        );
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().unwrap().to_string()
    }

    /// Runs `sscard args…` against this server with `token`.
    pub fn run_as(&self, token: &str, args: &[&str]) -> std::process::Output {
        let mut all = args.to_vec();
        all.extend(["--addr", self.addr.as_str(), "--token", token]);
        super::sscard(&all)
    }

    /// SIGTERM, and waits for the server to shut down as it does on a
    /// signal (writing what it holds).
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }

    /// SIGKILL, no shutdown.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// One HTTP request; returns the status and the JSON body (or the text as a JSON string).
pub fn call(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    call_raw(addr, method, path, token, body.map(|b| b.to_string()))
}

/// One HTTP request with a raw body.
pub fn call_raw(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<String>,
) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{addr}{path}");
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut response = match method {
        "GET" => {
            let mut r = agent.get(&url);
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.call()
        }
        _ => {
            let mut r = agent.post(&url).header("Content-Type", "application/json");
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.send(body.unwrap_or_default())
        }
    }
    .expect("HTTP request");
    let status = response.status().as_u16();
    assert!(
        response.headers().contains_key("x-request-id"),
        "every response carries a request id"
    );
    let text = response.body_mut().read_to_string().unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

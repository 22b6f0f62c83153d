//! The HTTP client of the admin commands: `--addr`/`SSCARD_ADDR`,
//! `--token`/`SSCARD_TOKEN`, and the mapping of HTTP answers to exit codes.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::error::{CliError, CliResult};

/// Where the server is and who is calling.
#[derive(Debug, Clone, clap::Args)]
pub struct Connection {
    /// The server's address.
    #[arg(
        long,
        env = "SSCARD_ADDR",
        default_value = "http://127.0.0.1:8300",
        global = true
    )]
    pub addr: String,
    /// A token from `sscard login`.
    #[arg(long, env = "SSCARD_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// Trust only this CA certificate (PEM) for an https:// address.
    #[arg(long, env = "SSCARD_CACERT", value_name = "CA.pem", global = true)]
    pub cacert: Option<std::path::PathBuf>,
}

/// The largest answer read from a server (an audit export).
const MAX_ANSWER: u64 = 4 << 30;

/// A client of one server.
pub struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    /// A client for `connection`.
    pub fn new(connection: &Connection) -> CliResult<Self> {
        let addr = connection.addr.trim();
        if !(addr.starts_with("http://") || addr.starts_with("https://")) {
            return Err(CliError::input(format!(
                "the address {addr:?} needs a scheme: http://host:port or https://host:port"
            )));
        }
        // A token goes over plain HTTP only to this machine, as the server
        // serves plain HTTP only on loopback.
        if connection.token.is_some() {
            if let Some(rest) = addr.strip_prefix("http://") {
                let host = rest.split(['/', '?']).next().unwrap_or_default();
                let host = host
                    .rsplit_once(':')
                    .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
                    .map_or(host, |(h, _)| h)
                    .trim_matches(['[', ']']);
                let loopback = host == "localhost"
                    || host
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback());
                if !loopback {
                    return Err(CliError::input(format!(
                        "a token is not sent in clear to {host}: use https:// (and --cacert)"
                    )));
                }
            }
        }
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(120)));
        if let Some(path) = &connection.cacert {
            let pem = crate::io::read_file(path)?;
            let certs = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect::<Vec<_>>();
            if certs.is_empty() {
                return Err(CliError::input(format!(
                    "{}: no PEM certificate",
                    path.display()
                )));
            }
            let tls = ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                .build();
            config = config.tls_config(tls);
        }
        let token = match &connection.token {
            Some(token) => Some(checked_token(token)?),
            None => None,
        };
        Ok(Self {
            base: connection.addr.trim_end_matches('/').to_string(),
            token,
            agent: config.build().into(),
        })
    }

    /// A client that sends `token`.
    pub fn with_token(&self, token: &str) -> Self {
        Self {
            base: self.base.clone(),
            token: Some(token.to_string()),
            agent: self.agent.clone(),
        }
    }

    /// The URL of `path`, with every byte a URI may not hold as it is (a
    /// space, a control character, non-ASCII text, a double quote, angle
    /// brackets, backslash, caret, backtick, braces, bar, `#`) written as
    /// `%XX`, so that an argument of any text reaches the server, which
    /// refuses it with its reason, rather than failing in the client.
    fn url(&self, path: &str) -> String {
        let mut url = self.base.clone();
        for b in path.bytes() {
            if b.is_ascii_graphic() && !b"\"<>\\^`{|}#".contains(&b) {
                url.push(char::from(b));
            } else {
                url.push_str(&format!("%{b:02X}"));
            }
        }
        url
    }

    fn unreachable(&self, e: &ureq::Error) -> CliError {
        let text = e.to_string();
        let hint = if text.contains("CaUsedAsEndEntity") {
            " (the server presents a CA certificate as its own: give the server a certificate \
             issued by a CA, with basicConstraints CA:FALSE, and pass that CA with --cacert)"
        } else if text.contains("UnknownIssuer") {
            " (the server's certificate is not issued by a CA this client trusts: pass its CA with --cacert)"
        } else {
            ""
        };
        CliError::Unreachable(format!("cannot reach {}: {text}{hint}", self.base))
    }

    fn finish(&self, response: ureq::http::Response<ureq::Body>) -> CliResult<String> {
        String::from_utf8(self.finish_bytes(response)?)
            .map_err(|_| CliError::Unreachable(format!("the answer of {} is not text", self.base)))
    }

    fn finish_bytes(&self, mut response: ureq::http::Response<ureq::Body>) -> CliResult<Vec<u8>> {
        let status = response.status().as_u16();
        let request_id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(|v| sscard_core::text::bounded(v, 64));
        // An audit export of a busy platform runs past ureq's default 10 MiB.
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_vec()
            .map_err(|e| {
                CliError::Unreachable(format!("reading the answer of {}: {e}", self.base))
            })?;
        if (200..300).contains(&status) {
            return Ok(bytes);
        }
        let text = String::from_utf8_lossy(&bytes);
        let (code, message) = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| {
                Some((
                    v.get("code")?.as_str()?.to_string(),
                    v.get("message")?.as_str()?.to_string(),
                ))
            })
            .unwrap_or_else(|| ("http".into(), format!("HTTP {status}")));
        let mut line = format!("{message} ({code})");
        if (500..600).contains(&status) {
            let id = request_id.as_deref().unwrap_or("none");
            line = format!("the server failed: {line}; request id {id}");
        }
        Err(CliError::from_status(status, line))
    }

    /// GET, returning the body text.
    pub fn get_text(&self, path: &str) -> CliResult<String> {
        let mut request = self.agent.get(self.url(path));
        if let Some(token) = &self.token {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        let response = request.call().map_err(|e| self.unreachable(&e))?;
        self.finish(response)
    }

    /// GET, returning the body bytes (a signed blacklist file).
    pub fn get_bytes(&self, path: &str) -> CliResult<Vec<u8>> {
        let mut request = self.agent.get(self.url(path));
        if let Some(token) = &self.token {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        let response = request.call().map_err(|e| self.unreachable(&e))?;
        self.finish_bytes(response)
    }

    /// GET, parsing JSON.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> CliResult<T> {
        parse(&self.get_text(path)?)
    }

    /// POST a JSON body, parsing the JSON answer (`null` for an empty one).
    pub fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> CliResult<T> {
        let mut request = self.agent.post(self.url(path));
        if let Some(token) = &self.token {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        let response = request.send_json(body).map_err(|e| self.unreachable(&e))?;
        let text = self.finish(response)?;
        parse(if text.is_empty() { "null" } else { &text })
    }
}

/// A token as given (an environment variable or a file may end it with a
/// line break, which is dropped), refused unless it is visible ASCII as
/// every token of the platform is.
fn checked_token(token: &str) -> CliResult<String> {
    let token = token.trim();
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CliError::input(
            "the token holds characters no token of sscard has (it is visible ASCII: sst_…); log in again",
        ));
    }
    Ok(token.to_string())
}

fn parse<T: DeserializeOwned>(text: &str) -> CliResult<T> {
    serde_json::from_str(text)
        .map_err(|e| CliError::Unreachable(format!("unexpected answer from the server: {e}")))
}

/// Prints `value` as JSON, or as `key: value` lines of its top-level fields.
pub fn print(value: &Value, json: bool) {
    if json {
        crate::io::out_json(value);
        return;
    }
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::String(s) => outln!("{k}: {s}"),
                    Value::Null => outln!("{k}: -"),
                    other => outln!("{k}: {other}"),
                }
            }
        }
        other => outln!("{other}"),
    }
}

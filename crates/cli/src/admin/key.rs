//! `sscard key create|list|show|rotate|set-min-version|suspend|activate|encrypt|decrypt`.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::client::{print, Client, Connection};
use crate::error::{CliError, CliResult};
use crate::io::{read_input, write_output};

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a key inside the platform (version 1, active).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["sm4", "3des", "sm2", "hmac-sm3"])]
        alg: String,
        /// card-iauth-master, card-eauth-master, pin-unblock-master, pin-reload-master,
        /// card-maint-master, psam-transport, kek, data-master, encrypt, audit-signing,
        /// platform-signing, essc-issuing.
        #[arg(long)]
        usage: String,
        #[arg(long, value_parser = ["ministry", "province", "city"], default_value = "city")]
        level: String,
        /// 6-digit region code (行政区划).
        #[arg(long)]
        region: Option<String>,
        /// May leave the platform wrapped; cannot be set later. The key is made
        /// once another security administrator approves: prints approval: <ID>.
        #[arg(long)]
        exportable: bool,
        /// Rotate automatically every N days.
        #[arg(long, value_name = "N")]
        rotate_every_days: Option<u32>,
        /// Pre-active until this UTC time: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ.
        #[arg(long, value_name = "TIME")]
        activate_at: Option<String>,
        /// From this UTC time the key only decrypts and verifies, and is deactivated.
        #[arg(long, value_name = "TIME")]
        expire_at: Option<String>,
    },
    /// Import a key by 2 or 3 custodians' components, each with its check
    /// value; completes once another security administrator approves.
    Import {
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["sm4", "3des"])]
        alg: String,
        #[arg(long)]
        usage: String,
        #[arg(long, value_parser = ["ministry", "province", "city"], default_value = "city")]
        level: String,
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        exportable: bool,
        /// HEX:KCV, once per custodian.
        #[arg(long = "component", value_name = "HEX:KCV", required = true)]
        components: Vec<String>,
    },
    /// Derivation service: MAC under the card key derived from master N
    /// (as `gm derive` then `gm mac`); with --verify, checks a MAC (exit 0/1).
    CardMac {
        name: String,
        #[arg(long, value_name = "HEX", required = true)]
        factor: Vec<String>,
        #[arg(long, value_name = "HEX")]
        iv: Option<String>,
        #[arg(long, value_name = "N")]
        len: Option<usize>,
        /// A MAC to check instead of computing one.
        #[arg(long, value_name = "HEX", conflicts_with = "len")]
        verify: Option<String>,
        /// The data; stdin when absent.
        file: Option<PathBuf>,
    },
    /// Derivation service: encrypt whole blocks (hex) under the derived card key.
    CardEncrypt {
        name: String,
        #[arg(long, value_name = "HEX", required = true)]
        factor: Vec<String>,
        #[arg(long, value_name = "HEX")]
        data: String,
    },
    /// Export an exportable key wrapped under a KEK or to an SM2 public key;
    /// prints approval: <ID>, waits for the approval, then writes the file.
    Export {
        name: String,
        /// A platform KEK (usage kek).
        #[arg(
            long,
            value_name = "KEK",
            conflicts_with = "to_pub",
            required_unless_present = "to_pub"
        )]
        wrap_with: Option<String>,
        /// The recipient's SM2 public key (SPKI PEM).
        #[arg(long, value_name = "PUB.pem")]
        to_pub: Option<PathBuf>,
        #[arg(long, value_name = "F")]
        out: PathBuf,
        /// Seconds to wait for the approval; 0 files the request and returns
        /// (`sscard approval status ID --out F` fetches the file once approved).
        #[arg(long, value_name = "S", default_value_t = 600)]
        wait: u64,
    },
    /// Re-encrypt a ciphertext under the newest version.
    Rewrap {
        name: String,
        #[arg(long = "in", value_name = "F")]
        input: Option<PathBuf>,
        #[arg(long = "out", value_name = "F")]
        output: Option<PathBuf>,
    },
    /// A new data key under a data-master key: prints plaintext and ciphertext.
    Datakey { name: String },
    /// HMAC-SM3 of FILE (or stdin) under an hmac-sm3 key, hex.
    Hmac { name: String, file: Option<PathBuf> },
    /// Sign a file with an SM2 key of the platform; the signature is DER.
    Sign {
        name: String,
        #[arg(long = "in", value_name = "F")]
        input: PathBuf,
        #[arg(long, value_name = "SIG")]
        out: PathBuf,
    },
    /// Verify a signature of `key sign`: exit 0 valid, 1 invalid.
    Verify {
        name: String,
        #[arg(long = "in", value_name = "F")]
        input: PathBuf,
        #[arg(long, value_name = "SIG")]
        sig: PathBuf,
    },
    /// Import a key from an export file wrapped under a KEK this platform
    /// holds too; completes once another security administrator approves.
    ImportWrapped {
        #[arg(long, value_name = "F")]
        file: PathBuf,
    },
    /// Every key, one line each.
    List,
    /// One key: state, versions and the check value of each.
    Show { name: String },
    /// Add a version.
    Rotate { name: String },
    /// Retire every version below V.
    SetMinVersion {
        name: String,
        #[arg(value_name = "V")]
        min: i64,
    },
    /// Take a key out of use for a while.
    Suspend { name: String },
    /// Put a pre-active or suspended key into use.
    Activate { name: String },
    /// Retire a key for good: it then only decrypts.
    Deactivate { name: String },
    /// Destroy a key not in use (deactivate it first); needs approval.
    Destroy { name: String },
    /// Create, or derive from the province level, every card master of a
    /// region (idempotent).
    ProvisionRegion {
        #[arg(long, value_name = "CODE")]
        region: String,
        #[arg(long, value_parser = ["sm4", "3des"], default_value = "sm4")]
        alg: String,
    },
    /// The public key (PEM) of an SM2 key, to envelope keys to this platform.
    Public {
        name: String,
        #[arg(long = "out", value_name = "F")]
        output: Option<PathBuf>,
    },
    /// Change a key's usage; completes once another security administrator
    /// approves.
    SetUsage {
        name: String,
        #[arg(value_name = "USAGE")]
        usage: String,
    },
    /// Encrypt a file (or stdin) with the newest version: prints sscard:v<N>:…
    Encrypt {
        name: String,
        #[arg(long = "in", value_name = "F")]
        input: Option<PathBuf>,
        #[arg(long = "out", value_name = "F")]
        output: Option<PathBuf>,
    },
    /// Decrypt a ciphertext of `key encrypt`.
    Decrypt {
        name: String,
        #[arg(long = "in", value_name = "F")]
        input: Option<PathBuf>,
        #[arg(long = "out", value_name = "F")]
        output: Option<PathBuf>,
    },
}

/// Arguments of `key`.
#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    command: KeyCommand,
    #[command(flatten)]
    connection: Connection,
}

fn show(key: &Value, json: bool) {
    if json {
        print(key, true);
        return;
    }
    let field = |k: &str| match key.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "-".into(),
    };
    for k in [
        "name",
        "algorithm",
        "usage",
        "level",
        "region",
        "exportable",
        "state",
        "min_version",
        "uses",
    ] {
        outln!("{k}: {}", field(k));
    }
    for (k, label) in [("activate_ms", "activates"), ("expire_ms", "expires")] {
        if let Some(ms) = key.get(k).and_then(Value::as_i64).filter(|ms| *ms > 0) {
            outln!("{label}: {}", sscard_core::clock::format_time(ms));
        }
    }
    for v in key
        .get("versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        outln!(
            "version: {} kcv={}",
            v.get("version").cloned().unwrap_or(Value::Null),
            v.get("kcv").and_then(Value::as_str).unwrap_or("-")
        );
    }
}

/// A request waiting for approval: `approval: <ID>` on a line of its own.
pub fn print_pending(answer: &Value, json: bool) -> CliResult {
    if json {
        print(answer, true);
    } else {
        outln!(
            "approval: {}",
            answer
                .get("approval")
                .and_then(Value::as_str)
                .unwrap_or_default()
        );
        if let Some(kcv) = answer.get("kcv").and_then(Value::as_str) {
            outln!("kcv: {kcv}");
        }
    }
    Ok(())
}

/// Polls an approval until it is decided; returns what it produced.
fn wait_for_result(client: &Client, id: &str, seconds: u64) -> CliResult<String> {
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        let status: Value = client.get(&format!("/v1/approvals/{id}"))?;
        match status.get("state").and_then(Value::as_str) {
            Some("approved") => {
                return status
                    .get("result")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| {
                        CliError::Refused(format!(
                            "approval {id} produced nothing for this operator"
                        ))
                    })
            }
            Some("pending") if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
            Some("pending") => {
                return Err(CliError::Refused(format!(
                    "approval {id} is still pending after {seconds} s"
                )))
            }
            other => {
                return Err(CliError::Refused(format!(
                    "approval {id} is {}",
                    other.unwrap_or("unknown")
                )))
            }
        }
    }
}

pub fn run(args: KeyArgs) -> CliResult {
    let client = Client::new(&args.connection)?;
    let path = |name: &str, what: &str| format!("/v1/keys/{name}/{what}");
    let key: Value = match args.command {
        KeyCommand::Create {
            name,
            alg,
            usage,
            level,
            region,
            exportable,
            rotate_every_days,
            activate_at,
            expire_at,
        } => {
            let answer: Value = client.post(
                "/v1/keys",
                &json!({"name": name, "algorithm": alg, "usage": usage, "level": level, "region": region,
                    "exportable": exportable, "rotate_every_days": rotate_every_days,
                    "activate_at": activate_at, "expire_at": expire_at}),
            )?;
            if answer.get("approval").is_some() {
                return print_pending(&answer, crate::io::json_mode());
            }
            answer
        }
        KeyCommand::Import {
            name,
            alg,
            usage,
            level,
            region,
            exportable,
            components,
        } => {
            let mut parts = Vec::new();
            for (i, c) in components.iter().enumerate() {
                let (key, kcv) = c.split_once(':').ok_or_else(|| {
                    CliError::input(format!("--component {}: expected HEX:KCV", i + 1))
                })?;
                parts.push(json!({"key": key, "kcv": kcv}));
            }
            let body = json!({"name": name, "algorithm": alg, "usage": usage, "level": level,
                "region": region, "exportable": exportable, "components": parts});
            let answer: Value = client.post("/v1/keys/import", &body)?;
            return print_pending(&answer, crate::io::json_mode());
        }
        KeyCommand::ImportWrapped { file } => {
            let text = String::from_utf8(crate::io::read_file(&file)?).map_err(|_| {
                CliError::input(format!("{}: not an export file (JSON)", file.display()))
            })?;
            let answer: Value = client.post("/v1/keys/import-wrapped", &json!({"file": text}))?;
            return print_pending(&answer, crate::io::json_mode());
        }
        KeyCommand::Destroy { name } => {
            let answer: Value = client.post(&path(&name, "destroy"), &json!({}))?;
            return print_pending(&answer, crate::io::json_mode());
        }
        KeyCommand::ProvisionRegion { region, alg } => {
            let answer: Value = client.post(
                "/v1/keys/provision-region",
                &json!({"region": region, "algorithm": alg}),
            )?;
            if crate::io::json_mode() {
                print(&answer, true);
            } else {
                for k in answer
                    .get("keys")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let get = |f: &str| k.get(f).and_then(Value::as_str).unwrap_or("-");
                    outln!("key: {} {} kcv={}", get("name"), get("outcome"), get("kcv"));
                }
            }
            return Ok(());
        }
        KeyCommand::Public { name, output } => {
            let answer: Value = client.get(&path(&name, "public"))?;
            let pem = answer
                .get("pem")
                .and_then(Value::as_str)
                .unwrap_or_default();
            write_output(output.as_deref(), pem.as_bytes())?;
            if let Some(out) = output
                .as_deref()
                .filter(|p| *p != std::path::Path::new("-"))
            {
                outln!("file: {}", out.display());
            }
            return Ok(());
        }
        KeyCommand::SetUsage { name, usage } => {
            let answer: Value = client.post(&path(&name, "usage"), &json!({"usage": usage}))?;
            return print_pending(&answer, crate::io::json_mode());
        }
        KeyCommand::CardMac {
            name,
            factor,
            iv,
            len,
            verify,
            file,
        } => {
            let data = read_input(file.as_deref())?;
            let (operation, mac) = match &verify {
                Some(mac) => ("verify-mac", Some(mac.clone())),
                None => ("mac", None),
            };
            let body = json!({"operation": operation, "factors": factor, "data": hex::encode(&data),
                "iv": iv, "len": len, "mac": mac});
            let answer: Value = client.post(&path(&name, "card"), &body)?;
            match verify {
                Some(_) => outln!("mac: valid"),
                None => outln!(
                    "{}",
                    answer
                        .get("data")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                ),
            }
            return Ok(());
        }
        KeyCommand::CardEncrypt { name, factor, data } => {
            let body = json!({"operation": "encrypt", "factors": factor, "data": data});
            let answer: Value = client.post(&path(&name, "card"), &body)?;
            outln!(
                "{}",
                answer
                    .get("data")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            );
            return Ok(());
        }
        KeyCommand::Export {
            name,
            wrap_with,
            to_pub,
            out,
            wait,
        } => {
            let to_pub = match to_pub {
                Some(path) => {
                    Some(String::from_utf8_lossy(&crate::io::read_file(&path)?).into_owned())
                }
                None => None,
            };
            let answer: Value = client.post(
                &path(&name, "export"),
                &json!({"wrap_with": wrap_with, "to_pub": to_pub}),
            )?;
            print_pending(&answer, false)?;
            let id = answer
                .get("approval")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if wait == 0 {
                outln!("state: pending");
                return Ok(());
            }
            let file = wait_for_result(&client, &id, wait)?;
            crate::io::write_file(&out, file.as_bytes(), crate::io::FileMode::Public)?;
            outln!("file: {}", out.display());
            return Ok(());
        }
        KeyCommand::Rewrap {
            name,
            input,
            output,
        } => {
            let text = String::from_utf8(read_input(input.as_deref())?)
                .map_err(|_| CliError::input("the ciphertext is not text (sscard:v<N>:<hex>)"))?;
            let answer: Value =
                client.post(&path(&name, "rewrap"), &json!({"ciphertext": text.trim()}))?;
            let data = answer
                .get("data")
                .and_then(Value::as_str)
                .unwrap_or_default();
            return write_output(output.as_deref(), format!("{data}\n").as_bytes());
        }
        KeyCommand::Datakey { name } => {
            let answer: Value = client.post(&path(&name, "datakey"), &json!({}))?;
            print(&answer, crate::io::json_mode());
            return Ok(());
        }
        KeyCommand::Hmac { name, file } => {
            let data = read_input(file.as_deref())?;
            let answer: Value =
                client.post(&path(&name, "hmac"), &json!({"data": hex::encode(data)}))?;
            outln!(
                "{}",
                answer
                    .get("data")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            );
            return Ok(());
        }
        KeyCommand::Sign { name, input, out } => {
            let data = crate::io::read_file(&input)?;
            let answer: Value =
                client.post(&path(&name, "sign"), &json!({"data": hex::encode(data)}))?;
            let der = hex::decode(
                answer
                    .get("data")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            )
            .map_err(|e| CliError::Unreachable(format!("answer: {e}")))?;
            write_output(Some(&out), &der)?;
            if out != std::path::Path::new("-") {
                outln!("file: {}", out.display());
            }
            return Ok(());
        }
        KeyCommand::Verify { name, input, sig } => {
            let data = crate::io::read_file(&input)?;
            let signature = crate::io::read_file(&sig)?;
            let body = json!({"data": hex::encode(data), "signature": hex::encode(signature)});
            let _: Value = client.post(&path(&name, "verify"), &body)?;
            outln!("signature: valid");
            return Ok(());
        }
        KeyCommand::List => {
            let keys: Value = client.get("/v1/keys")?;
            if crate::io::json_mode() {
                print(&keys, true);
            } else {
                for k in keys.as_array().into_iter().flatten() {
                    let f = |n: &str| k.get(n).and_then(Value::as_str).unwrap_or("-").to_string();
                    let latest = k
                        .get("versions")
                        .and_then(Value::as_array)
                        .and_then(|v| v.last())
                        .cloned();
                    let version = latest
                        .as_ref()
                        .and_then(|v| v.get("version"))
                        .cloned()
                        .unwrap_or(Value::Null);
                    outln!(
                        "key: {} alg={} usage={} state={} version={version}",
                        f("name"),
                        f("algorithm"),
                        f("usage"),
                        f("state")
                    );
                }
            }
            return Ok(());
        }
        KeyCommand::Show { name } => client.get(&format!("/v1/keys/{name}"))?,
        KeyCommand::Rotate { name } => client.post(&path(&name, "rotate"), &json!({}))?,
        KeyCommand::SetMinVersion { name, min } => {
            client.post(&path(&name, "min-version"), &json!({"min_version": min}))?
        }
        KeyCommand::Suspend { name } => {
            client.post(&path(&name, "state"), &json!({"transition": "suspend"}))?
        }
        KeyCommand::Activate { name } => {
            client.post(&path(&name, "state"), &json!({"transition": "activate"}))?
        }
        KeyCommand::Deactivate { name } => {
            client.post(&path(&name, "state"), &json!({"transition": "deactivate"}))?
        }
        KeyCommand::Encrypt {
            name,
            input,
            output,
        } => {
            let plain = Zeroizing::new(read_input(input.as_deref())?);
            let body = json!({"plaintext": hex::encode(plain.as_slice())});
            let answer: Value = client.post(&path(&name, "encrypt"), &body)?;
            let data = answer
                .get("data")
                .and_then(Value::as_str)
                .unwrap_or_default();
            return write_output(output.as_deref(), format!("{data}\n").as_bytes());
        }
        KeyCommand::Decrypt {
            name,
            input,
            output,
        } => {
            let text = String::from_utf8(read_input(input.as_deref())?)
                .map_err(|_| CliError::input("the ciphertext is not text (sscard:v<N>:<hex>)"))?;
            let answer: Value =
                client.post(&path(&name, "decrypt"), &json!({"ciphertext": text.trim()}))?;
            let data = answer
                .get("data")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let plain = Zeroizing::new(
                hex::decode(data).map_err(|e| CliError::Unreachable(format!("answer: {e}")))?,
            );
            return write_output(output.as_deref(), &plain);
        }
    };
    show(&key, crate::io::json_mode());
    Ok(())
}

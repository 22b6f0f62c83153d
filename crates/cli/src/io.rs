//! Reading inputs and writing outputs: files or stdin/stdout, hex arguments,
//! and files written whole or not at all.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::error::{CliError, CliResult};

/// Whether `--json` was given: the command's `key: value` lines are then
/// printed as one JSON object when it ends.
static JSON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
/// The lines a command printed in JSON mode, as (key, value).
static COLLECTED: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());
/// Whether the command printed its JSON itself.
static PRINTED_JSON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Sets JSON mode (the global `--json` flag), once, at start.
pub fn set_json(on: bool) {
    let _ = JSON.set(on);
}

/// Whether output is JSON (`--json`).
pub fn json_mode() -> bool {
    JSON.get().copied().unwrap_or(false)
}

/// Prints `text` and a line break on stdout, every control character of it
/// but `\n` escaped (see `outln!`). In JSON mode the lines are kept as
/// `key: value` pairs (a line of another form under the key `line`) and
/// printed as one object by [`finish`]. A closed stdout (a pipe whose reader
/// left) ends the output quietly.
pub fn out_line(text: &str) {
    if json_mode() {
        if let Ok(mut collected) = COLLECTED.lock() {
            for line in text.split('\n') {
                let pair = line.split_once(": ").filter(|(k, _)| {
                    !k.is_empty()
                        && k.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                });
                collected.push(match pair {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => ("line".to_string(), line.to_string()),
                });
            }
        }
        return;
    }
    let safe: String = text
        .split('\n')
        .map(sscard_core::text::escape)
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{safe}");
}

/// Prints a JSON value (pretty) as the command's output.
pub fn out_json(value: &serde_json::Value) {
    PRINTED_JSON.store(true, std::sync::atomic::Ordering::Relaxed);
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
}

/// In JSON mode, prints the `key: value` lines the command printed as one
/// JSON object of strings (a key given more than once holds an array of its
/// values), unless the command printed its JSON itself. Called once when a
/// command ends, refused or not.
pub fn finish() {
    use serde_json::{Map, Value};
    if !json_mode() || PRINTED_JSON.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let collected = match COLLECTED.lock() {
        Ok(mut c) => std::mem::take(&mut *c),
        Err(_) => return,
    };
    // Every value stays the text it was: a social security number or a
    // region code of digits is no number.
    let typed = Value::String;
    let mut counts = std::collections::BTreeMap::new();
    for (k, _) in &collected {
        *counts.entry(k.clone()).or_insert(0usize) += 1;
    }
    let mut object = Map::new();
    for (k, v) in collected {
        let v = typed(v);
        if counts.get(&k).copied().unwrap_or(0) > 1 {
            match object.entry(k).or_insert_with(|| Value::Array(Vec::new())) {
                Value::Array(items) => items.push(v),
                other => *other = Value::Array(vec![other.clone(), v]),
            }
        } else {
            object.insert(k, v);
        }
    }
    out_json(&Value::Object(object));
}

/// Reads a file, or stdin when `path` is absent or `-`.
pub fn read_input(path: Option<&Path>) -> CliResult<Vec<u8>> {
    match path {
        Some(p) if p != Path::new("-") => {
            fs::read(p).map_err(|e| CliError::input(format!("cannot read {}: {e}", p.display())))
        }
        _ => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| CliError::input(format!("cannot read stdin: {e}")))?;
            Ok(buf)
        }
    }
}

/// Reads a file that must exist (key files, signatures).
pub fn read_file(path: &Path) -> CliResult<Vec<u8>> {
    read_input(Some(path))
}

/// Writes to a file (whole or not at all), or to stdout when `path` is absent or `-`.
pub fn write_output(path: Option<&Path>, data: &[u8]) -> CliResult {
    match path {
        Some(p) if p != Path::new("-") => write_file(p, data, FileMode::Public),
        // With --json the data is a field of the object: text as it is,
        // anything else in hex.
        _ if json_mode() => {
            let field = match std::str::from_utf8(data) {
                Ok(text) => ("data", text.trim_end_matches('\n').to_string()),
                Err(_) => ("hex", hex::encode(data)),
            };
            if let Ok(mut collected) = COLLECTED.lock() {
                collected.push((field.0.to_string(), field.1));
            }
            Ok(())
        }
        _ => {
            let mut out = std::io::stdout().lock();
            out.write_all(data)
                .and_then(|()| out.flush())
                .map_err(|e| CliError::input(format!("cannot write stdout: {e}")))
        }
    }
}

/// Who may read a written file.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum FileMode {
    /// World-readable as the umask allows (public keys, ciphertexts).
    Public,
    /// Owner only (0600), never replacing an existing file (private keys).
    Secret,
    /// Owner only (0600), replacing the file it updates (a terminal file
    /// after sign-in).
    SecretUpdate,
}

/// Writes `data` to a temporary file beside `path`, then renames it into
/// place, so a reader never sees half a file. A secret file is created 0600
/// and refuses to replace one that exists: a key is never lost by a typo.
pub fn write_file(path: &Path, data: &[u8], mode: FileMode) -> CliResult {
    if mode == FileMode::Secret && path.exists() {
        return Err(CliError::input(format!(
            "{} exists; refusing to overwrite a key file",
            path.display()
        )));
    }
    let tmp = temporary_path(path);
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        if mode != FileMode::Public {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(data)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        CliError::input(format!("cannot write {}: {e}", path.display()))
    })
}

fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Parses a hex argument (either case, spaces and colons ignored), naming the
/// flag in the error. The bytes are zeroized when dropped: hex arguments are
/// often keys.
pub fn parse_hex(flag: &str, value: &str) -> CliResult<Zeroizing<Vec<u8>>> {
    let cleaned: Zeroizing<String> = Zeroizing::new(
        value
            .chars()
            .filter(|c| !c.is_whitespace() && *c != ':')
            .collect(),
    );
    hex::decode(cleaned.as_str())
        .map(Zeroizing::new)
        .map_err(|e| CliError::input(format!("{flag}: not hex ({e})")))
}

/// Parses an optional hex argument.
pub fn parse_hex_opt(flag: &str, value: Option<&str>) -> CliResult<Option<Zeroizing<Vec<u8>>>> {
    value.map(|v| parse_hex(flag, v)).transpose()
}

/// Prints one hex line (with `--json`, as `{"hex": …}`).
pub fn print_hex(bytes: &[u8]) {
    if json_mode() {
        outln!("hex: {}", hex::encode(bytes));
    } else {
        outln!("{}", hex::encode(bytes));
    }
}

/// The progress of a long operation: a bar (indicatif) when stderr is a
/// terminal; otherwise a line on stderr every few seconds, `LABEL: POS/LEN
/// UNIT`, and one at the end, so that a log shows how far it got.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    label: &'static str,
    unit: &'static str,
    state: std::sync::Mutex<(u64, u64, std::time::Instant)>,
}

/// How often a progress line is written when stderr is not a terminal.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

impl Progress {
    /// Progress of `len` units (`cards`, `sealed values`) under `label`.
    pub fn new(label: &'static str, unit: &'static str, len: u64) -> Self {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(len);
            bar.set_style(
                indicatif::ProgressStyle::with_template(&format!(
                    "{label} {{bar:40}} {{pos}}/{{len}} {unit}, {{eta}} left"
                ))
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Self {
            bar,
            label,
            unit,
            state: std::sync::Mutex::new((0, len, std::time::Instant::now())),
        }
    }

    fn update(&self, change: impl FnOnce(&mut u64, &mut u64)) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let (pos, len, last) = &mut *state;
        change(pos, len);
        match &self.bar {
            Some(bar) => {
                bar.set_length(*len);
                bar.set_position(*pos);
            }
            None if last.elapsed() >= PROGRESS_EVERY => {
                eprintln!("{}: {pos}/{len} {}", self.label, self.unit);
                *last = std::time::Instant::now();
            }
            None => {}
        }
    }

    /// `n` more done.
    pub fn inc(&self, n: u64) {
        self.update(|pos, _| *pos += n);
    }

    /// Done so far, of a total that may have changed.
    pub fn set(&self, pos: u64, len: u64) {
        self.update(|p, l| {
            *p = pos;
            *l = len;
        });
    }

    /// Prints `line` on stderr without breaking the bar.
    pub fn note(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// The end: the bar cleared, or a last progress line.
    pub fn finish(&self) {
        match &self.bar {
            Some(bar) => bar.finish_and_clear(),
            None => {
                if let Ok(state) = self.state.lock() {
                    eprintln!("{}: {}/{} {}", self.label, state.0, state.1, self.unit);
                }
            }
        }
    }
}

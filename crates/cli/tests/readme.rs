//! The README runs as typed. Every `sh` block of README.md runs, in order,
//! in one bash session (so that a variable or a file of one block serves
//! the next, as in a terminal), in a scratch directory, with `sscard` on
//! the PATH, against the `sscard serve --dev` that the walk-through starts.
//! Each command must exit as its comments say, and print what they promise.
//!
//! The comments a command may carry (on its line, or on comment lines just
//! below it), read by this test:
//!
//! - `# exit N` or `# exit N: TEXT`: the command exits with N (0 when not
//!   said) and, with TEXT, says TEXT on stderr;
//! - `# prints TEXT`: TEXT is in what it prints on stdout.
//!
//! TEXT ends at two spaces in a row (what follows explains), and `…` in it
//! stands for any text. Other comments explain and are not checked.
//!
//! The first block is the fresh machine's two commands: its second line is
//! the command `.ci/run` runs, and its first starts the server that the
//! walk-through starts as `sscard serve …` with the same arguments.
//!
//! Blocks that drive cards through pcscd (`serve-vpcd`, `--reader`) need
//! pcscd with the vpcd readers; where it does not answer, they are skipped
//! and the test says so, unless SSCARD_REQUIRE_PCSCD is set (CI sets it).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// One command of a block, as the README types it.
#[derive(Debug)]
struct Cmd {
    /// The README line it starts on.
    line: usize,
    /// The command as typed, without its trailing comment (continuation
    /// lines and heredocs included).
    code: String,
    /// Ends in `&`.
    background: bool,
    exit: i32,
    stderr_has: Vec<String>,
    stdout_has: Vec<String>,
}

/// The `sh` blocks of the README: (first line number, lines).
fn sh_blocks(readme: &str) -> Vec<(usize, Vec<String>)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, Vec<String>)> = None;
    for (i, line) in readme.lines().enumerate() {
        match &mut current {
            None if line.trim() == "```sh" => current = Some((i + 2, Vec::new())),
            Some(_) if line.trim() == "```" => blocks.push(current.take().unwrap()),
            Some((_, lines)) => lines.push(line.to_string()),
            None => {}
        }
    }
    assert!(current.is_none(), "an sh block is not closed");
    blocks
}

/// Splits a line into its code and its trailing comment (a `#` after
/// whitespace, outside quotes).
fn split_comment(line: &str) -> (&str, Option<&str>) {
    let (mut single, mut double) = (false, false);
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\'' if !double => single = !single,
            b'"' if !single => double = !double,
            b'#' if !single
                && !double
                && (i == 0 || bytes.get(i - 1).is_some_and(|p| p.is_ascii_whitespace())) =>
            {
                return (&line[..i], Some(line[i + 1..].trim()));
            }
            _ => {}
        }
    }
    (line, None)
}

/// The text of a marker: up to two spaces in a row.
fn marker_text(rest: &str) -> String {
    rest.split("  ")
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Reads the markers of one comment into `cmd`.
fn read_markers(comment: &str, cmd: &mut Cmd) {
    if let Some(rest) = comment.strip_prefix("exit ") {
        let (code, text) = match rest.split_once(':') {
            Some((code, text)) => (code, Some(marker_text(text))),
            None => (rest.split_whitespace().next().unwrap_or_default(), None),
        };
        cmd.exit = code
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("README line {}: bad exit marker {comment:?}", cmd.line));
        if let Some(text) = text.filter(|t| !t.is_empty()) {
            cmd.stderr_has.push(text);
        }
    } else if let Some(rest) = comment.strip_prefix("prints ") {
        cmd.stdout_has.push(marker_text(rest));
    }
}

/// The commands of a block.
fn commands(first_line: usize, lines: &[String]) -> Vec<Cmd> {
    let mut cmds: Vec<Cmd> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        let number = first_line + i;
        i += 1;
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        if let Some(comment) = trimmed.strip_prefix('#') {
            if let Some(last) = cmds.last_mut() {
                read_markers(comment.trim(), last);
            }
            continue;
        }
        let (code, comment) = split_comment(line);
        let mut code = code.trim_end().to_string();
        let mut cmd = Cmd {
            line: number,
            code: String::new(),
            background: false,
            exit: 0,
            stderr_has: Vec::new(),
            stdout_has: Vec::new(),
        };
        let mut last_comment = comment.map(str::to_string);
        // Continuation lines.
        while code.ends_with('\\') && i < lines.len() {
            let (more, comment) = split_comment(&lines[i]);
            code.push('\n');
            code.push_str(more.trim_end());
            last_comment = comment.map(str::to_string);
            i += 1;
        }
        // A heredoc: the lines up to its terminator.
        if let Some(at) = code.find("<<") {
            let word: String = code[at + 2..]
                .trim_start_matches('-')
                .trim()
                .trim_matches(['\'', '"'])
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert!(
                !word.is_empty(),
                "README line {number}: heredoc without a word"
            );
            loop {
                let body = lines
                    .get(i)
                    .unwrap_or_else(|| panic!("README line {number}: heredoc {word} not closed"));
                i += 1;
                code.push('\n');
                code.push_str(body);
                if body.trim() == word {
                    break;
                }
            }
        }
        if let Some(stripped) = code.trim_end().strip_suffix('&') {
            if !stripped.ends_with('&') {
                cmd.background = true;
                code = stripped.trim_end().to_string();
            }
        }
        cmd.code = code;
        if let Some(comment) = last_comment {
            read_markers(&comment, &mut cmd);
        }
        cmds.push(cmd);
    }
    cmds
}

/// Whether `pattern` (with `…` for any text) is in `text`.
fn matches(text: &str, pattern: &str) -> bool {
    let mut rest = text;
    for piece in pattern.split('…').filter(|p| !p.is_empty()) {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

fn pcscd_answers() -> bool {
    Command::new("opensc-tool")
        .arg("-l")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("Virtual PCD"))
        .unwrap_or(false)
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The script that runs `cmds`, recording each one's status and output in
/// `results`, and stopping at the first that exits otherwise than said.
fn script(cmds: &[&Cmd], results: &Path) -> String {
    let r = results.display();
    let mut s = String::from(
        "__pids=()\n\
         trap 'for p in \"${__pids[@]}\"; do kill \"$p\" 2>/dev/null; done; wait 2>/dev/null' EXIT\n",
    );
    for (n, cmd) in cmds.iter().enumerate() {
        if cmd.background {
            s.push_str(&format!(
                "{} > {r}/{n}.out 2> {r}/{n}.err &\n__pids+=($!)\n",
                cmd.code
            ));
            if let Some(wanted) = cmd.stdout_has.first() {
                let piece = wanted
                    .split('…')
                    .next()
                    .unwrap_or_default()
                    .replace('\'', "");
                s.push_str(&format!(
                    "for __t in $(seq 1 600); do grep -qF '{piece}' {r}/{n}.out && break; sleep 0.1; done\n"
                ));
            } else {
                s.push_str("sleep 2\n");
            }
            s.push_str(&format!("echo '{n} 0' >> {r}/status\n"));
            continue;
        }
        s.push_str(&format!(
            "{{\n{}\n}} > {r}/{n}.out 2> {r}/{n}.err\n__s=$?\necho \"{n} $__s\" >> {r}/status\n\
             if [ \"$__s\" -ne {} ]; then exit 97; fi\n",
            cmd.code, cmd.exit
        ));
    }
    s
}

#[test]
fn every_sh_block_of_the_readme_runs_as_typed() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let blocks = sh_blocks(&readme);
    assert!(blocks.len() > 10, "{} sh blocks", blocks.len());

    // The fresh machine's two commands.
    let (first_line, fresh) = &blocks[0];
    let fresh: Vec<&str> = fresh.iter().map(|l| split_comment(l).0.trim()).collect();
    assert_eq!(
        fresh.len(),
        2,
        "README line {first_line}: exactly two commands"
    );
    let ci = std::fs::read_to_string(repo().join(".ci/run")).unwrap();
    assert!(
        ci.lines().any(|l| l.trim() == fresh[1]),
        "README line {}: .ci/run does not run {:?}",
        first_line + 1,
        fresh[1]
    );
    let serve_args = fresh[0]
        .split_once(" -- ")
        .unwrap_or_else(|| panic!("README line {first_line}: cargo run … -- ARGS"))
        .1;
    let walk_start = format!("sscard {serve_args}");

    let mut cmds: Vec<Cmd> = Vec::new();
    let pcscd = pcscd_answers();
    let required = std::env::var_os("SSCARD_REQUIRE_PCSCD").is_some();
    for (line, lines) in &blocks[1..] {
        let text = lines.join("\n");
        if (text.contains("serve-vpcd") || text.contains("--reader")) && !pcscd {
            assert!(
                !required,
                "SSCARD_REQUIRE_PCSCD is set and no pcscd answers with the vpcd readers"
            );
            println!("skipping the README block at line {line}: no pcscd with the vpcd readers");
            continue;
        }
        cmds.extend(commands(*line, lines));
    }
    assert!(
        cmds.iter()
            .any(|c| c.background && c.code.trim() == walk_start),
        "no block starts `{walk_start} &` as the fresh machine's first command does"
    );

    // The walk-through's server listens on the default port.
    assert!(
        std::net::TcpStream::connect("127.0.0.1:8300").is_err(),
        "something listens on 127.0.0.1:8300 already; the README's server needs that port"
    );

    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("readme");
    let _ = std::fs::remove_dir_all(&work);
    let results = work.join(".results");
    std::fs::create_dir_all(&results).unwrap();
    let all: Vec<&Cmd> = cmds.iter().collect();
    std::fs::write(work.join(".script.sh"), script(&all, &results)).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_sscard")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let status = Command::new("timeout")
        .args(["1200", "bash", ".script.sh"])
        .current_dir(&work)
        .env_clear()
        .env("PATH", path)
        .env(
            "HOME",
            std::env::var("HOME").unwrap_or_else(|_| "/root".into()),
        )
        .env("LANG", "C.UTF-8")
        .env("RUST_LOG", "warn")
        .status()
        .unwrap();

    // What each command did.
    let ran: Vec<(usize, i32)> = std::fs::read_to_string(results.join("status"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let (n, s) = l.split_once(' ').unwrap();
            (n.parse().unwrap(), s.parse().unwrap())
        })
        .collect();
    let output = |n: usize, which: &str| {
        std::fs::read_to_string(results.join(format!("{n}.{which}"))).unwrap_or_default()
    };
    for &(n, exit) in &ran {
        let cmd = all[n];
        let (out, err) = (output(n, "out"), output(n, "err"));
        let context = format!(
            "README line {}: {}\n--- stdout:\n{out}--- stderr:\n{err}",
            cmd.line, cmd.code
        );
        assert_eq!(
            exit, cmd.exit,
            "exit {exit}, the README says {}\n{context}",
            cmd.exit
        );
        for wanted in &cmd.stdout_has {
            assert!(
                matches(&out, wanted),
                "does not print {wanted:?}\n{context}"
            );
        }
        for wanted in &cmd.stderr_has {
            assert!(matches(&err, wanted), "does not say {wanted:?}\n{context}");
        }
    }
    assert_eq!(
        ran.len(),
        all.len(),
        "the script stopped after {} of {} commands (status {status})",
        ran.len(),
        all.len()
    );
    assert!(status.success(), "the script failed: {status}");
}

#[test]
fn markers_are_read_as_the_readme_says() {
    let lines: Vec<String> = [
        "SSCARD_TOKEN=$AUD sscard operator add --user bob     # exit 1: role audit may not  (forbidden_role)",
        "sscard key show x   # prints version: 1  (and more)",
        "# prints kcv: …9f",
        "echo \"a # b\" | cat \\",
        "  -   # prints a # b",
        "cat > f <<'JSON'",
        "{\"a\": 1}",
        "JSON",
        "sscard serve --dev --data d &   # prints listening: http://127.0.0.1:8300",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let cmds = commands(10, &lines);
    assert_eq!(cmds.len(), 5);
    assert_eq!(cmds[0].exit, 1);
    assert_eq!(cmds[0].stderr_has, ["role audit may not"]);
    assert_eq!(cmds[1].stdout_has, ["version: 1", "kcv: …9f"]);
    assert_eq!(cmds[2].code, "echo \"a # b\" | cat \\\n  -");
    assert_eq!(cmds[2].stdout_has, ["a # b"]);
    assert!(cmds[3].code.ends_with("JSON") && cmds[3].code.contains("{\"a\": 1}"));
    assert!(cmds[4].background && cmds[4].code == "sscard serve --dev --data d");
    assert_eq!(cmds[4].line, 18);
    assert!(matches("version: 3 kcv=7d896a9f", "version: … kcv=7d8…"));
    assert!(!matches("version: 3", "kcv"));
}

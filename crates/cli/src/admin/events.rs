//! `sscard events list|alerts|ack|rule` (security administrator).

use serde_json::{json, Value};

use crate::client::{Client, Connection};
use crate::error::CliResult;

/// Event commands.
#[derive(Debug, clap::Subcommand)]
pub enum EventsCommand {
    /// The newest security events, one line each.
    List {
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Open alerts, one line each, starting with the alert's id.
    Alerts,
    /// Acknowledge an alert.
    Ack { id: String },
    /// Set a rule: COUNT events of KIND within WINDOW seconds per terminal,
    /// card or institution raise an alert (and with --suspend, per terminal,
    /// suspend the terminal).
    Rule {
        #[arg(long)]
        kind: String,
        #[arg(long, value_parser = ["terminal", "card", "institution"], default_value = "terminal")]
        per: String,
        #[arg(long)]
        count: i64,
        #[arg(long, value_name = "SECONDS")]
        window: i64,
        #[arg(long)]
        suspend: bool,
    },
}

/// Arguments of `events`.
#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    #[command(subcommand)]
    command: EventsCommand,
    #[command(flatten)]
    connection: Connection,
}

pub fn run(args: EventsArgs) -> CliResult {
    let client = Client::new(&args.connection)?;
    let s = |v: &Value, f: &str| v.get(f).and_then(Value::as_str).unwrap_or("-").to_string();
    match args.command {
        EventsCommand::List { limit } => {
            let events: Value = client.get(&format!("/v1/events?limit={limit}"))?;
            if crate::io::json_mode() {
                crate::io::out_json(&events);
                return Ok(());
            }
            outln!("events: {}", events.as_array().map_or(0, Vec::len));
            for e in events.as_array().into_iter().flatten() {
                let time = e.get("time_ms").and_then(Value::as_i64).unwrap_or(0);
                outln!(
                    "event: {} {} terminal={} card={} {}",
                    sscard_core::clock::format_time(time),
                    s(e, "kind"),
                    s(e, "terminal_no"),
                    s(e, "card_id"),
                    s(e, "detail")
                );
            }
        }
        EventsCommand::Alerts => {
            let alerts: Value = client.get("/v1/alerts")?;
            if crate::io::json_mode() {
                crate::io::out_json(&alerts);
                return Ok(());
            }
            outln!("alerts: {}", alerts.as_array().map_or(0, Vec::len));
            for a in alerts.as_array().into_iter().flatten() {
                outln!(
                    "alert: {} rule=\"{}\" subject=\"{}\" count={} action=\"{}\"",
                    s(a, "id"),
                    s(a, "rule"),
                    s(a, "subject"),
                    a.get("count").and_then(Value::as_i64).unwrap_or(0),
                    s(a, "action")
                );
            }
        }
        EventsCommand::Ack { id } => {
            let a: Value = client.post(&format!("/v1/alerts/{id}/ack"), &json!({}))?;
            outln!("alert: {id} {}", s(&a, "state"));
        }
        EventsCommand::Rule {
            kind,
            per,
            count,
            window,
            suspend,
        } => {
            let rules: Value = client.post(
                "/v1/events/rules",
                &json!({"kind": kind, "per": per, "count": count, "window_s": window, "suspend": suspend}),
            )?;
            for r in rules.as_array().into_iter().flatten() {
                outln!(
                    "rule: {} per {} count={} window={}s suspend={}",
                    s(r, "kind"),
                    s(r, "per"),
                    r.get("count").and_then(Value::as_i64).unwrap_or(0),
                    r.get("window_s").and_then(Value::as_i64).unwrap_or(0),
                    r.get("suspend").and_then(Value::as_bool).unwrap_or(false)
                );
            }
        }
    }
    Ok(())
}

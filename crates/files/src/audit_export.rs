//! The audit log as JSON Lines and CSV, shared by the web export and the
//! `mamori audit export` command.

use mamori_core::audit::Event;
use mamori_core::clock::from_unix_micros;
use mamori_core::jst::format_rfc3339_jst;

pub const CSV_HEADERS: [&str; 13] = [
    "seq",
    "time",
    "actor_id",
    "actor_login",
    "client_addr",
    "user_agent",
    "action",
    "target_type",
    "target_id",
    "changes",
    "outcome",
    "request_id",
    "hash",
];

fn time(e: &Event) -> String {
    from_unix_micros(e.record.occurred_at_us).map(format_rfc3339_jst).unwrap_or_default()
}

/// One event as a JSON object (one line of JSON Lines).
pub fn json(e: &Event) -> serde_json::Value {
    let r = &e.record;
    serde_json::json!({
        "seq": r.seq,
        "time": time(e),
        "actor_id": r.actor_account_id,
        "actor_login": r.actor_login,
        "client_addr": r.client_addr,
        "user_agent": r.user_agent,
        "action": r.action,
        "target_type": r.target_type,
        "target_id": r.target_id,
        "changes": serde_json::from_str::<serde_json::Value>(&r.changes).unwrap_or(serde_json::Value::Null),
        "outcome": r.outcome,
        "request_id": r.request_id,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    })
}

pub fn csv_row(e: &Event) -> Vec<String> {
    let r = &e.record;
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    vec![
        r.seq.to_string(),
        time(e),
        r.actor_account_id.map(|i| i.to_string()).unwrap_or_default(),
        r.actor_login.clone(),
        opt(&r.client_addr),
        opt(&r.user_agent),
        r.action.clone(),
        opt(&r.target_type),
        opt(&r.target_id),
        r.changes.clone(),
        r.outcome.clone(),
        opt(&r.request_id),
        e.hash.clone(),
    ]
}

//! What is known of a request before any handler runs: its id and where it
//! came from. Every layer and handler takes them from here.

use crate::client::ClientInfo;
use mamori_core::audit::Origin;

/// The request id: random, made here for every request, never taken from
/// the client. Users quote it from the error page; it ties the page to the
/// server log and the audit log.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Where a request came from, for audit events.
pub fn origin_of(parts_ext: &axum::http::Extensions) -> Origin {
    let client = parts_ext.get::<ClientInfo>();
    Origin {
        client_addr: client.map(|c| c.ip.to_string()),
        user_agent: client.and_then(|c| c.user_agent.clone()),
        request_id: parts_ext.get::<RequestId>().map(|r| r.0.clone()),
    }
}

//! Where a request came from: the client address (the socket's peer, or behind a trusted proxy
//! the right-most untrusted `X-Forwarded-For` entry) and the browser.

use crate::state::AppState;
use auth_core::Client;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, header};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;

/// The client of a request with `headers` from `peer`.
pub(crate) fn client(state: &AppState, peer: Option<IpAddr>, headers: &HeaderMap) -> Client {
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    Client::new(
        client_address(peer, headers, &state.trusted_proxies),
        user_agent,
    )
}

/// The socket's peer, as `axum::serve(…, app.into_make_service_with_connect_info::<SocketAddr>())`
/// (or Wristband's own serving) puts it in the request.
pub(crate) fn peer(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Logs, once per process, that logins arrive without a client address, and how to fix it.
/// Throttling then counts by username alone (see `auth_core::throttle`).
pub(crate) fn warn_once_without_peer(state: &AppState) {
    if !state.missing_peer_logged.swap(true, Ordering::Relaxed) {
        tracing::error!(
            "a login arrived without the client's address, so login throttling counts by username \
             alone; serve the app with `axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())` \
             (or `Wristband::serve`) so each client is throttled on its own"
        );
    }
}

/// The peer, unless the peer is a trusted proxy; then the right-most `X-Forwarded-For` entry
/// that is not itself a trusted proxy.
fn client_address(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for entry in forwarded.iter().rev() {
        match entry.parse::<IpAddr>() {
            Ok(address) if trusted.contains(&address) => client = address,
            Ok(address) => return Some(address),
            // A garbled entry cannot be believed; the last trusted hop is what we know.
            Err(_) => return Some(client),
        }
    }
    Some(client)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("198.51.100.1, 203.0.113.7"),
        );
        assert_eq!(
            client_address(Some(client), &headers, &[proxy]),
            Some(client)
        );
        assert_eq!(
            client_address(Some(proxy), &headers, &[proxy]),
            Some(client)
        );
        headers.insert("x-forwarded-for", HeaderValue::from_static("garbage"));
        assert_eq!(client_address(Some(proxy), &headers, &[proxy]), Some(proxy));
        assert_eq!(client_address(None, &headers, &[proxy]), None);
    }
}

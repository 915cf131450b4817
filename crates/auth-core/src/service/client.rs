//! Who is asking: the client address (for throttling and the audit trail) and the browser.

use std::fmt;
use std::net::IpAddr;

/// Longest `User-Agent` kept with a session, in characters.
pub const MAX_USER_AGENT_CHARS: usize = 256;

/// The client of one use case. The address is `None` when the caller does not know it (an
/// application that serves without the peer address, or the command line): throttling then
/// counts by username alone, never in one bucket shared by every unknown client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Client {
    /// The client's address, as the web layer resolved it (trusted proxies applied).
    pub address: Option<IpAddr>,
    /// The browser's `User-Agent`, cut to [`MAX_USER_AGENT_CHARS`].
    pub user_agent: Option<String>,
    /// The users this browser has logged in as before, by [`Username::key`], from its signed
    /// device cookie (OWASP "device cookies"): their logins are not held back by the
    /// per-account lockout.
    ///
    /// [`Username::key`]: crate::Username::key
    pub known_devices: Vec<String>,
}

impl Client {
    /// A client at `address` with `user_agent` (cut to [`MAX_USER_AGENT_CHARS`]).
    pub fn new(address: Option<IpAddr>, user_agent: Option<&str>) -> Self {
        Self {
            address,
            user_agent: user_agent.map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect()),
            known_devices: Vec::new(),
        }
    }

    /// The same client, known by its device cookie to have logged in as `username_keys`.
    pub fn with_known_devices(mut self, username_keys: Vec<String>) -> Self {
        self.known_devices = username_keys;
        self
    }

    /// Whether this browser has logged in as the user whose throttle key is `username_key`.
    pub fn knows_device(&self, username_key: &str) -> bool {
        self.known_devices.iter().any(|k| k == username_key)
    }

    /// An administrator at the command line: no address, no browser.
    pub fn command_line() -> Self {
        Self::default()
    }

    /// The address as a log field: the address itself, or `-` when unknown.
    pub fn address_field(&self) -> AddressField {
        AddressField(self.address)
    }
}

/// A client address for a log line: `203.0.113.7`, or `-` when unknown (never `Some(…)`).
#[derive(Debug, Clone, Copy)]
pub struct AddressField(Option<IpAddr>);

impl fmt::Display for AddressField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(address) => address.fmt(f),
            None => f.write_str("-"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_are_cut_and_addresses_print_plainly() {
        let long = "x".repeat(1000);
        let client = Client::new(Some("203.0.113.7".parse().unwrap()), Some(&long));
        assert_eq!(
            client.user_agent.as_deref().map(str::len),
            Some(MAX_USER_AGENT_CHARS)
        );
        assert_eq!(client.address_field().to_string(), "203.0.113.7");
        assert_eq!(Client::command_line().address_field().to_string(), "-");
    }
}

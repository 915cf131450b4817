//! A minimal HTTP/1.1 client over one keep-alive connection (hyper's client connection), and
//! the request shapes the benchmark sends.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::error::{Context, Error, Result};

/// One open HTTP/1.1 connection; requests on it go one after another (no pipelining).
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
}

/// A response, read in full.
#[derive(Debug)]
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Reply {
    /// The value of the cookie `name` set by this response (`Set-Cookie: name=value; …`).
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find_map(|value| set_cookie_value(value, name))
    }

    /// The body as text (lossy), for error messages and form scraping.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `value` of `name=value; attributes` when the cookie is `name` and has a value.
pub fn set_cookie_value(set_cookie: &str, name: &str) -> Option<String> {
    let pair = set_cookie.split(';').next()?.trim();
    let (key, value) = pair.split_once('=')?;
    (key == name && !value.is_empty()).then(|| value.to_owned())
}

/// The `value` of the first `<input … name="NAME" value="VALUE">` in `html`.
pub fn hidden_input(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\"");
    let at = html.find(&marker)?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let value_at = tag.find("value=\"")? + "value=\"".len();
    let value_len = tag[value_at..].find('"')?;
    Some(html_unescape(&tag[value_at..value_at + value_len]))
}

/// Undoes the HTML escaping a template engine applies to an attribute value.
fn html_unescape(text: &str) -> String {
    [
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", "\""),
        ("&#x27;", "'"),
        ("&#39;", "'"),
        ("&#x2f;", "/"),
        ("&#x2F;", "/"),
        ("&amp;", "&"),
    ]
    .iter()
    .fold(text.to_owned(), |text, (entity, plain)| {
        text.replace(entity, plain)
    })
}

impl Connection {
    /// Connects to `addr` (TCP_NODELAY on) and starts the connection's driver task.
    pub async fn open(addr: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("cannot connect to {addr}"))?;
        stream.set_nodelay(true).context("cannot set TCP_NODELAY")?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .with_context(|| format!("HTTP handshake with {addr} failed"))?;
        tokio::spawn(async move {
            // Ends when the sender is dropped or the server closes; errors show up on `send`.
            let _ = connection.await;
        });
        Ok(Connection { sender })
    }

    /// Sends `request` and reads the whole response.
    pub async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<Reply, hyper::Error> {
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

/// A request to send over and over: cheap to turn into a [`Request`] each time.
#[derive(Debug, Clone)]
pub struct RequestTemplate {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl RequestTemplate {
    /// `GET path` to `addr`.
    pub fn get(addr: SocketAddr, path: &str) -> Result<Self> {
        RequestTemplate::new(Method::GET, addr, path, Bytes::new())
    }

    /// `POST path` to `addr` with a JSON body.
    pub fn post_json(addr: SocketAddr, path: &str, json: &serde_json::Value) -> Result<Self> {
        RequestTemplate::new(Method::POST, addr, path, Bytes::from(json.to_string()))?
            .header(header::CONTENT_TYPE, "application/json")
    }

    /// `POST path` to `addr` with a form body (`application/x-www-form-urlencoded`), built
    /// from `fields` (percent-encoded here).
    pub fn post_form(addr: SocketAddr, path: &str, fields: &[(&str, &str)]) -> Result<Self> {
        let body = fields
            .iter()
            .map(|(key, value)| format!("{}={}", form_encode(key), form_encode(value)))
            .collect::<Vec<_>>()
            .join("&");
        RequestTemplate::new(Method::POST, addr, path, Bytes::from(body))?
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
    }

    fn new(method: Method, addr: SocketAddr, path: &str, body: Bytes) -> Result<Self> {
        let template = RequestTemplate {
            method,
            path: path.to_owned(),
            headers: HeaderMap::new(),
            body,
        };
        template.header(header::HOST, &addr.to_string())
    }

    /// The template with the header `name: value` added.
    pub fn header(mut self, name: HeaderName, value: &str) -> Result<Self> {
        let value = HeaderValue::from_str(value)
            .with_context(|| format!("invalid value for the {name} header"))?;
        self.headers.append(name, value);
        Ok(self)
    }

    /// The template with `Cookie: name=value` added.
    pub fn cookie(self, name: &str, value: &str) -> Result<Self> {
        self.header(header::COOKIE, &format!("{name}={value}"))
    }

    /// A request to send.
    pub fn build(&self) -> Result<Request<Full<Bytes>>> {
        let mut request = Request::builder()
            .method(self.method.clone())
            .uri(self.path.as_str())
            .body(Full::new(self.body.clone()))
            .map_err(|error| Error::new(format!("invalid request {}: {error}", self.path)))?;
        *request.headers_mut() = self.headers.clone();
        Ok(request)
    }

    /// The method and path, for messages.
    pub fn describe(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// `application/x-www-form-urlencoded` encoding of one key or value.
pub fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_set_cookie_values() {
        let line = "wristband_session=abc.def; Path=/; HttpOnly; SameSite=Lax";
        assert_eq!(
            set_cookie_value(line, "wristband_session").as_deref(),
            Some("abc.def")
        );
        assert_eq!(set_cookie_value(line, "wristband_csrf"), None);
        assert_eq!(
            set_cookie_value("wristband_session=; Max-Age=0", "wristband_session"),
            None
        );
    }

    #[test]
    fn scrapes_hidden_inputs() {
        let html = r#"<form method="post"><input type="hidden" name="csrf_token" value="t0k.en">
            <input name="username" value=""></form>"#;
        assert_eq!(hidden_input(html, "csrf_token").as_deref(), Some("t0k.en"));
        assert_eq!(hidden_input(html, "next"), None);
        let escaped = r#"<input value="a&#x2f;b&amp;c" name="next">"#;
        assert_eq!(hidden_input(escaped, "next").as_deref(), Some("a/b&c"));
    }

    #[test]
    fn form_encodes() {
        assert_eq!(form_encode("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    }
}

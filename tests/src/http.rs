//! HTTP clients for tests: a reqwest client that reaches every host name on the loopback
//! interface, generic request helpers, and raw HTTP/1.1 requests for headers that reqwest
//! refuses to send.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Resolves every host name to 127.0.0.1, so `http://<slug>.localhost:<port>` and any other name
/// reach the test server and nothing else.
struct LoopbackResolver;

impl Resolve for LoopbackResolver {
    fn resolve(&self, _name: Name) -> Resolving {
        // Port 0 makes reqwest use the port of the URL.
        let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let addrs: Addrs = Box::new(std::iter::once(loopback));
        Box::pin(std::future::ready(Ok(addrs)))
    }
}

/// Builds a client with its own cookie store that follows no redirects, uses no proxy and
/// resolves every name to 127.0.0.1.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(LoopbackResolver))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|error| panic!("cannot build the test HTTP client: {error}"))
}

/// Posts `fields` as `application/x-www-form-urlencoded` and returns the response.
pub async fn post_form(
    client: &reqwest::Client,
    url: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(url)
        .form(fields)
        .send()
        .await
        .unwrap_or_else(|error| panic!("POST {url} failed: {error}"))
}

/// Sends a GET request and returns the status and the body as text.
pub async fn get_text(client: &reqwest::Client, url: &str) -> (StatusCode, String) {
    let response = client
        .get(url)
        .send()
        .await
        .unwrap_or_else(|error| panic!("GET {url} failed: {error}"));
    let status = response.status();
    let body = response
        .text()
        .await
        .unwrap_or_else(|error| panic!("reading the body of GET {url} failed: {error}"));
    (status, body)
}

/// Returns the `Location` header of a redirect, and panics when it is missing.
pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| {
            panic!(
                "expected a Location header on the {} response from {}",
                response.status(),
                response.url()
            )
        })
}

/// A response read from a raw connection.
#[derive(Clone, Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    /// Returns the first header with this name, compared without case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Sends `GET path` over a new connection to 127.0.0.1:`port` with the given `Host` header
/// bytes, which may be anything a client can put on the wire, and reads the whole response.
pub async fn raw_get(port: u16, host: &[u8], path: &str) -> RawResponse {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: ").into_bytes();
    request.extend_from_slice(host);
    request.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
    raw_request(port, &request).await
}

/// Writes `request` as is to 127.0.0.1:`port`, reads until the server closes the connection and
/// parses the response. The request should ask for `Connection: close`.
pub async fn raw_request(port: u16, request: &[u8]) -> RawResponse {
    let exchange = async {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await?;
        stream.write_all(request).await?;
        let mut received = Vec::new();
        stream.read_to_end(&mut received).await?;
        Ok::<_, std::io::Error>(received)
    };
    let received = tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .unwrap_or_else(|_| panic!("raw request to port {port} timed out after 30 s"))
        .unwrap_or_else(|error| panic!("raw request to port {port} failed: {error}"));
    parse_response(&received).unwrap_or_else(|| {
        panic!(
            "malformed HTTP response: {:?}",
            String::from_utf8_lossy(&received)
        )
    })
}

fn parse_response(received: &[u8]) -> Option<RawResponse> {
    let head_end = received
        .windows(4)
        .position(|window| window == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&received[..head_end]).ok()?;
    let body = &received[head_end + 4..];

    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status = status_line.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();

    let chunked = headers
        .iter()
        .any(|(name, value)| name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        decode_chunked(body)?
    } else {
        body.to_vec()
    };
    Some(RawResponse {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn decode_chunked(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut decoded = Vec::new();
    loop {
        let line_end = body.windows(2).position(|window| window == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..line_end]).ok()?;
        let size_text = size_text.split(';').next()?.trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(decoded);
        }
        decoded.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_response_reads_length_body() {
        let response = parse_response(
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\nX-Request-Id: abc\r\n\r\nhallo",
        );
        let response = response.unwrap_or_else(|| panic!("not parsed"));
        assert_eq!(response.status, 400);
        assert_eq!(response.header("x-request-id"), Some("abc"));
        assert_eq!(response.header("Content-Length"), Some("5"));
        assert_eq!(response.body, "hallo");
    }

    #[test]
    fn parse_response_decodes_chunks() {
        let response = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\n\r\n",
        );
        let response = response.unwrap_or_else(|| panic!("not parsed"));
        assert_eq!(response.status, 200);
        assert_eq!(response.body, "Wikipedia");
    }
}

//! Plain HTTP requests (the app's files as a browser fetches them, DevTools' target list, a
//! write to the push API), on the same HTTP stack as the WebDriver client. Bodies come as
//! sent: not decompressed.

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// A response: status, headers (lower-case names) and the body as sent.
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header names in lower case, with their values.
    pub headers: Vec<(String, String)>,
    /// The body, still content-encoded.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// GETs `url` with these request headers, within `timeout`.
pub async fn get(
    url: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> Result<Response, String> {
    send("GET", url, headers, Vec::new(), timeout).await
}

/// Sends `method` to `url` with these request headers and `body`, within `timeout`.
pub async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    timeout: Duration,
) -> Result<Response, String> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
    let mut req = http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(Full::new(bytes::Bytes::from(body)))
        .map_err(|e| format!("{method} {url}: {e}"))?;
    let fetch = async {
        let resp = client
            .request(req)
            .await
            .map_err(|e| format!("{method} {url}: {e}"))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{method} {url}: {e}"))?
            .to_bytes()
            .to_vec();
        Ok(Response {
            status,
            headers,
            body,
        })
    };
    tokio::time::timeout(timeout, fetch)
        .await
        .map_err(|_| format!("{method} {url}: no answer within {timeout:?}"))?
}

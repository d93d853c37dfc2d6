//! Who may write: every mutating endpoint takes a [`Writer`], the name of the write token its
//! request carried (`Authorization: Bearer <token>`, one of `--write-token NAME=TOKEN`).
//!
//! The rules, in the order they are checked:
//! 1. a browser request (it has an `Origin` header) from an origin that is not allowed is
//!    refused with 403: the same rule as the websocket's (`--allow-origin`, else the server's
//!    own origin). Requests without `Origin` (CI jobs, curl, forges) go on.
//! 2. an address that failed too often lately gets 429 with `Retry-After`, whatever it sends,
//!    so guessing does not pay even when a guess is right.
//! 3. the bearer token is compared with every write token in constant time; none matching is
//!    401, and counts as a failure of that address.
//!
//! No credential is ever read from a cookie (a page on another site could make the browser
//! send it), nor from the query string (it ends up in logs and browser history). Tokens are
//! never logged, and `Debug` of a token shows only its name.
//!
//! Without `--write-token`, the server makes one for itself: a random token named `local`,
//! kept in `<data-dir>/write-token` (mode 0600, made at the first start, read at the next
//! ones). Its path is logged at start, never its value, so whoever can read the data
//! directory can write (`cargo xtask run`, then the README's curl examples). An `--ephemeral`
//! server with no `--write-token` has nowhere to keep one: it refuses every write with a 401
//! that says how to configure one.

use crate::access::{constant_time_eq, origin_allowed};
use crate::app::App;
use crate::config::Config;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Who wrote: the name of the write token a request carried. Every mutating endpoint takes
/// one; a handler that has it knows the request passed the rules of this module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Writer {
    /// The write token's name (`ci` of `--write-token ci=...`), shown as who reported.
    pub name: String,
}

impl FromRequestParts<Arc<App>> for Writer {
    type Rejection = WriteRefusal;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        let peer = client_ip(parts);
        app.writers
            .admit(&parts.headers, peer, &app.cfg.allow_origins)
    }
}

/// The client address of a request (the listener records it on every request: behind a
/// trusted proxy, the address the proxy names).
pub fn client_ip(parts: &Parts) -> IpAddr {
    if let Some(client) = parts.extensions.get::<crate::trusted_proxy::ClientAddr>() {
        return client.0;
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip())
}

/// Shortest write token accepted: shorter ones are too easy to guess.
pub const MIN_TOKEN_CHARS: usize = 16;

/// Name of the token a server makes for itself when given none.
pub const GENERATED_NAME: &str = "local";

/// File in the data directory holding the generated token.
pub const TOKEN_FILE: &str = "write-token";

/// One `--write-token NAME=TOKEN`.
#[derive(Clone, PartialEq, Eq)]
pub struct WriteToken {
    /// Who holds it (letters, digits, `.`, `_`, `-`; at most 64).
    pub name: String,
    token: String,
}

impl WriteToken {
    /// A token named `name`; `None` when either is not acceptable (see [`FromStr`]).
    pub fn new(name: &str, token: &str) -> Result<Self, String> {
        if token.is_empty() {
            // The name may be a token typed without its name: not repeated.
            return Err("a write token is given as NAME=TOKEN: the part after `=` is empty".into());
        }
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !name_ok {
            return Err(format!(
                "write token name `{}` should be 1 to 64 letters, digits, '.', '_' or '-'",
                name.chars().take(64).collect::<String>()
            ));
        }
        if token.chars().count() < MIN_TOKEN_CHARS {
            return Err(format!(
                "the write token named `{name}` is shorter than {MIN_TOKEN_CHARS} characters: \
                 too easy to guess (e.g. `openssl rand -hex 32` makes a good one)"
            ));
        }
        if token
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ',')
        {
            return Err(format!(
                "the write token named `{name}` has spaces, commas or control characters"
            ));
        }
        Ok(Self {
            name: name.into(),
            token: token.into(),
        })
    }
}

impl FromStr for WriteToken {
    type Err = String;

    /// `NAME=TOKEN`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some((name, token)) = s.split_once('=') else {
            return Err(
                "a write token is given as NAME=TOKEN (e.g. ci=$(openssl rand -hex 32))".into(),
            );
        };
        Self::new(name.trim(), token.trim())
    }
}

/// Parses `--write-token` values; a refusal names the token, never shows it (clap's own
/// errors repeat the value given).
#[derive(Clone, Copy, Debug)]
pub struct WriteTokenParser;

impl clap::builder::TypedValueParser for WriteTokenParser {
    type Value = WriteToken;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<WriteToken, clap::Error> {
        let refuse = |why: String| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("--write-token (or SHIPWATCH_WRITE_TOKENS): {why}\n"),
            )
        };
        value
            .to_str()
            .ok_or_else(|| refuse("a write token must be UTF-8".into()))?
            .parse()
            .map_err(refuse)
    }
}

/// Shows the name only: a config printed with `{:?}` does not leak the token.
impl fmt::Debug for WriteToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WriteToken({}=<redacted>)", self.name)
    }
}

/// Why a write was refused; answers with its status and the JSON error body.
#[derive(Debug, PartialEq, Eq)]
pub enum WriteRefusal {
    /// The server has no write token at all (401).
    NoWriteTokens,
    /// No `Authorization: Bearer` header (401).
    Missing,
    /// A bearer token that is none of the write tokens (401).
    Wrong,
    /// A browser request from an origin not allowed (403); the origin, shortened.
    Origin(String),
    /// Too many failures from this address lately (429); seconds until it may try again.
    TooMany(u64),
}

impl WriteRefusal {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NoWriteTokens | Self::Missing | Self::Wrong => StatusCode::UNAUTHORIZED,
            Self::Origin(_) => StatusCode::FORBIDDEN,
            Self::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// The sentence of the error body.
    pub fn message(&self) -> String {
        match self {
            Self::NoWriteTokens => "this server takes no writes: it has no write token. Start it \
                with --write-token NAME=TOKEN (or SHIPWATCH_WRITE_TOKENS=NAME=TOKEN), or without \
                --ephemeral to have one made in its data directory"
                .into(),
            Self::Missing => "a write token is required: send `Authorization: Bearer <token>` \
                (a token of --write-token, or the one in <data-dir>/write-token)"
                .into(),
            Self::Wrong => "the bearer token is not one of this server's write tokens".into(),
            Self::Origin(origin) => format!(
                "origin {origin} may not write to this server (allow it with --allow-origin)"
            ),
            Self::TooMany(secs) => {
                format!("too many failed attempts from this address: try again in {secs} s")
            }
        }
    }

    /// The request part the refusal is about.
    fn field(&self) -> Option<&'static str> {
        match self {
            Self::NoWriteTokens | Self::Missing | Self::Wrong => Some("Authorization"),
            Self::Origin(_) => Some("Origin"),
            Self::TooMany(_) => None,
        }
    }
}

impl IntoResponse for WriteRefusal {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.message() });
        if let Some(field) = self.field() {
            body["field"] = field.into();
        }
        let mut res = (self.status(), Json(body)).into_response();
        match self {
            Self::NoWriteTokens | Self::Missing | Self::Wrong => {
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"shipwatch\""),
                );
            }
            Self::TooMany(secs) => {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            Self::Origin(_) => {}
        }
        res
    }
}

/// The write tokens and the failures of each address.
pub struct WriteAccess {
    tokens: Vec<WriteToken>,
    failures: FailureLimit,
}

impl WriteAccess {
    /// The configured tokens, or the generated one of the data directory (made if missing);
    /// an error names the token file that cannot be read or written.
    pub fn new(cfg: &Config) -> std::io::Result<Self> {
        let tokens = if !cfg.write_tokens.is_empty() {
            cfg.write_tokens.clone()
        } else if let Some(store) = cfg.store(0) {
            let file = token_file(&store.dir);
            let token = generated_token(&file).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("write token file {}: {e}", file.display()),
                )
            })?;
            tracing::info!(
                file = %file.display(),
                "writes need the token in this file (name `{GENERATED_NAME}`), sent as a \
                 bearer token"
            );
            vec![token]
        } else {
            tracing::warn!(
                "no write token (--write-token NAME=TOKEN): writes are refused on this server"
            );
            Vec::new()
        };
        Ok(Self::with_tokens(tokens, cfg.max_write_failures))
    }

    /// Access with these tokens, allowing `failures_per_minute` failed attempts per address
    /// (0: no limit).
    pub fn with_tokens(tokens: Vec<WriteToken>, failures_per_minute: u32) -> Self {
        Self {
            tokens,
            failures: FailureLimit::new(failures_per_minute),
        }
    }

    /// Applies the rules of this module to a request's headers from `peer`.
    pub fn admit(
        &self,
        headers: &HeaderMap,
        peer: IpAddr,
        allowed_origins: &[String],
    ) -> Result<Writer, WriteRefusal> {
        self.check_origin(headers, allowed_origins)?;
        self.check_rate(peer)?;
        if self.tokens.is_empty() {
            return Err(WriteRefusal::NoWriteTokens);
        }
        let Some(given) = bearer(headers) else {
            self.failed(peer);
            return Err(WriteRefusal::Missing);
        };
        // Every token is compared, matching or not, so timing does not tell which one (or
        // whether one) matched.
        let mut found = None;
        for t in &self.tokens {
            if constant_time_eq(given.as_bytes(), t.token.as_bytes()) {
                found = Some(&t.name);
            }
        }
        match found {
            Some(name) => Ok(Writer { name: name.clone() }),
            None => {
                self.failed(peer);
                Err(WriteRefusal::Wrong)
            }
        }
    }

    /// 403 for a browser request from an origin that may not write.
    pub fn check_origin(
        &self,
        headers: &HeaderMap,
        allowed_origins: &[String],
    ) -> Result<(), WriteRefusal> {
        match headers.get(header::ORIGIN) {
            Some(origin) => {
                let origin = origin.to_str().unwrap_or("");
                if origin_allowed(origin, headers, allowed_origins) {
                    Ok(())
                } else {
                    Err(WriteRefusal::Origin(origin.chars().take(200).collect()))
                }
            }
            None => Ok(()),
        }
    }

    /// 429 while `peer` has failed too often lately.
    pub fn check_rate(&self, peer: IpAddr) -> Result<(), WriteRefusal> {
        match self.failures.retry_after(peer, Instant::now()) {
            Some(wait) => Err(WriteRefusal::TooMany(wait.as_secs().max(1))),
            None => Ok(()),
        }
    }

    /// Counts a failed attempt of `peer` (a wrong credential, a bad webhook signature).
    pub fn failed(&self, peer: IpAddr) {
        self.failures.fail(peer, Instant::now());
    }
}

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Lets a page on a listed origin (`--allow-origin`) call the API from a browser, which asks
/// first (a CORS preflight, since a write carries `Authorization`) and reads an answer only if
/// it names its origin. Same-origin pages need none of it; other origins get no CORS headers,
/// so their browser refuses to send (and the write rules refuse what comes anyway). Never
/// `Access-Control-Allow-Credentials`: no cookie is ever a credential here.
pub async fn cross_origin(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let listed = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| crate::access::listed(o, &app.cfg.allow_origins))
        .and_then(|o| HeaderValue::from_str(o).ok());
    let Some(origin) = listed else {
        return next.run(req).await;
    };
    let preflight = req.method() == axum::http::Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        && req.uri().path().starts_with("/api/");
    let mut res = if preflight {
        let mut res = StatusCode::NO_CONTENT.into_response();
        let h = res.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, PUT"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        res
    } else {
        let mut res = next.run(req).await;
        res.headers_mut().insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("retry-after"),
        );
        res
    };
    let h = res.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.append(header::VARY, HeaderValue::from_static("origin"));
    res
}

/// Reads the generated token of `file`, or makes one there (mode 0600).
fn generated_token(file: &Path) -> std::io::Result<WriteToken> {
    match std::fs::read_to_string(file) {
        Ok(text) => {
            return WriteToken::new(GENERATED_NAME, text.trim()).map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "it holds no usable token: delete it, and the next start makes a new one",
                )
            });
        }
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let token = random_token()?;
    write_private(file, &token)?;
    WriteToken::new(GENERATED_NAME, &token)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// 32 random bytes from the system, as URL-safe base64 (43 characters).
fn random_token() -> std::io::Result<String> {
    use base64::Engine;
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Creates `file` readable by its owner only, failing if it exists (two servers starting on
/// one directory do not overwrite each other's token).
fn write_private(file: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(file)?;
    writeln!(f, "{text}")?;
    f.sync_all()
}

/// Where the generated token of a data directory lives.
pub fn token_file(data_dir: &Path) -> PathBuf {
    data_dir.join(TOKEN_FILE)
}

/// Length of the window in which an address's failures are counted.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Addresses whose failures are remembered at once: a fixed-size entry each, so memory stays
/// bounded however many addresses fail.
pub const MAX_ADDRESSES: usize = 4096;

/// Failed attempts per address in fixed one-minute windows.
struct FailureLimit {
    per_window: u32,
    windows: Mutex<HashMap<IpAddr, Window>>,
}

/// One address's failures since `start`.
#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    failures: u32,
}

impl FailureLimit {
    fn new(per_window: u32) -> Self {
        Self {
            per_window,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// How long `ip` must wait, if it has used up its failures.
    fn retry_after(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        if self.per_window == 0 {
            return None;
        }
        let windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let w = windows.get(&key(ip))?;
        let ends = w.start + WINDOW;
        (w.failures >= self.per_window && ends > now).then(|| ends - now)
    }

    fn fail(&self, ip: IpAddr, now: Instant) {
        if self.per_window == 0 {
            return;
        }
        let ip = key(ip);
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if !windows.contains_key(&ip) && windows.len() >= MAX_ADDRESSES {
            windows.retain(|_, w| w.start + WINDOW > now);
            if windows.len() >= MAX_ADDRESSES {
                // Full of recent failures: the oldest window gives way.
                if let Some(oldest) = windows.iter().min_by_key(|(_, w)| w.start).map(|(k, _)| *k) {
                    windows.remove(&oldest);
                }
            }
        }
        let w = windows.entry(ip).or_insert(Window {
            start: now,
            failures: 0,
        });
        if w.start + WINDOW <= now {
            *w = Window {
                start: now,
                failures: 0,
            };
        }
        w.failures = w.failures.saturating_add(1);
    }

    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.windows.lock().unwrap().len()
    }
}

/// The key of an address: IPv6 addresses by their /64 network, since one host commonly has a
/// whole /64 to pick addresses from.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access() -> WriteAccess {
        WriteAccess::with_tokens(
            vec![
                WriteToken::new("ci", "ci-token-0123456789").unwrap(),
                WriteToken::new("bot", "bot-token-0123456789").unwrap(),
            ],
            3,
        )
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        for (k, v) in pairs {
            h.insert(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));

    #[test]
    fn parses_name_equals_token() {
        let t: WriteToken = "ci=abcdefghijklmnopq".parse().unwrap();
        assert_eq!(t.name, "ci");
        assert!("ci".parse::<WriteToken>().is_err());
        assert!("ci=short".parse::<WriteToken>().unwrap_err().contains("16"));
        assert!("=abcdefghijklmnopq".parse::<WriteToken>().is_err());
        assert!("a b=abcdefghijklmnopq".parse::<WriteToken>().is_err());
        assert_eq!(format!("{t:?}"), "WriteToken(ci=<redacted>)");
    }

    #[test]
    fn a_refused_flag_does_not_repeat_the_token() {
        use clap::Parser;
        for bad in [
            "ci=short-secret",
            "ci=short secret with spaces",
            "short-secret",
        ] {
            let e = crate::Config::try_parse_from(["shipwatch-server", "--write-token", bad])
                .unwrap_err()
                .to_string();
            assert!(e.contains("--write-token"), "{e}");
            assert!(!e.contains("zq"), "{e}");
        }
        let e = crate::Config::try_parse_from([
            "shipwatch-server",
            "--write-token",
            "0123456789abcdef0123=",
        ])
        .unwrap_err()
        .to_string();
        assert!(!e.contains("0123456789abcdef"), "{e}");
    }

    #[test]
    fn the_token_names_the_writer() {
        let a = access();
        let ok = a.admit(
            &headers(&[("authorization", "Bearer bot-token-0123456789")]),
            IP,
            &[],
        );
        assert_eq!(ok.unwrap().name, "bot");
        let lower = a.admit(
            &headers(&[("authorization", "bearer ci-token-0123456789")]),
            IP,
            &[],
        );
        assert_eq!(lower.unwrap().name, "ci");
        assert_eq!(a.admit(&headers(&[]), IP, &[]), Err(WriteRefusal::Missing));
        assert_eq!(
            a.admit(&headers(&[("authorization", "Bearer nope")]), IP, &[]),
            Err(WriteRefusal::Wrong)
        );
        // A cookie holding a right token is no credential.
        assert_eq!(
            a.admit(
                &headers(&[("cookie", "token=ci-token-0123456789")]),
                IP,
                &[]
            ),
            Err(WriteRefusal::Missing)
        );
    }

    #[test]
    fn other_origins_are_refused_before_the_token_is_looked_at() {
        let a = access();
        let right = ("authorization", "Bearer ci-token-0123456789");
        assert!(matches!(
            a.admit(
                &headers(&[right, ("origin", "http://evil.example")]),
                IP,
                &[]
            ),
            Err(WriteRefusal::Origin(_))
        ));
        assert!(a
            .admit(
                &headers(&[right, ("origin", "http://127.0.0.1:8080")]),
                IP,
                &[]
            )
            .is_ok());
        let allowed = vec!["http://evil.example".to_string()];
        assert!(a
            .admit(
                &headers(&[right, ("origin", "http://evil.example")]),
                IP,
                &allowed
            )
            .is_ok());
    }

    #[test]
    fn failures_lock_an_address_out_for_the_rest_of_its_window() {
        let a = access();
        let wrong = headers(&[("authorization", "Bearer nope")]);
        let right = headers(&[("authorization", "Bearer ci-token-0123456789")]);
        for _ in 0..3 {
            assert_eq!(a.admit(&wrong, IP, &[]), Err(WriteRefusal::Wrong));
        }
        let refused = a.admit(&right, IP, &[]);
        assert!(matches!(refused, Err(WriteRefusal::TooMany(s)) if (1..=60).contains(&s)));
        let other = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));
        assert!(a.admit(&right, other, &[]).is_ok());
    }

    #[test]
    fn a_window_ends_and_memory_is_bounded() {
        let limit = FailureLimit::new(1);
        let t0 = Instant::now();
        limit.fail(IP, t0);
        assert!(limit.retry_after(IP, t0).is_some());
        assert!(limit.retry_after(IP, t0 + WINDOW).is_none());
        for i in 0..(MAX_ADDRESSES as u32 + 100) {
            limit.fail(IpAddr::V4(i.into()), t0);
        }
        assert_eq!(limit.remembered(), MAX_ADDRESSES);
    }

    #[test]
    fn ipv6_counts_by_network() {
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let b: IpAddr = "2001:db8::2".parse().unwrap();
        assert_eq!(key(a), key(b));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(key(mapped), IP);
    }

    #[test]
    fn the_generated_token_is_kept_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub").join(TOKEN_FILE);
        let first = generated_token(&file).unwrap();
        let again = generated_token(&file).unwrap();
        assert_eq!(first, again);
        assert_eq!(first.name, GENERATED_NAME);
        std::fs::write(&file, "\n").unwrap();
        let e = generated_token(&file).unwrap_err().to_string();
        assert!(e.contains("delete it"), "{e}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}

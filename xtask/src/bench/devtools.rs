//! A direct DevTools protocol session with a page over Chromium's websocket, for what
//! chromedriver's `goog/cdp/execute` passthrough cannot deliver: commands whose result comes
//! as events (a heap snapshot streams its JSON in `HeapProfiler.addHeapSnapshotChunk`).

use super::browser::block_on;
use crate::cmd::Result;
use serde_json::{json, Value};
use shipwatch_e2e::http;
use std::net::TcpStream;
use std::time::Duration;
use tungstenite::{Message, WebSocket};

/// One websocket session with the first page target of a browser.
pub struct DevTools {
    socket: WebSocket<TcpStream>,
    next_id: u64,
}

impl DevTools {
    /// Connects to the page target of the browser whose DevTools listen on `address`.
    pub fn connect(address: &str) -> Result<DevTools> {
        let list = block_on(http::get(
            &format!("http://{address}/json/list"),
            &[],
            Duration::from_secs(10),
        ))?;
        let targets: Value = serde_json::from_slice(&list.body).map_err(|e| e.to_string())?;
        let url = targets
            .as_array()
            .and_then(|t| t.iter().find(|t| t["type"] == "page"))
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .ok_or("DevTools list no page target")?
            .to_string();
        let host = url
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .unwrap_or(address);
        let stream = TcpStream::connect(host).map_err(|e| format!("connect {host}: {e}"))?;
        // A snapshot of a busy page takes a while to start streaming.
        stream
            .set_read_timeout(Some(Duration::from_secs(300)))
            .map_err(|e| e.to_string())?;
        let (socket, _) = tungstenite::client(url.as_str(), stream)
            .map_err(|e| format!("DevTools websocket {url}: {e}"))?;
        Ok(DevTools { socket, next_id: 1 })
    }

    /// Sends `method` and returns its result; `on_event` sees every event received meanwhile.
    pub fn call(
        &mut self,
        method: &str,
        params: Value,
        mut on_event: impl FnMut(&str, &Value),
    ) -> Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        let text = json!({"id": id, "method": method, "params": params}).to_string();
        self.socket
            .send(Message::text(text))
            .map_err(|e| format!("DevTools {method}: {e}"))?;
        loop {
            let text = match self.socket.read() {
                Ok(Message::Text(t)) => t,
                Ok(_) => continue,
                Err(e) => return Err(format!("DevTools {method}: {e}")),
            };
            let v: Value = serde_json::from_str(text.as_str()).map_err(|e| e.to_string())?;
            if v["id"].as_u64() == Some(id) {
                if let Some(err) = v.get("error") {
                    return Err(format!("DevTools {method}: {err}"));
                }
                return Ok(v["result"].clone());
            }
            if let Some(event) = v["method"].as_str() {
                on_event(event, &v["params"]);
            }
        }
    }

    /// A heap snapshot of the page (after a garbage collection, as DevTools takes it): the
    /// `.heapsnapshot` JSON.
    pub fn heap_snapshot(&mut self) -> Result<Value> {
        self.call("HeapProfiler.enable", json!({}), |_, _| {})?;
        self.call("HeapProfiler.collectGarbage", json!({}), |_, _| {})?;
        let mut text = String::new();
        self.call(
            "HeapProfiler.takeHeapSnapshot",
            json!({"reportProgress": false}),
            |event, params| {
                if event == "HeapProfiler.addHeapSnapshotChunk" {
                    text.push_str(params["chunk"].as_str().unwrap_or(""));
                }
            },
        )?;
        serde_json::from_str(&text).map_err(|e| format!("heap snapshot: {e}"))
    }
}

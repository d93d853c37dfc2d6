// Installed by `cargo xtask bench` (the log figures) before any page script runs. It only
// observes, in the page of a log opened from its URL: when the first log row is in the DOM and
// painted, when the viewer's `data-last-line` reaches the log's last line (__WANT__) and that
// frame is painted, every frame's time, and the websocket message bytes the page receives.
(() => {
  if (window.__logProbe) return;
  const want = __WANT__;
  const P = (window.__logProbe = {
    firstLine: null,
    firstLinePainted: null,
    lastLine: null,
    lastLinePainted: null,
    // [end of the frame (ms since navigation), its length (ms)]
    frames: [],
    messages: 0,
    payloadBytes: 0,
    wasmMemory: null,
  });

  // The end of the rendering of the frame that shows a change made now: a message posted from
  // the next animation-frame callback is delivered after that frame's rendering.
  const painted = (set) =>
    requestAnimationFrame(() => {
      const after = new MessageChannel();
      after.port1.onmessage = () => set(performance.now());
      after.port2.postMessage(null);
    });

  // Frames until a second after the last line is painted.
  let previous = null;
  const tick = (t) => {
    if (previous !== null) P.frames.push([t, t - previous]);
    previous = t;
    if (P.lastLinePainted === null || t < P.lastLinePainted + 1000) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);

  const region = () => document.querySelector('[role=region][aria-label="Deployment logs"]');
  const check = () => {
    if (P.firstLine === null && document.querySelector(".log-row")) {
      P.firstLine = performance.now();
      painted((t) => (P.firstLinePainted = t));
    }
    const r = region();
    if (P.lastLine === null && r && Number(r.getAttribute("data-last-line")) >= want) {
      P.lastLine = performance.now();
      painted((t) => (P.lastLinePainted = t));
    }
    if (P.firstLine !== null && P.lastLine !== null) seen.disconnect();
  };
  const seen = new MutationObserver(check);
  seen.observe(document, {
    childList: true,
    subtree: true,
    attributes: true,
    attributeFilter: ["data-last-line"],
  });

  // What the page's sockets receive: one listener a socket, adding the message's length
  // (characters of a text message: bytes, for the ASCII the server sends).
  const Native = window.WebSocket;
  class CountingWebSocket extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (ev) => {
        P.messages++;
        P.payloadBytes += typeof ev.data === "string" ? ev.data.length : ev.data.byteLength || 0;
      });
    }
  }
  window.WebSocket = CountingWebSocket;

  addEventListener("shipwatch-started", (e) => {
    const wasm = e.detail && e.detail.wasm;
    P.wasmMemory = (wasm && wasm.memory) || null;
  });
  P.memory = () => ({
    js: performance.memory ? performance.memory.usedJSHeapSize : null,
    wasm: P.wasmMemory ? P.wasmMemory.buffer.byteLength : null,
  });
})();

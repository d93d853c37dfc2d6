// Installed by `cargo xtask bench` before any page script runs (DevTools
// Page.addScriptToEvaluateOnNewDocument). It only observes: when the first status dot
// appears, frame times, what the feed delivers to the page, status changes in the DOM, memory.
(() => {
  if (window.__benchProbe) return;
  const DOT = "table tbody [role=img][aria-label^='Running status:']";
  // `subscribes`: subscribe messages the page sent (a resync it asked for itself, under a new
  // subscription id, is one of these, not a resync); `trail`: each of those and each resync.
  const zero = () =>
    ({ frames: 0, changes: 0, upserts: 0, gaps: 0, resyncs: 0, subscribes: 0, trail: [] });
  const P = (window.__benchProbe = {
    firstDot: null,
    firstDotFrame: null,
    recording: false,
    frames: [],
    feed: zero(),
    statusChanges: 0,
    rowsReplaced: 0,
    wasmMemory: null,
    // Milestones of the first load (ms since navigation): where the time to first dot goes.
    wasmStarted: null,
    socketOpen: null,
    snapshotReceived: null,
  });

  // First dot: the DOM insertion, then the end of the rendering (style, layout, paint) of the
  // first frame that holds it: a message posted from that frame's animation-frame callback is
  // delivered after its rendering. (The callback alone runs before the rendering when the dot
  // was inserted outside an animation frame, and a frame later when inside one.)
  const first = new MutationObserver(() => {
    if (P.firstDot === null && document.querySelector(DOT)) {
      P.firstDot = performance.now();
      requestAnimationFrame(() => {
        const after = new MessageChannel();
        after.port1.onmessage = () => { P.firstDotFrame = performance.now(); };
        after.port2.postMessage(null);
      });
      first.disconnect();
    }
  });
  first.observe(document, { childList: true, subtree: true });

  // The page's loader (xtask/src/app_bundle.rs) announces the wasm instance, whose exports
  // hold its memory.
  addEventListener("shipwatch-started", (e) => {
    const wasm = e.detail && e.detail.wasm;
    P.wasmMemory = (wasm && wasm.memory) || null;
    if (P.wasmStarted === null) P.wasmStarted = performance.now();
  });

  // What the feed delivers: count changes per frame by scanning the text (cheaper than a
  // second JSON.parse), and check sequence numbers for gaps.
  const next = {};
  const count = (text, needle) => {
    let n = 0;
    for (let i = text.indexOf(needle); i !== -1; i = text.indexOf(needle, i + needle.length)) n++;
    return n;
  };
  const snapshot = (sub, seq) => {
    if (P.snapshotReceived === null) P.snapshotReceived = performance.now();
    if (P.recording && next[sub] !== undefined) {
      P.feed.resyncs++;
      const ms = Math.round(performance.now() - P.t0);
      P.feed.trail.push(`${ms} ms: snapshot ${sub} at ${seq}, after ${next[sub] - 1}`);
    }
    next[sub] = seq + 1;
  };
  const Native = window.WebSocket;
  class CountingWebSocket extends Native {
    send(data) {
      if (P.recording && typeof data === "string" && data.includes('"type":"subscribe"')) {
        P.feed.subscribes++;
        const ms = Math.round(performance.now() - P.t0);
        P.feed.trail.push(`${ms} ms: page sent ${data.slice(0, 200)}`);
      }
      return super.send(data);
    }
    constructor(...args) {
      super(...args);
      this.addEventListener("open", () => {
        if (P.socketOpen === null) P.socketOpen = performance.now();
      });
      this.addEventListener("message", (ev) => {
        if (typeof ev.data !== "string") return;
        const head = ev.data.slice(0, 160);
        const sub = (head.match(/"sub":"([^"]*)"/) || [])[1];
        const seqMatch = head.match(/"seq":(\d+)/);
        const seq = seqMatch ? Number(seqMatch[1]) : null;
        if (head.includes('"type":"delta"') && seq !== null) {
          const n = count(ev.data, '"op":"');
          if (P.recording) {
            P.feed.frames++;
            P.feed.changes += n;
            P.feed.upserts += count(ev.data, '"op":"service_upsert"') +
                count(ev.data, '"op":"instance_update"');
            if (next[sub] !== undefined && seq > next[sub]) P.feed.gaps += seq - next[sub];
          }
          next[sub] = seq + n;
        } else if (head.includes('"type":"snapshot"') && seq !== null) {
          snapshot(sub, seq);
        } else if (head.includes('"type":"snapshot_part"') && seq !== null) {
          // A snapshot too large for one frame comes in parts, in order: it is received
          // (one snapshot, one resync) with its last part.
          const part = Number((head.match(/"part":(\d+)/) || [])[1]);
          const parts = Number((head.match(/"parts":(\d+)/) || [])[1]);
          if (part === parts - 1) snapshot(sub, seq);
        } else if (head.includes('"type":"resumed"') && seq !== null) {
          next[sub] = seq + 1;
        }
      });
    }
  }
  window.WebSocket = CountingWebSocket;

  let statusObserver = null;
  P.start = () => {
    P.frames = [];
    P.feed = zero();
    P.statusChanges = 0;
    P.rowsReplaced = 0;
    P.recording = true;
    P.t0 = performance.now();
    let last = null;
    const tick = (t) => {
      if (!P.recording) return;
      if (last !== null) P.frames.push(t - last);
      last = t;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    statusObserver = new MutationObserver((records) => {
      for (const r of records) {
        if (r.type === "attributes") {
          const label = r.target.getAttribute("aria-label") || "";
          if (label.startsWith("Running status:") && r.oldValue !== label) P.statusChanges++;
        } else {
          P.rowsReplaced += r.addedNodes.length;
        }
      }
    });
    // The whole table: rows come and go as they scroll in and out of the window.
    const body = document.querySelector("table.services");
    if (body) {
      statusObserver.observe(body, {
        subtree: true,
        childList: true,
        attributes: true,
        attributeOldValue: true,
        attributeFilter: ["aria-label"],
      });
    }
  };
  P.stop = (withFrames = true) => {
    P.recording = false;
    if (statusObserver) statusObserver.disconnect();
    const seconds = (performance.now() - P.t0) / 1000;
    return {
      seconds,
      frames: withFrames ? P.frames : [],
      feed: P.feed,
      statusChanges: P.statusChanges,
      rowsReplaced: P.rowsReplaced,
    };
  };
  P.memory = () => ({
    js: performance.memory ? performance.memory.usedJSHeapSize : null,
    wasm: P.wasmMemory ? P.wasmMemory.buffer.byteLength : null,
  });
})();

// The door scanner: codes from a keyboard-wedge scanner, typing, or the
// camera (BarcodeDetector); checked online, or offline against the event's
// check-in bundle (Ed25519 via WebCrypto), with the offline scans kept in
// localStorage and uploaded in batches when the network is back.
"use strict";
(function () {
  const id = eventId();
  if (!requireSignIn()) return;
  const enc = encodeURIComponent(id);
  const K = {bundle: "bo_bundle_" + id, scans: "bo_scans_" + id, admitted: "bo_admitted_" + id, tiers: "bo_tiers_" + id};
  const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  const ONLINE_TIMEOUT = 4000;
  let bundle = load(K.bundle, null), pending = load(K.scans, []), admitted = new Set(load(K.admitted, []));
  let tiers = load(K.tiers, {}), online = true, key = null, seq = 0, uploading = false;
  const deviceId = localStorage.getItem("bo_device_id") || ("web-" + randomId().slice(0, 16));
  localStorage.setItem("bo_device_id", deviceId);
  const input = $("code");

  function load(k, def) { try { const v = JSON.parse(localStorage.getItem(k)); return v == null ? def : v; } catch (e) { return def; } }
  function store(k, v) { try { localStorage.setItem(k, JSON.stringify(v)); } catch (e) { /* full: keep in memory */ } }

  function setOnline(on) {
    online = on;
    const net = $("net");
    net.textContent = on ? "Online" : "Offline: checking codes on this device";
    net.className = "pill " + (on ? "online" : "offline");
  }

  function showPending() {
    say("pending", pending.length ? pending.length + (pending.length === 1 ? " scan" : " scans") + " to upload" : "All scans uploaded");
  }

  // request calls the API, giving up after ONLINE_TIMEOUT: a door cannot
  // wait for a dead network.
  async function request(method, path, body) {
    const ctl = new AbortController();
    const t = setTimeout(() => ctl.abort(), ONLINE_TIMEOUT);
    try {
      const h = {"Content-Type": "application/json", "X-CSRF-Token": cookie("bo_csrf")};
      let r = await fetch("/api/v1/" + path, {method, headers: h, body: body && JSON.stringify(body), signal: ctl.signal});
      if (r.status === 401 && await refreshSession()) {
        h["X-CSRF-Token"] = cookie("bo_csrf");
        r = await fetch("/api/v1/" + path, {method, headers: h, body: body && JSON.stringify(body)});
      }
      const data = await r.json().catch(() => null);
      if (!r.ok) {
        const e = new ApiError(r.status, data);
        if (r.status === 401) toSignIn();
        throw e;
      }
      return data;
    } finally { clearTimeout(t); }
  }

  // networkDown reports whether err means the server could not be reached.
  function networkDown(err) {
    return err instanceof TypeError || (err && err.name === "AbortError") || (err instanceof ApiError && (err.status >= 502 || err.status === 0));
  }

  async function fetchBundle() {
    try {
      const b = await request("GET", "events/" + enc + "/checkin-bundle");
      bundle = b; key = null;
      store(K.bundle, b);
      // The bundle knows what the server knows; this device's offline
      // admissions not yet uploaded stay.
      admitted = new Set(pending.filter(s => s.result === "ok").map(s => s.ticket_id));
      store(K.admitted, [...admitted]);
      setOnline(true);
    } catch (e) {
      if (networkDown(e)) setOnline(false); else showError(e);
    }
    say("bundle", bundle ? "Offline list: " + bundle.tickets.length + " tickets, " + bundle.revoked.length + " void, from " + when(bundle.generated_at) + "." : "No offline list yet: scanning needs the network.");
  }

  async function fetchCounts() {
    try {
      const c = await request("GET", "events/" + enc + "/gates");
      const body = $("counts");
      body.textContent = "";
      for (const g of c.items) {
        body.append(el("tr", {}, el("th", {scope: "row", text: g.gate || "All gates"}),
          el("td", {text: String(g.checked_in_here)}), el("td", {text: String(g.checked_in)}), el("td", {text: String(g.expected)})));
      }
      setOnline(true);
    } catch (e) { if (networkDown(e)) setOnline(false); }
  }

  const VERDICTS = {
    ok: ["ok", "OK: let in"],
    already_used: ["bad", "ALREADY USED"],
    void: ["bad", "VOID"],
    wrong_event: ["bad", "WRONG EVENT"],
    wrong_gate: ["warn", "WRONG GATE"],
    invalid: ["bad", "INVALID"],
    unknown: ["warn", "CANNOT CHECK OFFLINE"],
    error: ["warn", "NOT CHECKED"]
  };

  function show(result, detail, offline) {
    const [cls, text] = VERDICTS[result] || VERDICTS.invalid;
    const box = $("result");
    box.className = "result " + cls;
    box.dataset.result = result;
    say("verdict", text);
    say("detail", (detail || "") + (offline ? " (checked offline)" : ""));
  }

  function describe(r) {
    const t = r.ticket;
    const who = t ? (t.attendee_name || "No name") + " · " + (tiers[t.tier_id] || "ticket") : "";
    switch (r.result) {
    case "ok": return who;
    case "already_used": return (r.first_scan ? "First scanned " + when(r.first_scan.at) + (r.first_scan.gate ? " at " + r.first_scan.gate : "") + ". " : "") + who;
    case "void": return (r.reason || "Refunded, or replaced by a name change.") + (who ? " " + who : "");
    case "wrong_event": return "This is a ticket for another event.";
    case "wrong_gate": return "Send the holder to a gate for their tier. " + who;
    case "invalid": return "Not a valid ticket code.";
    case "unknown": return "This ticket is newer than the offline list. Check it when the network is back, or refuse.";
    }
    return "";
  }

  function b64url(s) {
    const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
    return Uint8Array.from(bin, c => c.charCodeAt(0));
  }

  function ticketIdOf(bytes) {
    let n = 0n;
    for (const b of bytes) n = (n << 8n) | BigInt(b);
    let out = "";
    for (let i = 0; i < 26; i++) { out = ALPHABET[Number(n & 31n)] + out; n >>= 5n; }
    return out;
  }

  // checkOffline decides a code with the bundle, as docs/api.md says.
  async function checkOffline(code, gate) {
    if (!/^[A-Za-z0-9_-]{116}$/.test(code)) return {result: "invalid"};
    const b = b64url(code);
    if (b.length !== 87 || b[0] !== 1) return {result: "invalid"};
    const kid = Array.from(b.slice(1, 5), x => x.toString(16).padStart(2, "0")).join("");
    if (kid !== bundle.key_id) return {result: "wrong_event"};
    if (!key) key = await crypto.subtle.importKey("raw", b64url(bundle.public_key), {name: "Ed25519"}, false, ["verify"]);
    const good = await crypto.subtle.verify({name: "Ed25519"}, key, b.slice(23), b.slice(0, 23));
    if (!good) return {result: "invalid"};
    const tid = ticketIdOf(b.slice(5, 21)), version = (b[21] << 8) | b[22];
    if (bundle.revoked.includes(tid)) return {result: "void", ticket_id: tid, reason: "The ticket was refunded."};
    const t = bundle.tickets.find(x => x.id === tid);
    if (!t || t.version < version) return {result: "unknown", ticket_id: tid};
    const ticket = {id: t.id, tier_id: t.tier_id, attendee_name: t.attendee_name};
    if (t.version > version) return {result: "void", ticket_id: tid, ticket, reason: "The name on the ticket changed; this code was replaced."};
    const g = gate && (bundle.gates || []).find(x => x.name === gate);
    if (g && g.tiers.length && !g.tiers.includes(t.tier_id)) return {result: "wrong_gate", ticket_id: tid, ticket};
    if (t.status === "used" || admitted.has(tid)) {
      return {result: "already_used", ticket_id: tid, ticket, first_scan: t.checked_in_at ? {at: t.checked_in_at, gate: t.gate} : null};
    }
    return {result: "ok", ticket_id: tid, ticket};
  }

  async function scan(code) {
    code = code.trim();
    if (!code) return;
    const gate = $("gate").value.trim();
    const scanId = Date.now().toString(36) + "-" + (seq++).toString(36);
    showError(null);
    if (online || !bundle) {
      try {
        const body = {code, device_id: deviceId, scan_id: scanId};
        if (gate) body.gate = gate;
        const r = await request("POST", "events/" + enc + "/checkins", body);
        setOnline(true);
        if (r.result === "ok" && r.ticket) { admitted.add(r.ticket.id); store(K.admitted, [...admitted]); }
        show(r.result, describe(r), false);
        upload();
        fetchCounts();
        return;
      } catch (e) {
        if (!networkDown(e)) { show("error", e.message, false); return; }
        setOnline(false);
        if (!bundle) { show("unknown", "No network and no offline list: this code cannot be checked.", false); return; }
      }
    }
    let r;
    try { r = await checkOffline(code, gate); } catch (e) { r = {result: "invalid"}; }
    if (r.result !== "unknown") {
      if (r.result === "ok") { admitted.add(r.ticket_id); store(K.admitted, [...admitted]); }
      const s = {code, scan_id: scanId, scanned_at: new Date().toISOString(), result: r.result, ticket_id: r.ticket_id};
      if (gate) s.gate = gate;
      pending.push(s);
      store(K.scans, pending);
      showPending();
    }
    show(r.result, describe(r), true);
  }

  // upload sends the offline scans in batches of up to 1000.
  async function upload() {
    if (uploading || !pending.length) { showPending(); return; }
    uploading = true;
    try {
      while (pending.length) {
        const batch = pending.slice(0, 1000);
        const scans = batch.map(s => { const o = Object.assign({}, s); delete o.ticket_id; return o; });
        await request("POST", "events/" + enc + "/checkins/batch", {device_id: deviceId, scans});
        const sent = new Set(batch.map(s => s.scan_id));
        pending = pending.filter(s => !sent.has(s.scan_id));
        store(K.scans, pending);
        setOnline(true);
      }
    } catch (e) {
      if (networkDown(e)) setOnline(false); else showError(e);
    } finally { uploading = false; showPending(); }
  }

  $("scan").addEventListener("submit", async e => {
    e.preventDefault();
    const code = input.value;
    input.value = "";
    input.focus();
    await scan(code);
    input.focus();
  });
  // A scanner is always ready: focus comes back to the code field.
  $("result").addEventListener("click", () => input.focus());
  $("gate").value = localStorage.getItem("bo_gate_" + id) || "";
  $("gate").addEventListener("change", () => localStorage.setItem("bo_gate_" + id, $("gate").value.trim()));

  if ("BarcodeDetector" in window && navigator.mediaDevices) {
    const cam = $("camera");
    cam.hidden = false;
    cam.addEventListener("click", async () => {
      const video = $("video");
      try {
        const det = new BarcodeDetector({formats: ["qr_code"]});
        video.srcObject = await navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}});
        video.hidden = false;
        await video.play();
        cam.hidden = true;
        let lastCode = "", lastAt = 0;
        const loop = async () => {
          try {
            const found = await det.detect(video);
            const c = found[0] && found[0].rawValue;
            if (c && (c !== lastCode || Date.now() - lastAt > 3000)) { lastCode = c; lastAt = Date.now(); await scan(c); }
          } catch (e) { /* next frame */ }
          setTimeout(loop, 250);
        };
        loop();
      } catch (e) { showError(new Error("The camera could not be started: " + (e.message || e.name) + ". Type or scan codes instead.")); }
    });
  }

  window.addEventListener("online", () => { fetchBundle(); upload(); });
  window.addEventListener("offline", () => setOnline(false));
  setOnline(navigator.onLine !== false);
  showPending();
  request("GET", "events/" + enc).then(ev => {
    say("event-title", ev.title);
    document.title = "Door: " + ev.title + " · boxoffice";
    tiers = {};
    for (const t of ev.tiers) tiers[t.id] = t.name;
    store(K.tiers, tiers);
    store("bo_title_" + id, ev.title);
  }).catch(() => say("event-title", load("bo_title_" + id, "this event")));
  fetchBundle().then(upload);
  fetchCounts();
  setInterval(() => { upload(); fetchCounts(); }, 5000);
  setInterval(fetchBundle, 60000);
  input.focus();
})();

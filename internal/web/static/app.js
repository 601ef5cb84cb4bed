// boxoffice pages: what every page shares. The pages call the JSON API with
// the session cookie; unsafe requests echo the CSRF cookie in X-CSRF-Token.
"use strict";

// PROBLEMS: a message for people for every problem code of the API (the Go
// tests check it against the Problem code enum of api/openapi.json).
const PROBLEMS = {
  malformed_json: "The request could not be read. Reload the page and try again.",
  incomplete_body: "The connection broke while sending. Please try again.",
  request_timeout: "That took too long. Please try again.",
  unauthenticated: "Please sign in to continue.",
  token_expired: "Your session has ended. Please sign in again.",
  invalid_credentials: "That email and password do not match an account.",
  payment_declined: "The payment was declined. Your tickets stay held until the timer runs out: try another card.",
  forbidden: "You are not allowed to do that.",
  not_admitted: "You need to come through the waiting room first.",
  email_not_verified: "This event needs a verified email. Check your mail for the code, then try again.",
  not_found: "We could not find that. It may have been removed.",
  method_not_allowed: "That action is not possible here.",
  email_taken: "There is already an account with that email. Sign in instead?",
  sold_out: "Sorry, there are not enough tickets left.",
  limit_exceeded: "That is more tickets than one person may buy for this event.",
  sales_closed: "Ticket sales for this event are closed.",
  hold_expired: "Your hold ran out and the tickets went back on sale.",
  invalid_state: "That cannot be done any more; the page may be out of date. Reload it.",
  idempotency_key_reused: "That request was already sent with different details. Reload the page.",
  request_in_progress: "That request is still being handled. Wait a moment.",
  has_reservations: "This event has reservations and cannot be changed that way.",
  has_orders: "This event has orders and cannot be deleted.",
  refund_closed: "Refunds for this event are closed.",
  name_change_closed: "Names can no longer be changed for this event.",
  slug_taken: "That address name is taken by another organizer. Choose another.",
  queue_disabled: "This event has no waiting room.",
  capacity_below_reserved: "The capacity cannot go below what is already sold or held.",
  payload_too_large: "That is too much data at once.",
  unsupported_media_type: "The request was sent in a form the server does not take.",
  validation_failed: "Some details are not right. Check the form.",
  rate_limited: "Too many tries. Wait a little and try again.",
  internal: "Something went wrong on our side. Please try again.",
  unavailable: "The service is busy or briefly down. Try again in a few seconds."
};

// ApiError is a failed API call: the problem document's code and detail.
class ApiError extends Error {
  constructor(status, p) {
    super(problemMessage(p));
    this.status = status; this.code = (p && p.code) || ""; this.problem = p || {};
  }
}

// problemMessage is what people read about a problem: the code's message,
// and the field errors of a validation failure.
function problemMessage(p) {
  if (!p || !p.code) return "Something went wrong. Please try again.";
  let msg = PROBLEMS[p.code] || p.detail || "Something went wrong.";
  if (p.code === "validation_failed" && Array.isArray(p.errors) && p.errors.length) {
    msg += " " + p.errors.map(e => (e.field ? e.field + ": " : "") + e.message).join("; ");
  } else if (p.code === "payment_declined" && p.detail) {
    msg += " (" + p.detail + ")";
  } else if (p.code === "forbidden" && p.detail && /CSRF|stale/.test(p.detail)) {
    msg = "This page is out of date. Reload it and try again.";
  }
  return msg;
}

function cookie(name) {
  const m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
  return m ? decodeURIComponent(m[1]) : "";
}

function signedIn() { return cookie("bo_signed_in") === "1"; }

let refreshing = null;
// refreshSession exchanges the refresh cookie for new tokens, once at a time.
function refreshSession() {
  if (!refreshing) {
    refreshing = fetch("/session/refresh", {method: "POST", headers: {"X-CSRF-Token": cookie("bo_csrf")}, credentials: "same-origin"})
      .then(r => r.ok).catch(() => false).finally(() => { setTimeout(() => { refreshing = null; }, 0); });
  }
  return refreshing;
}

// api calls the JSON API and answers the decoded body; it throws ApiError
// for a problem and TypeError when the network is down.
async function api(method, path, body, headers) {
  const h = Object.assign({"Accept": "application/json"}, headers || {});
  if (method !== "GET" && method !== "HEAD") h["X-CSRF-Token"] = cookie("bo_csrf");
  let payload;
  if (body !== undefined) { h["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
  const send = () => fetch(path.startsWith("/") ? path : "/api/v1/" + path, {method, headers: h, body: payload, credentials: "same-origin"});
  let r = await send();
  if (r.status === 401 && signedIn() && await refreshSession()) r = await send();
  if (r.status === 204) return null;
  const ct = r.headers.get("Content-Type") || "";
  const data = ct.includes("json") ? await r.json().catch(() => null) : null;
  if (!r.ok) {
    const err = new ApiError(r.status, data);
    err.retryAfter = Number(r.headers.get("Retry-After")) || 0;
    if (r.status === 401 && path.indexOf("/session") !== 0) toSignIn();
    throw err;
  }
  return data;
}

// toSignIn sends the browser to the sign-in page, to come back here.
function toSignIn() {
  location.assign("/signin?next=" + encodeURIComponent(location.pathname + location.search));
}

// requireSignIn sends a visitor who is not signed in to the sign-in page.
function requireSignIn() {
  if (!signedIn()) { toSignIn(); return false; }
  return true;
}

function $(id) { return document.getElementById(id); }

// el makes an element: el("p", {class: "x"}, "text", child…).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v == null) continue;
    if (k === "text") e.textContent = v; else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

function showError(err, id) {
  const box = $(id || "error");
  if (!box) return;
  if (!err) { box.hidden = true; box.textContent = ""; return; }
  box.textContent = err instanceof ApiError ? err.message :
    (err instanceof TypeError ? "No connection to the server. Check your network and try again." : String(err.message || err));
  box.hidden = false;
}

function say(id, text) { const e = $(id); if (e) e.textContent = text; }

function money(m) {
  if (!m) return "";
  const digits = {JPY: 0, KRW: 0, ISK: 0}[m.currency] ?? 2;
  try {
    return new Intl.NumberFormat(undefined, {style: "currency", currency: m.currency}).format(m.amount / 10 ** digits);
  } catch (e) { return (m.amount / 10 ** digits).toFixed(digits) + " " + m.currency; }
}

function when(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(undefined, {dateStyle: "medium", timeStyle: "short"});
}

function duration(sec) {
  sec = Math.max(0, Math.round(sec));
  if (sec < 60) return sec + " s";
  const m = Math.floor(sec / 60), s = sec % 60;
  if (m < 60) return m + " min" + (s ? " " + s + " s" : "");
  return Math.floor(m / 60) + " h " + (m % 60) + " min";
}

function randomId() {
  const b = new Uint8Array(16); crypto.getRandomValues(b);
  return Array.from(b, x => x.toString(16).padStart(2, "0")).join("");
}

// safeNext is a same-site path to go to after signing in.
function safeNext(fallback) {
  const n = new URLSearchParams(location.search).get("next") || "";
  return n.startsWith("/") && !n.startsWith("//") && !n.startsWith("/\\") ? n : (fallback || "/");
}

function eventId() { return document.body.dataset.event || ""; }

document.addEventListener("DOMContentLoaded", () => {
  const inn = signedIn();
  document.querySelectorAll(".when-in").forEach(e => { e.hidden = !inn; });
  document.querySelectorAll(".when-out").forEach(e => { e.hidden = inn; });
  const out = $("sign-out");
  if (out) out.addEventListener("click", async () => {
    await fetch("/session/sign-out", {method: "POST", headers: {"X-CSRF-Token": cookie("bo_csrf")}}).catch(() => {});
    location.assign("/");
  });
});

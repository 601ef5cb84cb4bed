// Sign in, sign up, email verification and password reset.
"use strict";
(function () {
  const page = document.body.dataset.page;
  const token = new URLSearchParams(location.search).get("token") || "";

  function busy(form, on) { form.querySelectorAll("button").forEach(b => { b.disabled = on; }); }

  async function session(email, password) {
    const r = await fetch("/session", {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": cookie("bo_csrf")},
      body: JSON.stringify({email, password})});
    if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => null));
  }

  function keepNext(id) {
    const a = $(id);
    if (a && location.search.includes("next=")) a.href += "?next=" + encodeURIComponent(safeNext());
  }

  if (page === "signin") {
    keepNext("to-signup");
    const f = $("signin");
    f.addEventListener("submit", async e => {
      e.preventDefault(); showError(null); busy(f, true);
      try {
        await session($("email").value.trim(), $("password").value);
        location.assign(safeNext());
      } catch (err) { showError(err); $("password").focus(); } finally { busy(f, false); }
    });
  }

  if (page === "signup") {
    keepNext("to-signin");
    const f = $("signup");
    f.addEventListener("submit", async e => {
      e.preventDefault(); showError(null); busy(f, true);
      const email = $("email").value.trim(), password = $("password").value;
      try {
        await api("POST", "users", {email, password, name: $("name").value.trim()});
        await session(email, password);
        location.assign(safeNext());
      } catch (err) {
        showError(err);
        const field = err.problem && err.problem.errors && err.problem.errors[0] && err.problem.errors[0].field;
        if (field && $(field)) $(field).focus();
      } finally { busy(f, false); }
    });
  }

  if (page === "verify") {
    if (!requireSignIn()) return;
    const f = $("verify");
    const verify = async body => {
      showError(null); busy(f, true);
      try { await api("POST", "users/me/email/verify", body); say("status", "Your email is verified. Thank you!"); }
      catch (err) { showError(err); } finally { busy(f, false); }
    };
    if (token) verify({token});
    f.addEventListener("submit", e => { e.preventDefault(); verify({code: $("code").value.trim()}); });
    $("resend").addEventListener("click", async () => {
      showError(null);
      try { await api("POST", "users/me/email/verification"); say("status", "We sent you a new mail."); }
      catch (err) { showError(err); }
    });
  }

  if (page === "reset") {
    const req = $("reset-request"), conf = $("reset-confirm");
    if (token) { req.hidden = true; conf.hidden = false; }
    req.addEventListener("submit", async e => {
      e.preventDefault(); showError(null); busy(req, true);
      try {
        await api("POST", "auth/password-reset", {email: $("email").value.trim()});
        say("status", "If there is an account with that email, a reset link is on its way.");
      } catch (err) { showError(err); } finally { busy(req, false); }
    });
    conf.addEventListener("submit", async e => {
      e.preventDefault(); showError(null); busy(conf, true);
      try {
        await api("POST", "auth/password-reset/confirm", {token, password: $("password").value});
        say("status", "Your password is changed. You can sign in now.");
        conf.hidden = true;
      } catch (err) { showError(err); } finally { busy(conf, false); }
    });
  }
})();

// Team: an organizer's members and their roles (owners only): add a user
// by their user ID, change a role, remove a member after a confirmation.
"use strict";
(function () {
  if (!requireSignIn()) return;
  const org = document.body.dataset.org || "";
  const ROLES = ["owner", "manager", "staff", "scanner"];
  let me = null;
  const base = "organizers/" + encodeURIComponent(org);

  function memberRow(m) {
    const sel = el("select", {id: "role-" + m.user_id, "aria-label": "Role of " + m.user_id});
    for (const r of ROLES) sel.append(el("option", {value: r, text: r[0].toUpperCase() + r.slice(1), selected: r === m.role}));
    sel.addEventListener("change", async () => {
      showError(null);
      try {
        await api("PUT", base + "/members/" + encodeURIComponent(m.user_id), {role: sel.value});
        m.role = sel.value;
        say("status", "Role of " + m.user_id + " is now " + sel.value + ".");
      } catch (err) { sel.value = m.role; showError(err); }
    });
    const rm = el("button", {type: "button", class: "secondary", text: "Remove", "aria-label": "Remove " + m.user_id + " from the team"});
    const sure = el("button", {type: "button", class: "danger", text: "Confirm removal", hidden: true, "aria-label": "Confirm removing " + m.user_id});
    rm.addEventListener("click", () => { rm.hidden = true; sure.hidden = false; sure.focus(); });
    sure.addEventListener("click", async () => {
      showError(null);
      try {
        await api("DELETE", base + "/members/" + encodeURIComponent(m.user_id));
        say("status", m.user_id + " is no longer in the team.");
        await load();
        $("add-user").focus();
      } catch (err) { showError(err); sure.hidden = true; rm.hidden = false; }
    });
    const who = el("td", {}, el("code", {text: m.user_id}), me && me.id === m.user_id ? " (you)" : "");
    return el("tr", {id: "member-" + m.user_id}, who, el("td", {}, sel), el("td", {text: when(m.added_at)}), el("td", {}, rm, sure));
  }

  async function load() {
    try {
      const list = await api("GET", base + "/members");
      $("members").replaceChildren(...list.items.map(memberRow));
      if ($("status").textContent === "Loading the team…") say("status", "");
    } catch (err) { say("status", ""); showError(err); }
  }

  $("add").addEventListener("submit", async ev => {
    ev.preventDefault();
    showError(null);
    const uid = $("add-user").value.trim().toUpperCase();
    if (!/^[0-9A-Z]{26}$/.test(uid)) { showError(new Error("A user ID is 26 letters and digits. Ask the person for the ID on their Organize page.")); $("add-user").focus(); return; }
    try {
      await api("PUT", base + "/members/" + encodeURIComponent(uid), {role: $("add-role").value});
      $("add-user").value = "";
      await load();
      say("status", uid + " is in the team as " + $("add-role").value + ".");
    } catch (err) {
      if (err instanceof ApiError && err.code === "not_found") err.message = "There is no user with that ID (or you may not manage this team).";
      showError(err);
    }
  });

  Promise.all([api("GET", "users/me"), api("GET", base)]).then(([u, o]) => {
    me = u; say("org-name", o.name); document.title = "Team: " + o.name + " · boxoffice";
    load();
  }).catch(err => { say("status", ""); showError(err); });
})();

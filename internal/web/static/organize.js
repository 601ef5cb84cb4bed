// Organize: the organizers the signed-in user belongs to, each with its
// events (drafts included) and links to the back office's pages.
"use strict";
(function () {
  if (!requireSignIn()) return;
  const STATUS = {draft: "Draft", published: "Published", cancelled: "Cancelled", archived: "Archived"};
  const can = {
    manage: r => r === "owner" || r === "manager",
    team: r => r === "owner",
    hooks: r => r === "owner" || r === "manager",
    sales: r => r !== "scanner"
  };

  function statusPill(s) { return el("span", {class: "pill " + s, text: STATUS[s] || s}); }

  function orgSection(m) {
    const o = m.organizer, role = m.role;
    const sec = el("section", {class: "org", id: "org-" + o.id, "aria-labelledby": "h-org-" + o.id});
    sec.append(el("h2", {id: "h-org-" + o.id, text: o.name}),
      el("p", {class: "meta", text: "Your role: " + role}));
    const links = el("p", {class: "actions"});
    if (can.manage(role)) links.append(el("a", {class: "button", href: "/organize/" + o.id + "/new-event", text: "New event"}));
    if (can.team(role)) links.append(el("a", {href: "/organize/" + o.id + "/team", text: "Team"}));
    if (can.hooks(role)) links.append(el("a", {href: "/organize/" + o.id + "/webhooks", text: "Webhooks"}));
    sec.append(links);
    const wrap = el("div", {class: "scroll", tabindex: "0", role: "region", "aria-label": "Events of " + o.name});
    const table = el("table", {class: "resp"},
      el("thead", {}, el("tr", {}, el("th", {scope: "col", text: "Event"}), el("th", {scope: "col", text: "Starts"}),
        el("th", {scope: "col", text: "Status"}), el("th", {scope: "col", text: "Left"}), el("th", {scope: "col"}, el("span", {class: "visually-hidden", text: "Pages"})))));
    const body = el("tbody", {});
    table.append(body); wrap.append(table);
    const empty = el("p", {class: "meta", text: "No events yet.", hidden: true});
    const more = el("button", {type: "button", class: "secondary", text: "Load more events", hidden: true});
    sec.append(wrap, empty, more);
    let cursor = null;
    async function load() {
      more.disabled = true;
      try {
        const p = new URLSearchParams({limit: "20"});
        if (cursor) p.set("cursor", cursor);
        const page = await api("GET", "organizers/" + encodeURIComponent(o.id) + "/events?" + p);
        for (const e of page.items) body.append(eventRow(e, role));
        cursor = page.next_cursor;
        more.hidden = !cursor;
        empty.hidden = body.children.length > 0;
        wrap.hidden = body.children.length === 0;
      } catch (err) { showError(err); } finally { more.disabled = false; }
    }
    more.addEventListener("click", load);
    load();
    return sec;
  }

  function eventRow(e, role) {
    const pages = el("td", {class: "actions"});
    if (can.sales(role)) {
      pages.append(el("a", {href: "/events/" + e.id + "/live", text: "Live sale", "aria-label": "Live sale of " + e.title}), " ",
        el("a", {href: "/events/" + e.id + "/attendees", text: "Attendees", "aria-label": "Attendees of " + e.title}));
    }
    pages.append(" ", el("a", {href: "/events/" + e.id + "/door", text: "Door", "aria-label": "Door of " + e.title}));
    return el("tr", {id: "event-" + e.id},
      el("td", {}, el("a", {href: "/events/" + e.id + "/manage", text: e.title})),
      el("td", {"data-label": "Starts", text: when(e.starts_at)}),
      el("td", {"data-label": "Status"}, statusPill(e.status)),
      el("td", {class: "num", "data-label": "Left", text: String(e.available)}),
      pages);
  }

  async function load() {
    try {
      const [me, mine] = await Promise.all([api("GET", "users/me"), api("GET", "users/me/organizers")]);
      $("my-id").textContent = me.id;
      $("orgs").replaceChildren(...mine.items.map(orgSection));
      say("status", mine.items.length ? "" : "You are not in any organizer's team yet.");
    } catch (err) { say("status", ""); showError(err); }
  }

  $("new-org").addEventListener("submit", async ev => {
    ev.preventDefault();
    showError(null, "org-error");
    const name = $("org-name").value.trim();
    if (!name) { showError(new Error("Give the organizer a name."), "org-error"); $("org-name").focus(); return; }
    try {
      await api("POST", "organizers", {name});
      $("org-name").value = "";
      await load();
      say("status", "Organizer " + name + " created. You are its owner.");
    } catch (err) { showError(err, "org-error"); }
  });

  load();
})();

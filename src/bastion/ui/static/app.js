// Bastion web UI: the run page (start a run, follow it over SSE, answer approvals).
// Loaded as a file from this server only (the Content-Security-Policy forbids inline code).
// URLs are relative: every page lives under the UI's random prefix (<base href> in each page).
"use strict";

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;  // text only: never parsed as HTML
  return node;
}

function post(url, fields) {
  return fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: {"Content-Type": "application/x-www-form-urlencoded"},
    body: new URLSearchParams(fields).toString(),
  }).then((r) => r.json().then((body) => ({ok: r.ok, body})));
}

function approvalCard(runId, d) {
  const card = el("article", {class: "approval", id: "approval-" + d.approval_id});
  card.append(el("h3", {}, d.tool + " wants " + d.access + " access"));
  card.append(el("p", {class: "target"}, d.target));
  card.append(el("p", {class: "dim"}, "why: " + d.reason + " [" + d.rule + "]"));
  if (d.always_rule) card.append(el("p", {class: "dim rule"}, "resolved: " + d.always_rule));
  if (d.preview) card.append(el("pre", {class: "diff"}, d.preview));
  const buttons = el("div", {class: "buttons"});
  const labels = {once: "Allow once", session: "Allow this session", always: "Always allow", deny: "Deny"};
  for (const answer of ["once", "session", "always", "deny"]) {
    if (answer === "always" && !d.always_rule) continue;
    const b = el("button", {type: "button", "data-answer": answer,
                            class: answer === "deny" ? "danger" : ""}, labels[answer]);
    if (answer === "always") b.title = "adds " + d.always_rule + " to your settings";
    b.addEventListener("click", () => {
      for (const other of buttons.querySelectorAll("button")) other.disabled = true;
      post("runs/" + runId + "/approve", {approval_id: d.approval_id, answer}).then((r) => {
        if (!r.ok) card.append(el("p", {class: "error"}, r.body.error || "not accepted"));
      });
    });
    buttons.append(b);
  }
  card.append(buttons);
  return card;
}

function follow(runId) {
  const status = document.getElementById("run-status");
  const activity = document.getElementById("activity");
  const approvals = document.getElementById("approvals");
  const answer = document.getElementById("answer");
  status.textContent = "running " + runId + " …";
  const source = new EventSource("runs/" + runId + "/events");
  const on = (kind, fn) => source.addEventListener(kind, (ev) => fn(JSON.parse(ev.data)));
  on("text", (d) => { answer.textContent += d.text; });
  on("tool_call", (d) => {
    activity.append(el("div", {class: "call"}, "→ " + d.name + " " + JSON.stringify(d.arguments)));
  });
  on("tool_result", (d) => {
    const first = (d.content || "").split("\n")[0].slice(0, 200);
    activity.append(el("div", {class: "result " + d.status}, "  " + d.status + ": " + first));
  });
  on("approval", (d) => approvals.append(approvalCard(runId, d)));
  on("approval_answered", (d) => {
    const card = document.getElementById("approval-" + d.approval_id);
    if (card) { card.classList.add("answered"); card.append(el("p", {class: "dim answer"}, "answered: " + d.answer)); }
  });
  const followUp = document.getElementById("follow-up");
  on("reply", (d) => {
    answer.textContent = d.answer;
    status.textContent = "chat open · session " + d.session_id + " · " + d.status;
    followUp.dataset.run = runId;
    followUp.hidden = false;
  });
  on("done", (d) => {
    followUp.hidden = true;
    answer.textContent = d.answer;
    status.textContent = "";
    status.append("session ", el("a", {href: "sessions/" + d.session_id, id: "session-link"}, d.session_id),
                  " · " + d.status + " · " + d.steps + " step(s)");
    status.classList.add("done");
  });
  on("error", (d) => {
    status.textContent = "error: " + d.message + (d.hint ? " — " + d.hint : "");
    status.classList.add("error");
  });
  source.addEventListener("end", () => source.close());
}

function setupChat() {
  const followUp = document.getElementById("follow-up");
  const transcript = document.getElementById("transcript");
  const answer = document.getElementById("answer");
  const say = (fields) => post("runs/" + followUp.dataset.run + "/say", fields);
  followUp.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const message = followUp.elements.message.value;
    transcript.append(el("div", {class: "msg assistant"}, answer.textContent),
                      el("div", {class: "msg user"}, message));
    answer.textContent = "";
    followUp.hidden = true;
    followUp.reset();
    say({message});
  });
  document.getElementById("end-chat").addEventListener("click", () => {
    followUp.hidden = true;
    say({end: "yes"});
  });
}

function setupRun() {
  const form = document.getElementById("run-form");
  if (!form) return;
  setupChat();
  if (form.dataset.active) follow(form.dataset.active);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    document.getElementById("answer").textContent = "";
    document.getElementById("activity").replaceChildren();
    document.getElementById("approvals").replaceChildren();
    post("run", Object.fromEntries(new FormData(form))).then((r) => {
      const status = document.getElementById("run-status");
      if (!r.ok) { status.textContent = "error: " + r.body.error; status.classList.add("error"); return; }
      status.classList.remove("error", "done");
      follow(r.body.run_id);
    });
  });
}

function setupAuditTail() {
  const table = document.getElementById("audit");
  if (!table || table.dataset.live === undefined) return;
  const body = table.querySelector("tbody");
  const source = new EventSource("audit/stream?after=" + encodeURIComponent(table.dataset.live));
  source.addEventListener("record", (ev) => {
    const r = JSON.parse(ev.data);
    const row = el("tr", {class: r.category + " live"});
    row.append(el("td", {}, String(r.seq)), el("td", {}, r.time), el("td", {}, r.session_id),
               el("td", {}, r.category + "/" + r.action));
    const data = el("td");
    data.append(r.payload === null ? el("span", {class: "dim"}, "(payload deleted)")
                                   : el("pre", {}, JSON.stringify(r.payload, null, 2)));
    row.append(data);
    body.prepend(row);
  });
}

document.addEventListener("DOMContentLoaded", () => { setupRun(); setupAuditTail(); });

// The demo page: polls the emulators' state, renders the Slack or the Teams channel, and sends what
// the user does to the bot the way each platform would. The lists stay on the newest message unless
// the user has scrolled up; the side pane shows a Slack thread or a lab's podinfo.
import { esc } from "./shared.js";
import { renderChannel, renderModal, renderThread, SLACK_CHIPS } from "./slack.js";
import { renderPosts, TEAMS_CHIPS } from "./teams.js";

const $ = (id) => document.getElementById(id);
let state;
const last = { slack: "", teams: "", labs: "", thread: "" };
let view = location.hash === "#teams" ? "teams" : "slack";
/** The side pane: { kind: "thread", ts } or { kind: "podinfo", lab }, or null. */
let pane = null;
const expanded = new Set();
/** What the user has typed into Teams card inputs, kept across re-renders. */
const typed = new Map();

// --- lists that stay on the newest message unless the user scrolled up
function sticky(el, jump) {
  el.dataset.stick = "1";
  el.addEventListener("scroll", () => {
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    el.dataset.stick = atBottom ? "1" : "0";
    if (atBottom && jump) jump.hidden = true;
  });
  jump?.addEventListener("click", () => {
    el.scrollTop = el.scrollHeight;
  });
  // A narrower list (the side pane opened) is a taller one: it stays on the newest message.
  new ResizeObserver(() => {
    if (el.dataset.stick !== "0") el.scrollTop = el.scrollHeight;
  }).observe(el);
}
function update(el, html, jump, changedNewest) {
  const stick = el.dataset.stick !== "0";
  const top = el.scrollTop;
  el.innerHTML = html;
  if (stick) el.scrollTop = el.scrollHeight;
  else {
    el.scrollTop = top;
    if (jump && changedNewest) jump.hidden = false;
  }
}
sticky($("messages"), $("jump-slack"));
sticky($("posts"), $("jump-teams"));
sticky($("thread-messages"));

// --- rendering
function names() {
  return { [state.slack.user.id]: state.slack.user.name, U0BOT: "labops", me: state.slack.user.id };
}

function render() {
  if (!state) return;
  const app = $("app");
  app.dataset.view = view;
  $("slack-view").hidden = view !== "slack";
  $("teams-view").hidden = view !== "teams";
  for (const tab of document.querySelectorAll("[data-view-tab]"))
    tab.setAttribute("aria-selected", String(tab.dataset.viewTab === view));
  $("workspace").textContent = view === "slack" ? "labops demo" : "Contoso (Teams)";
  $("chan-name").textContent = view === "slack" ? "# platform" : "Platform › General";
  $("world").textContent = `emulated world, ${state.timeScale}× faster than Azure`;

  const ctx = { names: names() };
  const slackJson = JSON.stringify(state.slack.messages);
  if (slackJson !== last.slack) {
    const newest = state.slack.messages.at(-1)?.ts !== JSON.parse(last.slack || "[]").at(-1)?.ts;
    last.slack = slackJson;
    update($("messages"), renderChannel(state.slack, ctx), $("jump-slack"), newest);
  }
  const teamsJson = JSON.stringify(state.teams.messages) + [...expanded].join();
  if (teamsJson !== last.teams) {
    last.teams = teamsJson;
    const focused = document.activeElement?.dataset?.key;
    update($("posts"), renderPosts(state.teams, expanded), $("jump-teams"), true);
    for (const input of document.querySelectorAll("#posts [data-key]")) {
      if (typed.has(input.dataset.key)) input.value = typed.get(input.dataset.key);
      if (input.dataset.key === focused) input.focus();
    }
  }
  const labsJson = JSON.stringify(state.labs);
  if (labsJson !== last.labs) {
    last.labs = labsJson;
    $("lab-links").innerHTML = state.labs.length
      ? state.labs
          .map(
            (l) =>
              `<button type="button" data-podinfo="${esc(l.name)}"><span class="swatch"></span>podinfo · ${esc(l.name)}</button>`,
          )
          .join("")
      : '<div class="muted-note">None yet: create a lab.</div>';
  }
  renderPane(ctx);
  renderSlackModal(ctx);
}

function renderPane(ctx) {
  const aside = $("thread");
  const root = pane?.kind === "thread" ? state.slack.messages.find((m) => m.ts === pane.ts) : undefined;
  const open = Boolean(root) || pane?.kind === "podinfo";
  aside.hidden = !open;
  aside.classList.toggle("wide", pane?.kind === "podinfo");
  $("thread-messages").parentElement.hidden = pane?.kind !== "thread";
  $("pane-frame").hidden = pane?.kind !== "podinfo";
  $("pane-open").hidden = pane?.kind !== "podinfo";
  if (root) {
    $("pane-title").textContent = "Thread";
    const html = renderThread(root, ctx);
    if (html !== last.thread) {
      last.thread = html;
      update($("thread-messages"), html);
    }
  } else if (pane?.kind === "podinfo") {
    const src = `/podinfo/${encodeURIComponent(pane.lab)}/`;
    $("pane-title").textContent = `podinfo · ${pane.lab}`;
    $("pane-open").href = src;
    if ($("pane-frame").getAttribute("src") !== src) $("pane-frame").src = src;
  }
}

function renderSlackModal(ctx) {
  const bg = $("modal-bg");
  const v = view === "slack" ? state.slack.views[0] : undefined;
  bg.classList.toggle("open", Boolean(v));
  const form = $("modal");
  if (!v) {
    form.dataset.view = "";
    return;
  }
  const errors = JSON.stringify(v.errors ?? {});
  if (form.dataset.view === v.id && form.dataset.errors === errors) return;
  const kept = [...form.querySelectorAll("input[name]")].map((i) => [i.name, i.value]);
  form.dataset.view = v.id;
  form.dataset.errors = errors;
  form.innerHTML = renderModal(v, ctx.names);
  for (const [name, value] of kept) {
    const input = form.querySelector(`input[name="${CSS.escape(name)}"]`);
    if (input) input.value = value;
  }
  form.querySelector("input")?.focus();
}

// --- talking to the demo server
async function post(path, payload) {
  const res = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(payload),
  });
  return res.json().catch(() => ({}));
}
async function refresh() {
  try {
    state = await (await fetch("/api/state", { cache: "no-store" })).json();
    render();
  } catch {
    // the demo is stopping
  }
}

function hint(which, html) {
  const el = $(`${which}-hint`);
  el.hidden = !html;
  el.innerHTML = html ?? "";
}

// --- what the user does
document.addEventListener("click", async (e) => {
  const t = e.target.closest(
    "[data-action],[data-thread],[data-podinfo],[data-verb],[data-expand],[data-view-tab],[data-chip],[data-add-mention],#close-thread,#modal-cancel",
  );
  if (!t) return;
  if (t.dataset.action) {
    t.disabled = true;
    await post("/api/slack/click", { ts: t.dataset.ts, actionId: t.dataset.action });
  } else if (t.dataset.thread) {
    pane = { kind: "thread", ts: t.dataset.thread };
    last.thread = "";
    $("thread-messages").dataset.stick = "1";
  } else if (t.dataset.podinfo) {
    pane = { kind: "podinfo", lab: t.dataset.podinfo };
  } else if (t.dataset.verb) {
    await execute(t);
  } else if (t.dataset.expand) {
    expanded.add(t.dataset.expand);
  } else if (t.dataset.viewTab) {
    view = t.dataset.viewTab;
    history.replaceState(null, "", `#${view}`);
    if (pane?.kind === "thread") pane = null;
  } else if (t.dataset.chip !== undefined) {
    const input = view === "slack" ? $("composer") : $("teams-composer");
    input.value = t.dataset.chip;
    input.focus();
  } else if (t.dataset.addMention !== undefined) {
    const input = $("teams-composer");
    input.value = `@labops ${input.value.trim()}`;
    hint("teams", "");
    input.focus();
  } else if (t.id === "close-thread") {
    pane = null;
  } else if (t.id === "modal-cancel") {
    await post("/api/slack/dismiss", { viewId: state.slack.views[0]?.id });
  }
  render();
  refresh();
});

/** Action.Execute: the card's inputs travel with the press, as in Teams; a required one left empty stops it. */
async function execute(button) {
  const card = button.closest(".acard");
  const data = JSON.parse(button.dataset.data || "{}");
  let missing = false;
  for (const input of card?.querySelectorAll("[data-input]") ?? []) {
    const empty = input.dataset.required && input.value === "";
    const error = card.querySelector(`[data-error-for="${CSS.escape(input.dataset.input)}"]`);
    if (error) error.hidden = !empty;
    missing ||= Boolean(empty);
    data[input.dataset.input] = input.value;
  }
  if (missing) return;
  button.disabled = true;
  for (const input of card?.querySelectorAll("[data-key]") ?? []) typed.delete(input.dataset.key);
  await post("/api/teams/execute", { id: button.dataset.msg, verb: button.dataset.verb, data });
}

document.addEventListener("input", (e) => {
  if (e.target.dataset?.key) typed.set(e.target.dataset.key, e.target.value);
});

$("modal").addEventListener("submit", async (e) => {
  e.preventDefault();
  const values = {};
  for (const input of e.target.querySelectorAll("input[name]")) values[input.name] = input.value;
  e.target.dataset.view = "";
  e.target.innerHTML = "";
  await post("/api/slack/submit", { viewId: state.slack.views[0]?.id, values });
  refresh();
});

$("composer").addEventListener("keydown", async (e) => {
  if (e.key !== "Enter") return;
  const input = e.target;
  const text = input.value.trim();
  if (!text) return;
  if (!text.startsWith("/")) {
    hint(
      "slack",
      "A plain message goes to the channel, not to labops: it acts on slash commands. " +
        "Start with <code>/lab</code> or <code>/secret</code>, e.g. <code>/lab create team-a</code>.",
    );
    return;
  }
  input.value = "";
  const answer = await post("/api/slack/command", { text });
  hint("slack", answer.hint ? esc(answer.hint) : answer.error ? esc(answer.error) : "");
  if (answer.hint) input.value = text;
  refresh();
});

$("teams-composer").addEventListener("keydown", async (e) => {
  if (e.key !== "Enter") return;
  const input = e.target;
  const text = input.value.trim();
  if (!text) return;
  if (!/^@labops\b/i.test(text)) {
    hint(
      "teams",
      "In a channel labops hears only messages that @mention it. " +
        '<button type="button" data-add-mention>Add @labops</button> in front, e.g. <code>@labops lab create team-b</code>.',
    );
    return;
  }
  input.value = "";
  const answer = await post("/api/teams/say", { text });
  hint("teams", answer.hint ? esc(answer.hint) : answer.error ? esc(answer.error) : "");
  if (answer.hint) input.value = text;
  refresh();
});
for (const id of ["composer", "teams-composer"])
  $(id).addEventListener("input", () => hint(id === "composer" ? "slack" : "teams", ""));

$("slack-chips").innerHTML = SLACK_CHIPS.map(
  (c) => `<button type="button" class="chip" data-chip="${esc(c)}">${esc(c)}</button>`,
).join("");
$("teams-chips").innerHTML = TEAMS_CHIPS.map(
  (c) => `<button type="button" class="chip" data-chip="${esc(c)}">${esc(c)}</button>`,
).join("");
setInterval(refresh, 400);
refresh();

// The Teams channel: posts with their reply threads, and Adaptive Cards with their inputs and
// Action.Execute buttons, as Teams renders them (version 1.5), each state in a word and a colour.
import { clock, demoAside, esc, icon, pill, portalLink, progress, stepRow } from "./shared.js";

export const TEAMS_CHIPS = [
  "@labops lab create team-b",
  "@labops lab status team-b",
  "@labops secret rotate color --lab team-b",
  "@labops secret list --lab team-b",
  "@labops lab destroy team-b",
  "@labops lab list",
  "@labops help",
];

const CARD_STATE = {
  "✅": "succeeded",
  "❌": "failed",
  "🔄": "running",
  "⏳": "queued",
  "⚠️": "warning",
  "⚠": "warning",
  ℹ️: "info",
  ℹ: "info",
  "🚫": "cancelled",
};
const STEP_STATE = { "✅": "done", "🔵": "running", "⚪": "pending", "❌": "failed", "➖": "skipped" };
const INLINE = {
  "✅": "✓",
  "❌": "✗",
  "⚠️": "⚠",
  ℹ️: "ℹ",
  "🚫": "⊘",
  "🔄": "↻",
  "⏳": "◷",
  "⚪": "○",
  "🔵": "●",
  "➖": "–",
};
const LEAD = /^(✅|❌|🔄|⏳|⚠️|⚠|ℹ️|ℹ|🚫|🔑)\s*/u;
/** Replies shown under a post before "N earlier replies" (Teams collapses a long thread). */
const SHOWN_REPLIES = 4;

/** Teams markdown as HTML: mentions, bold, italics, links, code, line breaks, icons as coloured glyphs. */
export function teamsMarkdown(text, me) {
  const kept = [];
  const keep = (html) => `\uE000${kept.push(html) - 1}\uE000`;
  let s = esc(text ?? "");
  s = s.replace(/`([^`\n]+)`/g, (_, c) => keep(`<code>${c}</code>`));
  s = s.replace(/&lt;at&gt;(.*?)&lt;\/at&gt;/g, (_, n) =>
    keep(`<span class="mention${n === me ? " me" : ""}">@${n}</span>`),
  );
  s = s.replace(/\[([^\]]+)\]\((https?:[^)\s]+)\)/g, (_, t, u) => {
    const link = portalLink(u.replace(/&amp;/g, "&"), t);
    return keep(`<a href="${esc(link.href)}" target="_blank" rel="noopener">${esc(link.label)}</a>`);
  });
  s = s.replace(/\*\*([^*\n]+)\*\*/g, "<b>$1</b>");
  s = s.replace(/(^|[\s(])_([^_\n]+)_/g, "$1<i>$2</i>");
  s = s.replace(/🔑\s?/gu, "");
  for (const [emoji, glyph] of Object.entries(INLINE)) s = s.split(emoji).join(icon(glyph, "status"));
  s = s.replace(/\n/g, "<br>");
  return s.replace(/\uE000(\d+)\uE000/g, (_, i) => kept[Number(i)]);
}

function textBlock(el, me) {
  const text = el.text ?? "";
  const bar = /^([█░]+) (\d+)\/(\d+)$/.exec(text);
  if (bar) return progress(Number(bar[2]), Number(bar[3]));
  const classes = ["tb"];
  if (el.weight === "Bolder") classes.push("bolder");
  if (el.size === "Medium") classes.push("medium");
  if (el.size === "Large" || el.size === "ExtraLarge") classes.push("large");
  if (el.size === "Small") classes.push("small");
  if (el.isSubtle) classes.push("subtle");
  if (el.fontType === "Monospace") classes.push("mono");
  if (el.color && el.color !== "Default") classes.push(`c-${el.color.toLowerCase()}`);
  const lead = LEAD.exec(text);
  const state = lead ? CARD_STATE[lead[1]] : undefined;
  const body = lead ? text.slice(lead[0].length) : text;
  return `<div class="${classes.join(" ")}">${state ? pill(state) : ""}${teamsMarkdown(body, me)}</div>`;
}

function factSet(el, me) {
  const rows = (el.facts ?? []).map((f) => {
    const lead = /^(✅|🔵|⚪|❌|➖) (.*)$/u.exec(f.title ?? "");
    if (lead) {
      const [took, ...detail] = String(f.value ?? "").split(" · ");
      const isTime = /^\d/.test(took);
      const rest = [isTime ? "" : took, ...detail].filter(Boolean).join(" · ");
      return `<tr><td colspan="2">${stepRow(STEP_STATE[lead[1]], teamsMarkdown(lead[2], me), isTime ? esc(took) : "", rest && rest !== STEP_STATE[lead[1]] ? teamsMarkdown(rest, me) : "")}</td></tr>`;
    }
    return `<tr><td class="ft">${teamsMarkdown(f.title, me)}</td><td>${teamsMarkdown(f.value, me)}</td></tr>`;
  });
  return `<table class="facts">${rows.join("")}</table>`;
}

function element(el, m, me) {
  switch (el.type) {
    case "TextBlock":
      return textBlock(el, me);
    case "FactSet":
      return factSet(el, me);
    case "Input.Text": {
      const key = `${m.id}:${el.id}`;
      const type = el.style === "Password" ? "password" : "text";
      return `<label for="in-${esc(key)}">${esc(el.label ?? el.id)}${el.isRequired ? " *" : ""}</label>
        <input id="in-${esc(key)}" type="${type}" data-input="${esc(el.id)}" data-key="${esc(key)}" ${el.isRequired ? 'data-required="1"' : ""}
          ${el.maxLength ? `maxlength="${Number(el.maxLength)}"` : ""} placeholder="${esc(el.placeholder ?? "")}" autocomplete="off">
        <div class="err" data-error-for="${esc(el.id)}" hidden>${esc(el.errorMessage ?? "Required.")}</div>`;
    }
    case "Container":
      return `<div>${(el.items ?? []).map((x) => element(x, m, me)).join("")}</div>`;
    case "ColumnSet":
      return `<div style="display:flex;gap:12px">${(el.columns ?? []).map((c) => `<div>${(c.items ?? []).map((x) => element(x, m, me)).join("")}</div>`).join("")}</div>`;
    case "ActionSet":
      return actions(el.actions, m);
    default:
      return "";
  }
}

function actions(list, m) {
  if (!list?.length) return "";
  const buttons = list.map((a) => {
    if (a.type === "Action.OpenUrl") {
      const link = portalLink(a.url, a.title ?? a.url);
      return `<a href="${esc(link.href)}" target="_blank" rel="noopener">${esc(link.label)}</a>`;
    }
    if (a.type !== "Action.Execute") return "";
    return `<button type="button" class="${esc(a.style ?? "")}" data-verb="${esc(a.verb)}" data-msg="${esc(m.id)}" data-data="${esc(JSON.stringify(a.data ?? {}))}">${esc(a.title ?? a.verb)}</button>`;
  });
  return `<div class="aactions">${buttons.join("")}</div>`;
}

function adaptiveCard(card, m, me) {
  const title = (card.body ?? []).find((b) => b.type === "TextBlock")?.text ?? "";
  const aside = demoAside(title.replace(LEAD, ""), (c) => `@labops ${c}`);
  return `<div class="acard" data-card="${esc(m.id)}">${(card.body ?? []).map((el) => element(el, m, me)).join("")}${actions(card.actions, m)}</div>${aside}`;
}

function message(m, me) {
  const bot = m.from?.role === "bot";
  const name = m.from?.name ?? "?";
  const initials = bot ? "L" : name.slice(0, 2).toUpperCase();
  const cards = (m.attachments ?? [])
    .filter((a) => a.contentType === "application/vnd.microsoft.card.adaptive")
    .map((a) => adaptiveCard(a.content, m, me))
    .join("");
  const toasts = (m.toasts ?? [])
    .map((t) => `<div class="toast">${teamsMarkdown(t.text, me)} <i>(only you)</i></div>`)
    .join("");
  return `<div class="tmsg" data-tmsg="${esc(m.id)}"><div class="tavatar ${bot ? "bot" : ""}">${esc(initials)}</div>
    <div><span class="tname">${esc(name)}</span><span class="ttime">${clock(new Date(m.timestamp))}</span>${m.edits ? ' <span class="ttime">Edited</span>' : ""}
    ${m.text ? `<div class="ttext">${teamsMarkdown(m.text, me)}</div>` : ""}${cards}${toasts}</div></div>`;
}

export function renderPosts(teams, expanded) {
  if (!teams.messages.length)
    return '<div class="empty">No posts yet. Type <code>@labops lab create team-b</code> below: in a Teams channel the bot hears only messages that mention it.</div>';
  const me = teams.user.name;
  return teams.messages
    .map((root) => {
      const replies = root.replies ?? [];
      const hidden = expanded.has(root.id) ? 0 : Math.max(0, replies.length - SHOWN_REPLIES);
      const more = hidden
        ? `<button type="button" class="more" data-expand="${esc(root.id)}">${hidden} earlier repl${hidden === 1 ? "y" : "ies"}</button>`
        : "";
      const thread = replies.length
        ? `<div class="thread">${more}${replies
            .slice(hidden)
            .map((r) => message(r, me))
            .join("")}</div>`
        : "";
      return `<div class="post" data-post="${esc(root.id)}">${message(root, me)}${thread}</div>`;
    })
    .join("");
}

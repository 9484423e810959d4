/**
 * What labops writes to chat is in its own markup, Slack-flavoured (`*bold*`,
 * `_italic_`, `` `code` ``, `<url|label>`), which each platform's renderer
 * turns into its own. A string that came from a user or from outside (a lab
 * or secret name, a display name, an error's message, an audit line, input
 * echoed in a refusal) goes into that markup only through `verbatim`, so it
 * can never become a link, a mention (`<!channel>`) or formatting: the
 * renderer escapes what `verbatim` marked for its platform (`slackMarkup` in
 * adapters/slack/render.ts, `teamsMarkup` in adapters/teams/render.ts).
 *
 * Card titles, field labels and values, step labels and details and button
 * labels are plain text: the renderers escape them whole.
 */

const OPEN = "\u{E000}";
const CLOSE = "\u{E001}";
const MARKS = /[\u{E000}-\u{E003}]/gu;
const PLACEHOLDER = /\u{E002}(\d+)\u{E003}/gu;

/** Characters some platform reads as markup (`@here` included), or a link's scheme. */
const UNSAFE = /[&<>*_~`[\]\\|#!@]|:\/\//;

/**
 * `text` marked for its renderer to escape. A string with nothing any platform
 * reads as markup (every valid lab and secret name) is returned as it is.
 */
export function verbatim(text: string): string {
  const clean = text.replace(MARKS, "");
  return UNSAFE.test(clean) ? `${OPEN}${clean}${CLOSE}` : clean;
}

/** The text with the marks taken out: for plain-text places (button labels, form errors) and comparisons. */
export function withoutMarks(text: string): string {
  return text.replace(MARKS, "");
}

/**
 * Renders labops' markup for a platform: `markup` converts the trusted text
 * (what labops wrote), `escapeMarked` the marked parts, which `markup` never sees.
 * An opening mark without its close escapes to the end (a cut text).
 */
export function renderMarkup(
  text: string,
  markup: (trusted: string) => string,
  escapeMarked: (s: string) => string,
): string {
  const parts: string[] = [];
  let trusted = "";
  let at = 0;
  while (at < text.length) {
    const open = text.indexOf(OPEN, at);
    if (open < 0) {
      trusted += withoutMarks(text.slice(at));
      break;
    }
    trusted += withoutMarks(text.slice(at, open));
    const close = text.indexOf(CLOSE, open + 1);
    const end = close < 0 ? text.length : close;
    trusted += `\u{E002}${parts.length}\u{E003}`;
    parts.push(withoutMarks(text.slice(open + 1, end)));
    at = end + 1;
  }
  return markup(trusted).replace(PLACEHOLDER, (_m, i: string) => escapeMarked(parts[Number(i)] ?? ""));
}

/** A link's scheme broken with a zero-width space, so no client turns an echoed URL into a link. */
export function breakLinks(text: string): string {
  return text.replace(/:\/\//g, ":\u200B//");
}

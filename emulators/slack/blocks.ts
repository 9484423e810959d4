/**
 * The Block Kit limits Slack enforces that a bot is most likely to trip over
 * (the reason a real post fails with `invalid_blocks`), so a card that would
 * be refused by Slack is refused here too.
 * Source: docs.slack.dev/reference/block-kit (blocks, section, actions,
 * context, button, plain_text_input; modal views).
 */

type Json = Record<string, unknown>;

function text(value: unknown): string {
  return typeof value === "object" && value !== null && typeof (value as Json).text === "string"
    ? ((value as Json).text as string)
    : "";
}

export function blocksProblem(blocks: unknown, max = 50): string | undefined {
  if (!Array.isArray(blocks)) return "blocks must be an array";
  if (blocks.length > max) return `no more than ${max} blocks`;
  for (const [i, raw] of blocks.entries()) {
    if (typeof raw !== "object" || raw === null) return `block ${i} is not an object`;
    const block = raw as Json;
    switch (block.type) {
      case "section": {
        if (block.text !== undefined && text(block.text).length > 3000)
          return `block ${i}: section text over 3000`;
        if (block.fields !== undefined) {
          if (!Array.isArray(block.fields) || block.fields.length > 10)
            return `block ${i}: at most 10 fields`;
          if (block.fields.some((f) => text(f).length > 2000)) return `block ${i}: field over 2000`;
        }
        if (block.text === undefined && block.fields === undefined)
          return `block ${i}: section needs text or fields`;
        break;
      }
      case "context":
        if (!Array.isArray(block.elements) || block.elements.length === 0 || block.elements.length > 10)
          return `block ${i}: context needs 1 to 10 elements`;
        break;
      case "actions": {
        if (!Array.isArray(block.elements) || block.elements.length === 0 || block.elements.length > 25)
          return `block ${i}: actions needs 1 to 25 elements`;
        const ids = new Set<string>();
        for (const el of block.elements as Json[]) {
          if (el.type !== "button") continue;
          if (text(el.text).length === 0 || text(el.text).length > 75)
            return `block ${i}: button text 1 to 75`;
          if (typeof el.action_id === "string") {
            if (el.action_id.length > 255) return `block ${i}: action_id over 255`;
            if (ids.has(el.action_id)) return `block ${i}: duplicate action_id ${el.action_id}`;
            ids.add(el.action_id);
          }
          if (typeof el.value === "string" && el.value.length > 2000)
            return `block ${i}: button value over 2000`;
          if (typeof el.url === "string" && el.url.length > 3000) return `block ${i}: button url over 3000`;
          if (el.style !== undefined && el.style !== "primary" && el.style !== "danger")
            return `block ${i}: button style`;
        }
        break;
      }
      case "input":
        if (typeof block.label !== "object" || typeof block.element !== "object")
          return `block ${i}: input needs label and element`;
        break;
      case "header":
        if (text(block.text).length > 150) return `block ${i}: header over 150`;
        break;
      case "divider":
        break;
      default:
        return `block ${i}: unknown type ${String(block.type)}`;
    }
  }
  return undefined;
}

export function viewProblem(view: unknown): string | undefined {
  if (typeof view !== "object" || view === null) return "view must be an object";
  const v = view as Json;
  if (v.type !== "modal") return "only modal views are emulated";
  const title = text(v.title);
  if (title.length === 0 || title.length > 24) return "title must be 1 to 24 characters";
  if (v.submit !== undefined && text(v.submit).length > 24) return "submit over 24 characters";
  if (typeof v.private_metadata === "string" && v.private_metadata.length > 3000)
    return "private_metadata over 3000";
  if (typeof v.callback_id === "string" && v.callback_id.length > 255) return "callback_id over 255";
  const blocks = v.blocks;
  const problem = blocksProblem(blocks, 100);
  if (problem) return problem;
  const hasInput = (blocks as Json[]).some((b) => b.type === "input");
  if (hasInput && v.submit === undefined) return "a view with inputs needs submit";
  return undefined;
}

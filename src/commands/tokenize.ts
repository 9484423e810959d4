/**
 * Splits command text into words. Quotes group words ("dark orange"); Slack
 * and Teams turn straight quotes into typographic ones, so those count too.
 * Never throws: an unclosed quote runs to the end of the text.
 */
const OPENERS: Record<string, string> = {
  '"': '"',
  "'": "'",
  "\u201c": "\u201d",
  "\u2018": "\u2019",
  "\u201e": "\u201c",
};

export interface Word {
  text: string;
  /** Quoted words are values, never flags. */
  quoted: boolean;
}

export function tokenize(text: string): Word[] {
  const words: Word[] = [];
  let quoted = false;
  let current = "";
  let inWord = false;
  let closer: string | undefined;
  for (const ch of text) {
    if (closer !== undefined) {
      if (ch === closer || (closer === "\u201d" && ch === '"')) {
        closer = undefined;
      } else {
        current += ch;
      }
      continue;
    }
    const close = OPENERS[ch];
    if (close !== undefined && !inWord) {
      closer = close;
      inWord = true;
      quoted = true;
      continue;
    }
    if (/\s/u.test(ch)) {
      if (inWord) words.push({ text: current, quoted });
      current = "";
      inWord = false;
      quoted = false;
      continue;
    }
    current += ch;
    inWord = true;
  }
  if (inWord) words.push({ text: current, quoted });
  return words;
}

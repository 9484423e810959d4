import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { encodePng, type Rgba } from "./png.ts";

/**
 * Draws the Teams app icons: color.png (192×192, a white key on the accent
 * colour) and outline.png (32×32, the same key in white on transparent, as
 * Teams requires). Run `node infra/deploy/teams/icons.ts` to redraw them;
 * replace the two files with your own artwork if you like.
 */

export const ACCENT = "#0F6CBD";

/** Coverage (0..1) of the key shape at a point of a 192-unit square. */
function key(x: number, y: number): number {
  const ring = Math.hypot(x - 66, y - 96);
  const bow = ring <= 38 && ring >= 18;
  const shaft = x >= 98 && x <= 160 && y >= 88 && y <= 104;
  const tooth1 = x >= 130 && x <= 142 && y > 104 && y <= 126;
  const tooth2 = x >= 148 && x <= 160 && y > 104 && y <= 118;
  return bow || shaft || tooth1 || tooth2 ? 1 : 0;
}

/** Antialiased coverage of one output pixel, by 4×4 supersampling. */
function coverage(px: number, py: number, size: number): number {
  const scale = 192 / size;
  let hits = 0;
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 4; j++) hits += key((px + (i + 0.5) / 4) * scale, (py + (j + 0.5) / 4) * scale);
  }
  return hits / 16;
}

function hex(color: string): Rgba {
  const n = Number.parseInt(color.slice(1), 16);
  return { r: (n >> 16) & 255, g: (n >> 8) & 255, b: n & 255, a: 255 };
}

export function colorIcon(): Buffer {
  const bg = hex(ACCENT);
  return encodePng(192, 192, (x, y) => {
    const c = coverage(x, y, 192);
    const mix = (from: number) => Math.round(from + (255 - from) * c);
    return { r: mix(bg.r), g: mix(bg.g), b: mix(bg.b), a: 255 };
  });
}

export function outlineIcon(): Buffer {
  return encodePng(32, 32, (x, y) => ({ r: 255, g: 255, b: 255, a: Math.round(255 * coverage(x, y, 32)) }));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(new URL("color.png", import.meta.url), colorIcon());
  writeFileSync(new URL("outline.png", import.meta.url), outlineIcon());
  process.stdout.write("wrote infra/deploy/teams/color.png and outline.png\n");
}

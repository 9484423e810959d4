import { crc32, inflateSync } from "node:zlib";

/**
 * A strict PNG decoder for 8-bit RGB and RGBA images (the Teams icons):
 * checks the signature and every chunk CRC, inflates IDAT and undoes all five
 * row filters, so any well-formed icon (ours or an operator's) can be read.
 */

export interface DecodedPng {
  width: number;
  height: number;
  colorType: 2 | 6;
  /** RGBA, 4 bytes per pixel, rows from the top. */
  rgba: Buffer;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

export function decodePng(png: Buffer): DecodedPng {
  if (!png.subarray(0, 8).equals(SIGNATURE)) throw new Error("not a PNG signature");
  let p = 8;
  let header: Buffer | undefined;
  const idat: Buffer[] = [];
  let ended = false;
  while (p < png.length) {
    const length = png.readUInt32BE(p);
    const type = png.toString("latin1", p + 4, p + 8);
    const data = png.subarray(p + 8, p + 8 + length);
    const crc = png.readUInt32BE(p + 8 + length);
    if (crc32(png.subarray(p + 4, p + 8 + length)) !== crc) throw new Error(`${type}: bad CRC`);
    if (type === "IHDR") header = Buffer.from(data);
    else if (type === "IDAT") idat.push(data);
    else if (type === "IEND") {
      ended = true;
      break;
    }
    p += 12 + length;
  }
  if (!header || !ended || idat.length === 0) throw new Error("missing IHDR, IDAT or IEND");
  const width = header.readUInt32BE(0);
  const height = header.readUInt32BE(4);
  const depth = header[8];
  const colorType = header[9];
  if (depth !== 8 || (colorType !== 2 && colorType !== 6) || header[12] !== 0) {
    throw new Error(
      `only 8-bit, non-interlaced RGB or RGBA is expected (depth ${depth}, colour type ${colorType})`,
    );
  }
  const bpp = colorType === 6 ? 4 : 3;
  const stride = width * bpp;
  const raw = inflateSync(Buffer.concat(idat));
  if (raw.length !== (stride + 1) * height) throw new Error("image data has the wrong size");
  const out = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    for (let i = 0; i < stride; i++) {
      const x = raw[y * (stride + 1) + 1 + i] ?? 0;
      const a = i >= bpp ? (out[y * stride + i - bpp] ?? 0) : 0;
      const b = y > 0 ? (out[(y - 1) * stride + i] ?? 0) : 0;
      const c = y > 0 && i >= bpp ? (out[(y - 1) * stride + i - bpp] ?? 0) : 0;
      const predictor = [0, a, b, (a + b) >> 1, paeth(a, b, c)][filter ?? 0];
      if (predictor === undefined) throw new Error(`row ${y}: unknown filter ${filter}`);
      out[y * stride + i] = (x + predictor) & 255;
    }
  }
  const rgba = Buffer.alloc(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    rgba[i * 4] = out[i * bpp] ?? 0;
    rgba[i * 4 + 1] = out[i * bpp + 1] ?? 0;
    rgba[i * 4 + 2] = out[i * bpp + 2] ?? 0;
    rgba[i * 4 + 3] = bpp === 4 ? (out[i * bpp + 3] ?? 0) : 255;
  }
  return { width, height, colorType, rgba };
}

import type { FileHandle } from "node:fs/promises";

/** Where one regular file's bytes lie inside a tar file. */
export interface TarMember {
  readonly offset: number;
  readonly size: number;
}

const BLOCK = 512;
/** A bundle has a few files per image; more members than this is not a bundle. */
const MAX_MEMBERS = 1_000_000;
/** pax and GNU long-name headers are a few hundred bytes; more is not a name. */
const MAX_EXTENDED_HEADER = 1024 * 1024;

function text(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? field.length : end).toString("utf8");
}

function octal(block: Buffer, start: number, length: number, file: string): number {
  // GNU base-256: the high bit of the first byte set, the rest big-endian.
  if ((block[start] ?? 0) & 0x80) {
    let value = (block[start] ?? 0) & 0x7f;
    for (let i = start + 1; i < start + length; i++) value = value * 256 + (block[i] ?? 0);
    return value;
  }
  const digits = text(block, start, length).trim();
  const value = digits === "" ? 0 : Number.parseInt(digits, 8);
  if (!Number.isSafeInteger(value) || value < 0)
    throw new Error(`${file}: a tar header has a bad size field`);
  return value;
}

function paxRecords(body: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let at = 0;
  while (at < body.length) {
    const space = body.indexOf(0x20, at);
    if (space === -1) break;
    const length = Number.parseInt(body.subarray(at, space).toString("ascii"), 10);
    if (!Number.isSafeInteger(length) || length <= 0) break;
    const record = body.subarray(space + 1, at + length - 1).toString("utf8");
    const equals = record.indexOf("=");
    if (equals > 0) records.set(record.slice(0, equals), record.slice(equals + 1));
    at += length;
  }
  return records;
}

/**
 * Lists a tar file's regular files by path with where their bytes start, reading only the
 * headers (a 1 GB bundle is indexed with a few hundred small reads). ustar, pax (`path`, `size`)
 * and GNU long names, as Go's archive/tar, skopeo and tar-stream write them.
 */
export async function indexTar(handle: FileHandle, file: string): Promise<Map<string, TarMember>> {
  const members = new Map<string, TarMember>();
  const block = Buffer.alloc(BLOCK);
  let offset = 0;
  let pending: { path?: string; size?: number } = {};
  for (let count = 0; count < MAX_MEMBERS; count++) {
    const { bytesRead } = await handle.read(block, 0, BLOCK, offset);
    if (bytesRead < BLOCK || block.every((byte) => byte === 0)) return members;
    const type = String.fromCharCode(block[156] ?? 0);
    let size = octal(block, 124, 12, file);
    const prefix = block.subarray(257, 262).toString("ascii") === "ustar" ? text(block, 345, 155) : "";
    const name = prefix === "" ? text(block, 0, 100) : `${prefix}/${text(block, 0, 100)}`;
    const dataOffset = offset + BLOCK;
    if (type === "x" || type === "L") {
      if (size > MAX_EXTENDED_HEADER) throw new Error(`${file}: a tar extended header is ${size} bytes`);
      const body = Buffer.alloc(size);
      await handle.read(body, 0, size, dataOffset);
      if (type === "L") pending = { ...pending, path: text(body, 0, size) };
      else {
        const records = paxRecords(body);
        const paxSize = records.get("size");
        pending = {
          ...pending,
          ...(records.has("path") ? { path: records.get("path") } : {}),
          ...(paxSize !== undefined ? { size: Number(paxSize) } : {}),
        };
      }
    } else {
      size = pending.size ?? size;
      if (type === "0" || type === "\0" || type === "7") {
        members.set(normalize(pending.path ?? name), { offset: dataOffset, size });
      }
      pending = {};
    }
    offset = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
  }
  throw new Error(`${file}: more than ${MAX_MEMBERS} files in the archive`);
}

/** `./blobs/sha256/x` and `blobs/sha256/x` name the same member. */
function normalize(path: string): string {
  return path.replace(/^(\.\/)+/, "");
}

import { HTTPParser } from 'http-parser-js';
import type { BodyLength } from './body-skipper';
import type { HeadMemo } from './head-memo';

/** Which of healthgate's own answers a request asks for. */
export type LocalTarget = 'health' | 'live' | 'metrics';

/** The parts of a health request head that shape the answer. */
export interface RequestHead {
  readonly method: 'GET' | 'HEAD';
  /** The path as sent: no query, no decoding, no normalisation. */
  readonly path: string;
  readonly keepAlive: boolean;
  readonly wantsJson: boolean;
  readonly body: BodyLength;
  /** `Expect: 100-continue`: the client may hold its body back until it sees an answer. */
  readonly expectContinue: boolean;
}

/** What the bytes so far say about a stream. */
export type Verdict =
  | { kind: 'need-more' }
  | { kind: 'local'; target: LocalTarget; head: RequestHead; headLength: number }
  | { kind: 'backend' }
  | { kind: 'reject'; status: 400 | 431; code: 'HG_BAD_REQUEST' | 'HG_HEAD_TOO_LARGE'; detail: string };

/** The paths healthgate answers itself and the head size limit, compiled once. */
export interface SniffRules {
  readonly targets: ReadonlyMap<string, LocalTarget>;
  readonly maxHeaderBytes: number;
}

/** Compiles the configured paths into rules; earlier kinds win where a path repeats. */
export function compileRules(options: {
  healthPaths: readonly string[];
  livePaths: readonly string[];
  metricsPath?: string;
  maxHeaderBytes: number;
}): SniffRules {
  const targets = new Map<string, LocalTarget>();
  for (const path of options.healthPaths) targets.set(path, 'health');
  for (const path of options.livePaths) if (!targets.has(path)) targets.set(path, 'live');
  if (options.metricsPath && !targets.has(options.metricsPath)) targets.set(options.metricsPath, 'metrics');
  return { targets, maxHeaderBytes: options.maxHeaderBytes };
}

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const QUESTION = 0x3f;
const SLASH = 0x2f;
const NEED_MORE: Verdict = Object.freeze({ kind: 'need-more' });
const BACKEND: Verdict = Object.freeze({ kind: 'backend' });
const METHODS = ['GET ', 'HEAD '].map((m) => Buffer.from(m, 'latin1'));
const VERSION_PREFIX = Buffer.from('HTTP/1.', 'latin1');
const SCHEMES = ['http://', 'https://'].map((s) => Buffer.from(s, 'latin1'));
const COLON = 0x3a;
const HTAB = 0x09;
// RFC 9110 token characters, the bytes a header name may have.
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TOKEN[c.charCodeAt(0)] = 1;
const UPGRADE = Buffer.from('upgrade', 'latin1');

/**
 * Judges the bytes received so far on a stream (from its start, or from the end of the previous
 * answered request). Pure; it decides as early as the bytes allow (SPEC: Routing, one rule). A
 * memo, when given, remembers the verdicts of answered heads: the same bytes get the same verdict.
 */
export function sniff(buf: Buffer, rules: SniffRules, memo?: HeadMemo<Verdict>): Verdict {
  if (buf.length === 0) return NEED_MORE;
  // SPEC: one empty line before the request line is skipped.
  let start = 0;
  if (buf[0] === LF) start = 1;
  else if (buf[0] === CR) {
    if (buf.length < 2) return NEED_MORE;
    if (buf[1] !== LF) return BACKEND;
    start = 2;
  }
  const method = matchMethod(buf, start);
  if (method === undefined) return NEED_MORE;
  if (method === null) return BACKEND;

  const target = readTarget(buf, start + method.length, rules);
  if (target.kind !== 'path') return limitHead(target.kind === 'need-more' ? NEED_MORE : BACKEND, buf, start, rules);

  const lineEnd = matchVersion(buf, target.end);
  if (lineEnd === null) return BACKEND;
  if (lineEnd === undefined) return limitHead(NEED_MORE, buf, start, rules);

  const headEnd = findHeadEnd(buf, lineEnd);
  if (headEnd === undefined || headEnd - start > rules.maxHeaderBytes) {
    return limitHead(NEED_MORE, buf, start, rules, headEnd);
  }
  return judgeHeadOnce(buf, start, headEnd, target.path, rules, memo);
}

/** judgeHead through the memo of answered heads, when there is one. */
function judgeHeadOnce(
  buf: Buffer,
  start: number,
  headEnd: number,
  path: string,
  rules: SniffRules,
  memo: HeadMemo<Verdict> | undefined,
): Verdict {
  const judge = (): Verdict => judgeHead(buf.subarray(start, headEnd), path, rules.targets.get(path)!, headEnd);
  const key = memo?.keyOf(buf, headEnd);
  if (memo === undefined || key === undefined) return judge();
  let verdict = memo.get(key);
  if (!verdict) {
    verdict = judge();
    // Only answered heads repeat; an upgrade's head carries a fresh Sec-WebSocket-Key each time.
    if (verdict.kind === 'local') memo.set(key, verdict);
  }
  return verdict;
}

/** A possible health request may grow only to maxHeaderBytes: past it, 431 at once (SPEC 3). */
function limitHead(verdict: Verdict, buf: Buffer, start: number, rules: SniffRules, headEnd?: number): Verdict {
  if (verdict.kind !== 'need-more') return verdict;
  const seen = (headEnd ?? buf.length) - start;
  if (seen <= rules.maxHeaderBytes) return verdict;
  return { kind: 'reject', status: 431, code: 'HG_HEAD_TOO_LARGE', detail: `head over ${rules.maxHeaderBytes} bytes` };
}

/** 'GET ' or 'HEAD ' when the method is one; undefined while the bytes are a prefix of one; null when not. */
function matchMethod(buf: Buffer, start: number): Buffer | null | undefined {
  let undecided = false;
  for (const method of METHODS) {
    const n = Math.min(method.length, buf.length - start);
    if (buf.compare(method, 0, n, start, start + n) !== 0) continue;
    if (n === method.length) return method;
    undecided = true;
  }
  return undecided ? undefined : null;
}

type TargetScan = { kind: 'need-more' } | { kind: 'not-local' } | { kind: 'path'; path: string; end: number };

/** Reads the request target up to its space; only a target whose path is a local path is of interest. */
function readTarget(buf: Buffer, at: number, rules: SniffRules): TargetScan {
  if (at >= buf.length) return { kind: 'need-more' };
  let pathStart = at;
  if (buf[at] !== SLASH) {
    // SPEC: the path of an absolute-form target counts ('GET http://host/health HTTP/1.1').
    const afterScheme = matchScheme(buf, at);
    if (afterScheme === null) return { kind: 'not-local' };
    if (afterScheme === undefined) return { kind: 'need-more' };
    pathStart = afterScheme;
    while (pathStart < buf.length && !isPathEnd(buf[pathStart]) && buf[pathStart] !== SLASH) pathStart++;
    if (pathStart >= buf.length) return { kind: 'need-more' };
  }
  let pathEnd = pathStart;
  while (pathEnd < buf.length && !isPathEnd(buf[pathEnd])) pathEnd++;
  // An absolute-form target without a path means '/' (RFC 9112, 3.2.2).
  const path = pathEnd === pathStart ? '/' : buf.toString('latin1', pathStart, pathEnd);
  if (pathEnd >= buf.length) return isPrefixOfLocalPath(path, rules) ? { kind: 'need-more' } : { kind: 'not-local' };
  if (!rules.targets.has(path)) return { kind: 'not-local' };
  let end = pathEnd;
  if (buf[end] === QUESTION) {
    while (end < buf.length && buf[end] > SP && buf[end] !== 0x7f) end++;
    if (end >= buf.length) return { kind: 'need-more' };
  }
  return buf[end] === SP ? { kind: 'path', path, end: end + 1 } : { kind: 'not-local' };
}

function isPathEnd(byte: number): boolean {
  return byte <= SP || byte === QUESTION || byte === 0x7f;
}

function matchScheme(buf: Buffer, at: number): number | null | undefined {
  let undecided = false;
  for (const scheme of SCHEMES) {
    const n = Math.min(scheme.length, buf.length - at);
    if (buf.toString('latin1', at, at + n).toLowerCase() !== scheme.toString('latin1', 0, n)) continue;
    if (n === scheme.length) return at + n;
    undecided = true;
  }
  return undecided ? undefined : null;
}

function isPrefixOfLocalPath(prefix: string, rules: SniffRules): boolean {
  for (const path of rules.targets.keys()) if (path.startsWith(prefix)) return true;
  return false;
}

/** The index after the request line's end for 'HTTP/1.0' or 'HTTP/1.1'; undefined: need more; null: not HTTP/1.x. */
function matchVersion(buf: Buffer, at: number): number | null | undefined {
  const n = Math.min(VERSION_PREFIX.length, buf.length - at);
  if (buf.compare(VERSION_PREFIX, 0, n, at, at + n) !== 0) return null;
  let i = at + VERSION_PREFIX.length;
  if (i >= buf.length) return undefined;
  if (buf[i] !== 0x30 && buf[i] !== 0x31) return null;
  i++;
  if (i >= buf.length) return undefined;
  if (buf[i] === LF) return i + 1;
  if (buf[i] !== CR) return null;
  if (i + 1 >= buf.length) return undefined;
  return buf[i + 1] === LF ? i + 2 : null;
}

/** The index after the blank line that ends the head, or undefined when it has not arrived. */
function findHeadEnd(buf: Buffer, lineStart: number): number | undefined {
  let at = lineStart;
  while (at < buf.length) {
    if (buf[at] === LF) return at + 1;
    if (buf[at] === CR) {
      if (at + 1 >= buf.length) return undefined;
      if (buf[at + 1] === LF) return at + 2;
    }
    const next = buf.indexOf(LF, at);
    if (next < 0) return undefined;
    at = next + 1;
  }
  return undefined;
}

interface ParsedHead {
  versionMinor: number;
  headers: string[];
}

/** Parses a complete head of a possible health request; an upgrade goes to the backend. */
function judgeHead(head: Buffer, path: string, target: LocalTarget, headEnd: number): Verdict {
  const lines = scanHeaderLines(head);
  if (typeof lines === 'string') return badRequest(lines);
  // SPEC 2: an upgrade on any path, also '/', belongs to the backend; the rest of its head is the
  // backend's business, so the parser is spared (a WebSocket app on '/' pays this per connection).
  if (lines.upgrade) return BACKEND;
  const parsed = parseHead(head);
  if (parsed instanceof Error) return badRequest(`unparsable head: ${parsed.message}`);

  let wantsJson = false;
  let expectContinue = false;
  const connection: string[] = [];
  const lengths: string[] = [];
  const codings: string[] = [];
  for (let i = 0; i < parsed.headers.length; i += 2) {
    const value = parsed.headers[i + 1];
    switch (parsed.headers[i].toLowerCase()) {
      case 'accept':
        wantsJson ||= value.toLowerCase().includes('application/json');
        break;
      case 'connection':
        connection.push(...tokens(value));
        break;
      case 'content-length':
        lengths.push(...value.split(',').map((s) => s.trim()));
        break;
      case 'transfer-encoding':
        codings.push(...tokens(value));
        break;
      case 'expect':
        expectContinue ||= value.trim().toLowerCase() === '100-continue';
        break;
    }
  }
  const body = bodyLength(lengths, codings);
  if (typeof body === 'string') return badRequest(body);
  const keepAlive = parsed.versionMinor === 1 ? !connection.includes('close') : connection.includes('keep-alive');
  const method = head.subarray(0, 4).toString('latin1') === 'HEAD' ? 'HEAD' : 'GET';
  return { kind: 'local', target, head: { method, path, keepAlive, wantsJson, body, expectContinue }, headLength: headEnd };
}

function badRequest(detail: string): Verdict {
  return { kind: 'reject', status: 400, code: 'HG_BAD_REQUEST', detail };
}

function tokens(value: string): string[] {
  return value
    .toLowerCase()
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** SPEC 1: a body is dropped; Content-Length with Transfer-Encoding is 400, as is a length we cannot frame. */
function bodyLength(lengths: string[], codings: string[]): BodyLength | string {
  if (lengths.length > 0 && codings.length > 0) return 'both Content-Length and Transfer-Encoding';
  if (codings.length > 0) {
    return codings[codings.length - 1] === 'chunked' ? { kind: 'chunked' } : 'Transfer-Encoding without chunked';
  }
  if (lengths.length === 0) return { kind: 'none' };
  if (lengths.some((v) => !/^\d{1,15}$/.test(v)) || new Set(lengths.map(Number)).size > 1) {
    return 'invalid Content-Length';
  }
  const bytes = Number(lengths[0]);
  return bytes === 0 ? { kind: 'none' } : { kind: 'length', bytes };
}

/**
 * Checks every header line (http-parser-js folds and skips bad lines silently; SPEC 3 wants 400)
 * and notes an Upgrade header, in one pass over the bytes. Returns what is wrong, if anything.
 */
function scanHeaderLines(head: Buffer): { upgrade: boolean } | string {
  let upgrade = false;
  let at = head.indexOf(LF) + 1;
  for (;;) {
    const lf = head.indexOf(LF, at);
    const end = lf > at && head[lf - 1] === CR ? lf - 1 : lf;
    // The blank line that ends the head.
    if (end === at) return { upgrade };
    if (head[at] === SP || head[at] === HTAB) return 'obsolete line folding';
    let colon = at;
    while (colon < end && TOKEN[head[colon]] === 1) colon++;
    if (colon === at || colon === end || head[colon] !== COLON) return 'bad header line';
    for (let i = colon + 1; i < end; i++) {
      const byte = head[i];
      if ((byte < SP && byte !== HTAB) || byte === 0x7f) return 'bad header line';
    }
    if (colon - at === UPGRADE.length && isUpgradeName(head, at)) upgrade = true;
    at = lf + 1;
  }
}

function isUpgradeName(head: Buffer, at: number): boolean {
  for (let i = 0; i < UPGRADE.length; i++) if ((head[at + i] | 0x20) !== UPGRADE[i]) return false;
  return true;
}

/** Parses a complete head with a parser of its own: no state outlives the call. */
function parseHead(head: Buffer): ParsedHead | Error {
  const parser = new HTTPParser(HTTPParser.REQUEST);
  let parsed: ParsedHead | undefined;
  parser[HTTPParser.kOnHeadersComplete] = (info: { versionMinor: number; headers: string[] }) => {
    parsed = { versionMinor: info.versionMinor, headers: info.headers };
    return 0;
  };
  parser.maxHeaderSize = head.length + 1;
  const result = parser.execute(head);
  if (result instanceof Error) return result;
  return parsed ?? new Error('incomplete head');
}

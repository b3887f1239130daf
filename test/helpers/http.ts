/** One HTTP/1.1 response cut from raw bytes. */
export interface ParsedResponse {
  readonly status: number;
  readonly statusLine: string;
  /** Header names lower-cased; a repeated header keeps its last value. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** Bytes of head plus body. */
  readonly length: number;
}

/** A request head with CRLF line ends from a request line and header lines. */
export function requestHead(requestLine: string, headers: readonly string[] = []): string {
  return [requestLine, ...headers, '', ''].join('\r\n');
}

/**
 * Parses the response at the start of `bytes`, or returns undefined while it is incomplete.
 * A response to HEAD (`noBody`) has no body whatever its Content-Length says.
 */
export function parseResponse(bytes: Buffer, options: { noBody?: boolean } = {}): ParsedResponse | undefined {
  const headEnd = bytes.indexOf('\r\n\r\n');
  if (headEnd < 0) return undefined;
  const [statusLine, ...lines] = bytes.toString('latin1', 0, headEnd).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const bodyLength = options.noBody ? 0 : Number(headers['content-length'] ?? 0);
  const bodyStart = headEnd + 4;
  if (bytes.length < bodyStart + bodyLength) return undefined;
  return {
    status: Number(statusLine.split(' ')[1]),
    statusLine,
    headers,
    body: bytes.subarray(bodyStart, bodyStart + bodyLength),
    length: bodyStart + bodyLength,
  };
}

/** Parses exactly the complete responses in `bytes`, in order (each `noBody` per the request methods given). */
export function parseResponses(bytes: Buffer, noBody: readonly boolean[] = []): ParsedResponse[] {
  const responses: ParsedResponse[] = [];
  let rest = bytes;
  for (let i = 0; ; i++) {
    const response = parseResponse(rest, { noBody: noBody[i] });
    if (!response) break;
    responses.push(response);
    rest = rest.subarray(response.length);
  }
  if (rest.length > 0) throw new Error(`trailing bytes after ${responses.length} responses: ${JSON.stringify(rest.toString('latin1'))}`);
  return responses;
}

/** Parses the only response in `bytes` (everything a closed connection returned); throws on anything else. */
export function onlyResponse(bytes: Buffer, options: { noBody?: boolean } = {}): ParsedResponse {
  const responses = parseResponses(bytes, [options.noBody ?? false]);
  if (responses.length !== 1)
    throw new Error(`expected one response, got ${responses.length}: ${JSON.stringify(bytes.toString('latin1'))}`);
  return responses[0];
}

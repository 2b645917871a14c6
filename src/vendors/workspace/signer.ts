import { createHash, createHmac } from 'node:crypto';

/**
 * Huawei Cloud's AK/SK request signing, `SDK-HMAC-SHA256`, as the official SDKs do it
 * (huaweicloud-sdk-go-v3, core/auth/signer). Pure functions, no I/O: the client signs each
 * request at the moment it sends it (a retry is signed again, so `X-Sdk-Date` is always fresh),
 * and the simulator re-computes the canonical request from what it actually received, so a
 * path, query, header or body that differs on the wire from what was signed is caught.
 */

export const SIGNING_ALGORITHM = 'SDK-HMAC-SHA256';

export interface RequestToSign {
  method: string;
  /** The full URL as sent; the canonical form is built from its path and query. */
  url: URL;
  /** Headers to sign, as sent (names in any case). */
  headers: Record<string, string>;
  /** The body bytes exactly as sent (a string is taken as UTF-8). */
  body: Uint8Array | string;
}

export interface SignOptions {
  accessKey: string;
  secretKey: string;
  /** Signing time in ms since the epoch; it becomes `X-Sdk-Date`. */
  date: number;
}

/** `X-Sdk-Date` format: `YYYYMMDDTHHMMSSZ`, UTC. */
export function formatSdkDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

export function parseSdkDate(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  return formatSdkDate(ms) === value ? ms : undefined;
}

/** Percent-encodes every byte except `A-Z a-z 0-9 _ - ~ .`, with upper-case hex (SDK `escape`). */
function percentEncode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Each path segment encoded on its own; the result always ends with `/` (even `/a/b` → `/a/b/`). */
export function canonicalUri(pathname: string): string {
  const path = pathname
    .split('/')
    .map((segment) => percentEncode(decodeSegment(segment)))
    .join('/');
  return path.endsWith('/') ? path : `${path}/`;
}

/** Keys sorted, then each key's values sorted; `k=v` pairs joined by `&`, both sides encoded. */
export function canonicalQuery(params: URLSearchParams): string {
  const byKey = new Map<string, string[]>();
  for (const [key, value] of params) byKey.set(key, [...(byKey.get(key) ?? []), value]);
  return [...byKey.keys()]
    .sort()
    .flatMap((key) =>
      byKey
        .get(key)!
        .sort()
        .map((value) => `${percentEncode(key)}=${percentEncode(value)}`),
    )
    .join('&');
}

/**
 * The headers the official signer signs: all it was given, except `content-type` and names
 * with `_` (proxies drop those).
 */
export function signableHeaderNames(headers: Record<string, string>): string[] {
  const names = Object.keys(headers)
    .map((name) => name.toLowerCase())
    .filter((name) => name !== 'content-type' && !name.includes('_'));
  return [...new Set(names)].sort();
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The canonical request: method, URI, query, `name:value\n` headers, signed names, body hash. */
export function canonicalRequest(request: RequestToSign, signedHeaders: string[]): string {
  const lowered = new Map(
    Object.entries(request.headers).map(([name, value]) => [name.toLowerCase(), value]),
  );
  const headerLines = signedHeaders.map((name) => `${name}:${(lowered.get(name) ?? '').trim()}\n`).join('');
  return [
    request.method.toUpperCase(),
    canonicalUri(request.url.pathname),
    canonicalQuery(request.url.searchParams),
    headerLines,
    signedHeaders.join(';'),
    sha256Hex(request.body),
  ].join('\n');
}

export function stringToSign(canonical: string, sdkDate: string): string {
  return `${SIGNING_ALGORITHM}\n${sdkDate}\n${sha256Hex(canonical)}`;
}

export function signature(secretKey: string, toSign: string): string {
  return createHmac('sha256', secretKey).update(toSign).digest('hex');
}

/** The headers to add to the request: `X-Sdk-Date` and `Authorization`. */
export function signRequest(
  request: RequestToSign,
  options: SignOptions,
): { 'X-Sdk-Date': string; Authorization: string } {
  const sdkDate = formatSdkDate(options.date);
  const headers = { ...request.headers, 'X-Sdk-Date': sdkDate };
  const signed = signableHeaderNames(headers);
  const canonical = canonicalRequest({ ...request, headers }, signed);
  const value = signature(options.secretKey, stringToSign(canonical, sdkDate));
  return {
    'X-Sdk-Date': sdkDate,
    Authorization: `${SIGNING_ALGORITHM} Access=${options.accessKey}, SignedHeaders=${signed.join(';')}, Signature=${value}`,
  };
}

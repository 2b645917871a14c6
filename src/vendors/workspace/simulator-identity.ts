import { randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { SimReply, SimRequest } from '../simulator-server.js';
import { canonicalRequest, parseSdkDate, SIGNING_ALGORITHM, signature, stringToSign } from './signer.js';

/**
 * The simulator's IAM and API-gateway side: issues Keystone-style tokens (token in the
 * `X-Subject-Token` header) and checks every Workspace call's credentials the way Huawei does:
 * a token must exist, be unexpired and be scoped to the project in the URL; an AK/SK signature
 * is recomputed from the request as received (path, query, signed headers, body bytes).
 */

export interface SimUser {
  name: string;
  password: string;
  /** Account (domain) name. */
  domain: string;
}

export interface SimIdentityOptions {
  projectId: string;
  users: SimUser[];
  /** Access key → secret key. */
  accessKeys: Record<string, string>;
  /** An `X-Sdk-Date` further than this from the simulator's clock is refused (15 min, guess). */
  maxClockSkewMs: number;
  now: () => number;
}

interface IssuedToken {
  projectId: string;
  user: string;
  expiresAt: number;
}

/** The API gateway's answer to bad credentials: APIGW.0301 whatever the reason. */
function gatewayRefusal(detail: string): SimReply {
  return {
    status: 401,
    body: { error_code: 'APIGW.0301', error_msg: `Incorrect IAM authentication information: ${detail}` },
  };
}

/** Keystone's error form, which IAM uses. */
function iamRefusal(status: number, title: string, message: string): SimReply {
  return { status, body: { error: { code: status, title, message } } };
}

/** Huawei's timestamps carry microseconds: `2024-06-01T08:00:00.123000Z`. */
export function huaweiTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000Z');
}

/** Keystone v3 password authentication scoped to a project (doc, "IAM token"). */
const passwordRequest = z.object({
  auth: z.object({
    identity: z.object({
      methods: z.array(z.string()).refine((methods) => methods.includes('password')),
      password: z.object({
        user: z.object({ name: z.string(), password: z.string(), domain: z.object({ name: z.string() }) }),
      }),
    }),
    scope: z.object({ project: z.object({ id: z.string() }) }),
  }),
});

const AUTHORIZATION = new RegExp(
  `^${SIGNING_ALGORITHM}\\s+Access=([^,\\s]+),\\s*SignedHeaders=([^,\\s]+),\\s*Signature=([0-9a-f]+)$`,
);

export class SimIdentity {
  readonly #options: SimIdentityOptions;
  readonly #tokens = new Map<string, IssuedToken>();
  /** Tokens issued since start (tests check single-flight minting with it). */
  tokensIssued = 0;

  constructor(options: SimIdentityOptions) {
    this.#options = options;
  }

  /** `POST /v3/auth/tokens`: Keystone v3 password method, scoped to a project. */
  issueToken(req: SimRequest, lifetimeMs: number): SimReply {
    let body: unknown;
    try {
      body = JSON.parse(req.body);
    } catch {
      return iamRefusal(400, 'Bad Request', 'The request body is not valid JSON.');
    }
    const parsed = passwordRequest.safeParse(body);
    if (!parsed.success) {
      return iamRefusal(
        400,
        'Bad Request',
        'The request body is not a project-scoped password authentication request.',
      );
    }
    const { user } = parsed.data.auth.identity.password;
    const projectId = parsed.data.auth.scope.project.id;
    const known = this.#options.users.find(
      (u) => u.name === user.name && u.domain === user.domain.name && u.password === user.password,
    );
    if (!known) return iamRefusal(401, 'Unauthorized', 'The username or password is wrong.');
    if (projectId !== this.#options.projectId) {
      return iamRefusal(400, 'Bad Request', 'The project in the scope does not exist or is not accessible.');
    }
    const now = this.#options.now();
    const value = `MIIsim${randomBytes(24).toString('base64url')}`;
    this.#prune(now);
    this.#tokens.set(value, { projectId, user: known.name, expiresAt: now + lifetimeMs });
    this.tokensIssued += 1;
    return {
      status: 201,
      headers: { 'X-Subject-Token': value },
      body: {
        token: {
          methods: ['password'],
          issued_at: huaweiTime(now),
          expires_at: huaweiTime(now + lifetimeMs),
          project: { id: projectId, domain: { name: known.domain } },
          user: { name: known.name, domain: { name: known.domain } },
        },
      },
    };
  }

  /** Invalidates every token, as a password or permission change does (doc: within 30 min). */
  revokeTokens(): void {
    this.#tokens.clear();
  }

  /** Checks a Workspace call's credentials: undefined when accepted, else the refusal. */
  authenticate(req: SimRequest, pathProjectId: string): SimReply | undefined {
    const token = req.headers['x-auth-token'];
    if (token !== undefined) return this.#checkToken(token, pathProjectId);
    const authorization = req.headers.authorization;
    if (authorization !== undefined) return this.#checkSignature(req, authorization, pathProjectId);
    return gatewayRefusal('no X-Auth-Token or AK/SK Authorization header');
  }

  #checkToken(value: string, pathProjectId: string): SimReply | undefined {
    const token = this.#tokens.get(value);
    if (!token) return gatewayRefusal('the token is not valid');
    if (this.#options.now() >= token.expiresAt) return gatewayRefusal('the token has expired');
    if (token.projectId !== pathProjectId) return forbidden('the token is scoped to another project');
    return undefined;
  }

  #checkSignature(req: SimRequest, authorization: string, pathProjectId: string): SimReply | undefined {
    const match = AUTHORIZATION.exec(authorization.trim());
    if (!match) return gatewayRefusal(`the Authorization header is not ${SIGNING_ALGORITHM}`);
    const [, accessKey, signedList, given] = match as unknown as [string, string, string, string];
    const secretKey = this.#options.accessKeys[accessKey];
    if (secretKey === undefined) return gatewayRefusal('the access key does not exist');
    const sdkDate = req.headers['x-sdk-date'] ?? '';
    const signedAt = parseSdkDate(sdkDate);
    if (signedAt === undefined) return gatewayRefusal('X-Sdk-Date is missing or not YYYYMMDDTHHMMSSZ');
    if (Math.abs(this.#options.now() - signedAt) > this.#options.maxClockSkewMs) {
      return gatewayRefusal('X-Sdk-Date is too far from the current time (request expired)');
    }
    const signed = signedList.split(';');
    if (!signed.includes('x-sdk-date')) return gatewayRefusal('X-Sdk-Date is not among the signed headers');
    const missing = signed.find((name) => req.headers[name] === undefined);
    if (missing) return gatewayRefusal(`signed header ${missing} is not in the request`);
    const url = new URL(`http://simulator${req.path}?${req.query.toString()}`);
    const headers = Object.fromEntries(signed.map((name) => [name, req.headers[name]!]));
    const expected = signature(
      secretKey,
      stringToSign(canonicalRequest({ method: req.method, url, headers, body: req.body }, signed), sdkDate),
    );
    if (!sameHex(expected, given)) return gatewayRefusal('verify aksk signature fail');
    const projectHeader = req.headers['x-project-id'];
    if (projectHeader === undefined) {
      return gatewayRefusal('X-Project-Id is required with AK/SK on a regional service');
    }
    if (projectHeader !== pathProjectId) {
      return forbidden('X-Project-Id does not match the project in the URL');
    }
    if (pathProjectId !== this.#options.projectId) {
      return forbidden('the project does not belong to this account');
    }
    return undefined;
  }

  #prune(now: number): void {
    if (this.#tokens.size < 1_000) return;
    for (const [value, token] of this.#tokens) if (token.expiresAt <= now) this.#tokens.delete(value);
  }
}

function forbidden(detail: string): SimReply {
  return {
    status: 403,
    body: {
      error_code: 'WKS.00081102',
      error_msg: `User does not have permission to access this resource: ${detail}.`,
    },
  };
}

function sameHex(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

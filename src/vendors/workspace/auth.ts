import type { Secret } from '../../config/secret.js';
import type { IamTokenSource } from './iam-token.js';
import { signRequest } from './signer.js';

/** How secrets appear in dry runs and previews. */
export const MASK = '••••';

/** A Workspace request as it will go on the wire. */
export interface OutgoingRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: Buffer;
}

/** One of the two ways a target authenticates its calls (doc, "Authentication"). */
export interface RequestAuth {
  /** Headers that authenticate this exact request, made just before it is sent. */
  headers(request: OutgoingRequest): Promise<Record<string, string>>;
  /** The same headers with every secret masked, for dry runs; never mints a token. */
  preview(request: OutgoingRequest): Record<string, string>;
  /** After a 401 answer to a request sent with `used`: whether one retry can succeed. */
  refused(used: Record<string, string>): boolean;
}

/** IAM token in `X-Auth-Token`; a refused token is dropped and the call retried once. */
export class TokenAuth implements RequestAuth {
  readonly source: IamTokenSource;

  constructor(source: IamTokenSource) {
    this.source = source;
  }

  async headers(): Promise<Record<string, string>> {
    return { 'X-Auth-Token': await this.source.token() };
  }

  preview(): Record<string, string> {
    return { 'X-Auth-Token': MASK };
  }

  /** A password or permission change can invalidate tokens early (doc): renew once. */
  refused(used: Record<string, string>): boolean {
    const token = used['X-Auth-Token'];
    if (token) this.source.invalidate(token);
    return true;
  }
}

/** AK/SK signing; regional services also want `X-Project-Id`, which is signed with the rest. */
export class AkSkAuth implements RequestAuth {
  readonly #accessKey: Secret;
  readonly #secretKey: Secret;
  readonly #projectId: string;
  readonly #now: () => number;

  constructor(keys: { accessKey: Secret; secretKey: Secret }, projectId: string, now: () => number) {
    this.#accessKey = keys.accessKey;
    this.#secretKey = keys.secretKey;
    this.#projectId = projectId;
    this.#now = now;
  }

  async headers(request: OutgoingRequest): Promise<Record<string, string>> {
    return this.#sign(request);
  }

  preview(request: OutgoingRequest): Record<string, string> {
    const signed = this.#sign(request);
    return {
      ...signed,
      Authorization: signed
        .Authorization!.replace(/Access=[^,]*/, `Access=${MASK}`)
        .replace(/Signature=\w+/, `Signature=${MASK}`),
    };
  }

  /** A signature refused now (wrong keys) would be refused again. */
  refused(): boolean {
    return false;
  }

  #sign(request: OutgoingRequest): Record<string, string> {
    const withProject = { ...request.headers, 'X-Project-Id': this.#projectId };
    const added = signRequest(
      { ...request, headers: withProject },
      { accessKey: this.#accessKey.reveal(), secretKey: this.#secretKey.reveal(), date: this.#now() },
    );
    return { 'X-Project-Id': this.#projectId, ...added };
  }
}

import { describe, expect, it } from 'vitest';
import { Secret } from '../../../src/config/secret.js';
import { workspaceVendor } from '../../../src/vendors/workspace/index.js';
import { secret } from './helpers.js';

const PROJECT = '0605767ab1c24e4cb7d9fa3e51c0a5d2';
const tokenAuth = () => ({ type: 'token', user: 'opsbot', password: secret('pw-123456'), domain: 'acme' });

function issues(raw: unknown): string[] {
  const result = workspaceVendor.targetSchema.safeParse(raw);
  return result.success
    ? []
    : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('workspace target config', () => {
  it('derives the endpoint from the region table (appstream.* or workspace.*)', () => {
    const target = workspaceVendor.targetSchema.parse({
      region: 'cn-north-4',
      projectId: PROJECT,
      auth: tokenAuth(),
    });
    expect(workspaceVendor.baseUrl({ ...target, name: 'x' })).toBe(
      'https://appstream.cn-north-4.myhuaweicloud.com',
    );
    const intl = workspaceVendor.targetSchema.parse({
      region: 'ap-southeast-3',
      projectId: PROJECT,
      auth: tokenAuth(),
    });
    expect(workspaceVendor.baseUrl({ ...intl, name: 'x' })).toBe(
      'https://workspace.ap-southeast-3.myhuaweicloud.com',
    );
    expect(workspaceVendor.baseUrl({ ...intl, url: 'https://proxy.example/ws', name: 'x' })).toBe(
      'https://proxy.example/ws',
    );
  });

  it('refuses a region outside the table, listing the known ones, unless url is set', () => {
    const problems = issues({ region: 'eu-west-101', projectId: PROJECT, auth: tokenAuth() });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^region: region "eu-west-101" is not in opsbot's Workspace region table/);
    expect(problems[0]).toContain('cn-north-4, cn-north-9');
    expect(problems[0]).toContain('set url to the service endpoint');
    expect(
      issues({ region: 'eu-west-101', url: 'https://ws.example', projectId: PROJECT, auth: tokenAuth() }),
    ).toEqual([]);
  });

  it('accepts AK/SK credentials as secrets, and refuses plain strings for them', () => {
    expect(
      issues({
        region: 'ap-southeast-1',
        projectId: PROJECT,
        auth: { type: 'aksk', accessKey: secret('AK1234567'), secretKey: secret('SK1234567') },
      }),
    ).toEqual([]);
    const plain = issues({
      region: 'ap-southeast-1',
      projectId: PROJECT,
      auth: { type: 'aksk', accessKey: 'AK1234567', secretKey: secret('SK1234567') },
    });
    expect(plain.join('\n')).toMatch(/auth.accessKey: must be a secret reference/);
  });

  it('names each wrong field: project id shape, auth type, unknown keys, iamUrl', () => {
    expect(issues({ region: 'ap-southeast-1', projectId: '../x', auth: tokenAuth() }).join('\n')).toContain(
      'projectId "../x" is not a plain id',
    );
    expect(issues({ region: 'ap-southeast-1', projectId: 'abc', auth: tokenAuth() }).join('\n')).toContain(
      'does not look like a Huawei project id (32 hex digits)',
    );
    expect(
      issues({ region: 'ap-southeast-1', projectId: PROJECT, auth: { type: 'oauth' } }).join('\n'),
    ).toContain('auth.type must be "token"');
    expect(
      issues({ region: 'ap-southeast-1', projectId: PROJECT, auth: tokenAuth(), regoin: 'x' }).join('\n'),
    ).toMatch(/regoin/);
    expect(
      issues({ region: 'ap-southeast-1', projectId: PROJECT, auth: tokenAuth(), iamUrl: 'ftp://iam' }).join(
        '\n',
      ),
    ).toContain('iamUrl: must be an http(s) URL');
    expect(
      issues({ region: 'ap-southeast-1', projectId: PROJECT, auth: tokenAuth(), busyWait: '0s' }).join('\n'),
    ).toContain('busyWait: must be more than 0');
    expect(
      issues({ region: 'ap-southeast-1', projectId: PROJECT, auth: tokenAuth(), busyWait: 'soon' }).join(
        '\n',
      ),
    ).toContain('busyWait: "soon" is not a duration');
  });

  it('keeps secrets as Secret instances that never print', () => {
    const target = workspaceVendor.targetSchema.parse({
      region: 'ap-southeast-1',
      projectId: PROJECT,
      auth: tokenAuth(),
    });
    expect(target.auth.type === 'token' && target.auth.password).toBeInstanceOf(Secret);
    expect(JSON.stringify(target)).not.toContain('pw-123456');
  });
});

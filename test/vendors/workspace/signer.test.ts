import { describe, expect, it } from 'vitest';
import {
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  formatSdkDate,
  parseSdkDate,
  signRequest,
} from '../../../src/vendors/workspace/signer.js';

const SDK_DATE_2006 = Date.UTC(2006, 0, 2, 15, 4, 5);
const DATE_2024 = Date.UTC(2024, 4, 6, 7, 8, 9);
const EXAMPLE_KEYS = { accessKey: 'AKIDEXAMPLE', secretKey: 'sk-example-7f3a', date: DATE_2024 };

describe('SDK-HMAC-SHA256 signer', () => {
  describe('official vectors (huaweicloud-sdk-go-v3 core/auth/signer tests)', () => {
    it('GET /path?limit=1 with only X-Sdk-Date signs to 5a2ce64c…79624', () => {
      const headers = signRequest(
        {
          method: 'GET',
          url: new URL('https://example.huaweicloud.com/path?limit=1'),
          headers: {},
          body: '',
        },
        { accessKey: 'AccessKey', secretKey: 'SecretKey', date: SDK_DATE_2006 },
      );
      expect(headers['X-Sdk-Date']).toBe('20060102T150405Z');
      expect(headers.Authorization).toBe(
        'SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, ' +
          'Signature=5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624',
      );
    });

    it('leaves content-type and names with "_" unsigned, and hashes the exact body bytes', () => {
      // The Go SDK serializes its test body with json.Encoder, which ends it with a newline.
      const headers = signRequest(
        {
          method: 'POST',
          url: new URL('https://example.huaweicloud.com/path?key=value'),
          headers: { TEST_UNDERSCORE: 'TEST_VALUE', 'Content-Type': 'application/json' },
          body: '{"Name":"test","Id":1}\n',
        },
        { accessKey: 'AccessKey', secretKey: 'SecretKey', date: SDK_DATE_2006 },
      );
      expect(headers.Authorization).toBe(
        'SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, ' +
          'Signature=cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59',
      );
    });

    it('builds the canonical query string of the SDK test (sorted, values sorted, strict encoding)', () => {
      const params = new URLSearchParams([
        ['limit', '1'],
        ['enable', 'true'],
        ['test', '一 (&=?!#%.*)'],
        ['path', '/tmp/123'],
        ['multi', '1'],
        ['multi', '2'],
        ['multi', '3'],
      ]);
      expect(canonicalQuery(params)).toBe(
        'enable=true&limit=1&multi=1&multi=2&multi=3&path=%2Ftmp%2F123&test=%E4%B8%80%20%28%26%3D%3F%21%23%25.%2A%29',
      );
    });
  });

  // Expected values below come from a separate implementation of the doc's algorithm (Python
  // hashlib/hmac/urllib), not from this signer.
  describe('own vectors', () => {
    it('signs the reinstall POST: JSON body, X-Project-Id signed, content-type not', () => {
      const request = {
        method: 'POST',
        url: new URL(
          'https://workspace.ap-southeast-1.myhuaweicloud.com/v1/0605767ab1c24e4cb7d9fa3e51c0a5d2/app-servers/25b1dd14-0c84-4558-aa57-03a6c54b8e75/actions/reinstall',
        ),
        headers: {
          'Content-Type': 'application/json;charset=UTF-8',
          'X-Project-Id': '0605767ab1c24e4cb7d9fa3e51c0a5d2',
        },
        body: Buffer.from('{"update_access_agent":true}'),
      };
      const headers = signRequest(request, EXAMPLE_KEYS);
      expect(headers.Authorization).toBe(
        'SDK-HMAC-SHA256 Access=AKIDEXAMPLE, SignedHeaders=x-project-id;x-sdk-date, ' +
          'Signature=ac19d26c037266098031eb29cb897449b63cb7d83c8c02c1a7b8e64fbdc649a1',
      );
      expect(
        canonicalRequest({ ...request, headers: { ...request.headers, 'X-Sdk-Date': '20240506T070809Z' } }, [
          'x-project-id',
          'x-sdk-date',
        ]),
      ).toBe(
        'POST\n/v1/0605767ab1c24e4cb7d9fa3e51c0a5d2/app-servers/25b1dd14-0c84-4558-aa57-03a6c54b8e75/actions/reinstall/\n\n' +
          'x-project-id:0605767ab1c24e4cb7d9fa3e51c0a5d2\nx-sdk-date:20240506T070809Z\n\n' +
          'x-project-id;x-sdk-date\n4809031d0f6c14542471e60330580cffae3998d0782d421df4e5d489f579dd5c',
      );
    });

    it('sorts a query with several keys and repeated values, trims header values', () => {
      const url = new URL('https://example.huaweicloud.com/v2/p/job');
      for (const [k, v] of [
        ['zeta', '2'],
        ['alpha', 'b'],
        ['alpha', 'a'],
        ['limit', '10'],
        ['name', 'a b'],
        ['x', '/tmp/1'],
      ] as const) {
        url.searchParams.append(k, v);
      }
      const headers = signRequest(
        { method: 'GET', url, headers: { 'X-Custom': '  padded value ', X_Ignored: '1' }, body: '' },
        EXAMPLE_KEYS,
      );
      expect(headers.Authorization).toBe(
        'SDK-HMAC-SHA256 Access=AKIDEXAMPLE, SignedHeaders=x-custom;x-sdk-date, ' +
          'Signature=6d12c1a4525f02a558205a789c630008c7c1aa4c43e32edc27c994fc764dd210',
      );
    });

    it('encodes each path segment and always ends the canonical URI with "/"', () => {
      const url = new URL('https://example.huaweicloud.com/v1/a b/ü/~x.y_z-1');
      expect(url.pathname).toBe('/v1/a%20b/%C3%BC/~x.y_z-1');
      expect(canonicalUri(url.pathname)).toBe('/v1/a%20b/%C3%BC/~x.y_z-1/');
      expect(signRequest({ method: 'GET', url, headers: {}, body: '' }, EXAMPLE_KEYS).Authorization).toMatch(
        /Signature=996a38ac9240f434d758b322046fd1c6b3210d4816ec5c19c3a03447d1a9c395$/,
      );
      expect(canonicalUri('/')).toBe('/');
      expect(canonicalUri('/v1/x/')).toBe('/v1/x/');
      expect(canonicalUri("/v1/it's(1)*")).toBe('/v1/it%27s%281%29%2A/');
    });

    it('changes the signature when one body byte changes', () => {
      const base = { method: 'POST', url: new URL('https://example.huaweicloud.com/v1/x'), headers: {} };
      const a = signRequest({ ...base, body: '{"update_access_agent":false}' }, EXAMPLE_KEYS);
      const b = signRequest({ ...base, body: '{"update_access_agent":false} ' }, EXAMPLE_KEYS);
      expect(a.Authorization).not.toBe(b.Authorization);
    });
  });

  describe('X-Sdk-Date', () => {
    it('formats and parses YYYYMMDDTHHMMSSZ in UTC', () => {
      expect(formatSdkDate(SDK_DATE_2006)).toBe('20060102T150405Z');
      expect(formatSdkDate(SDK_DATE_2006 + 999)).toBe('20060102T150405Z');
      expect(parseSdkDate('20060102T150405Z')).toBe(SDK_DATE_2006);
      expect(parseSdkDate('2006-01-02T15:04:05Z')).toBeUndefined();
      expect(parseSdkDate('20061302T150405Z')).toBeUndefined();
    });
  });
});

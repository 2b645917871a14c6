/**
 * Where the Workspace application-streaming service ("WorkspaceApp") answers, by region. The
 * host name differs by region (official SDK region table): the older Chinese regions use
 * `appstream.<region>`, the others `workspace.<region>`. A target may override the endpoint.
 */

const APPSTREAM_REGIONS = ['cn-north-4', 'cn-north-9', 'cn-east-3', 'cn-south-1', 'cn-southwest-2'] as const;

const WORKSPACE_REGIONS = [
  'ap-southeast-1',
  'ap-southeast-2',
  'ap-southeast-3',
  'af-south-1',
  'af-north-1',
  'la-south-2',
  'la-north-2',
  'sa-brazil-1',
  'me-east-1',
  'tr-west-1',
  'cn-east-5',
  'cn-north-11',
] as const;

export const KNOWN_REGIONS: readonly string[] = [...APPSTREAM_REGIONS, ...WORKSPACE_REGIONS];

/** The service endpoint of a known region, or undefined for a region not in the table. */
export function regionEndpoint(region: string): string | undefined {
  if ((APPSTREAM_REGIONS as readonly string[]).includes(region)) {
    return `https://appstream.${region}.myhuaweicloud.com`;
  }
  if ((WORKSPACE_REGIONS as readonly string[]).includes(region)) {
    return `https://workspace.${region}.myhuaweicloud.com`;
  }
  return undefined;
}

/** IAM answers in every region at the same pattern of host name. */
export function regionIamEndpoint(region: string): string {
  return `https://iam.${region}.myhuaweicloud.com`;
}

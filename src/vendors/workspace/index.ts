import type { VendorModule } from '../types.js';
import { reinstallServer } from './actions.js';
import { WorkspaceClient } from './client.js';
import { type WorkspaceTarget, workspaceBaseUrl, workspaceTargetSchema } from './target.js';

/** Huawei Cloud Workspace, application streaming servers (service "WorkspaceApp"). */
export const workspaceVendor: VendorModule<WorkspaceTarget, WorkspaceClient> = {
  name: 'workspace',
  title: 'Huawei Cloud Workspace (application servers)',
  targetSchema: workspaceTargetSchema,
  baseUrl: workspaceBaseUrl,
  createClient: (target, deps) => new WorkspaceClient(target, deps),
  actions: [reinstallServer],
};

export { WorkspaceClient } from './client.js';
export type { WorkspaceTarget } from './target.js';

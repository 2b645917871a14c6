import { arcgisVendor } from './arcgis/index.js';
import { cckmVendor } from './cckm/index.js';
import { eceVendor } from './ece/index.js';
import type { ActionDef, VendorModule } from './types.js';
import { workspaceVendor } from './workspace/index.js';

/** Every vendor opsbot knows. Adding a vendor is one folder and one line here. */
export const VENDORS: readonly VendorModule[] = [arcgisVendor, eceVendor, workspaceVendor, cckmVendor];

export interface RegisteredAction {
  vendor: VendorModule;
  action: ActionDef;
}

const byId = new Map<string, RegisteredAction>();
for (const vendor of VENDORS) {
  for (const action of vendor.actions) byId.set(action.id, { vendor, action });
}

export function findVendor(name: string): VendorModule | undefined {
  return VENDORS.find((vendor) => vendor.name === name);
}

export function findActionById(id: string): RegisteredAction | undefined {
  return byId.get(id);
}

export function allActions(): RegisteredAction[] {
  return [...byId.values()];
}

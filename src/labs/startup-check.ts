import { errorCode } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { CapacityPort } from "../ports/capacity.ts";

export interface LabSettingsCheck {
  /** `ok`: the location offers the size; `warning`: it does not (or restricts it); `unchecked`: the reads failed. */
  status: "ok" | "warning" | "unchecked";
  message: string;
}

/**
 * Bad settings found at start-up rather than at the first lab: does Compute
 * know AZURE_LOCATION, and does it offer LABOPS_VM_SIZE there to this
 * subscription? Never stops the worker (a warning in the log names the
 * setting and what to set); the pre-flight refuses each lab again anyway.
 */
export async function checkLabSettings(
  capacity: CapacityPort,
  settings: { location: string; vmSize: string },
  logger: Pick<Logger, "info" | "warn">,
  signal: AbortSignal,
): Promise<LabSettingsCheck> {
  const { location, vmSize } = settings;
  let result: LabSettingsCheck;
  try {
    const sizes = await capacity.vmSizes(location, signal);
    const size = sizes.find((s) => s.name.toLowerCase() === vmSize.toLowerCase());
    const restriction = size?.restrictions.find((r) => r.type.toLowerCase() === "location");
    if (sizes.length === 0) {
      result = {
        status: "warning",
        message: `AZURE_LOCATION=${location}: Azure offers no VM size to this subscription there (a misspelt or unavailable region); every lab will be refused. Set a region such as centralus (\`az account list-locations -o table\`).`,
      };
    } else if (!size) {
      result = {
        status: "warning",
        message: `LABOPS_VM_SIZE=${vmSize} is not offered in ${location}; every lab will be refused. Set a size offered there (\`az vm list-skus -l ${location} --resource-type virtualMachines -o table\`).`,
      };
    } else if (restriction) {
      result = {
        status: "warning",
        message: `LABOPS_VM_SIZE=${vmSize} is restricted for this subscription in ${location} (${restriction.reasonCode}); every lab will be refused. Set another size or region, or ask Azure support to enable it (https://aka.ms/azureskunotavailable).`,
      };
    } else {
      result = {
        status: "ok",
        message: `${vmSize} (${size.vCpus} vCPUs, ${size.family}) is offered in ${location}.`,
      };
    }
  } catch (error) {
    if (signal.aborted) throw error;
    result = {
      status: "unchecked",
      message: `Could not read the VM sizes of ${location} (${errorCode(error)}); AZURE_LOCATION and LABOPS_VM_SIZE are unchecked.`,
    };
  }
  const fields = { location, vmSize, status: result.status };
  if (result.status === "ok") logger.info(fields, `startup.lab_settings: ${result.message}`);
  else logger.warn(fields, `startup.lab_settings: ${result.message}`);
  return result;
}

import type { ChatUser } from "../../src/ports/chat.ts";
import type { LabRecord } from "../../src/ports/registry.ts";

/** A lab as the create workflow registers it, created now (on the wall clock) and expiring in 8 h. */
export function labRecord(
  name: string,
  owner: ChatUser,
  address: LabRecord["address"],
  state: LabRecord["state"] = "ready",
): LabRecord {
  const now = Date.now();
  return {
    name,
    state,
    owner,
    address,
    location: "centralus",
    createdAt: now,
    updatedAt: now,
    expiresAt: now + 8 * 3_600_000,
    outputs: {},
  };
}

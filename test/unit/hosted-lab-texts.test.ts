import { describe, expect, it } from "vitest";
import { type IntakeDeps, intake } from "../../src/commands/intake.ts";
import { connectField, progressCard } from "../../src/labs/cards.ts";
import { destroyedLabCard, destroyedWhat } from "../../src/labs/lab-card.ts";
import { createLogger } from "../../src/log.ts";
import type { ChatAddress, ChatUser } from "../../src/ports/chat.ts";
import type { LabRecord } from "../../src/ports/registry.ts";
import { MemoryAuditLog } from "../fakes/audit.ts";
import { ManualClock } from "../fakes/clock.ts";
import { MemoryConfirmationStore } from "../fakes/confirmations.ts";
import { MemoryDeliveryLog } from "../fakes/deliveries.ts";
import { MemoryQueue } from "../fakes/queue.ts";
import { MemoryLabRegistry } from "../fakes/registry.ts";

/** Issue 16: every text about a lab on a host says what it really is (a namespace on the host), not a cluster of its own. */

const here: ChatAddress = { platform: "slack", tenant: "T1", channel: "C1" };
const ada: ChatUser = { platform: "slack", id: "U-ADA", name: "ada" };
const T0 = Date.UTC(2026, 11, 1, 9, 0, 0);

function lab(name: string, host?: string): LabRecord {
  return {
    name,
    state: "ready",
    owner: ada,
    address: here,
    location: "westeurope",
    createdAt: T0,
    updatedAt: T0,
    expiresAt: T0 + 3_600_000,
    outputs: { vaultName: `kv-${name}-abcde` },
    ...(host ? { host } : {}),
  };
}

async function destroyPrompt(record: LabRecord): Promise<string> {
  const clock = new ManualClock({ now: T0 });
  const registry = new MemoryLabRegistry();
  await registry.create(record);
  const deps: IntakeDeps = {
    queue: new MemoryQueue(),
    registry,
    confirmations: new MemoryConfirmationStore(clock),
    audit: new MemoryAuditLog(),
    deliveries: new MemoryDeliveryLog(clock),
    admins: [],
    logger: createLogger({ level: "silent" }),
    clock,
  };
  const outcome = await intake(
    {
      deliveryId: "d1",
      correlationId: "c1",
      origin: { address: here, user: ada },
      receivedAt: T0,
      parsed: { ok: true, command: { kind: "lab.destroy", lab: record.name, confirmed: false } },
    },
    deps,
  );
  if (outcome.kind !== "confirm") throw new Error(`expected a confirmation, got ${outcome.kind}`);
  return outcome.prompt.text;
}

describe("texts about a lab on a host", () => {
  it("the destroy confirmation of a hosted lab names its namespace on the host, and says the host stays", async () => {
    const text = await destroyPrompt(lab("team-a", "ws"));
    expect(text).toBe(
      "This deletes its namespace `lab-team-a` on host `ws` and its resource group (the Key Vault and its secrets, the identity), and purges the vault. The host and the other labs on it stay. It cannot be undone.",
    );
    expect(text).not.toMatch(/AKS cluster/);
  });

  it("the destroy confirmation of a dedicated lab still names its own AKS cluster", async () => {
    expect(await destroyPrompt(lab("team-b"))).toMatch(/its resource group \(the AKS cluster, the Key Vault/);
  });

  it("the destroyed card and reply say the namespace went and the host stays", () => {
    expect(destroyedWhat("team-a", "ws")).toBe(
      "its namespace `lab-team-a` on host `ws` and its resource group are deleted and its vault purged; the host and the other labs on it stay",
    );
    expect(destroyedWhat("team-b", undefined)).toBe("its resource group is deleted and its vault purged");
    const card = destroyedLabCard("team-a", T0, { by: "ada", timeScale: 1, host: "ws" });
    expect(card.text).toContain("namespace `lab-team-a` on host `ws`");
  });

  it("the ready card's Connect line names the HOST's cluster and the team's namespace", () => {
    expect(connectField(lab("team-a", "ws")).value).toBe(
      "`az aks get-credentials -g host-ws-rg -n host-ws-aks`, `kubelogin convert-kubeconfig -l azurecli`, then `kubectl -n lab-team-a get pods`",
    );
    expect(connectField(lab("team-b")).value).toBe(
      "`az aks get-credentials -g lab-team-b-rg -n lab-team-b-aks`, then `kubectl -n secret-lab get pods`",
    );
    const card = progressCard({
      lab: "team-a",
      verb: "create",
      status: "succeeded",
      steps: [],
      correlationId: "c1",
      startedAt: T0,
      now: T0 + 60_000,
      record: lab("team-a", "ws"),
    });
    expect(card.fields?.find((f) => f.label === "Connect")?.value).toContain("-n host-ws-aks");
  });

  it("a host's own card has no Connect line (no team runs in it)", () => {
    const card = progressCard({
      lab: "ws",
      noun: "Host",
      verb: "create",
      status: "succeeded",
      steps: [],
      correlationId: "c1",
      startedAt: T0,
      now: T0 + 60_000,
      record: lab("ws"),
    });
    expect(card.fields?.some((f) => f.label === "Connect")).toBe(false);
  });
});

import { AppsV1Api, CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAzureClients } from "../../adapters/azure/clients.ts";
import { createAzureCredential } from "../../adapters/azure/credential.ts";
import { type BotWorld, cardOf, slackChannel, startBotWorld } from "../helpers/bot-world.ts";
import { waitFor } from "../helpers/env.ts";
import { CSI_DRIVER_RELEASES } from "../helpers/world.ts";

/**
 * Rotations that do not make it, against the emulators through the real bot:
 * Reloader removed, new pods crash-looping on the new value, and pods
 * restarting with no vault change behind them. Each is said once, naming the
 * hop, the likely cause and the pods.
 */
const TIME_SCALE = 600;
const CHANNEL = "C0STUCK";

// Under each CSI driver release the AKS emulator models (the watcher relies on no rotation event).
const SUITE = "rotation watcher: stuck rotations and restarts with no vault change (CSI driver %s)";

describe.each(CSI_DRIVER_RELEASES)(SUITE, (csiDriver) => {
  let w: BotWorld;
  const { say, rootsTitled, replies } = slackChannel(() => w, CHANNEL);

  beforeAll(async () => {
    // Healthy hops take milliseconds here; a few seconds is still far above watch latency.
    w = await startBotWorld(TIME_SCALE, { watcher: { deadlineFloorMs: 4_000 }, csiDriver });
  });

  afterAll(async () => {
    await w?.stop();
  });

  const cluster = (lab: string) => {
    const c = w.world.cloud.kube.cluster(`lab-${lab}-aks`);
    if (!c) throw new Error(`no cluster for ${lab}`);
    return c;
  };
  const kube = (lab: string) => {
    const kc = new KubeConfig();
    kc.loadFromString(cluster(lab).kubeconfig());
    return { core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api) };
  };
  const podinfo = async (lab: string) =>
    (await kube(lab).core.listNamespacedPod({ namespace: "secret-lab", labelSelector: "app=podinfo" })).items
      .filter((p) => !p.metadata?.deletionTimestamp)
      .map((p) => p.metadata?.name ?? "");
  const vaultOf = async (lab: string) => (await w.registry.get(lab))?.outputs.vaultName ?? "";
  const watched = (lab: string) =>
    waitFor(
      () =>
        w.logs.entries().some((e) => e.msg === "watcher.lab_started" && e.lab === lab) ? true : undefined,
      `the watcher to take ${lab}`,
      20_000,
    );

  it("creates two labs", { timeout: 90_000 }, async () => {
    await say("/lab", "create team-r --ttl 7d");
    await say("/lab", "create team-c --ttl 7d");
    for (const lab of ["team-r", "team-c"]) {
      await waitFor(
        async () => ((await w.registry.get(lab))?.state === "ready" ? true : undefined),
        `${lab} to be ready`,
        60_000,
        50,
      );
      await watched(lab);
    }
  });

  it("says a rotation is stuck waiting for Reloader when Reloader is gone", { timeout: 60_000 }, async () => {
    await kube("team-r").apps.deleteNamespacedDeployment({
      namespace: "reloader",
      name: "reloader-reloader",
    });
    await waitFor(
      () => (cluster("team-r").inventory().reloaderActive ? undefined : true),
      "Reloader to stop",
    );
    await say("/secret", "rotate color orange --lab team-r");
    const thread = await waitFor(() => rootsTitled(/^Rotation: color in team-r/).at(-1), "the rotate thread");
    const stuck = await waitFor(
      () => replies(thread).find((m) => /^Stuck:/.test(m.text)),
      "the stuck report in the rotate thread",
      30_000,
    );
    expect(stuck.text).toMatch(
      /^Stuck: color: [0-9a-f]{8} is stuck at reloaded \(Reloader rolls the deployment\) [\d.hms]+ after the write\. Likely cause: Reloader is not running in the cluster \(namespace reloader\)\.$/,
    );
    await waitFor(() => (cardOf(thread).includes(":warning:") ? true : undefined), "the card to warn");
    // It went where the command was: no alert thread of its own, and it is said once.
    expect(rootsTitled(/^Rotation/)).toHaveLength(1);
    expect(replies(thread).filter((m) => /Stuck/.test(m.text))).toHaveLength(1);
  });

  it("names rotation turned off in the cluster's addon when nothing syncs", { timeout: 60_000 }, async () => {
    // Someone turns secret rotation off in the AKS addon, through ARM, as `az aks addon update` would.
    const azure = w.world.cloud.azure;
    const clients = createAzureClients({
      endpoint: azure.armEndpoint,
      credential: createAzureCredential({
        tenantId: azure.tenantId,
        clientId: azure.bot.clientId,
        clientSecret: azure.bot.clientSecret,
        authorityHost: azure.authorityHost,
        caPem: azure.caPem,
      }),
      subscriptionId: azure.subscriptionId,
      caPem: azure.caPem,
    });
    const aks = clients.containerService.managedClusters;
    const current = await aks.get("lab-team-r-rg", "lab-team-r-aks");
    const addon = current.addonProfiles?.azureKeyvaultSecretsProvider;
    await aks
      .createOrUpdate("lab-team-r-rg", "lab-team-r-aks", {
        ...current,
        addonProfiles: {
          ...current.addonProfiles,
          azureKeyvaultSecretsProvider: {
            enabled: true,
            config: { ...(addon?.config ?? {}), enableSecretRotation: "false" },
          },
        },
      })
      .pollUntilDone();
    await waitFor(
      () => (cluster("team-r").inventory().csi.rotation ? undefined : true),
      "rotation to be off",
    );

    await w.world.cloud.azure.writeSecretAsOperator(await vaultOf("team-r"), "color", "amber");
    const alert = await waitFor(
      () => rootsTitled(/^Rotation stuck: color in team-r/).at(-1),
      "the stuck alert",
      30_000,
    );
    expect(alert.text).toMatch(
      /is stuck at synced \(the CSI driver writes the new version into the synced Secret\) [\d.hms]+ after the write\. Likely cause: secret rotation is disabled in the cluster's Key Vault CSI addon \(enableSecretRotation=false\)\./,
    );
  });

  it("names the new pods that crash-loop on a value set outside labops", { timeout: 60_000 }, async () => {
    const stopCrashing = cluster("team-c").crashLoop({
      namespace: "secret-lab",
      labelSelector: "app=podinfo",
      env: { name: "PODINFO_UI_COLOR", value: "crimson" },
    });
    const before = await podinfo("team-c");
    await w.world.cloud.azure.writeSecretAsOperator(await vaultOf("team-c"), "color", "crimson");
    const alert = await waitFor(
      () => rootsTitled(/^Rotation stuck: color in team-c/).at(-1),
      "the stuck alert",
      30_000,
    );
    const crashing =
      /new pods are crash-looping on the new value: (podinfo-csi-[a-z0-9-]+(?:, podinfo-csi-[a-z0-9-]+)*)/.exec(
        alert.text,
      );
    expect(crashing, alert.text).not.toBeNull();
    const named = crashing?.[1]?.split(", ") ?? [];
    expect(named.length).toBeGreaterThan(0);
    for (const pod of named) expect(before).not.toContain(pod);
    expect(alert.text).toMatch(/is stuck at ready \(every new pod is Ready\)/);
    expect(alert.text).toMatch(/Changed outside labops/);
    expect(cardOf(alert)).not.toContain("crimson");

    // A good value replaces it: the stuck rotation is superseded in its own thread, the new one completes.
    stopCrashing();
    await w.world.cloud.azure.writeSecretAsOperator(await vaultOf("team-c"), "color", "green");
    await waitFor(
      () => replies(alert).find((m) => /A newer version \([0-9a-f]{8}\) replaced/.test(m.text)),
      "the superseded note",
      30_000,
    );
    await waitFor(
      () => rootsTitled(/^Rotation traced: color in team-c/).at(-1),
      "the good rotation to complete",
      30_000,
    );
    expect(rootsTitled(/^Rotation stuck: color in team-c/)).toHaveLength(1);
  });

  it("reports restarts with no vault change apart, once, and keeps its card current", {
    timeout: 90_000,
  }, async () => {
    const rotationsBefore = rootsTitled(/^Rotation/).length;
    const stop = cluster("team-c").crashLoop({
      namespace: "secret-lab",
      labelSelector: "app=podinfo",
      env: { name: "PODINFO_UI_COLOR", value: "green" },
    });
    try {
      // One pod goes (as an eviction or a delete would take it); its replacement crash-loops on the same value.
      const [victim] = await podinfo("team-c");
      await kube("team-c").core.deleteNamespacedPod({ namespace: "secret-lab", name: victim ?? "" });
      const report = await waitFor(
        () => rootsTitled(/^Restarts with no vault change: team-c/).at(-1),
        "the restart report",
        30_000,
      );
      expect(report.text).toMatch(/with no new secret version behind them \(not a rotation\)/);
      expect(cardOf(report)).toContain(victim);
      // The crash loop goes on: the same card counts on, and no second report or rotation alert appears.
      const restarts = cluster("team-c").inventory().restarts;
      await waitFor(
        () => (cluster("team-c").inventory().restarts >= restarts + 4 ? true : undefined),
        "more restarts",
        30_000,
      );
      await waitFor(() => (report.edits > 0 ? true : undefined), "the report's card to be updated", 10_000);
      expect(cardOf(report)).toMatch(/\d+ restarts/);
      expect(rootsTitled(/^Restarts with no vault change/)).toHaveLength(1);
      expect(rootsTitled(/^Rotation/)).toHaveLength(rotationsBefore);
    } finally {
      stop();
    }
  });
});

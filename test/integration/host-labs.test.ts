import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisHostRegistry } from "../../adapters/redis/registry.ts";
import type { HostRegistry } from "../../src/ports/registry.ts";
import { type BotWorld, cardOf, slackChannel, startBotWorld } from "../helpers/bot-world.ts";
import { waitFor } from "../helpers/env.ts";

/**
 * Labs that share one host cluster (issue 16), through the real bot and the
 * emulators: a host, three labs on it each in its own namespace with its own
 * vault and identity, a rotation in one team that rolls only its pods, one
 * team's identity refused by another team's vault and by a namespace its
 * federated credential does not name, a lab destroyed without touching the
 * others, and the host's destroy refused while labs live, then forced.
 */
const TIME_SCALE = 600;
const HOST = "ws";
const TEAMS = ["team-a", "team-b", "team-c"] as const;

describe("labs on a host cluster", () => {
  let w: BotWorld;
  let hosts: HostRegistry;
  const admin = slackChannel(() => w, "C0HOSTS", { id: "U0ADMIN", name: "org" });
  const learner = slackChannel(() => w, "C0HOSTS", { id: "U0LEARN", name: "lee" });
  const teams = Object.fromEntries(
    TEAMS.map((t, i) => [t, slackChannel(() => w, `C0TEAM${i}`, { id: `U0TEAM${i}`, name: t })]),
  );
  const team = (t: (typeof TEAMS)[number]) => teams[t] ?? admin;

  beforeAll(async () => {
    w = await startBotWorld(TIME_SCALE, { env: { LABOPS_ADMINS: "slack:U0ADMIN" } });
    hosts = redisHostRegistry(w.redis, w.prefix);
  });
  afterAll(async () => {
    await w?.stop();
  });

  const hostCluster = () => w.world.cloud.kube.cluster(`host-${HOST}-aks`);
  const podsOf = async (namespace: string) => {
    const kc = new k8s.KubeConfig();
    kc.loadFromString(hostCluster()?.kubeconfig() ?? "");
    const core = kc.makeApiClient(k8s.CoreV1Api);
    return (await core.listNamespacedPod({ namespace, labelSelector: "app=podinfo" })).items;
  };
  const colorOf = (namespace: string, pod: string) =>
    hostCluster()?.podMounts(namespace, pod)?.["secrets-store"]?.color;
  const resourceGroups = () =>
    w.world.cloud.azure
      .inventory()
      .resources.filter((r) => r.type === "Microsoft.Resources/resourceGroups")
      .map((r) => r.name);
  const labState = async (lab: string) => (await w.registry.get(lab))?.state;

  it("refuses a host to a non-admin and builds one for an admin", { timeout: 90_000 }, async () => {
    const refused = await learner.say("/host", `create ${HOST}`);
    expect(refused).toMatch(/Only an admin/);
    expect(await admin.say("/host", `create ${HOST} --nodes 3 --ttl 8h`)).toMatch(
      /Queued `host create ws --nodes 3`/,
    );
    const ready = await waitFor(
      async () => ((await hosts.get(HOST))?.state === "ready" ? hosts.get(HOST) : undefined),
      "the host to be ready",
      60_000,
    );
    expect(ready?.nodeCount).toBe(3);
    expect(ready?.outputs.oidcIssuerUrl).toMatch(/^https:/);
    // No team in it: no vault, no identity, and no lab record.
    const counts = w.world.cloud.azure.inventory().counts;
    expect(counts["Microsoft.KeyVault/vaults"]?.created ?? 0).toBe(0);
    expect(await w.registry.list()).toEqual([]);
    await waitFor(
      () => (admin.roots().some((m) => /Host ws is ready/.test(m.text)) ? true : undefined),
      "the host card",
    );
  });

  it("puts three labs on it, each ready on its own vault's values in its own namespace", {
    timeout: 120_000,
  }, async () => {
    await Promise.all(TEAMS.map((t) => team(t).say("/lab", `create ${t} --on ${HOST}`)));
    for (const t of TEAMS)
      await waitFor(async () => ((await labState(t)) === "ready" ? true : undefined), `${t} ready`, 90_000);
    // One cluster for all of them.
    expect(w.world.cloud.kube.clusters()).toHaveLength(1);
    const vaults = new Set<string>();
    for (const t of TEAMS) {
      const record = await w.registry.get(t);
      expect(record?.host).toBe(HOST);
      vaults.add(record?.outputs.vaultName ?? "");
      // Every lab's steps but the cluster's.
      expect(Object.keys(record?.steps ?? {})).not.toContain("aks");
    }
    expect(vaults.size).toBe(3);
    // Different colors in each vault, written through each team's own conversation.
    const colors = { "team-a": "red", "team-b": "green", "team-c": "purple" } as const;
    for (const t of TEAMS) await team(t).say("/secret", `rotate color ${colors[t]} --lab ${t}`);
    for (const t of TEAMS) {
      await waitFor(
        async () => {
          const pods = (await podsOf(`lab-${t}`)).filter((p) => !p.metadata?.deletionTimestamp);
          const ready = pods.filter((p) =>
            p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
          );
          return ready.length === 2 &&
            ready.every((p) => colorOf(`lab-${t}`, p.metadata?.name ?? "") === colors[t])
            ? true
            : undefined;
        },
        `${t}'s pods on ${colors[t]}`,
        60_000,
      );
    }
  });

  it("watches the host once, whatever the number of teams on it", { timeout: 30_000 }, async () => {
    await waitFor(
      () =>
        w.logs.text().split('"msg":"watcher.lab_started"').length - 1 === TEAMS.length ? true : undefined,
      "the watcher to take every lab",
      20_000,
    );
    // One watch per kind (secret, deployment, replicaset, pod, mount, event) across the three namespaces.
    await waitFor(
      () => (hostCluster()?.inventory().watches === 6 ? true : undefined),
      "six watches on the host",
    );
  });

  it("rolls only the rotating team's pods and tells only its conversation", { timeout: 90_000 }, async () => {
    // The colors' rollouts are over: only the new pods are left.
    for (const t of TEAMS) {
      await waitFor(
        async () => ((await podsOf(`lab-${t}`)).length === 2 ? true : undefined),
        `${t} settled`,
        30_000,
      );
    }
    const before = Object.fromEntries(
      await Promise.all(
        TEAMS.map(async (t) => [t, (await podsOf(`lab-${t}`)).map((p) => p.metadata?.uid).sort()] as const),
      ),
    );
    const roots = (t: (typeof TEAMS)[number]) => team(t).rootsTitled(/^Rotation/).length;
    const otherRoots = [roots("team-b"), roots("team-c")];
    const earlier = team("team-a").rootsTitled(/^Rotation: color in team-a/).length;
    await team("team-a").say("/secret", "rotate color orange --lab team-a");
    const thread = await waitFor(
      () => team("team-a").rootsTitled(/^Rotation: color in team-a/)[earlier],
      "team-a's rotation thread",
    );
    await waitFor(
      () => (/reached 2\/2 pods/.test(thread.text) ? true : undefined),
      "team-a's rotation traced to its pods",
      45_000,
    );
    const after = Object.fromEntries(
      await Promise.all(
        TEAMS.map(async (t) => [t, (await podsOf(`lab-${t}`)).map((p) => p.metadata?.uid).sort()] as const),
      ),
    );
    expect(after["team-a"]).not.toEqual(before["team-a"]);
    expect(after["team-b"]).toEqual(before["team-b"]);
    expect(after["team-c"]).toEqual(before["team-c"]);
    expect([roots("team-b"), roots("team-c")]).toEqual(otherRoots);
  });

  it("refuses one team's identity on another team's vault, and in a namespace its credential does not name", {
    timeout: 60_000,
  }, async () => {
    const a = await w.registry.get("team-a");
    const b = await w.registry.get("team-b");
    const kc = new k8s.KubeConfig();
    kc.loadFromString(hostCluster()?.kubeconfig() ?? "");
    const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const spc = (ns: string, vault: string) => ({
      apiVersion: "secrets-store.csi.x-k8s.io/v1",
      kind: "SecretProviderClass",
      metadata: { name: "borrowed", namespace: ns },
      spec: {
        provider: "azure",
        parameters: {
          usePodIdentity: "false",
          clientID: a?.outputs.identityClientId ?? "",
          keyvaultName: vault,
          tenantId: w.world.env().AZURE_TENANT_ID ?? "",
          objects: "array:\n  - |\n    objectName: color\n    objectType: secret\n",
        },
      },
    });
    const pod = (ns: string, sa: string) => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "intruder", namespace: ns, labels: { "azure.workload.identity/use": "true" } },
      spec: {
        serviceAccountName: sa,
        containers: [{ name: "c", image: "ghcr.io/stefanprodan/podinfo:6.7.1" }],
        volumes: [
          {
            name: "kv",
            csi: {
              driver: "secrets-store.csi.k8s.io",
              readOnly: true,
              volumeAttributes: { secretProviderClass: "borrowed" },
            },
          },
        ],
      },
    });
    // team-a's own namespace and service account, pointed at team-b's vault: the token works, the vault says no.
    await objects.create(spc("lab-team-a", b?.outputs.vaultName ?? ""));
    await objects.create(pod("lab-team-a", "secret-lab-sa"));
    // Another namespace with a service account claiming team-a's identity: Entra finds no matching credential.
    await core.createNamespace({ body: { metadata: { name: "intruders" } } });
    await core.createNamespacedServiceAccount({
      namespace: "intruders",
      body: {
        metadata: {
          name: "secret-lab-sa",
          annotations: { "azure.workload.identity/client-id": a?.outputs.identityClientId ?? "" },
        },
      },
    });
    await objects.create(spc("intruders", a?.outputs.vaultName ?? ""));
    await objects.create(pod("intruders", "secret-lab-sa"));
    const mountFailure = (ns: string, pattern: RegExp) =>
      waitFor(
        async () => {
          const events = (await core.listNamespacedEvent({ namespace: ns })).items;
          return events.find(
            (e) =>
              e.reason === "FailedMount" &&
              e.involvedObject.name === "intruder" &&
              pattern.test(e.message ?? ""),
          );
        },
        `a FailedMount in ${ns}`,
        30_000,
      );
    expect((await mountFailure("lab-team-a", /403|Forbidden/)).message).not.toMatch(/AADSTS/);
    expect((await mountFailure("intruders", /AADSTS70021/)).message).toMatch(
      /system:serviceaccount:intruders:secret-lab-sa/,
    );
    await core.deleteNamespace({ name: "intruders" });
    await core.deleteNamespacedPod({ namespace: "lab-team-a", name: "intruder" });
  });

  it("answers lab status and host status for labs on a host", { timeout: 30_000 }, async () => {
    await team("team-b").say("/lab", "status team-b");
    const status = await waitFor(
      () =>
        team("team-b")
          .roots()
          .find((m) => /^Lab team-b: ready/.test(m.text)),
      "team-b's status card",
    );
    const card = cardOf(status);
    expect(card).toContain("host `ws` (namespace `lab-team-b`) Succeeded");
    expect(card).toMatch(/podinfo-csi-[a-z0-9]+-[a-z0-9]+` ready/);
    await learner.say("/host", `status ${HOST}`);
    const host = await waitFor(
      () => admin.roots().find((m) => /^Host ws: ready/.test(m.text)),
      "the host card",
    );
    expect(cardOf(host)).toMatch(/team-a.*team-b.*team-c/s);
  });

  it("refuses the host's destroy while labs live on it", { timeout: 30_000 }, async () => {
    await admin.say("/host", `destroy ${HOST} --yes`);
    await waitFor(
      () => (admin.messages().some((m) => /Host `ws` still has 3 labs/.test(m.text)) ? true : undefined),
      "the refusal",
    );
    expect((await hosts.get(HOST))?.state).toBe("ready");
  });

  it("destroys one lab and leaves the host and the other teams intact", { timeout: 90_000 }, async () => {
    const others = Object.fromEntries(
      await Promise.all(
        ["team-a", "team-b"].map(
          async (t) => [t, (await podsOf(`lab-${t}`)).map((p) => p.metadata?.uid).sort()] as const,
        ),
      ),
    );
    // Its ready card says how to reach it: the HOST's cluster, the team's namespace.
    const ready = team("team-c")
      .roots()
      .find((m) => /^Lab team-c is ready/.test(m.text));
    expect(JSON.stringify(ready?.blocks ?? [])).toContain(
      "az aks get-credentials -g host-ws-rg -n host-ws-aks`, `kubelogin convert-kubeconfig -l azurecli`, then `kubectl -n lab-team-c get pods",
    );
    // The confirmation says what goes (the namespace on the host, the team's group) and that the host stays.
    const asked = await w.slack.slashCommand({
      command: "/lab",
      text: "destroy team-c",
      channel: "C0TEAM2",
      user: "U0TEAM2",
      userName: "team-c",
    });
    const prompt = JSON.stringify(asked.json());
    expect(prompt).toContain("namespace `lab-team-c` on host `ws`");
    expect(prompt).toContain("The host and the other labs on it stay.");
    expect(prompt).not.toMatch(/AKS cluster/);
    await team("team-c").say("/lab", "destroy team-c --yes");
    await waitFor(
      async () => ((await w.registry.get("team-c")) ? undefined : true),
      "team-c forgotten",
      60_000,
    );
    await waitFor(
      () =>
        team("team-c")
          .messages()
          .find((m) => /is gone: its namespace `lab-team-c` on host `ws`/.test(m.text)),
      "the destroy's last word",
    );
    const kc = new k8s.KubeConfig();
    kc.loadFromString(hostCluster()?.kubeconfig() ?? "");
    const namespaces = await kc.makeApiClient(k8s.CoreV1Api).listNamespace();
    expect(namespaces.items.map((n) => n.metadata?.name)).not.toContain("lab-team-c");
    const azure = w.world.cloud.azure.inventory();
    expect(JSON.stringify(azure.resources)).not.toMatch(/team-c/);
    expect(azure.deletedVaults.map((v) => v.name).filter((n) => n.includes("team-c"))).toEqual([]);
    const rgs = resourceGroups();
    expect(rgs).toEqual(expect.arrayContaining(["host-ws-rg", "lab-team-a-rg", "lab-team-b-rg"]));
    for (const t of ["team-a", "team-b"]) {
      expect((await podsOf(`lab-${t}`)).map((p) => p.metadata?.uid).sort()).toEqual(others[t]);
    }
  });

  it("destroys the host with --force, its labs first", { timeout: 120_000 }, async () => {
    await admin.say("/host", `destroy ${HOST} --force --yes`);
    await waitFor(async () => ((await hosts.get(HOST)) ? undefined : true), "the host forgotten", 90_000);
    expect(await w.registry.list()).toEqual([]);
    const rgs = resourceGroups();
    expect(rgs.filter((g) => /^(lab|host)-/.test(g))).toEqual([]);
    await waitFor(
      () => (admin.roots().some((m) => /Host ws is destroyed/.test(m.text)) ? true : undefined),
      "the host's destroy card",
    );
  });
});

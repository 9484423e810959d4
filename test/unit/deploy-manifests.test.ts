import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { SLACK_EVENTS_PATH } from "../../adapters/slack/app.ts";
import {
  buildTeamsAppPackage,
  PACKAGE_FILES,
  renderTeamsManifest,
  TeamsPackageError,
} from "../../infra/deploy/teams/build-app-package.ts";
import { parseSlashCommand, USAGE } from "../../src/commands/parse.ts";
import { ROLE } from "../../src/labs/naming.ts";
import { checkRendered, DEPLOYMENTS } from "../helpers/deploy-checks.ts";
import { type KubeObject, kustomizationDirs, renderKustomization } from "../helpers/kustomize.ts";
import { decodePng } from "../helpers/png.ts";
import { readZip } from "../helpers/zip.ts";

/**
 * infra/deploy must not drift from the code or weaken: the rendered
 * Kubernetes manifests meet the production bar, the Slack and Teams app
 * manifests list exactly the command grammar, the Bicep grants only what the
 * bot assigns, and `npm run teams:package` writes a valid package.
 */

const root = fileURLToPath(new URL("../..", import.meta.url));
const deploy = join(root, "infra/deploy");
const k8s = join(deploy, "kubernetes");
const TEAMS_PATH = "/api/messages";
const PUBLIC_PATHS = [SLACK_EVENTS_PATH, TEAMS_PATH];
const APP_ID = "1b4e28ba-2fa1-11d2-883f-0016d3cca427";
// biome-ignore lint/suspicious/noTemplateCurlyInString: the manifest's literal placeholder, filled by teams:package
const APP_ID_PLACEHOLDER = "${MICROSOFT_APP_ID}";
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const read = (path: string) => readFileSync(join(root, path), "utf8");

// --- the command grammar, as the app manifests must show it -----------------

const usages = Object.values(USAGE);
/** "lab create NAME [--ttl 8h]" -> "lab create"; "help" -> "help". */
function commandTitle(usage: string): string {
  const words = usage.split(" ");
  const end = words.findIndex((w) => !/^[a-z]+$/.test(w));
  return words.slice(0, end < 0 ? words.length : end).join(" ");
}
const titles = usages.map(commandTitle);
/**
 * Teams shows at most 10 commands per list: the admins' host and workshop commands stay
 * out of it (they are typed, and listed by `help`); every other command is in it.
 */
// Teams menus hold 10 commands: the organiser's (hosts, workshops, granting a lab's members) are left to help.
const teamsUsages = usages.filter(
  (u) => !u.startsWith("host ") && !u.startsWith("workshop ") && !/^lab (grant|revoke) /.test(u),
);
const teamsTitles = teamsUsages.map(commandTitle);
/** The slash commands: every command word that takes a verb (`lab`, `secret`). */
const heads = [...new Set(titles.filter((t) => t.includes(" ")).map((t) => t.split(" ")[0] ?? ""))];

describe("the kubernetes manifests", () => {
  const found = kustomizationDirs(k8s);

  it("are a kustomize base with production and staging overlays", () => {
    expect(found.map((d) => relative(k8s, d))).toEqual(["base", "overlays/production", "overlays/staging"]);
  });

  describe.each(found.map((d) => [relative(k8s, d), d] as const))("%s", (name, dir) => {
    const objects = renderKustomization(dir);

    it("meet the production bar: probes, non-root, read-only root, limits, workload identity, no secret in clear", () => {
      expect(checkRendered(objects, { pinnedImage: name !== "base", publicPaths: PUBLIC_PATHS })).toEqual([]);
    });

    it("run one Deployment per role", () => {
      const names = objects.filter((o) => o.kind === "Deployment").map((o) => o.metadata.name);
      expect(names.sort()).toEqual(Object.values(DEPLOYMENTS).sort());
    });
  });

  it("publish only the chat endpoints in production, over TLS", () => {
    const ingress = renderKustomization(join(k8s, "overlays/production")).filter((o) => o.kind === "Ingress");
    expect(ingress).toHaveLength(1);
    const paths = JSON.stringify(ingress[0]?.spec);
    for (const p of PUBLIC_PATHS) expect(paths).toContain(`"path":"${p}"`);
  });

  it.runIf(spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" }).status === 0)(
    "render exactly as `kubectl kustomize` does (when kubectl is installed)",
    () => {
      const key = (o: KubeObject) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
      const byKey = (list: KubeObject[]) => Object.fromEntries(list.map((o) => [key(o), o]));
      for (const dir of found) {
        const text = execFileSync("kubectl", ["kustomize", dir], { encoding: "utf8" });
        const theirs = parseAllDocuments(text).map((d) => d.toJS() as KubeObject);
        expect(byKey(renderKustomization(dir)), relative(k8s, dir)).toEqual(byKey(theirs));
      }
    },
  );
});

describe("the manifest checks", () => {
  // Each weakening below must be reported, so the clean result above means something.
  const base = () => renderKustomization(join(k8s, "overlays/production"));
  const webPod = (objects: KubeObject[]) => {
    const web = objects.find((o) => o.metadata.name === DEPLOYMENTS.web && o.kind === "Deployment");
    // biome-ignore lint/suspicious/noExplicitAny: a deliberately untyped mutation of a parsed manifest
    return (web as any).spec.template.spec;
  };
  const problemsAfter = (mutate: (objects: KubeObject[]) => void) => {
    const objects = base();
    mutate(objects);
    return checkRendered(objects, { pinnedImage: true, publicPaths: PUBLIC_PATHS }).join("\n");
  };

  it.each([
    [
      "no readiness probe",
      (o: KubeObject[]) => delete webPod(o).containers[0].readinessProbe,
      /readiness probe/,
    ],
    [
      "no liveness probe",
      (o: KubeObject[]) => delete webPod(o).containers[0].livenessProbe,
      /liveness probe/,
    ],
    [
      "root allowed",
      (o: KubeObject[]) => {
        webPod(o).securityContext.runAsNonRoot = false;
        webPod(o).containers[0].securityContext.runAsNonRoot = false;
      },
      /runAsNonRoot/,
    ],
    [
      "writable root",
      (o: KubeObject[]) => {
        webPod(o).containers[0].securityContext.readOnlyRootFilesystem = false;
      },
      /readOnlyRootFilesystem/,
    ],
    [
      "privilege escalation",
      (o: KubeObject[]) => {
        webPod(o).containers[0].securityContext.allowPrivilegeEscalation = true;
      },
      /allowPrivilegeEscalation/,
    ],
    [
      "no limits",
      (o: KubeObject[]) => delete webPod(o).containers[0].resources.limits,
      /resources\.limits\.memory/,
    ],
    [
      "no workload identity label",
      (o: KubeObject[]) => {
        const web = o.find((x) => x.metadata.name === DEPLOYMENTS.web && x.kind === "Deployment");
        // biome-ignore lint/suspicious/noExplicitAny: mutation of a parsed manifest
        delete (web as any).spec.template.metadata.labels["azure.workload.identity/use"];
      },
      /azure\.workload\.identity\/use/,
    ],
    [
      "a literal secret",
      (o: KubeObject[]) => {
        webPod(o).containers[0].env.push({ name: "SLACK_BOT_TOKEN", value: "xoxb-not-in-git" });
      },
      /SLACK_BOT_TOKEN must come from a secretKeyRef/,
    ],
    [
      "a client secret",
      (o: KubeObject[]) => {
        webPod(o).containers[0].env.push({
          name: "AZURE_CLIENT_SECRET",
          valueFrom: { secretKeyRef: { name: "labops-secrets", key: "AZURE_CLIENT_SECRET" } },
        });
      },
      /AZURE_CLIENT_SECRET must not be set/,
    ],
    [
      "an unknown variable",
      (o: KubeObject[]) => {
        webPod(o).containers[0].env.push({ name: "LABOPS_TYPO", value: "1" });
      },
      /LABOPS_TYPO is not a labops variable/,
    ],
    [
      "a wrong role",
      (o: KubeObject[]) => {
        webPod(o).containers[0].env[0].value = "worker";
      },
      /LABOPS_ROLE must be set to web/,
    ],
    [
      "a Secret in the repository",
      (o: KubeObject[]) => {
        o.push({ apiVersion: "v1", kind: "Secret", metadata: { name: "x", namespace: "labops" } });
      },
      /secrets are never in the repository/,
    ],
    [
      "the emulators' time scale",
      (o: KubeObject[]) => {
        const cm = o.find((x) => x.kind === "ConfigMap") as KubeObject & { data: Record<string, string> };
        cm.data.LABOPS_TIME_SCALE = "1000";
      },
      /LABOPS_TIME_SCALE is for the emulators/,
    ],
    [
      "web sharing the labs' identity",
      (o: KubeObject[]) => {
        webPod(o).serviceAccountName = "labops";
      },
      /share a service account/,
    ],
    [
      "a short grace period",
      (o: KubeObject[]) => {
        webPod(o).terminationGracePeriodSeconds = 10;
      },
      /terminationGracePeriodSeconds/,
    ],
    [
      "an unpinned image",
      (o: KubeObject[]) => {
        webPod(o).containers[0].image = "labops:latest";
      },
      /never latest/,
    ],
    [
      "a public /metrics",
      (o: KubeObject[]) => {
        const ing = o.find((x) => x.kind === "Ingress");
        // biome-ignore lint/suspicious/noExplicitAny: mutation of a parsed manifest
        (ing as any).spec.rules[0].http.paths[0].path = "/metrics";
      },
      /publishes \/metrics/,
    ],
    [
      "ingress to the workers",
      (o: KubeObject[]) => {
        const np = o.find((x) => x.metadata.name === "labops-web-ingress");
        // biome-ignore lint/suspicious/noExplicitAny: mutation of a parsed manifest
        (np as any).spec.podSelector.matchLabels = { "app.kubernetes.io/name": "labops" };
      },
      /lets traffic into pods other than web/,
    ],
    [
      "open egress",
      (o: KubeObject[]) => {
        const np = o.find((x) => x.metadata.name === "labops-egress");
        // biome-ignore lint/suspicious/noExplicitAny: mutation of a parsed manifest
        (np as any).spec.egress.push({ ports: [{ port: 80, protocol: "TCP" }] });
      },
      /egress beyond ports/,
    ],
    [
      "no disruption budget",
      (o: KubeObject[]) => {
        o.splice(
          o.findIndex((x) => x.kind === "PodDisruptionBudget" && x.metadata.name === "labops-worker"),
          1,
        );
      },
      /labops-worker: no PodDisruptionBudget/,
    ],
  ] as const)("report %s", (_what, mutate, expected) => {
    expect(problemsAfter(mutate)).toMatch(expected);
  });
});

describe("the Slack app manifest", () => {
  const manifest = parse(read("infra/deploy/slack/app-manifest.yaml")) as {
    display_information: { name: string; description: string; background_color: string };
    features: {
      bot_user: { display_name: string };
      slash_commands: Array<{ command: string; url: string; description: string; usage_hint: string }>;
    };
    oauth_config: { scopes: { bot: string[] } };
    settings: {
      event_subscriptions: { request_url: string; bot_events: string[] };
      interactivity: { is_enabled: boolean; request_url: string };
      socket_mode_enabled: boolean;
    };
  };
  const commands = manifest.features.slash_commands;

  it("has one slash command per command word of the grammar, each accepted by the parser", () => {
    expect(commands.map((c) => c.command)).toEqual(heads.map((h) => `/${h}`));
    for (const c of commands) {
      expect(parseSlashCommand(c.command, "help").ok, c.command).toBe(true);
    }
  });

  it("shows every form of each command, exactly as the grammar's usage lines", () => {
    for (const c of commands) {
      const head = c.command.slice(1);
      const expected = usages.filter((u) => u.startsWith(`${head} `)).map((u) => u.slice(head.length + 1));
      expect(c.usage_hint.split(" | "), c.command).toEqual(expected);
      // Each form, with its placeholders filled and optional parts left out, parses to a command.
      for (const form of expected) {
        const text = form
          .replace(/\s*\[[^\]]*\]/g, "")
          .replace(/NAME/g, "team-a")
          // What Slack sends for a mention in a command with should_escape.
          .replace(/@user/g, "<@U0123|jane>")
          .replace(/VALUE/g, "orange")
          .replace(/PREFIX/g, "ws")
          .replace(/\bN\b/g, "3");
        expect(parseSlashCommand(c.command, text).ok, `${c.command} ${text}`).toBe(true);
      }
    }
  });

  it("sends commands, buttons and mentions to the bot's Slack endpoint", () => {
    const urls = [
      ...commands.map((c) => c.url),
      manifest.settings.interactivity.request_url,
      manifest.settings.event_subscriptions.request_url,
    ];
    for (const url of urls) {
      expect(new URL(url).protocol).toBe("https:");
      expect(new URL(url).pathname).toBe(SLACK_EVENTS_PATH);
    }
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
    expect(manifest.settings.event_subscriptions.bot_events).toContain("app_mention");
    expect(manifest.settings.socket_mode_enabled).toBe(false);
  });

  it("asks for the scopes the bot uses and no user scopes", () => {
    expect(manifest.oauth_config.scopes.bot.sort()).toEqual(
      [
        "app_mentions:read",
        "channels:history",
        "chat:write",
        "chat:write.public",
        "commands",
        "groups:history",
      ].sort(),
    );
    expect(Object.keys(manifest.oauth_config.scopes)).toEqual(["bot"]);
  });

  it("stays within Slack's field limits", () => {
    expect(manifest.display_information.name.length).toBeLessThanOrEqual(35);
    expect(manifest.display_information.description.length).toBeLessThanOrEqual(140);
    expect(manifest.display_information.background_color).toMatch(/^#[0-9a-f]{6}$/i);
    expect(manifest.features.bot_user.display_name).toMatch(/^[a-z0-9._-]{1,80}$/);
    for (const c of commands) {
      expect(c.command.length).toBeLessThanOrEqual(32);
      expect(c.description.length).toBeLessThanOrEqual(2000);
      expect(c.usage_hint.length).toBeLessThanOrEqual(1000);
    }
  });
});

describe("the Teams app manifest", () => {
  const template = read("infra/deploy/teams/manifest.json");
  const manifest = JSON.parse(template) as {
    $schema: string;
    manifestVersion: string;
    id: string;
    icons: { color: string; outline: string };
    bots: Array<{
      botId: string;
      scopes: string[];
      commandLists: Array<{ scopes: string[]; commands: Array<{ title: string; description: string }> }>;
    }>;
  };
  const bot = manifest.bots[0];

  it("is a v1.19 manifest whose app and bot id are the Microsoft App ID", () => {
    expect(manifest.manifestVersion).toBe("1.19");
    expect(manifest.$schema).toBe(
      `https://developer.microsoft.com/json-schemas/teams/v${manifest.manifestVersion}/MicrosoftTeams.schema.json`,
    );
    expect(manifest.id).toBe(APP_ID_PLACEHOLDER);
    expect(manifest.bots).toHaveLength(1);
    expect(bot?.botId).toBe(APP_ID_PLACEHOLDER);
    expect(bot?.scopes.sort()).toEqual(["groupChat", "personal", "team"]);
  });

  it("lists, in every scope, exactly the commands of the grammar with their usage", () => {
    const lists = bot?.commandLists ?? [];
    expect(lists.length).toBeLessThanOrEqual(3);
    expect(lists.flatMap((l) => l.scopes).sort()).toEqual([...(bot?.scopes ?? [])].sort());
    for (const list of lists) {
      expect(list.commands.map((c) => c.title)).toEqual(teamsTitles);
      list.commands.forEach((c, i) => {
        expect(c.description.startsWith(`${teamsUsages[i]}: `), c.title).toBe(true);
      });
      // v1.19 limits: 10 commands per list, titles of 32 and descriptions of 128 characters.
      expect(list.commands.length).toBeLessThanOrEqual(10);
      for (const c of list.commands) {
        expect(c.title.length).toBeLessThanOrEqual(32);
        expect(c.description.length).toBeLessThanOrEqual(128);
      }
    }
  });

  it("ships a 192×192 colour icon and a 32×32 white-on-transparent outline icon", () => {
    const color = decodePng(readFileSync(join(deploy, "teams", manifest.icons.color)));
    expect([color.width, color.height]).toEqual([192, 192]);
    const outline = decodePng(readFileSync(join(deploy, "teams", manifest.icons.outline)));
    expect([outline.width, outline.height, outline.colorType]).toEqual([32, 32, 6]);
    const alphas: number[] = [];
    for (let i = 0; i < outline.rgba.length; i += 4) {
      const [r, g, b, a] = outline.rgba.subarray(i, i + 4);
      alphas.push(a ?? 0);
      if ((a ?? 0) > 0) expect([r, g, b]).toEqual([255, 255, 255]);
    }
    expect(alphas).toContain(0);
    expect(alphas).toContain(255);
  });
});

describe("npm run teams:package", () => {
  const version = (JSON.parse(read("package.json")) as { version: string }).version;

  it("zips manifest.json and both icons, with the app id, URL and version filled in", () => {
    const entries = readZip(
      buildTeamsAppPackage({ appId: APP_ID.toUpperCase(), publicUrl: "https://labops.example.com/" }),
    );
    expect(entries.map((e) => e.name)).toEqual([...PACKAGE_FILES]);
    const text = entries[0]?.data.toString("utf8") ?? "";
    expect(text).not.toContain("${");
    const m = JSON.parse(text) as {
      id: string;
      version: string;
      bots: Array<{ botId: string }>;
      developer: object;
    };
    expect(m.id).toBe(APP_ID);
    expect(m.bots[0]?.botId).toBe(APP_ID);
    expect(m.version).toBe(version);
    expect(JSON.stringify(m.developer)).toContain('"https://labops.example.com"');
    expect(entries[1]?.data.equals(readFileSync(join(deploy, "teams/color.png")))).toBe(true);
    expect(entries[2]?.data.equals(readFileSync(join(deploy, "teams/outline.png")))).toBe(true);
  });

  it("is reproducible: the same inputs give the same bytes", () => {
    const a = buildTeamsAppPackage({ appId: APP_ID, publicUrl: "https://labops.example.com" });
    const b = buildTeamsAppPackage({ appId: APP_ID, publicUrl: "https://labops.example.com" });
    expect(a.equals(b)).toBe(true);
  });

  it("refuses an app id that is not a GUID, a URL that is not https, and a placeholder without a value", () => {
    expect(() => buildTeamsAppPackage({ appId: "my-bot", publicUrl: "https://x.example" })).toThrow(
      TeamsPackageError,
    );
    expect(() => buildTeamsAppPackage({ appId: APP_ID, publicUrl: "http://x.example" })).toThrow(/https URL/);
    expect(() => renderTeamsManifest(`{"id":"${APP_ID_PLACEHOLDER}"}`, {})).toThrow(/MICROSOFT_APP_ID/);
  });

  it("runs from the command line and writes the zip where asked", () => {
    const dir = mkdtempSync(join(tmpdir(), "labops-teams-"));
    dirs.push(dir);
    const out = join(dir, "teams-app.zip");
    const script = join(deploy, "teams/build-app-package.ts");
    const ok = spawnSync(
      process.execPath,
      [script, "--app-id", APP_ID, "--public-url", "https://labops.example.com", "--out", out],
      { encoding: "utf8", env: { PATH: process.env.PATH ?? "" } },
    );
    expect(ok.status, ok.stderr).toBe(0);
    expect(readZip(readFileSync(out)).map((e) => e.name)).toEqual([...PACKAGE_FILES]);
    const missing = spawnSync(process.execPath, [script], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "" },
    });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/--app-id <GUID> --public-url/);
  });

  it.runIf(spawnSync("unzip", ["-v"]).status === 0)("passes `unzip -t` (when unzip is installed)", () => {
    const dir = mkdtempSync(join(tmpdir(), "labops-teams-"));
    dirs.push(dir);
    const out = join(dir, "teams-app.zip");
    execFileSync(process.execPath, [
      join(deploy, "teams/build-app-package.ts"),
      "--app-id",
      APP_ID,
      "--public-url",
      "https://x.example",
      "--out",
      out,
    ]);
    expect(execFileSync("unzip", ["-t", out], { encoding: "utf8" })).toMatch(/No errors detected/);
  });
});

describe("the Bicep", () => {
  const bicep = (name: string) => read(`infra/deploy/bicep/${name}`);
  const all = readdirSync(join(deploy, "bicep"), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(".bicep"))
    .map((f) => bicep(f))
    .join("\n");

  it("lets the bot assign only the two Key Vault roles it assigns, to service principals", () => {
    const roles = bicep("modules/labs-roles.bicep");
    const condition = /var keyVaultRolesOnly = '(.*)'$/m.exec(roles)?.[1] ?? "";
    expect(condition).toContain("ActionMatches{\\'Microsoft.Authorization/roleAssignments/write\\'}");
    expect(condition).toContain("ActionMatches{\\'Microsoft.Authorization/roleAssignments/delete\\'}");
    expect(condition).toContain(
      "PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {\\'ServicePrincipal\\'}",
    );
    const guidsIn = (s: string) => [...s.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]);
    expect(new Set(guidsIn(condition))).toEqual(new Set(["keyVaultSecretsUser", "keyVaultSecretsOfficer"]));
    expect(roles).toContain(`var keyVaultSecretsUser = '${ROLE.keyVaultSecretsUser}'`);
    expect(roles).toContain(`var keyVaultSecretsOfficer = '${ROLE.keyVaultSecretsOfficer}'`);
    // Role Based Access Control Administrator, always with the condition.
    expect(roles).toContain("var rbacAdministrator = 'f58310d9-a9f6-439a-9e8d-f62e7b41a168'");
    expect(roles).toMatch(
      /rbacAdministrator\)\n\s+principalId: principalId\n\s+principalType: 'ServicePrincipal'\n\s+condition: keyVaultRolesOnly\n\s+conditionVersion: '2.0'/,
    );
    expect(roles).toContain("var contributor = 'b24988ac-6180-42a0-ab88-20f7382dd24c'");
  });

  it("never grants Owner or User Access Administrator, and outputs no key", () => {
    expect(all).not.toContain("8e3af657-a8ff-443c-a75c-2fe8c4bcb635");
    expect(all).not.toContain("18d7d88d-d35e-4fb5-a5c3-7773c20a72d9");
    expect(all).not.toMatch(/listKeys|listSecrets|@secure\(\)\s*output/);
  });

  it("federates the identities with the service accounts the Deployments use", () => {
    const objects = renderKustomization(join(k8s, "base"));
    const accounts = objects
      .filter((o) => o.kind === "Deployment")
      .map((o) => (o as KubeObject & { spec: { template: { spec: { serviceAccountName: string } } } }).spec);
    const byName = Object.fromEntries(
      objects
        .filter((o) => o.kind === "Deployment")
        .map((o, i) => [o.metadata.name, accounts[i]?.template.spec.serviceAccountName]),
    );
    const identity = bicep("modules/identity.bicep");
    expect(identity).toContain(`param workerServiceAccount string = '${byName[DEPLOYMENTS.worker]}'`);
    expect(byName[DEPLOYMENTS.watcher]).toBe(byName[DEPLOYMENTS.worker]);
    expect(identity).toContain(`param webServiceAccount string = '${byName[DEPLOYMENTS.web]}'`);
    expect(bicep("main.bicep")).toContain(`param namespace string = '${objects[0]?.metadata.name}'`);
    expect(
      identity.match(/subject: 'system:serviceaccount:\$\{namespace\}:\$\{\w+ServiceAccount\}'/g),
    ).toHaveLength(3);
    expect(identity.match(/'api:\/\/AzureADTokenExchange'/g)).toHaveLength(1);
  });

  it("points the Azure Bot's Teams channel at the Teams endpoint", () => {
    expect(bicep("main.bicep")).toContain(`messagingEndpoint: uri(publicUrl, '${TEAMS_PATH}')`);
    const bot = bicep("modules/bot.bicep");
    expect(bot).toContain("'Microsoft.BotService/botServices/channels@");
    expect(bot).toContain("channelName: 'MsTeamsChannel'");
  });

  it("gives BullMQ the Redis it needs: TLS only, noeviction, persistence, one keyspace", () => {
    const redis = bicep("modules/redis.bicep");
    expect(redis).toContain("minimumTlsVersion: '1.2'");
    expect(redis).toContain("clientProtocol: 'Encrypted'");
    expect(redis).toContain("evictionPolicy: 'NoEviction'");
    expect(redis).toContain("clusteringPolicy: 'NoCluster'");
    expect(redis).toMatch(/aofEnabled: true\n\s+aofFrequency: '1s'/);
    expect(bicep("main.bicep")).toMatch(/param redisPersistence string = 'aof'/);
  });
});

describe("the Docker build context", () => {
  it("keeps out nothing the Dockerfile copies", () => {
    const patterns = read(".dockerignore")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
    const toRegex = (p: string) =>
      new RegExp(
        `^${p
          .replace(/[.+^${}()|[\]\\]/g, "\\$&")
          .replace(/\*\*\//g, "(?:.*/)?")
          .replace(/\*/g, "[^/]*")}(?:/.*)?$`,
      );
    const ignored = (path: string) => patterns.some((p) => toRegex(p).test(path));
    const copied = [...read("Dockerfile").matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) =>
      (m[1] ?? "").split(" "),
    );
    expect(copied).toEqual(
      expect.arrayContaining(["package.json", "src", "jobs", "adapters", "infra/lab", "tsconfig.build.json"]),
    );
    for (const path of copied) {
      expect(ignored(path), path).toBe(false);
      expect(existsSync(join(root, path)), path).toBe(true);
    }
    expect(ignored("node_modules")).toBe(true);
    expect(ignored("emulators/azure/x.ts")).toBe(true);
    expect(ignored("infra/deploy/kubernetes")).toBe(true);
  });
});

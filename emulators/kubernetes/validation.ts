import type { FieldError } from "./errors.ts";
import { selectorMatches } from "./selectors.ts";
import type { Container, Deployment, KubeObject, PodSpec, ReplicaSet, Secret } from "./types.ts";
import { deepEqual, intOrPercent, isPlainObject } from "./util.ts";

/**
 * The validations that give 422 Invalid, worded like apimachinery's
 * validation helpers, for the mistakes a provisioning bot can make.
 */

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

export type NameRule = "subdomain" | "label" | "any";

export function validateName(name: string | undefined, rule: NameRule, errs: FieldError[]): void {
  if (name === undefined || name === "") {
    errs.push({ type: "Required", field: "metadata.name", detail: "name or generateName is required" });
    return;
  }
  if (rule === "subdomain" && (name.length > 253 || !DNS1123_SUBDOMAIN.test(name))) {
    errs.push({
      type: "Invalid",
      field: "metadata.name",
      value: name,
      detail: name.length > 253 ? "must be no more than 253 characters" : SUBDOMAIN_MSG,
    });
  }
  if (rule === "label" && (name.length > 63 || !DNS1123_LABEL.test(name))) {
    errs.push({
      type: "Invalid",
      field: "metadata.name",
      value: name,
      detail: name.length > 63 ? "must be no more than 63 characters" : LABEL_MSG,
    });
  }
}

export function validateLabels(labels: unknown, field: string, errs: FieldError[]): void {
  if (labels === undefined) return;
  if (!isPlainObject(labels)) {
    errs.push({ type: "Invalid", field, value: labels, detail: "must be a map of strings" });
    return;
  }
  for (const [k, v] of Object.entries(labels)) {
    if (!QUALIFIED_NAME.test(k)) {
      errs.push({
        type: "Invalid",
        field,
        value: k,
        detail:
          "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
      });
    }
    if (typeof v !== "string" || v.length > 63 || !LABEL_VALUE.test(v)) {
      errs.push({
        type: "Invalid",
        field: `${field}`,
        value: v,
        detail:
          "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
      });
    }
  }
}

export function validateMeta(obj: KubeObject, rule: NameRule, errs: FieldError[]): void {
  validateName(obj.metadata.name, rule, errs);
  validateLabels(obj.metadata.labels, "metadata.labels", errs);
  if (obj.metadata.annotations !== undefined && !isPlainObject(obj.metadata.annotations)) {
    errs.push({ type: "Invalid", field: "metadata.annotations", value: obj.metadata.annotations });
  }
}

function validateContainers(containers: unknown, field: string, errs: FieldError[], required: boolean): void {
  if (!Array.isArray(containers) || containers.length === 0) {
    if (required) errs.push({ type: "Required", field });
    return;
  }
  const seen = new Set<string>();
  (containers as Container[]).forEach((c, i) => {
    const f = `${field}[${i}]`;
    if (!isPlainObject(c)) {
      errs.push({ type: "Invalid", field: f, value: c });
      return;
    }
    if (!c.name) errs.push({ type: "Required", field: `${f}.name` });
    else if (!DNS1123_LABEL.test(c.name)) {
      errs.push({ type: "Invalid", field: `${f}.name`, value: c.name, detail: LABEL_MSG });
    } else if (seen.has(c.name)) errs.push({ type: "Duplicate", field: `${f}.name`, value: c.name });
    else seen.add(c.name);
    if (!c.image) errs.push({ type: "Required", field: `${f}.image` });
    for (const [j, e] of (c.env ?? []).entries()) {
      if (!e?.name) errs.push({ type: "Required", field: `${f}.env[${j}].name` });
    }
  });
}

export function validatePodSpec(spec: PodSpec | undefined, field: string, errs: FieldError[]): void {
  if (!isPlainObject(spec)) {
    errs.push({ type: "Required", field });
    return;
  }
  validateContainers(spec.containers, `${field}.containers`, errs, true);
  validateContainers(spec.initContainers, `${field}.initContainers`, errs, false);
  const volumeNames = new Set<string>();
  for (const [i, v] of (spec.volumes ?? []).entries()) {
    if (!v?.name) errs.push({ type: "Required", field: `${field}.volumes[${i}].name` });
    else if (volumeNames.has(v.name))
      errs.push({ type: "Duplicate", field: `${field}.volumes[${i}].name`, value: v.name });
    else volumeNames.add(v.name);
  }
  for (const [i, c] of (spec.containers ?? []).entries()) {
    for (const [j, m] of (c?.volumeMounts ?? []).entries()) {
      if (m?.name && !volumeNames.has(m.name)) {
        errs.push({
          type: "NotFound",
          field: `${field}.containers[${i}].volumeMounts[${j}].name`,
          value: m.name,
        });
      }
    }
  }
}

function goSelector(sel: unknown): string {
  const s = isPlainObject(sel) ? sel : {};
  const ml = isPlainObject(s.matchLabels)
    ? `map[string]string{${Object.entries(s.matchLabels)
        .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`)
        .join(", ")}}`
    : "map[string]string(nil)";
  return `v1.LabelSelector{MatchLabels:${ml}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}`;
}

function validateWorkload(
  obj: Deployment | ReplicaSet,
  old: Deployment | ReplicaSet | undefined,
  errs: FieldError[],
): void {
  const spec = obj.spec;
  if (!isPlainObject(spec)) {
    errs.push({ type: "Required", field: "spec" });
    return;
  }
  const selector = spec.selector;
  if (!isPlainObject(selector)) {
    errs.push({ type: "Required", field: "spec.selector" });
  } else if (
    Object.keys(isPlainObject(selector.matchLabels) ? selector.matchLabels : {}).length === 0 &&
    (Array.isArray(selector.matchExpressions) ? selector.matchExpressions : []).length === 0
  ) {
    errs.push({
      type: "Invalid",
      field: "spec.selector",
      valueText: goSelector(selector),
      detail: `empty selector is invalid for ${obj.kind === "ReplicaSet" ? "replicaset" : "deployment"}`,
    });
  } else {
    const labels = spec.template?.metadata?.labels;
    if (!selectorMatches(selector, labels)) {
      errs.push({
        type: "Invalid",
        field: "spec.template.metadata.labels",
        value: labels ?? {},
        detail: "`selector` does not match template `labels`",
      });
    }
  }
  if (spec.replicas !== undefined && (typeof spec.replicas !== "number" || spec.replicas < 0)) {
    errs.push({
      type: "Invalid",
      field: "spec.replicas",
      value: spec.replicas,
      detail: "must be greater than or equal to 0",
    });
  }
  validateLabels(spec.template?.metadata?.labels, "spec.template.metadata.labels", errs);
  validatePodSpec(spec.template?.spec, "spec.template.spec", errs);
  const restart = spec.template?.spec?.restartPolicy;
  if (restart !== undefined && restart !== "Always") {
    errs.push({
      type: "NotSupported",
      field: "spec.template.spec.restartPolicy",
      value: restart,
      detail: 'supported values: "Always"',
    });
  }
  if (obj.kind === "Deployment") {
    const d = obj as Deployment;
    const ru = d.spec.strategy?.rollingUpdate;
    if (d.spec.strategy?.type === "RollingUpdate" && ru) {
      const surge = intOrPercent(ru.maxSurge, 100, true);
      const unavailable = intOrPercent(ru.maxUnavailable, 100, false);
      if (surge === 0 && unavailable === 0) {
        errs.push({
          type: "Invalid",
          field: "spec.strategy.rollingUpdate.maxUnavailable",
          value: 0,
          detail: "may not be 0 when `maxSurge` is 0",
        });
      }
    }
  }
  if (old && !deepEqual(old.spec.selector, spec.selector)) {
    errs.push({
      type: "Invalid",
      field: "spec.selector",
      valueText: goSelector(spec.selector),
      detail: "field is immutable",
    });
  }
}

export function validateDeployment(obj: KubeObject, old: KubeObject | undefined, errs: FieldError[]): void {
  validateMeta(obj, "subdomain", errs);
  validateWorkload(obj as Deployment, old as Deployment | undefined, errs);
}

export function validateReplicaSet(obj: KubeObject, old: KubeObject | undefined, errs: FieldError[]): void {
  validateMeta(obj, "subdomain", errs);
  validateWorkload(obj as ReplicaSet, old as ReplicaSet | undefined, errs);
}

export function validatePod(obj: KubeObject, old: KubeObject | undefined, errs: FieldError[]): void {
  validateMeta(obj, "subdomain", errs);
  validatePodSpec(obj.spec as PodSpec | undefined, "spec", errs);
  if (old) {
    const a = stripMutablePodFields(old.spec);
    const b = stripMutablePodFields(obj.spec);
    if (!deepEqual(a, b)) {
      errs.push({
        type: "Forbidden",
        field: "spec",
        detail:
          "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
      });
    }
  }
}

function stripMutablePodFields(spec: unknown): unknown {
  if (!isPlainObject(spec)) return spec;
  const copy = structuredClone(spec) as PodSpec;
  for (const c of copy.containers ?? []) delete c.image;
  for (const c of copy.initContainers ?? []) delete c.image;
  delete copy.activeDeadlineSeconds;
  delete copy.tolerations;
  delete copy.terminationGracePeriodSeconds;
  // The scheduler binds pods through the binding subresource; the emulator writes nodeName itself.
  delete copy.nodeName;
  return copy;
}

export function validateSecret(obj: KubeObject, old: KubeObject | undefined, errs: FieldError[]): void {
  validateMeta(obj, "subdomain", errs);
  const s = obj as Secret;
  for (const k of Object.keys(s.data ?? {})) {
    if (!SECRET_KEY.test(k)) {
      errs.push({
        type: "Invalid",
        field: `data[${k}]`,
        value: k,
        detail:
          "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
      });
    }
  }
  const prev = old as Secret | undefined;
  if (prev?.immutable === true && !deepEqual(prev.data ?? {}, s.data ?? {})) {
    errs.push({ type: "Forbidden", field: "data", detail: "field is immutable when `immutable` is set" });
  }
  if (prev && prev.type !== s.type) {
    errs.push({ type: "Invalid", field: "type", value: s.type, detail: "field is immutable" });
  }
}

export function validateConfigMap(obj: KubeObject, _old: KubeObject | undefined, errs: FieldError[]): void {
  validateMeta(obj, "subdomain", errs);
}

export function validateNamespace(obj: KubeObject, _old: KubeObject | undefined, errs: FieldError[]): void {
  validateMeta(obj, "label", errs);
}

export function validateGeneric(obj: KubeObject, _old: KubeObject | undefined, errs: FieldError[]): void {
  validateMeta(obj, "subdomain", errs);
}

export function validateAnyName(obj: KubeObject, _old: KubeObject | undefined, errs: FieldError[]): void {
  validateMeta(obj, "any", errs);
}

import type { CommandKind } from "../../src/commands/types.ts";
import type { CommandProcessor } from "../worker.ts";
import type { WorkflowDeps } from "./deps.ts";
import { labCreateProcessor } from "./lab-create.ts";
import { labDestroyProcessor } from "./lab-destroy.ts";
import { labExtendProcessor, labListProcessor, labStatusProcessor } from "./lab-info.ts";
import { secretListProcessor, secretRollbackProcessor, secretRotateProcessor } from "./secrets.ts";

export type { WorkflowDeps, WorkflowSettings } from "./deps.ts";

/** One processor per command kind; help never reaches the queue. */
export function labProcessors(deps: WorkflowDeps): Partial<Record<CommandKind, CommandProcessor>> {
  return {
    "lab.create": labCreateProcessor(deps),
    "lab.destroy": labDestroyProcessor(deps),
    "lab.status": labStatusProcessor(deps),
    "lab.list": labListProcessor(deps),
    "lab.extend": labExtendProcessor(deps),
    "secret.rotate": secretRotateProcessor(deps),
    "secret.rollback": secretRollbackProcessor(deps),
    "secret.list": secretListProcessor(deps),
  };
}

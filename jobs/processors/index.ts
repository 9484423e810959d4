import type { CommandKind } from "../../src/commands/types.ts";
import type { CommandProcessor } from "./context.ts";
import type { WorkflowDeps } from "./deps.ts";
import { hostCreateProcessor } from "./host-create.ts";
import { hostDestroyProcessor } from "./host-destroy.ts";
import { hostStatusProcessor } from "./host-status.ts";
import { labAccessProcessor } from "./lab-access.ts";
import { labCreateProcessor } from "./lab-create.ts";
import { labDestroyProcessor } from "./lab-destroy.ts";
import { labExtendProcessor } from "./lab-extend.ts";
import { labListProcessor } from "./lab-list.ts";
import { labStatusProcessor } from "./lab-status.ts";
import { secretListProcessor } from "./secret-list.ts";
import { secretRollbackProcessor } from "./secret-rollback.ts";
import { secretRotateProcessor } from "./secret-rotate.ts";
import { workshopCreateProcessor } from "./workshop-create.ts";
import { workshopDestroyProcessor } from "./workshop-destroy.ts";
import { workshopStatusProcessor } from "./workshop-status.ts";

export type { CommandProcessor, ProcessorContext, ProcessorOutcome } from "./context.ts";
export type { WorkflowDeps, WorkflowSettings } from "./deps.ts";

/** One processor per command kind, one kind per file; help never reaches the queue. */
export function labProcessors(deps: WorkflowDeps): Partial<Record<CommandKind, CommandProcessor>> {
  return {
    "lab.create": labCreateProcessor(deps),
    "lab.destroy": labDestroyProcessor(deps),
    "lab.status": labStatusProcessor(deps),
    "lab.list": labListProcessor(deps),
    "lab.extend": labExtendProcessor(deps),
    // Answered at intake; on a lab on a host, the member's namespace access follows in this job.
    "lab.grant": labAccessProcessor(deps),
    "lab.revoke": labAccessProcessor(deps),
    "secret.rotate": secretRotateProcessor(deps),
    "secret.rollback": secretRollbackProcessor(deps),
    "secret.list": secretListProcessor(deps),
    "host.create": hostCreateProcessor(deps),
    "host.status": hostStatusProcessor(deps),
    "host.destroy": hostDestroyProcessor(deps),
    "workshop.create": workshopCreateProcessor(deps),
    "workshop.status": workshopStatusProcessor(deps),
    "workshop.destroy": workshopDestroyProcessor(deps),
  };
}

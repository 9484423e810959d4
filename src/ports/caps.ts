/**
 * The caps on what one person, one conversation and the whole installation
 * may start (issue 14): live labs per user, per conversation and in all, and
 * commands per user per minute. `admit` checks every cap that applies and
 * counts the command in one atomic step, so two commands arriving at the
 * same moment can never both take the last room; a `lab create` also holds
 * its lab's name from intake until the worker has written the record (or
 * given up), so two conversations cannot both queue the same lab.
 *
 * What counts as a live lab: every record of the lab registry not
 * `destroyed` (a failed or half-destroyed lab still costs), and every name
 * held by a create not yet recorded.
 */

/** Who asks, in the terms the caps count by (see `userKey`, `conversationKey` in src/commands/caps.ts). */
export interface CapSubject {
  /** `slack\nU0123`; Teams ids lowercased, as `sameUser` compares them. */
  user: string;
  /** `slack\nT0001\nC0001`, as `sameConversation` compares. */
  conversation: string;
  /** Admins: no per-user, per-conversation or rate cap; the cap on all labs still counts them. */
  exempt: boolean;
}

export interface CapLimits {
  labsPerUser: number;
  labsPerConversation: number;
  labs: number;
  /** At most `commands` admitted per user in any `windowMs`. */
  commands: number;
  windowMs: number;
}

export interface AdmitRequest {
  subject: CapSubject;
  limits: CapLimits;
  /** Clock reading (ms): the rate's window and a held name's expiry count from it. */
  now: number;
  /** Unique per command (its correlation id): its entry in the rate, and the token of a name it holds. */
  token: string;
  /**
   * A `lab create`: the lab is counted against the lab caps (unless it is
   * already a live lab of this conversation: a retry of a failed one), and
   * its name is held for `holdMs` under `token`. `owner` is kept with the
   * hold, opaque (JSON of the ChatUser), to say who holds it.
   */
  create?: { lab: string; holdMs: number; owner: string };
  /**
   * A `workshop create` (admins only, so `exempt`): its team labs. Those not
   * yet live (recorded or held) must all fit under the cap on all labs
   * together, or none is admitted; each is then held for `holdMs` under
   * `token` (the worker releases it once the team's record guards it), so
   * creates arriving meanwhile cannot take the same room. Labs already live
   * (a workshop run again) are not counted twice. Never with `create`.
   */
  batch?: { labs: string[]; holdMs: number; owner: string };
}

export type CapName = "rate" | "user" | "conversation" | "labs";

export type AdmitResult =
  | { ok: true }
  /** Too many commands: `count` in the window; room again at `retryAt`. */
  | { ok: false; cap: "rate"; count: number; retryAt: number }
  /** A lab cap is full: the live labs that count against it, oldest first (all of them for `labs`). */
  | {
      ok: false;
      cap: "user" | "conversation" | "labs";
      labs: string[];
      /** A batch refused: how many of its labs were new (they would have counted). */
      adding?: number;
    }
  /**
   * The name is taken: by a live lab of another conversation (`record`), or
   * held by a create not yet recorded (`pending`), from this conversation or another.
   */
  | {
      ok: false;
      cap: "name";
      holder: "record" | "pending";
      sameConversation: boolean;
      /** The holder's `owner` as given to `admit` (pending only). */
      owner?: string;
    };

export interface LabCaps {
  admit(request: AdmitRequest): Promise<AdmitResult>;
  /** Lets go of the name `lab` when `token` holds it (the record now guards it, or the create gave up); nothing otherwise. */
  release(lab: string, token: string): Promise<void>;
  /**
   * Undoes what `admit(request)` counted, as if it had not been asked: its
   * command leaves the rate, and the names it holds under its token are let
   * go. Intake asks for the caps ahead of its other checks (in the same round
   * trip as the claim) and cancels them for a command those checks refuse.
   */
  cancel(request: AdmitRequest): Promise<void>;
}

/**
 * Where a platform's conversation references live, so that a worker in
 * another process can post proactively (Teams needs the serviceUrl, the bot
 * and the conversation as the platform last sent them). References are
 * opaque JSON to the core; the adapter that saved one reads it back.
 */
export interface ConversationReferenceStore {
  save(key: string, reference: Readonly<Record<string, unknown>>): Promise<void>;
  get(key: string): Promise<Record<string, unknown> | undefined>;
}

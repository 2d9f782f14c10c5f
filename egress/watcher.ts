/**
 * Reloading the policy: the watcher polls the file (robust to editors that replace it, and to
 * network file systems) and compiles it again when its content changes. A policy that fails to
 * load (invalid, publishing a personal field, missing key) is refused with the error logged, and
 * the previous policy stays in force.
 */
import { unwatchFile, watchFile } from 'node:fs';
import type { Logger } from '../telemetry/log.ts';
import { type CompiledPolicy, type Keyring, type PolicySource, PrivacyError, compilePolicy, parsePolicy } from '../privacy/index.ts';
import { readPolicyFile } from './policy-file.ts';

export interface PolicyWatcherOptions {
  /** The policy file. */
  path: string;
  keyring: Keyring;
  logger?: Logger;
  /** How often the file is checked, ms (default 2000). */
  intervalMs?: number;
  /** Called after a new policy is in force. */
  onChange?: (next: CompiledPolicy, previous: CompiledPolicy) => void;
  /** Called when a changed file is refused (the previous policy stays). */
  onError?: (err: PrivacyError) => void;
}

/** The outcome of one reload. */
export type ReloadResult = { status: 'unchanged' | 'reloaded'; version: string } | { status: 'refused'; version: string; error: PrivacyError };

export interface PolicyWatcher extends PolicySource {
  /** The policy in force. */
  current(): CompiledPolicy;
  /** Reads the file now; compiles and swaps it in if its content changed and it is valid. */
  reload(): ReloadResult;
  /** Starts polling the file. */
  start(): void;
  /** Stops polling. Idempotent. */
  stop(): void;
}

/**
 * Loads the policy (failing fast) and returns a watcher serving it.
 *
 * @throws PrivacyError when the initial policy cannot be loaded: a hub does not start without a valid policy
 */
export function createPolicyWatcher(o: PolicyWatcherOptions): PolicyWatcher {
  const first = readPolicyFile(o.path);
  let policy = compilePolicy(parsePolicy(first.text, o.path), { keyring: o.keyring, source: o.path });
  let hash = first.hash;
  let refusedHash: string | undefined;
  let watching = false;

  const reload = (): ReloadResult => {
    let next: CompiledPolicy;
    let h: string;
    try {
      const f = readPolicyFile(o.path);
      h = f.hash;
      if (h === hash) return { status: 'unchanged', version: policy.version };
      next = compilePolicy(parsePolicy(f.text, o.path), { keyring: o.keyring, source: o.path });
    } catch (e) {
      const err = e instanceof PrivacyError ? e : new PrivacyError('PRIVACY_ERR_POLICY_INVALID', `${o.path}: ${(e as Error).message}`, { cause: e });
      // Log a refused file once, not at every poll.
      const key = `${err.code}:${err.message}`;
      if (refusedHash !== key) {
        refusedHash = key;
        o.logger?.error({ code: err.code, err: { message: err.message } }, `privacy policy refused; version ${policy.version} stays in force`);
        o.onError?.(err);
      }
      return { status: 'refused', version: policy.version, error: err };
    }
    const previous = policy;
    policy = next;
    hash = h;
    refusedHash = undefined;
    o.logger?.info({ from: previous.version, to: next.version }, 'privacy policy reloaded');
    if (next.version === previous.version) o.logger?.warn({ version: next.version }, 'privacy policy changed without a new version: records from before and after carry the same version');
    o.onChange?.(next, previous);
    return { status: 'reloaded', version: next.version };
  };

  const listener = (): void => void reload();
  return {
    current: () => policy,
    reload,
    start() {
      if (watching) return;
      watching = true;
      watchFile(o.path, { interval: o.intervalMs ?? 2000, persistent: false }, listener);
    },
    stop() {
      if (!watching) return;
      watching = false;
      unwatchFile(o.path, listener);
    },
  };
}

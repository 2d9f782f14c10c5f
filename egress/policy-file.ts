/**
 * Reading a policy file: its text (and a hash of it, for the watcher) and, in one call, the
 * compiled policy. Parsing and compiling are privacy/'s (`parsePolicy`, `compilePolicy`).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type CompileOptions, type CompiledPolicy, PrivacyError, compilePolicy, parsePolicy } from '../privacy/index.ts';

/**
 * The text of a policy file and its SHA-256.
 *
 * @throws PrivacyError `PRIVACY_ERR_POLICY_FILE` when it cannot be read
 */
export function readPolicyFile(path: string): { text: string; hash: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new PrivacyError('PRIVACY_ERR_POLICY_FILE', `${path}: cannot read: ${(e as Error).message}`);
  }
  return { text, hash: createHash('sha256').update(text).digest('hex') };
}

/**
 * Reads, validates and compiles a policy file.
 *
 * @throws PrivacyError (`PRIVACY_ERR_POLICY_FILE`, `_POLICY_INVALID`, `_POLICY_PERSONAL`, `_KEY`) naming the file and the key at fault
 */
export function loadPolicy(path: string, opts: CompileOptions): CompiledPolicy {
  const { text } = readPolicyFile(path);
  return compilePolicy(parsePolicy(text, path), { ...opts, source: opts.source ?? path });
}

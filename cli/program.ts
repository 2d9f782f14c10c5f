/**
 * The `steward` command line: one program (commander), global `--config <file>` (else
 * STEWARD_CONFIG, else defaults), subcommands for checking the config, generating JSON Schema,
 * managing sensors and accounts in the registry, and running roles.
 *
 * Exit codes: 0 ok, 1 failed, 2 bad usage / bad config / bad input (the message names the key or id).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Argument, Command, CommanderError, Option } from 'commander';
import { type Config, loadConfig } from '../core/config.ts';
import { ConfigError } from '../core/errors.ts';
import { DOMAINS } from '../core/ids.ts';
import { packageVersion } from '../core/paths.ts';
import { dataTopic } from '../core/topics.ts';
import { ACCOUNT_ROLES, Registry, TOKEN_ROLES, normaliseEui } from '../registry/index.ts';
import { parseDuration } from '../core/duration.ts';
import { payloadJsonSchemas } from '../api/index.ts';
import { metricDef } from '../core/catalogue.ts';
import { SIMULATORS } from '../simulators/index.ts';
import { CliError, EXIT } from './errors.ts';

/** Where a command writes: stdout for results, stderr for errors and notes. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

const processIo: CliIo = {
  out: (t) => void process.stdout.write(t.endsWith('\n') ? t : t + '\n'),
  err: (t) => void process.stderr.write(t.endsWith('\n') ? t : t + '\n'),
};

/** Loads the config named by `--config` (or STEWARD_CONFIG); a ConfigError becomes exit 2 with its message. */
export function configFrom(cmd: Command): Config {
  const file = (cmd.optsWithGlobals() as { config?: string }).config ?? process.env.STEWARD_CONFIG;
  try {
    return loadConfig(file);
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(`invalid configuration:\n${e.message}`, EXIT.USAGE, { cause: e });
    throw e;
  }
}

/** Opens the registry under the config's data dir, runs `fn`, closes it. */
async function withRegistry<T>(config: Config, fn: (r: Registry) => Promise<T> | T): Promise<T> {
  const registry = Registry.open(config.dataDir);
  try {
    return await fn(registry);
  } finally {
    registry.close();
  }
}

/** Registry errors on bad input are TypeErrors with a message naming the id: exit 2. */
function asInputError(e: unknown): never {
  if (e instanceof TypeError) throw new CliError(e.message, EXIT.USAGE, { cause: e });
  throw e;
}

function readPassword(opts: { password?: string; passwordStdin?: boolean }): string | undefined {
  if (opts.password !== undefined && opts.passwordStdin) throw new CliError('give either --password or --password-stdin, not both');
  if (opts.passwordStdin) return readFileSync(0, 'utf8').replace(/\r?\n$/, '');
  return opts.password;
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

/** One-line summary of the storage a config selects. */
export function describeStorage(config: Config): string {
  const i = config.storage.influx;
  if (!i) return `embedded store in ${resolve(config.dataDir)}`;
  return i.api === 'v2' ? `InfluxDB ${i.url} (v2 API, org ${i.org}, bucket ${i.bucket})` : `InfluxDB ${i.url} (v1 API, database ${i.database}${i.retentionPolicy ? `, rp ${i.retentionPolicy}` : ''})`;
}

/** Builds the program. `io` defaults to the process's stdout and stderr. */
export function createProgram(io: CliIo = processIo): Command {
  const program = new Command('steward')
    .description('Steward: commons telemetry for community resilience hubs (sensors -> MQTT -> validated ingest -> storage -> API)')
    .option('-c, --config <file>', 'YAML config file (default: $STEWARD_CONFIG, else built-in defaults)')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .exitOverride();

  program
    .command('check')
    .description('validate the configuration and print a summary')
    .action(async (_opts, cmd: Command) => {
      const c = configFrom(cmd);
      const fromConfig = c.http.tokens.map((t) => `${t.name} (${t.role})`).join(', ') || 'none in the config';
      // Tokens made with `steward tokens add` live in the registry; count them without creating it.
      const registered = existsSync(join(c.dataDir, 'registry.db')) ? await withRegistry(c, (r) => r.listTokens().length) : 0;
      const tokens = `${fromConfig}${registered ? `; ${registered} in the registry (steward tokens list)` : ''}`;
      io.out(
        [
          `OK: configuration is valid (${(cmd.optsWithGlobals() as { config?: string }).config ?? process.env.STEWARD_CONFIG ?? 'built-in defaults'})`,
          `  data dir     ${resolve(c.dataDir)}`,
          `  storage      ${describeStorage(c)}`,
          `  MQTT         ${c.mqtt.host}:${c.mqtt.port}, WebSocket :${c.mqtt.wsPort}${c.mqtt.tlsCert && c.mqtt.tlsKey ? `, TLS :${c.mqtt.tlsPort}` : ''}`,
          `  HTTP API     ${c.http.host}:${c.http.port}, rate limit ${c.http.rateLimit.max} per ${c.http.rateLimit.timeWindowMs / 1000} s, tokens: ${tokens}`,
          `  ingest       ${c.ingest.brokerUrl} as ${c.ingest.username}, topics ${c.ingest.topics.join(' ')}`,
          `  simulators   hub ${c.simulators.hub}, seed ${c.simulators.seed}, speed ${c.simulators.speed}x${c.simulators.scenario ? `, scenario ${c.simulators.scenario}` : ''}`,
        ].join('\n'),
      );
    });

  program
    .command('schema')
    .description('print (or write to --out) the JSON Schema of the payloads, generated from the zod schemas')
    .option('--out <dir>', 'write reading.json and senml-pack.json into this directory')
    .action((opts: { out?: string }) => {
      const docs = payloadJsonSchemas();
      if (!opts.out) {
        io.out(JSON.stringify(docs, null, 2));
        return;
      }
      mkdirSync(opts.out, { recursive: true });
      for (const [name, doc] of Object.entries(docs)) {
        const file = join(opts.out, name);
        writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
        io.out(`wrote ${file}`);
      }
    });

  const sensors = program.command('sensors').description('register, list and remove sensors (devices) in the registry');
  sensors
    .command('add')
    .description('register a sensor; it can connect at once as {hub}.{sensor}')
    .argument('<hub>', 'hub id')
    .addArgument(new Argument('<domain>', 'domain').choices([...DOMAINS]))
    .argument('<sensor>', 'sensor id')
    .option('--password <password>', 'the device password (default: a generated one, printed once)')
    .option('--password-stdin', 'read the password from stdin')
    .option('--site <site>', 'site id (storage tag; default: the sensor id)')
    .option('--kind <kind>', 'kind of sensor, e.g. piezometer (storage tag; default: the domain)')
    .option('--eui <eui>', 'LoRaWAN DevEUI (16 hex digits): the connectors map uplinks of this device to the sensor')
    .option('--json', 'print the credentials as JSON')
    .action(async (hub: string, domain: string, sensor: string, opts: { password?: string; passwordStdin?: boolean; site?: string; kind?: string; eui?: string; json?: boolean }, cmd: Command) => {
      const config = configFrom(cmd);
      const password = readPassword(opts);
      const add: Parameters<Registry['addSensor']>[0] = { hub, domain, sensor };
      if (password !== undefined) add.password = password;
      if (opts.site !== undefined) add.site = opts.site;
      if (opts.kind !== undefined) add.kind = opts.kind;
      if (opts.eui !== undefined && !normaliseEui(opts.eui)) throw new CliError(`--eui: "${opts.eui}" is not 16 hexadecimal digits`);
      const res = await withRegistry(config, async (r) => {
        const added = await r.addSensor(add);
        if (opts.eui !== undefined) r.setSensorEui(hub, sensor, opts.eui);
        return added;
      }).catch(asInputError);
      const topic = dataTopic(res.entry);
      if (opts.json) {
        io.out(JSON.stringify({ username: res.entry.username, ...(res.generated ? { password: res.password } : {}), clientId: res.entry.username, topic, hub, domain, sensor }));
        return;
      }
      io.out(
        [
          `Registered ${domain} sensor ${sensor} of hub ${hub}.`,
          `  MQTT username / client id: ${res.entry.username}`,
          res.generated ? `  MQTT password:             ${res.password}   (shown once: store it on the device now)` : '  MQTT password:             the one you gave',
          `  publish readings to:       ${topic}`,
          ...(opts.eui !== undefined ? [`  LoRaWAN DevEUI:            ${normaliseEui(opts.eui)} (uplinks through a connector)`] : []),
        ].join('\n'),
      );
    });
  sensors
    .command('list')
    .description('list registered sensors')
    .option('--hub <hub>', 'only this hub')
    .option('--json', 'print JSON')
    .action(async (opts: { hub?: string; json?: boolean }, cmd: Command) => {
      const config = configFrom(cmd);
      const list = await withRegistry(config, (r) =>
        r.listSensors(opts.hub).map((s) => {
          const eui = r.euiOf(s.hub, s.sensor);
          return eui ? { ...s, eui } : s;
        }),
      );
      if (opts.json) return io.out(JSON.stringify(list, null, 2));
      if (!list.length) return io.out(opts.hub ? `no sensors registered for hub ${opts.hub}` : 'no sensors registered (add one with: steward sensors add HUB DOMAIN SENSOR)');
      io.out(table([['HUB', 'DOMAIN', 'SENSOR', 'SITE', 'KIND', 'USERNAME', 'REGISTERED'], ...list.map((s) => [s.hub, s.domain, s.sensor, s.site ?? '-', s.kind ?? '-', s.username, new Date(s.createdAt).toISOString()])]));
    });
  sensors
    .command('remove')
    .description('remove a sensor (it can no longer connect)')
    .argument('<hub>', 'hub id')
    .argument('<sensor>', 'sensor id')
    .action(async (hub: string, sensor: string, _opts, cmd: Command) => {
      const config = configFrom(cmd);
      const removed = await withRegistry(config, (r) => r.removeSensor(hub, sensor));
      if (!removed) throw new CliError(`no sensor ${sensor} registered for hub ${hub}`, EXIT.FAILED);
      io.out(`removed sensor ${hub}.${sensor}`);
    });

  const accounts = program.command('accounts').description('MQTT accounts of services, hubs, stewards and technicians');
  accounts
    .command('add')
    .description('add (or replace) an account')
    .argument('<name>', 'account name (also the MQTT username)')
    .addOption(new Option('--role <role>', 'what the account may do').choices([...ACCOUNT_ROLES]).makeOptionMandatory())
    .option('--hub <hub>', 'role hub: the hub whose alerts it may read')
    .option('--password <password>', 'the password (default: a generated one, printed once)')
    .option('--password-stdin', 'read the password from stdin')
    .option('--json', 'print the credentials as JSON')
    .action(async (name: string, opts: { role: string; hub?: string; password?: string; passwordStdin?: boolean; json?: boolean }, cmd: Command) => {
      const config = configFrom(cmd);
      const password = readPassword(opts);
      const add: Parameters<Registry['addAccount']>[0] = { name, role: opts.role };
      if (password !== undefined) add.password = password;
      if (opts.hub !== undefined) add.hub = opts.hub;
      const res = await withRegistry(config, (r) => r.addAccount(add)).catch(asInputError);
      if (opts.json) return io.out(JSON.stringify({ username: name, role: opts.role, ...(res.generated ? { password: res.password } : {}) }));
      io.out(
        [
          `Added ${opts.role} account ${name}${opts.hub ? ` (hub ${opts.hub})` : ''}.`,
          `  MQTT username: ${name}`,
          res.generated ? `  MQTT password: ${res.password}   (shown once)` : '  MQTT password: the one you gave',
        ].join('\n'),
      );
    });
  accounts
    .command('list')
    .description('list accounts')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const config = configFrom(cmd);
      const list = await withRegistry(config, (r) => r.listAccounts());
      if (opts.json) return io.out(JSON.stringify(list, null, 2));
      if (!list.length) return io.out('no accounts (add one with: steward accounts add NAME --role ROLE)');
      io.out(table([['NAME', 'ROLE', 'HUB', 'CREATED'], ...list.map((a) => [a.name, a.role, a.hub ?? '-', new Date(a.createdAt).toISOString()])]));
    });
  accounts
    .command('remove')
    .description('remove an account')
    .argument('<name>', 'account name')
    .action(async (name: string, _opts, cmd: Command) => {
      const config = configFrom(cmd);
      const removed = await withRegistry(config, (r) => r.removeAccount(name));
      if (!removed) throw new CliError(`no account named ${name}`, EXIT.FAILED);
      io.out(`removed account ${name}`);
    });

  const tokens = program.command('tokens').description('API bearer tokens (kept in the registry; effective at once, no restart)');
  tokens
    .command('add')
    .description('make a token; it is printed once, only its hash is stored')
    .argument('<name>', 'token name (who holds it; shown in logs and on acknowledgements)')
    .addOption(new Option('--role <role>', 'what it may do: steward (acknowledge, silence) or technician (dead letters)').choices([...TOKEN_ROLES]).makeOptionMandatory())
    .option('--hub <hub>', 'limit it to this hub (repeat for several); default every hub', (v: string, prev: string[] = []) => [...prev, v])
    .option('--expires <when>', 'expiry: a duration from now (90d, 12h, 2w) or an ISO 8601 date')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { role: string; hub?: string[]; expires?: string; json?: boolean }, cmd: Command) => {
      const config = configFrom(cmd);
      const add: Parameters<Registry['addToken']>[0] = { name, role: opts.role };
      if (opts.hub) add.hubs = opts.hub;
      if (opts.expires !== undefined) add.expiresAt = parseExpiry(opts.expires);
      const res = await withRegistry(config, (r) => r.addToken(add)).catch(asInputError);
      const e = res.entry;
      if (opts.json) return io.out(JSON.stringify({ ...e, token: res.token }));
      io.out(
        [
          `Added ${e.role} token ${e.name}${e.hubs ? ` for hub${e.hubs.length > 1 ? 's' : ''} ${e.hubs.join(', ')}` : ' for every hub'}${e.expiresAt ? `, expires ${new Date(e.expiresAt).toISOString()}` : ''}.`,
          `  token: ${res.token}`,
          '  (shown once: only its hash is kept. Use it as: Authorization: Bearer <token>)',
        ].join('\n'),
      );
    });
  tokens
    .command('list')
    .description('list tokens (names, roles, hubs, expiry; never the tokens)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const config = configFrom(cmd);
      const list = await withRegistry(config, (r) => r.listTokens());
      const fromConfig = config.http.tokens.map((t) => ({ name: t.name, role: t.role, hubs: t.hubs, source: 'config' }));
      if (opts.json) return io.out(JSON.stringify([...list.map((t) => ({ ...t, source: 'registry' })), ...fromConfig], null, 2));
      if (!list.length && !fromConfig.length) return io.out('no tokens (add one with: steward tokens add NAME --role steward)');
      const now = Date.now();
      io.out(
        table([
          ['NAME', 'ROLE', 'HUBS', 'EXPIRES', 'SOURCE'],
          ...list.map((t) => [t.name, t.role, t.hubs?.join(',') ?? '(all)', t.expiresAt ? `${new Date(t.expiresAt).toISOString()}${t.expiresAt <= now ? ' (expired)' : ''}` : 'never', 'registry']),
          ...fromConfig.map((t) => [t.name, t.role, t.hubs?.join(',') ?? '(all)', 'never', 'config']),
        ]),
      );
    });
  tokens
    .command('revoke')
    .description('revoke a token: refused from the next request on')
    .argument('<name>', 'token name')
    .action(async (name: string, _opts, cmd: Command) => {
      const config = configFrom(cmd);
      const removed = await withRegistry(config, (r) => r.revokeToken(name));
      if (!removed) {
        const inConfig = config.http.tokens.some((t) => t.name === name);
        throw new CliError(inConfig ? `token ${name} is in the config file (http.tokens): remove it there and restart` : `no token named ${name}`, EXIT.FAILED);
      }
      io.out(`revoked token ${name}`);
    });

  addRoleCommands(program, io);
  return program;
}

/** The long-running roles; their wiring is in roles.ts (loaded on demand so one-shot commands start fast). */
function addRoleCommands(program: Command, io: CliIo): void {
  const run = async (cmd: Command, role: 'broker' | 'ingest' | 'api' | 'sim' | 'start' | 'rules' | 'connect', opts: Record<string, unknown>): Promise<void> => {
    let config = configFrom(cmd);
    if (role === 'start') {
      // A scenario plays on a data dir of its own, apart from the hub's real history (cli/scenario.ts).
      const { scenarioConfig } = await import('./scenario.ts');
      config = scenarioConfig(config, typeof opts.scenario === 'string' ? opts.scenario : undefined, opts.sim !== false);
    }
    const roles = await import('./roles.ts');
    await roles.runRoleCommand(role, config, opts, io);
  };
  program.command('broker').description('run the MQTT broker (Aedes) with the registry as its authority').action((opts, cmd: Command) => run(cmd, 'broker', opts));
  program.command('ingest').description('run an ingest worker (password: config ingest.password or $STEWARD_INGEST_PASSWORD)').action((opts, cmd: Command) => run(cmd, 'ingest', opts));
  program.command('api').description('run the HTTP API').action((opts, cmd: Command) => run(cmd, 'api', opts));
  const rules = program.command('rules').description('the commons-threshold rules engine');
  rules
    .command('run', { isDefault: true })
    .description('run the rules engine alone (password: config rules.password or $STEWARD_RULES_PASSWORD)')
    .action((opts, cmd: Command) => run(cmd, 'rules', opts));
  rules
    .command('check [path]')
    .description('lint rule files (default: the shipped rules); exits 1 on any error')
    .action(async (path: string | undefined) => {
      const { checkRules, DEFAULT_RULES_DIR } = await import('../rules/index.ts');
      const target = path ?? DEFAULT_RULES_DIR;
      const r = checkRules(target);
      if (!r.ok) failWithErrors(io, r.errors, `in ${target}`);
      io.out(`OK: ${r.rules} rule(s) in ${r.files.length} file(s) under ${target}`);
    });
  rules
    .command('backtest')
    .description('score the rules: run the simulators and the rules engine on simulated time (no broker) and report true and false firings, misses, lead time and flaps per rule')
    .option('--scenario <name>', 'one scenario (default: every scenario)')
    .option('--days <n>', "simulated days after the scenario begins (default: the scenario's own, 365 for normal)", parseIntArg('--days'))
    .option('--seed <n>', 'random seed of the simulated world', parseIntArg('--seed'))
    .option('--rules <path>', 'rule files (default: the shipped rules)')
    .addOption(new Option('--format <format>', 'report format').choices(['text', 'json', 'markdown']).default('text'))
    .option('--out <file>', 'write the report to this file instead of stdout')
    .action(async (opts: { scenario?: string; days?: number; seed?: number; rules?: string; format: 'text' | 'json' | 'markdown'; out?: string }) => {
      const { runBacktest, scenarioNames } = await import('./backtest.ts');
      const { formatMarkdown, formatText } = await import('./backtest-report.ts');
      if (opts.days !== undefined && opts.days < 1) throw new CliError('--days: must be at least 1');
      const names = opts.scenario ? [opts.scenario] : scenarioNames();
      const reports = [];
      for (const scenario of names) {
        try {
          reports.push(
            await runBacktest({ scenario, ...(opts.days !== undefined ? { days: opts.days } : {}), ...(opts.seed !== undefined ? { seed: opts.seed } : {}), ...(opts.rules ? { rulesDir: opts.rules } : {}) }),
          );
        } catch (e) {
          if ((e as { code?: string }).code === 'SIM_ERR_UNKNOWN_SCENARIO' || (e as { code?: string }).code === 'RULES_ERR_INVALID') throw new CliError((e as Error).message, EXIT.USAGE, { cause: e });
          throw e;
        }
      }
      const command = ['steward rules backtest', ...(opts.scenario ? [`--scenario ${opts.scenario}`] : []), ...(opts.days !== undefined ? [`--days ${opts.days}`] : []), ...(opts.seed !== undefined ? [`--seed ${opts.seed}`] : []), `--format ${opts.format}`, ...(opts.out ? [`--out ${opts.out}`] : [])].join(' ');
      const text = opts.format === 'json' ? `${JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2)}\n` : opts.format === 'markdown' ? formatMarkdown(reports, command) : formatText(reports);
      if (opts.out) {
        writeFileSync(opts.out, text);
        io.out(`wrote ${opts.out}`);
      } else io.out(text.trimEnd());
      const failed = reports.filter((r) => !r.verdict.ok);
      if (failed.length) throw new CliError(`${failed.map((r) => r.scenario).join(', ')}: the alerts do not meet the bar (see the report)`, EXIT.FAILED);
    });
  const connect = program.command('connect').description('connectors: LoRaWAN network servers (ChirpStack, The Things Stack) and MQTT fleets (connectors/README.md)');
  connect
    .command('run', { isDefault: true })
    .description('run the configured connectors with their own spool and forwarder (connectors.sources)')
    .action((opts, cmd: Command) => run(cmd, 'connect', opts));
  connect
    .command('check')
    .description('validate connectors.sources and the mapping profiles; exits 1 on any error')
    .action(async (_opts, cmd: Command) => {
      const config = configFrom(cmd);
      const { checkConnectors } = await import('../connectors/index.ts');
      const r = checkConnectors(config);
      if (!r.ok) failWithErrors(io, r.errors, 'in the connectors configuration');
      io.out(
        [
          `OK: ${r.sources.length} source(s), ${r.profiles.length} mapping profile(s)`,
          ...r.sources.map((s) => `  source  ${s.config.name} (${s.format.format})${s.mqtt ? ` mqtt ${s.mqtt.url} ${s.mqtt.topics.join(' ')} qos ${s.mqtt.qos}` : ''}${s.webhookSecret ? ` webhook POST /api/v1/connect/${s.config.name} on :${config.connectors.http.port}` : ''}`),
          ...r.profiles.map((p) => `  profile ${p.name} (${p.domain}, ${p.file}): ${Object.entries(p.fields).map(([f, m]) => `${f} -> ${m.metric}${m.unit ? ` [${m.unit}]` : ''}`).join(', ')}`),
        ].join('\n'),
      );
    });
  program
    .command('sim')
    .description('run the simulated demo fleet, publishing to the broker')
    .option('--hub <hub>', 'hub id of the fleet')
    .option('--seed <n>', 'random seed', parseIntArg('--seed'))
    .option('--speed <x>', 'simulated seconds per real second', parseNumberArg('--speed'))
    .option('--scenario <name>', 'scenario to play')
    .option('--list', 'list the registered simulators (kind, domain, own interval, metrics) and exit')
    .action((opts: { list?: boolean }, cmd: Command) => {
      if (opts.list) return io.out(simulatorTable());
      return run(cmd, 'sim', opts);
    });
  program
    .command('start')
    .description('all in one process: broker + ingest + API + simulated fleet')
    .option('--scenario <name>', 'scenario for the simulated fleet')
    .option('--speed <x>', 'simulated seconds per real second', parseNumberArg('--speed'))
    .option('--no-sim', 'do not run the simulated fleet')
    .action((opts, cmd: Command) => run(cmd, 'start', opts));
}

/** `steward sim --list`: every registered simulator, from the registry (simulators/registered.ts). */
export function simulatorTable(): string {
  const rows = Object.values(SIMULATORS)
    .sort((a, b) => a.kind.localeCompare(b.kind))
    .map((d) => {
      const own = (d.configSchema.parse({}) as { intervalS?: unknown }).intervalS;
      const units = d.metrics.map((m) => `${m} (${metricDef(m)?.unit ?? '?'})`).join(', ');
      return [d.kind, d.domain, typeof own === 'number' ? `${own}s` : '-', units, d.description];
    });
  return table([['KIND', 'DOMAIN', 'INTERVAL', 'METRICS', 'DESCRIPTION'], ...rows]);
}

/** Prints each error of a `check` command and fails (exit 1) with their count `where`. */
function failWithErrors(io: CliIo, errors: readonly string[], where: string): never {
  for (const e of errors) io.err(e);
  throw new CliError(`${errors.length} error(s) ${where}`, EXIT.FAILED);
}

/** `--expires`: a duration from now (90d) or an ISO 8601 date; exit 2 otherwise. */
function parseExpiry(v: string): number {
  const ms = parseDuration(v);
  if (ms !== undefined) return Date.now() + ms;
  const t = Date.parse(v);
  if (/^\d{4}-\d{2}-\d{2}/.test(v) && Number.isFinite(t)) return t;
  throw new CliError(`--expires: "${v}" is neither a duration (90d, 12h) nor an ISO 8601 date`);
}

function parseIntArg(name: string): (v: string) => number {
  return (v) => {
    if (!/^-?\d+$/.test(v)) throw new CliError(`${name}: "${v}" is not a whole number`);
    return Number(v);
  };
}
function parseNumberArg(name: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new CliError(`${name}: "${v}" is not a positive number`);
    return n;
  };
}

/**
 * Runs the command line and resolves with the exit code. Errors are printed as
 * `steward: <message>` on stderr; usage errors (commander) exit 2.
 */
export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  const program = createProgram(io);
  try {
    await program.parseAsync(argv);
    return EXIT.OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version are "errors" with exit code 0.
      if (e.exitCode === 0) return EXIT.OK;
      return EXIT.USAGE;
    }
    if (e instanceof CliError) {
      io.err(`steward: ${e.message}`);
      return e.exitCode;
    }
    io.err(`steward: ${(e as Error).stack ?? String(e)}`);
    return EXIT.FAILED;
  }
}

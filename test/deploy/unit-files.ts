/**
 * Readers for the deployment files of deploy/, for test/deploy/deploy.test.ts: a systemd unit and
 * the environment file its ExecStart line is expanded with, and a Dockerfile's instructions.
 *
 * Each reader implements the part of its format those files use and throws on anything else (a
 * quoted word, an escape), so that a later edit using more of the format fails here loudly
 * instead of being read wrong.
 */

/** A unit file: section name → key → values in file order (a key may repeat, e.g. Environment=). */
export type Unit = Map<string, Map<string, string[]>>;

/** Reads a unit file: `[Section]` headers, `Key=Value` lines, `#`/`;` comments, `\` continuations. */
export function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1]!, section);
      continue;
    }
    const eq = line.indexOf('=');
    if (!section || eq < 1) throw new Error(`unit file: cannot read line ${JSON.stringify(raw)}`);
    const key = line.slice(0, eq).trim();
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return unit;
}

/** The last value of `key` in `[section]` (systemd's rule for single-valued settings). */
export function unitValue(unit: Unit, section: string, key: string): string | undefined {
  return unit.get(section)?.get(key)?.at(-1);
}

/** Unit specifiers that deploy/systemd/bucketq.service uses: %H (host name) and %% only. */
function expandSpecifiers(text: string, hostname: string): string {
  return text.replace(/%(.)/g, (_, c: string) => {
    if (c === 'H') return hostname;
    if (c === '%') return '%';
    throw new Error(`unit file: specifier %${c} is not implemented by this reader`);
  });
}

/** `KEY=VALUE` lines of an EnvironmentFile= (comments and blank lines skipped; no quotes). */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new Error(`environment file: cannot read line ${JSON.stringify(raw)}`);
    if (/["'\\]/.test(m[2]!)) throw new Error(`environment file: quotes and escapes are not implemented by this reader: ${JSON.stringify(raw)}`);
    env[m[1]!] = m[2]!;
  }
  return env;
}

/**
 * The argv of `[Service] ExecStart=` as systemd runs it: specifiers expanded, then Environment=
 * values overridden by the environment files (in order, as systemd does), then `${VAR}` (its
 * value, as part of one word) and a whole-word `$VAR` (its value split at whitespace: zero or
 * more words).
 */
export function expandExecStart(unit: Unit, envFiles: Array<Record<string, string>>, hostname: string): { argv: string[]; env: Record<string, string> } {
  const env: Record<string, string> = {};
  for (const assignment of unit.get('Service')?.get('Environment') ?? []) {
    if (/["'\\]/.test(assignment)) throw new Error(`Environment=${assignment}: quotes are not implemented by this reader`);
    for (const word of assignment.split(/\s+/).filter(Boolean)) {
      const eq = word.indexOf('=');
      env[word.slice(0, eq)] = expandSpecifiers(word.slice(eq + 1), hostname);
    }
  }
  for (const file of envFiles) Object.assign(env, file);
  const line = unitValue(unit, 'Service', 'ExecStart');
  if (line === undefined) throw new Error('the unit has no ExecStart=');
  if (/["'\\]/.test(line)) throw new Error('ExecStart=: quotes and escapes are not implemented by this reader');
  const argv: string[] = [];
  for (const word of expandSpecifiers(line, hostname).split(/\s+/).filter(Boolean)) {
    const whole = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(word);
    if (whole) argv.push(...(env[whole[1]!] ?? '').split(/\s+/).filter(Boolean));
    else argv.push(word.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => env[name] ?? ''));
  }
  return { argv, env };
}

/** One Dockerfile instruction: its keyword (upper case) and the rest, continuations joined. */
export interface Instruction {
  keyword: string;
  args: string;
}

/** A Dockerfile's instructions (comments and parser directives dropped; `\` continues a line). */
export function dockerfileInstructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw)) continue; // a comment, also inside a continued instruction
    const continued = /\\\s*$/.test(raw);
    pending += continued ? raw.replace(/\\\s*$/, '') : raw;
    if (continued) continue;
    const m = /^\s*([A-Za-z]+)\s+(.*?)\s*$/s.exec(pending);
    if (m) out.push({ keyword: m[1]!.toUpperCase(), args: m[2]! });
    pending = '';
  }
  return out;
}

/** `ENV` instructions of the last stage as one object (`KEY=VALUE` pairs, `$VAR` from earlier ones and `base`). */
export function dockerfileEnv(instructions: Instruction[], base: Record<string, string>): Record<string, string> {
  const lastFrom = instructions.map((i) => i.keyword).lastIndexOf('FROM');
  const env: Record<string, string> = { ...base };
  for (const { keyword, args } of instructions.slice(lastFrom + 1)) {
    if (keyword !== 'ENV') continue;
    for (const pair of args.split(' ').filter(Boolean)) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(pair);
      if (!m || /["']/.test(m[2]!)) throw new Error(`ENV ${args}: only unquoted KEY=VALUE pairs are implemented by this reader`);
      env[m[1]!] = m[2]!.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, name: string) => env[name] ?? '');
    }
  }
  return env;
}

/** The JSON (exec) form of an instruction's arguments, e.g. `ENTRYPOINT ["a", "b"]`. */
export function execForm(args: string): string[] {
  const value: unknown = JSON.parse(args);
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new Error(`not the exec form: ${args}`);
  return value;
}

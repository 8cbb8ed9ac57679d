/**
 * Server configuration: defaults < JSON file (--config) < environment (SECONDREADER_*) < command-line flags.
 * Validated once, at start-up, against one JSON schema; any problem stops the server with CONFIG_INVALID listing
 * every problem at once (a server that starts half-configured fails later, on the first study, at night).
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { SrError } from '../core/index.ts';
import { OIDC_DEFAULTS } from './auth/oidc.ts';
import { DEFAULT_AUTH_CONFIG } from './auth/service.ts';
import type { AuthConfig } from './auth/service.ts';

export interface DicomPeer {
  readonly aeTitle: string;
  readonly host: string;
  readonly port: number;
}

/** Which analyses run on which series. A series matches a rule when every given criterion matches. */
export interface RoutingRule {
  /** Analysis ids, or '*' for every registered analysis (each still decides with its own `accepts`). */
  readonly analyses: readonly string[] | '*';
  /** Calling AE titles the series must have come from (case-sensitive, trimmed). */
  readonly callingAe?: readonly string[];
  readonly modalities?: readonly string[];
}

/**
 * A DIMSE allow rule (src/dimse's DimseAllowRule): calling AE title (exact, or '*') and remote address (an IP, an
 * IPv4 CIDR, 'loopback' or '*'); an association is accepted when some rule matches both.
 */
export interface AllowedPeer {
  readonly aeTitle?: string;
  readonly address?: string;
}

/**
 * A C-STORE destination for result objects (key image SC series + findings SR): every result, or only those of
 * the listed analyses. A PACS admin adds SecondReader's AE title to the PACS's known modalities, then lists it here.
 */
export interface ForwardConfig extends DicomPeer {
  /** Analysis ids whose results go there; absent or '*' = all. */
  readonly analyses?: readonly string[] | '*';
}

/** How a failed forward is retried: attempts (the first included) and the first delay, doubling per attempt. */
export interface ForwardRetryConfig {
  readonly maxAttempts: number;
  readonly retryDelaySeconds: number;
}

export interface ServerConfig {
  readonly dataDir: string;
  readonly httpHost: string;
  readonly httpPort: number;
  readonly dicomHost: string;
  /** 0 = any free port (tests); the SCP is always started in `serve`. */
  readonly dicomPort: number;
  readonly aeTitle: string;
  /** 'sqlite' (embedded, under dataDir) or a postgres:// connection string. */
  readonly database: string;
  /** PostgreSQL schema of the index and jobs tables (several deployments can share one database). */
  readonly databaseSchema: string;
  readonly queue: 'embedded' | 'postgres';
  readonly stableQuietSeconds: number;
  readonly workers: number;
  readonly jobTimeoutSeconds: number;
  readonly routing: readonly RoutingRule[];
  /** Result forwarding destinations (a single object in the file is read as a list of one; null as none). */
  readonly forward: readonly ForwardConfig[];
  readonly forwardRetry: ForwardRetryConfig;
  readonly peers: readonly DicomPeer[];
  /** Who may associate; default: any calling AE from this machine (loopback) only. */
  readonly allowList: readonly AllowedPeer[];
  readonly maxUploadBytes: number;
  /** Load the synthetic demo study into an empty archive on first start. */
  readonly demo: boolean;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Per-client HTTP rate limit (src/server/hardening.ts; max 0 = off); JSON file only. */
  readonly rateLimit: { readonly max: number; readonly windowSeconds: number };
  /** DICOM TLS for the SCP (PEM file paths; docs/security-hardening.md); null = plain TCP. JSON file only. */
  readonly dicomTls: { readonly cert: string; readonly key: string; readonly ca?: string; readonly requireClientCert?: boolean } | null;
  /** Sessions, lock-out, cookie (docs/security.md); JSON file only. Missing keys take the defaults. */
  readonly auth: AuthConfig;
}

export const DEFAULT_CONFIG: ServerConfig = {
  dataDir: './secondreader-data',
  httpHost: '127.0.0.1',
  httpPort: 8080,
  dicomHost: '127.0.0.1',
  dicomPort: 11112,
  aeTitle: 'SECONDREADER',
  database: 'sqlite',
  databaseSchema: 'secondreader',
  queue: 'embedded',
  stableQuietSeconds: 10,
  workers: 1,
  jobTimeoutSeconds: 900,
  routing: [{ analyses: '*' }],
  forward: [],
  forwardRetry: { maxAttempts: 5, retryDelaySeconds: 30 },
  peers: [],
  allowList: [{ aeTitle: '*', address: 'loopback' }],
  maxUploadBytes: 2 * 1024 ** 3,
  demo: true,
  logLevel: 'info',
  rateLimit: { max: 3000, windowSeconds: 60 },
  dicomTls: null,
  auth: DEFAULT_AUTH_CONFIG,
};

/** PS3.5 §6.2: AE is 1–16 characters of the default repertoire, no backslash or control characters. */
const AE = { type: 'string', pattern: '^(?=.*[^ ])[\\x20-\\x5b\\x5d-\\x7e]{1,16}$' };
const PORT = { type: 'integer', minimum: 0, maximum: 65535 };
const PEER = { type: 'object', additionalProperties: false, required: ['aeTitle', 'host', 'port'], properties: { aeTitle: AE, host: { type: 'string', minLength: 1 }, port: { ...PORT, minimum: 1 } } };

export const CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: Object.keys(DEFAULT_CONFIG),
  properties: {
    dataDir: { type: 'string', minLength: 1 },
    httpHost: { type: 'string', minLength: 1 },
    httpPort: PORT,
    dicomHost: { type: 'string', minLength: 1 },
    dicomPort: PORT,
    aeTitle: AE,
    database: { type: 'string', pattern: '^(sqlite|postgres(ql)?://.+)$' },
    databaseSchema: { type: 'string', pattern: '^[a-z_][a-z0-9_]{0,47}$' },
    queue: { enum: ['embedded', 'postgres'] },
    stableQuietSeconds: { type: 'number', minimum: 0, maximum: 86400 },
    workers: { type: 'integer', minimum: 0, maximum: 64 },
    jobTimeoutSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 86400 },
    routing: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['analyses'],
        properties: {
          analyses: { anyOf: [{ const: '*' }, { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } }] },
          callingAe: { type: 'array', items: AE },
          modalities: { type: 'array', items: { type: 'string', pattern: '^[A-Z]{1,16}$' } },
        },
      },
    },
    forward: {
      type: 'array',
      items: {
        type: 'object', additionalProperties: false, required: ['aeTitle', 'host', 'port'],
        properties: { ...PEER.properties, analyses: { anyOf: [{ const: '*' }, { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } }] } },
      },
    },
    forwardRetry: {
      type: 'object', additionalProperties: false, required: ['maxAttempts', 'retryDelaySeconds'],
      properties: { maxAttempts: { type: 'integer', minimum: 1, maximum: 100 }, retryDelaySeconds: { type: 'number', minimum: 0, maximum: 86400 } },
    },
    peers: { type: 'array', items: PEER },
    allowList: {
      type: 'array',
      items: { type: 'object', additionalProperties: false, properties: { aeTitle: AE, address: { type: 'string', minLength: 1 } } },
    },
    maxUploadBytes: { type: 'integer', minimum: 1024 },
    demo: { type: 'boolean' },
    logLevel: { enum: ['debug', 'info', 'warn', 'error'] },
    rateLimit: {
      type: 'object', additionalProperties: false, required: ['max', 'windowSeconds'],
      properties: { max: { type: 'integer', minimum: 0 }, windowSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 86400 } },
    },
    dicomTls: {
      anyOf: [{ type: 'null' }, {
        type: 'object', additionalProperties: false, required: ['cert', 'key'],
        properties: { cert: { type: 'string', minLength: 1 }, key: { type: 'string', minLength: 1 }, ca: { type: 'string', minLength: 1 }, requireClientCert: { type: 'boolean' } },
      }],
    },
    auth: {
      type: 'object', additionalProperties: false, required: Object.keys(DEFAULT_AUTH_CONFIG),
      properties: {
        sessionIdleMinutes: { type: 'number', exclusiveMinimum: 0, maximum: 10080 },
        sessionAbsoluteHours: { type: 'number', exclusiveMinimum: 0, maximum: 720 },
        lockoutAttempts: { type: 'integer', minimum: 1, maximum: 100 },
        lockoutWindowMinutes: { type: 'number', exclusiveMinimum: 0, maximum: 10080 },
        lockoutMinutes: { type: 'number', minimum: 0, maximum: 10080 },
        cookieSecure: { enum: ['auto', 'always', 'never'] },
        dicomWebBasic: { type: 'boolean' },
        oidc: {
          anyOf: [{ type: 'null' }, {
            type: 'object', additionalProperties: false, required: ['issuer', 'clientId', 'clientSecret', 'redirectUri', 'roleMap'],
            properties: {
              issuer: { type: 'string', pattern: '^https?://' },
              clientId: { type: 'string', minLength: 1 },
              clientSecret: { type: 'string', minLength: 1 },
              redirectUri: { type: 'string', pattern: '^https?://' },
              scopes: { type: 'array', items: { type: 'string', pattern: '^[!#-\\[\\]-~]+$' } },
              usernameClaim: { type: 'string', minLength: 1 },
              roleClaim: { type: 'string', minLength: 1 },
              roleMap: { type: 'object', minProperties: 1, additionalProperties: { enum: ['radiologist', 'technologist', 'researcher', 'admin'] } },
            },
          }],
        },
      },
    },
  },
} as const;

/** Flag/env values arrive as strings; these keys are numbers or booleans in the config. */
const NUMERIC: ReadonlySet<string> = new Set(['httpPort', 'dicomPort', 'stableQuietSeconds', 'workers', 'jobTimeoutSeconds', 'maxUploadBytes']);
const BOOLEAN: ReadonlySet<string> = new Set(['demo']);

/** Environment variable → config key. Structured settings (routing, peers...) come from the JSON file only. */
export const ENV_KEYS: Readonly<Record<string, keyof ServerConfig>> = {
  SECONDREADER_DATA: 'dataDir',
  SECONDREADER_HTTP_HOST: 'httpHost',
  SECONDREADER_HTTP_PORT: 'httpPort',
  SECONDREADER_DICOM_HOST: 'dicomHost',
  SECONDREADER_DICOM_PORT: 'dicomPort',
  SECONDREADER_AE_TITLE: 'aeTitle',
  SECONDREADER_DATABASE: 'database',
  SECONDREADER_DATABASE_SCHEMA: 'databaseSchema',
  SECONDREADER_QUEUE: 'queue',
  SECONDREADER_STABLE_SECONDS: 'stableQuietSeconds',
  SECONDREADER_WORKERS: 'workers',
  SECONDREADER_JOB_TIMEOUT_SECONDS: 'jobTimeoutSeconds',
  SECONDREADER_MAX_UPLOAD_BYTES: 'maxUploadBytes',
  SECONDREADER_DEMO: 'demo',
  SECONDREADER_LOG: 'logLevel',
};

/**
 * The scalar settings as SECONDREADER_* variables. A child process given these (and the same --config file for
 * the structured settings) loads exactly this config: the values already hold the parent's flag overrides.
 */
export function configEnv(config: ServerConfig): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, key] of Object.entries(ENV_KEYS)) env[name] = String(config[key]);
  return env;
}

export interface ConfigSources {
  /** Parsed flags, by config key (strings as typed). */
  readonly flags?: Readonly<Partial<Record<keyof ServerConfig, string | boolean | number>>>;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Path of a JSON config file. */
  readonly file?: string;
  /** Relative paths (dataDir, file) resolve against this. */
  readonly cwd: string;
}

function coerce(key: string, v: unknown): unknown {
  if (typeof v !== 'string') return v;
  if (NUMERIC.has(key)) return v.trim() === '' ? v : Number(v);
  if (BOOLEAN.has(key)) return v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v;
  return v;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new SrError('CONFIG_INVALID', `cannot read config file ${path}`, { cause: e, details: { path } });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new SrError('CONFIG_INVALID', `config file ${path} is not valid JSON`, { cause: e, details: { path } });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SrError('CONFIG_INVALID', `config file ${path} must hold a JSON object`, { details: { path } });
  }
  return parsed as Record<string, unknown>;
}

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
const validate = ajv.compile(CONFIG_SCHEMA);

/** Merges the sources and validates. Throws CONFIG_INVALID with every problem in `details.problems`. */
export function loadConfig(sources: ConfigSources): ServerConfig {
  const merged: Record<string, unknown> = { ...DEFAULT_CONFIG };
  const origin: Record<string, string> = {};
  if (sources.file) {
    const file = readConfigFile(resolve(sources.cwd, sources.file));
    for (const [k, v] of Object.entries(file)) {
      merged[k] = v;
      origin[k] = `config file ${sources.file}`;
    }
  }
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const v = sources.env?.[name];
    if (v === undefined || v === '') continue;
    merged[key] = coerce(key, v);
    origin[key] = `environment ${name}`;
  }
  for (const [key, v] of Object.entries(sources.flags ?? {})) {
    if (v === undefined) continue;
    merged[key] = coerce(key, v);
    origin[key] = `flag --${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  }
  // A partial auth section in the file keeps the defaults of the keys it leaves out.
  if (typeof merged['auth'] === 'object' && merged['auth'] !== null && !Array.isArray(merged['auth'])) {
    const auth: Record<string, unknown> = { ...DEFAULT_AUTH_CONFIG, ...(merged['auth'] as object) };
    if (typeof auth['oidc'] === 'object' && auth['oidc'] !== null && !Array.isArray(auth['oidc'])) auth['oidc'] = { ...OIDC_DEFAULTS, ...(auth['oidc'] as object) };
    merged['auth'] = auth;
  }
  // Earlier configs had one destination or null: keep reading them.
  if (merged['forward'] === null) merged['forward'] = [];
  else if (typeof merged['forward'] === 'object' && !Array.isArray(merged['forward'])) merged['forward'] = [merged['forward']];
  // The queue follows the database unless said otherwise: PostgreSQL for the index means scale-out.
  if (origin['queue'] === undefined && typeof merged['database'] === 'string' && merged['database'] !== 'sqlite') merged['queue'] = 'postgres';
  const problems: string[] = [];
  if (!validate(merged)) {
    for (const err of validate.errors ?? []) {
      const key = err.instancePath.split('/')[1] ?? '';
      const from = origin[key] ? ` (from ${origin[key]})` : '';
      problems.push(`${err.instancePath || '(root)'} ${err.message ?? 'is invalid'}${err.params && 'additionalProperty' in err.params ? `: ${String(err.params['additionalProperty'])}` : ''}${from}`);
    }
  } else if (merged['queue'] === 'postgres' && merged['database'] === 'sqlite') {
    problems.push('queue "postgres" needs database to be a postgres:// connection string');
  }
  if (problems.length > 0) {
    throw new SrError('CONFIG_INVALID', `invalid configuration:\n  ${problems.join('\n  ')}`, { details: { problems } });
  }
  const config = merged as unknown as ServerConfig;
  return { ...config, dataDir: isAbsolute(config.dataDir) ? config.dataDir : resolve(sources.cwd, config.dataDir) };
}

/** The config as logged/printed at start: the database password never leaves the process. */
export function redactConfig(config: ServerConfig): ServerConfig {
  const auth = config.auth.oidc ? { ...config.auth, oidc: { ...config.auth.oidc, clientSecret: '***' } } : config.auth;
  return { ...config, database: config.database.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@'), auth };
}

// The connection tests' servers (started by setup/connection-servers.js) and what the tests
// compare: a run's six files, byte for byte.
import * as fs from 'node:fs';

import type { GeneratorResult } from '../../ts/types';

export interface Certificates {
  caCert: string;
  serverCert: string;
  serverKey: string;
  wrongHostCert: string;
  wrongHostKey: string;
  otherCaCert: string;
  clientCert: string;
  clientKey: string;
  clientKeyEncrypted: string;
  otherClientCert: string;
  otherClientKey: string;
}

export interface ConnectionServers {
  /** A PostgreSQL that accepts only TLS (`hostnossl … reject`); `certUser` logs in with a client certificate. */
  tlsUrl: string;
  /** A TLS-only PostgreSQL whose certificate names db.example.com only. */
  wrongHostUrl: string;
  certUser: string;
  certs: Certificates;
  /** PgBouncer in transaction mode in front of the suite's server, or null (see `pgbouncerSkipped`). */
  pgbouncerUrl: string | null;
  pgbouncerSkipped: string | null;
}

export function connectionServers(): ConnectionServers {
  const json = process.env.AUDIENCE_ENGINE_TEST_CONNECTIONS;
  if (!json) throw new Error('AUDIENCE_ENGINE_TEST_CONNECTIONS is not set: run the tests through jest (global setup starts the servers)');
  return JSON.parse(json) as ConnectionServers;
}

/** `url` with its query replaced by `params` (an absent value leaves the parameter out). */
export function withParams(url: string, params: Record<string, string | undefined>): string {
  const u = new URL(url);
  u.search = '';
  for (const [key, value] of Object.entries(params)) if (value !== undefined) u.searchParams.set(key, value);
  return u.toString();
}

/** For node-postgres (test set-up only): TLS without verification. */
export const noVerify = (url: string) => withParams(url, { sslmode: 'no-verify' });

/**
 * A run's files by kind (`offer_created`, `offer_created TEST`, …), as their bytes. A test
 * file's `lastActive` is the time of the run (the contract), so it is masked.
 */
export function filesOf(result: GeneratorResult): Record<string, string> {
  if (!result.success) throw new Error(`the run failed: ${result.errorCode}: ${result.error}`);
  const files: Record<string, string> = {};
  for (const file of result.csvFiles) {
    const text = fs.readFileSync(file.path, 'utf8');
    const key = `${file.audienceType}${file.isTestFile ? ' TEST' : ''}`;
    files[key] = file.isTestFile ? text.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, '<now>') : text;
  }
  return files;
}

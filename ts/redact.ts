// Keeps database passwords out of every message the package prints or returns.

/**
 * Replaces passwords in connection URLs (`scheme://user:password@`) with `***`, and every
 * occurrence of the given secrets (e.g. the password of the database URL in use, raw and
 * percent-decoded). A password runs to the last `@` of its word, so one with an unencoded `@`
 * is hidden whole; the word `password` is left as is (as in the engine's own messages).
 */
export function redactSecrets(text: string, databaseUrl?: string): string {
  // `password` itself is the placeholder of the engine's own examples, not a secret.
  // The user runs to the first `:` (it may hold an `@`, as Azure's `user@server` does).
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/\s]*:)(\S*)@/gi, (match, head: string, password: string) =>
    password === 'password' ? match : `${head}***@`,
  );
  for (const secret of passwordsOf(databaseUrl)) {
    if (secret.length >= 3) out = out.split(secret).join('***');
  }
  return out;
}

/**
 * The password of `databaseUrl` in every form a library may echo it. Mistyped URLs count too
 * (`postgres:/u:pw@h`, `postgres//u:pw@h`), and so do the pieces of a password with an
 * unencoded `@`, `/` or `:` (a driver that misreads the URL prints them as a host or a port).
 */
function passwordsOf(databaseUrl?: string): string[] {
  if (!databaseUrl) return [];
  const found = new Set<string>();
  const match = /^[a-z][a-z0-9+.-]*:\/\/[^:/@]*:([^@/]*)@/i.exec(databaseUrl);
  if (match?.[1]) found.add(match[1]);
  // The user info: what precedes the last `@` before the query, after the scheme and any slashes.
  const beforeQuery = databaseUrl.split(/[?#]/)[0];
  const at = beforeQuery.lastIndexOf('@');
  if (at > 0) {
    const userInfo = beforeQuery.slice(0, at).replace(/^[a-z][a-z0-9+.-]*:/i, '').replace(/^\/*/, '');
    for (const start of [userInfo.indexOf(':'), userInfo.lastIndexOf('/') >= 0 ? userInfo.indexOf(':', userInfo.lastIndexOf('/')) : -1]) {
      if (start < 0) continue;
      const password = userInfo.slice(start + 1);
      found.add(password);
      for (const piece of password.split(/[@/:?#]/)) found.add(piece);
    }
  }
  try {
    const url = new URL(databaseUrl);
    if (url.password) {
      found.add(url.password);
      found.add(decodeURIComponent(url.password));
    }
    const query = url.searchParams.get('password');
    if (query) found.add(query);
  } catch {
    // Not a URL (e.g. a libpq key=value string): only the pattern above applies.
  }
  const kv = /(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/i.exec(databaseUrl);
  if (kv?.[1]) found.add(kv[1].replace(/^'|'$/g, ''));
  return [...found];
}

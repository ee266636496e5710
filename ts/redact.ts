// Keeps database passwords out of every message the package prints or returns.

/**
 * Replaces passwords in connection URLs (`scheme://user:password@`) with `***`, and every
 * occurrence of the given secrets (e.g. the password of the database URL in use, raw and
 * percent-decoded). A password runs to the last `@` of its word, so one with an unencoded `@`
 * is hidden whole; the word `password` is left as is (as in the engine's own messages).
 */
export function redactSecrets(text: string, databaseUrl?: string): string {
  // Word by word: each word is scanned once, so any input takes linear time.
  let out = text.replace(/\S+/g, redactWord);
  for (const secret of passwordsOf(databaseUrl)) {
    if (secret.length >= 3) out = out.split(secret).join('***');
  }
  return out;
}

/**
 * A word with the password of its `scheme://user:password@host` replaced by `***`, as the
 * engine's `redact_passwords` does. The user runs to the first `:` (it may hold an `@`, as
 * Azure's `user@server` does), the password to the word's last `@`; `password` itself, the
 * placeholder of the engine's own examples, is kept.
 */
function redactWord(word: string): string {
  const lastAt = word.lastIndexOf('@');
  if (lastAt < 0) return word;
  for (let from = 0; ; ) {
    const found = word.indexOf('://', from);
    if (found < 0) return word;
    const userStart = found + 3;
    let userEnd = userStart;
    while (userEnd < word.length && word[userEnd] !== ':' && word[userEnd] !== '/') userEnd += 1;
    if (word[userEnd] === ':' && lastAt > userEnd && word.slice(userEnd + 1, lastAt) !== 'password') {
      return `${word.slice(0, userEnd + 1)}***${word.slice(lastAt)}`;
    }
    from = userStart;
  }
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
  // The user info: what precedes the last `@`, after the scheme and any slashes. Both the last
  // `@` of the whole URL (a password may hold `?` or `#`) and the last one before a query (which
  // may hold an `@` of its own) are taken: hiding a host name too is better than showing a piece
  // of a password.
  for (const url of new Set([databaseUrl, databaseUrl.split(/[?#]/)[0]])) {
    const at = url.lastIndexOf('@');
    if (at <= 0) continue;
    const userInfo = url.slice(0, at).replace(/^[a-z][a-z0-9+.-]*:/i, '').replace(/^\/*/, '');
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

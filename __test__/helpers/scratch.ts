import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Temp directories for one test file, all inside one root that is removed after the file's
 * tests. Call at module scope; each call of the returned function makes a fresh directory.
 */
export function scratchDirs(label: string): (name?: string) => string {
  let root: string | undefined;
  afterAll(() => {
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });
  return (name = 'dir') => {
    root ??= fs.mkdtempSync(path.join(os.tmpdir(), `ae-${label}-`));
    return fs.mkdtempSync(path.join(root, `${name}-`));
  };
}

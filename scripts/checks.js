'use strict';
// A tally of named checks for the scripts that test like a person would (test-package.js,
// rehearse.js): each check prints `ok - …` or `FAIL - …` with the tail of its detail, and
// `summary()` prints the closing `N passed, N failed` line and sets the exit code.

function createChecks({ detailLines = 30 } = {}) {
  let passed = 0;
  let failed = 0;
  return {
    check(name, ok, detail) {
      if (ok) {
        passed += 1;
        console.log(`  ok - ${name}`);
      } else {
        failed += 1;
        const tail = detail ? `\n      ${String(detail).trim().split('\n').slice(-detailLines).join('\n      ')}` : '';
        console.log(`  FAIL - ${name}${tail}`);
      }
      return ok;
    },
    summary() {
      console.log(`\n${passed} passed, ${failed} failed`);
      process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
    },
  };
}

module.exports = { createChecks };

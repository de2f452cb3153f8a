/**
 * mocha's spec reporter plus one closing line, "N passed, N failed, N skipped", that CI tools read.
 */
import * as Mocha from 'mocha';

class Reporter extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    runner.once('end', () => {
      const s = runner.stats;
      if (s) console.log(`${s.passes} passed, ${s.failures} failed, ${s.pending} skipped`);
    });
  }
}

export = Reporter;

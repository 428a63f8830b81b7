#!/usr/bin/env node
import { runCli } from './commands.js';

runCli(process.argv).catch((err: Error) => {
  process.stderr.write(`ssl-infer: ${err.message}\n`);
  process.exitCode = 1;
});

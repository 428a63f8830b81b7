import type { SampleFailure } from '@ssl/data';

/** Names printed before the rest go to log.jsonl only. */
const SHOWN = 5;

/**
 * Files that could not be read, over every road of a run (training batches, evaluation images):
 * each file is printed (the first few) and logged once, with where it was met; the report lists them.
 */
export class SkippedFiles {
  private readonly seen = new Map<string, string>();
  /** Skip events, a file met again in a later epoch counted again. */
  events = 0;

  constructor(
    private readonly print: (line: string) => void = () => {},
    private readonly log: (record: Record<string, unknown>) => void = () => {},
  ) {}

  note(failure: SampleFailure, where: string): void {
    this.events++;
    if (this.seen.has(failure.name)) return;
    this.seen.set(failure.name, failure.message);
    this.log({ type: 'skip', name: failure.name, message: failure.message, where });
    if (this.seen.size <= SHOWN) this.print(`skipped ${failure.name} (${where}): ${failure.message}`);
    else if (this.seen.size === SHOWN + 1) this.print('more files skipped: log.jsonl lists every one');
  }

  /** Distinct files skipped. */
  get files(): number {
    return this.seen.size;
  }

  /** One line for the report and the end of the run, or null when nothing was skipped. */
  summary(): string | null {
    if (this.seen.size === 0) return null;
    const names = [...this.seen.keys()];
    const shown = names.slice(0, SHOWN).join(', ');
    return `${names.length} file${names.length === 1 ? '' : 's'} could not be read and ${names.length === 1 ? 'was' : 'were'} skipped: ${shown}${names.length > SHOWN ? ', ...' : ''} (log.jsonl lists each with its error)`;
  }
}

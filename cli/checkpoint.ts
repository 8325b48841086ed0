/**
 * The copy checkpoint: which things are done, so an interrupted copy resumes where it stopped.
 * Written atomically (write-file-atomic: temporary file, fsync, rename), so a crash mid-write never
 * leaves half a file.
 */
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import writeFileAtomic from 'write-file-atomic';
import { UsageError } from './errors';

/** What a copy was asked to do; a checkpoint only resumes the same copy. */
export interface CopyIdentity {
  readonly primaryRegion: string;
  readonly secondaryRegion: string;
  readonly mode: string;
  readonly prefix: string | null;
  readonly query: string | null;
}

interface CheckpointFile extends CopyIdentity {
  readonly version: 1;
  readonly startedAt: string;
  readonly savedAt: string;
  readonly phases: { thingTypes: boolean; thingGroups: boolean; policies?: boolean; provisioning?: boolean };
  readonly done: string[];
}

export class Checkpoint {
  public readonly done: Set<string>;
  public phases: { thingTypes: boolean; thingGroups: boolean; policies?: boolean; provisioning?: boolean };
  public readonly resumed: boolean;
  private readonly startedAt: string;
  private dirty = false;

  private constructor(
    private readonly file: string,
    private readonly identity: CopyIdentity,
    data: CheckpointFile | undefined,
  ) {
    this.done = new Set(data?.done ?? []);
    this.phases = data?.phases ?? { thingTypes: false, thingGroups: false };
    this.startedAt = data?.startedAt ?? new Date().toISOString();
    this.resumed = data !== undefined;
  }

  /** Opens `file`: resumes it when it describes the same copy, refuses when it describes another. */
  static open(file: string, identity: CopyIdentity): Checkpoint {
    if (!existsSync(file)) return new Checkpoint(file, identity, undefined);
    let data: CheckpointFile;
    try {
      data = JSON.parse(readFileSync(file, 'utf8')) as CheckpointFile;
    } catch (err) {
      throw new UsageError(
        `--checkpoint ${file}: not a valid checkpoint (${(err as Error).message}); delete it to start over`,
        { cause: err },
      );
    }
    if (data.version !== 1 || !Array.isArray(data.done)) {
      throw new UsageError(`--checkpoint ${file}: not a version 1 iot-dr checkpoint; delete it to start over`);
    }
    for (const key of ['primaryRegion', 'secondaryRegion', 'mode', 'prefix', 'query'] as const) {
      if ((data[key] ?? null) !== identity[key]) {
        throw new UsageError(
          `--checkpoint ${file} belongs to another copy (${key} ${JSON.stringify(data[key] ?? null)}, this copy ${JSON.stringify(identity[key])}); delete it or pass another --checkpoint file`,
        );
      }
    }
    return new Checkpoint(file, identity, data);
  }

  markDone(thing: string): void {
    this.done.add(thing);
    this.dirty = true;
  }

  markPhase(phase: 'thingTypes' | 'thingGroups' | 'policies' | 'provisioning'): void {
    this.phases[phase] = true;
    this.dirty = true;
  }

  /** Writes the file (atomically) when something changed since the last save. */
  save(force = false): void {
    if (!this.dirty && !force) return;
    const data: CheckpointFile = {
      version: 1,
      ...this.identity,
      startedAt: this.startedAt,
      savedAt: new Date().toISOString(),
      phases: this.phases,
      done: [...this.done],
    };
    writeFileAtomic.sync(this.file, JSON.stringify(data));
    this.dirty = false;
  }

  /** Removes the file once a copy has completed without failures. */
  remove(): void {
    if (existsSync(this.file)) unlinkSync(this.file);
  }
}

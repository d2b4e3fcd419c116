/**
 * Build progress on a terminal (issue 23, Found 5): an in-process build against a real file://
 * store, with a fake TTY as the bars' stream and a real pino logger writing through the
 * diverted log sink. Every stage's bar ends at its total (the routing-recall bar used to stay at
 * 0/1), and log lines written while a bar is shown are printed above it, on lines of their own.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { DivertableLogSink } from '../src/common/logger.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { BuildProgress } from '../src/writer/build-progress.ts';
import { buildSnapshot } from '../src/writer/build-snapshot.ts';
import { openJsonlSource } from '../src/writer/input/jsonl-source.ts';
import { tempDir } from './helpers/fixtures.ts';

/** A writable that says it is a terminal and keeps what is written. */
class FakeTty extends Writable {
  readonly isTTY = true;
  readonly columns = 160;
  readonly rows = 40;
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.text += chunk.toString();
    done();
  }
  cursorTo(x: number, y?: number | (() => void)): boolean {
    this.text += typeof y === 'number' ? `\x1b[${y + 1};${x + 1}H` : `\x1b[${x + 1}G`;
    return true;
  }
  moveCursor(dx: number, dy: number): boolean {
    if (dy < 0) this.text += `\x1b[${-dy}A`;
    if (dy > 0) this.text += `\x1b[${dy}B`;
    if (dx !== 0) this.text += dx > 0 ? `\x1b[${dx}C` : `\x1b[${-dx}D`;
    return true;
  }
  clearLine(): boolean {
    this.text += '\x1b[2K';
    return true;
  }
  clearScreenDown(): boolean {
    this.text += '\x1b[0J';
    return true;
  }
}

function vectors(n: number, dim: number): string {
  let seed = 7;
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(JSON.stringify({ id: `v${i}`, vector: Array.from({ length: dim }, next) }));
  return lines.join('\n') + '\n';
}

describe('build progress on a TTY', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    dir = await tempDir('build-progress');
    await writeFile(join(dir.path, 'in.jsonl'), vectors(600, 8));
  });
  after(() => dir.remove());

  test('every stage ends at its total, and log lines print above the bars', async () => {
    const tty = new FakeTty();
    const logged: string[] = [];
    const sink = new DivertableLogSink({ write: (line: string) => void logged.push(line) });
    const log = pino({ level: 'info' }, sink);
    const progress = new BuildProgress(true, log, { stream: tty, logSink: sink });
    assert.equal(progress.showsBars, true);
    await buildSnapshot({
      store: new FileObjectStore(join(dir.path, 'store')),
      source: await openJsonlSource({ path: join(dir.path, 'in.jsonl') }),
      sharding: { strategy: 'cluster', numDbs: 4, numProbes: 2 },
      metric: 'l2',
      seed: 3,
      progress,
      workDir: join(dir.path, 'work'),
      log,
    });
    const stages = progress.finished();
    const names = stages.map((s) => s.name);
    for (const expected of ['validate+sample', 'train k-means', 'measure routing recall', 'assign+write', 'index+upload']) {
      assert.ok(names.includes(expected), `stage ${expected} ran (stages: ${names.join(', ')})`);
    }
    for (const s of stages) {
      assert.ok(s.total > 0, `${s.name}: total ${s.total} > 0`);
      assert.equal(s.done, s.total, `${s.name}: ended at ${s.done}/${s.total} ${s.unit}`);
    }
    const recall = stages.find((s) => s.name === 'measure routing recall')!;
    assert.equal(recall.unit, 'queries');
    assert.equal(recall.total, 600, 'every sample row is a recall query (fewer than the 1,000 default)');
    assert.match(tty.text, /measure routing recall\s+\[[^\]]*\] 100% \| 600\/600 queries/);

    // Lines logged with no bar shown went to the sink's own target.
    assert.ok(logged.some((l) => l.includes('"msg":"measure routing recall done"')));
  });

  test('a line logged while a bar is shown prints above it, on a line of its own', async () => {
    const tty = new FakeTty();
    const logged: string[] = [];
    const sink = new DivertableLogSink({ write: (line: string) => void logged.push(line) });
    const log = pino({ level: 'info' }, sink);
    const progress = new BuildProgress(true, log, { stream: tty, logSink: sink });
    const stage = progress.stage('index+upload', 4, 'shards');
    stage.increment();
    await new Promise((r) => setTimeout(r, 150)); // a redraw or two
    log.warn({ shard: 1 }, 'shard 1 retried');
    stage.increment(3);
    await new Promise((r) => setTimeout(r, 150));
    stage.stop();
    log.info('after the bars');
    const pieces = tty.text.split(/\r|\n|\x1b\[[0-9;]*[A-Za-z]/);
    const withLog = pieces.filter((p) => p.includes('"level"'));
    assert.equal(withLog.length, 1, `the warning was printed once on the terminal: ${JSON.stringify(tty.text)}`);
    assert.match(withLog[0], /^\{"level":40,.*"msg":"shard 1 retried"\}$/);
    assert.ok(tty.text.indexOf('shard 1 retried') < tty.text.lastIndexOf('4/4 shards'), 'the bar is drawn again below the line');
    assert.ok(!logged.some((l) => l.includes('shard 1 retried')), 'not also written to stderr under the bar');
    assert.ok(logged.some((l) => l.includes('after the bars')), 'with no bar shown, lines go to stderr again');
    assert.deepEqual(progress.finished().map((s) => [s.name, s.done, s.total]), [['index+upload', 4, 4]]);
  });

  test('a failed build takes its bar down, so the error and later lines reach stderr', async () => {
    const tty = new FakeTty();
    const logged: string[] = [];
    const sink = new DivertableLogSink({ write: (line: string) => void logged.push(line) });
    const log = pino({ level: 'info' }, sink);
    const progress = new BuildProgress(true, log, { stream: tty, logSink: sink });
    const dir2 = await tempDir('build-progress-fail');
    try {
      // A bad record on line 2 fails the first pass while the validate+sample bar is shown.
      const input = join(dir2.path, 'bad.jsonl');
      await writeFile(input, '{"id":"a","vector":[1,2]}\n{"id":"b","vector":[1]}\n');
      await assert.rejects(
        buildSnapshot({
          store: new FileObjectStore(join(dir2.path, 'store')),
          source: await openJsonlSource({ path: input }),
          sharding: { strategy: 'cluster', numDbs: 1, numProbes: 1 },
          metric: 'l2',
          progress,
          log,
        }),
        /dimension/,
      );
      log.error('after the failure');
      assert.ok(logged.some((l) => l.includes('after the failure')), 'the sink is no longer diverted to a bar');
      assert.ok(tty.text.includes('\x1b[?25h'), 'the cursor is shown again');
      assert.deepEqual(progress.finished(), [], 'an aborted stage is not finished');
    } finally {
      await dir2.remove();
    }
  });
});

// Progress output: plain lines with rate and ETA off a terminal, a cli-progress bar on one.
import { PassThrough } from 'node:stream';
import { BarProgress, LineProgress, progressFor, SilentProgress } from '../../cli/progress';

function capture(isTTY: boolean) {
  const stream = Object.assign(new PassThrough(), {
    isTTY,
    columns: 120,
    cursorTo: () => true,
    clearLine: () => true,
    moveCursor: () => true,
  });
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString()));
  return { stream, text: () => text };
}

describe('progress', () => {
  it('prints plain lines with count, percentage, rate and ETA when not on a terminal', async () => {
    const out = capture(false);
    const progress = progressFor(out.stream, false);
    expect(progress).toBeInstanceOf(LineProgress);
    progress.start(4, 'things');
    await new Promise((r) => setTimeout(r, 20));
    progress.tick();
    progress.tick();
    progress.stop();
    expect(out.text()).toMatch(/^things: 0\/4\nthings: 2\/4 \(50%\), \d+\.\d\/s, ETA \d+s\n$/);
  });

  it('draws a bar with rate and ETA on a terminal, and nothing when quiet', () => {
    const out = capture(true);
    const progress = progressFor(out.stream, false);
    expect(progress).toBeInstanceOf(BarProgress);
    progress.start(10, 'things');
    progress.tick(5);
    progress.stop();
    expect(out.text()).toMatch(/things \[.*\] 50% \| 5\/10 \| [\d.]+\/s \| ETA /);
    expect(progressFor(out.stream, true)).toBeInstanceOf(SilentProgress);
  });
});

/**
 * The models' base (src/pollingModel.ts): what every model gets from it, on a model that
 * counts its ticks.
 */
import { PollingModel } from '../src/pollingModel';

class Counter extends PollingModel<number> {
  constructor(standby: () => boolean | 'when-hidden') {
    super({ name: 'test:counter', interval: 60_000, max: 120_000, standby });
  }

  ticks = 0;

  protected async tick(): Promise<void> {
    this.ticks++;
    this.emitChanged(this.ticks);
  }

  faster(interval: number): void {
    this.setInterval(interval);
  }
}

describe('PollingModel', () => {
  it('starts polling on the first refresh and emits `changed` after each tick', async () => {
    const model = new Counter(() => false);
    const seen: number[] = [];
    model.changed.connect((_, n) => void seen.push(n));
    expect(model.poll.state.phase).toBe('constructed');
    await model.refresh();
    await model.refresh();
    expect(seen).toEqual([1, 2]);
    expect(model.poll.frequency.interval).toBe(60_000);
    model.faster(100);
    expect(model.poll.frequency).toMatchObject({
      interval: 100,
      backoff: true,
      max: 120_000
    });
    model.dispose();
  });

  it('asks nothing while standing by (logged out, page hidden), and again after', async () => {
    let loggedOut = true;
    const model = new Counter(() => loggedOut);
    await model.refresh();
    expect(model.ticks).toBe(0);
    expect(model.poll.state.phase).toBe('standby');
    loggedOut = false;
    await model.refresh();
    expect(model.ticks).toBe(1);
    model.dispose();
  });

  it('disposes its poll and signal; a refresh after that does nothing', async () => {
    const model = new Counter(() => false);
    const seen: number[] = [];
    model.changed.connect((_, n) => void seen.push(n));
    await model.refresh();
    model.dispose();
    expect(model.isDisposed && model.poll.isDisposed).toBe(true);
    await model.refresh();
    expect(model.ticks).toBe(1);
    expect(seen).toEqual([1]);
    model.dispose(); // (twice is fine)
  });
});

/**
 * The base of the frontend's models (jobs, environments, mounts, exports): one `Poll` that
 * asks the server, stands by while the page is hidden or the user is logged out, and a
 * `changed` signal the views render from. A model says what one tick does and how often.
 */
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { standby } from './util';

export interface IPollingModelOptions {
  /** The poll's name (diagnostics). */
  name: string;
  /** Milliseconds between ticks. */
  interval: number;
  /** The longest back-off after failed ticks. */
  max: number;
  /** When to stand by (default: logged out, or the page hidden). */
  standby?: () => boolean | 'when-hidden';
}

export abstract class PollingModel<T> {
  constructor(options: IPollingModelOptions) {
    this._poll = new Poll({
      auto: false,
      factory: () => this.tick(),
      frequency: { interval: options.interval, backoff: true, max: options.max },
      name: options.name,
      standby: options.standby ?? standby
    });
  }

  /** Emitted after each tick (and whenever the model's state changed otherwise). */
  get changed(): ISignal<this, T> {
    return this._changed;
  }

  /** The poll, for its state and frequency (tests, diagnostics). */
  get poll(): Poll {
    return this._poll;
  }

  get isDisposed(): boolean {
    return this._poll.isDisposed;
  }

  /** Ask the server now (and start polling); never throws (a tick keeps its own error). */
  async refresh(): Promise<void> {
    if (this._poll.isDisposed) {
      return;
    }
    if (this._poll.state.phase === 'constructed') {
      void this._poll.start();
    }
    await this._poll.refresh();
    await this._poll.tick.catch(() => undefined);
  }

  dispose(): void {
    if (this._poll.isDisposed) {
      return;
    }
    this._poll.dispose();
    Signal.clearData(this);
  }

  /** One round trip to the server; emits `changed` when done. */
  protected abstract tick(): Promise<void>;

  protected emitChanged(value: T): void {
    this._changed.emit(value);
  }

  /** Poll every `interval` ms from now on (often while something runs, rarely otherwise). */
  protected setInterval(interval: number): void {
    if (!this._poll.isDisposed && this._poll.frequency.interval !== interval) {
      this._poll.frequency = { ...this._poll.frequency, interval };
    }
  }

  private _poll: Poll;
  private _changed = new Signal<this, T>(this);
}

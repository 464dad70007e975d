// Generator of sensor readings for the console sample: every device drifts in a bounded random walk,
// so the numbers look like a building's sensors. One generator per producer loop; its device state is
// its own, and JavaScript's Math.random is safe to share on one thread.

import type { SensorReading } from './sensor-store.ts';

/** A reading numbered by the producer: `seq` continues across restarts, so gaps and repeats show. */
export interface NumberedReading extends SensorReading {
  seq: number;
}

interface DeviceDrift {
  id: string;
  temperature: number;
  humidity: number;
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
/** Sensors report two decimals; it also keeps the journal and snapshot records short. */
const twoDecimals = (v: number): number => Math.round(v * 100) / 100;

function deviceId(index: number): string {
  return `sensor-${String(index).padStart(3, '0')}`;
}

export class ReadingGenerator {
  readonly #devices: DeviceDrift[];
  #nextSeq: number;

  /**
   * @param resume the last values of devices restored from the data directory: their walk continues
   *   from there instead of jumping.
   */
  constructor(
    deviceCount: number,
    nextSeq: number,
    resume: Readonly<Record<string, { temperature: number; humidity: number }>>,
  ) {
    this.#nextSeq = nextSeq;
    this.#devices = Array.from({ length: deviceCount }, (_, i) => {
      const id = deviceId(i);
      const last = resume[id];
      return {
        id,
        temperature: last?.temperature ?? twoDecimals(18 + 8 * Math.random()),
        humidity: last?.humidity ?? twoDecimals(35 + 30 * Math.random()),
      };
    });
  }

  next(timestampMs: number): NumberedReading {
    const rnd = Math.random;
    const d = this.#devices[Math.floor(rnd() * this.#devices.length)]!;
    d.temperature = twoDecimals(clamp(d.temperature + (rnd() - 0.5) * 0.5, -10, 45));
    d.humidity = twoDecimals(clamp(d.humidity + (rnd() - 0.5), 5, 95));
    return {
      seq: this.#nextSeq++,
      deviceId: d.id,
      temperature: d.temperature,
      humidity: d.humidity,
      timestampMs,
    };
  }
}

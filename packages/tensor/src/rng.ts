/**
 * Seeded pseudo-random numbers: xoshiro128** seeded through splitmix32.
 *
 * A generator is identified by its key (the run seed plus any fork parts). `fork(...parts)` derives
 * a child from the key alone, never from how many numbers the parent has drawn, so the stream of,
 * say, (seed, epoch, sampleIndex) is the same whichever worker draws it and in whatever order.
 */

export type RngSeed = number | bigint | string;

export interface RngState {
  key: number[];
  s: [number, number, number, number];
  spareNormal: number | null;
}

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

/** splitmix32 finaliser: a bijective avalanche mix of 32 bits. */
function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Words of a seed: numbers split into two 32-bit halves, strings by UTF-16 code unit. */
function seedWords(seed: RngSeed): number[] {
  if (typeof seed === 'string') {
    const words = [0x5354_5247, seed.length];
    for (let i = 0; i < seed.length; i++) words.push(seed.charCodeAt(i));
    return words;
  }
  if (typeof seed === 'bigint') {
    const lo = Number(BigInt.asUintN(32, seed));
    const hi = Number(BigInt.asUintN(32, seed >> 32n));
    return [lo, hi];
  }
  if (!Number.isFinite(seed) || !Number.isInteger(seed)) {
    throw new TypeError(`Rng: seed must be a finite integer, a bigint or a string, got ${seed}`);
  }
  const lo = (seed % TWO_POW_32 + TWO_POW_32) % TWO_POW_32;
  const hi = Math.floor(seed / TWO_POW_32) >>> 0;
  return [lo >>> 0, hi];
}

function stateFromKey(key: readonly number[]): [number, number, number, number] {
  // Absorb every key word into a running hash, then expand it into four state words.
  let h = 0x243f6a88;
  for (const w of key) h = mix32((h ^ mix32(w >>> 0)) >>> 0);
  const s: [number, number, number, number] = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) {
    h = mix32((h + 0x6a09e667 + i) >>> 0);
    s[i] = h;
  }
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1; // xoshiro's one forbidden state
  return s;
}

export class Rng {
  private readonly key: number[];
  private s: [number, number, number, number];
  private spareNormal: number | null = null;

  constructor(seed: RngSeed = 0, ...parts: RngSeed[]) {
    this.key = [...seedWords(seed), ...parts.flatMap((p) => [0x9e3779b9, ...seedWords(p)])];
    this.s = stateFromKey(this.key);
  }

  /** An independent generator that depends only on this generator's key and `parts`. */
  fork(...parts: RngSeed[]): Rng {
    const child = Object.create(Rng.prototype) as Rng;
    const key = [...this.key, ...parts.flatMap((p) => [0x9e3779b9, ...seedWords(p)])];
    Object.assign(child, { key, s: stateFromKey(key), spareNormal: null });
    return child;
  }

  /** Next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  random(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / TWO_POW_53;
  }

  /** Uniform double in [low, high). */
  uniform(low = 0, high = 1): number {
    return low + (high - low) * this.random();
  }

  /** Uniform integer in [low, high), without modulo bias. */
  integer(low: number, high: number): number {
    if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
      throw new RangeError(`Rng.integer: need integers low < high, got [${low}, ${high})`);
    }
    const range = high - low;
    if (range <= TWO_POW_32) {
      const limit = TWO_POW_32 - (TWO_POW_32 % range);
      let x: number;
      do x = this.nextUint32(); while (x >= limit);
      return low + (x % range);
    }
    if (range > TWO_POW_53) throw new RangeError(`Rng.integer: range ${range} exceeds 2^53`);
    let x: number;
    const limit = TWO_POW_53 - (TWO_POW_53 % range);
    do x = this.random() * TWO_POW_53; while (x >= limit);
    return low + (x % range);
  }

  /** Normal sample (Box-Muller; the second value of each pair is kept for the next call). */
  normal(mean = 0, std = 1): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return mean + std * z;
    }
    let u = 0;
    while (u === 0) u = this.random();
    const v = this.random();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return mean + std * r * Math.cos(2 * Math.PI * v);
  }

  /** True with probability p. */
  bernoulli(p: number): boolean {
    return this.random() < p;
  }

  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<T, A extends { length: number; [i: number]: T }>(array: A): A {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.integer(0, i + 1);
      const tmp = array[i] as T;
      array[i] = array[j] as T;
      array[j] = tmp;
    }
    return array;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }

  /** Float32Array of n normal samples. */
  normalArray(n: number, mean = 0, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal(mean, std);
    return out;
  }

  /** Float32Array of n uniform samples in [low, high). */
  uniformArray(n: number, low = 0, high = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.uniform(low, high);
    return out;
  }

  /** Serialisable state, for checkpoints. */
  getState(): RngState {
    return { key: [...this.key], s: [...this.s], spareNormal: this.spareNormal };
  }

  setState(state: RngState): void {
    if (!state || state.s?.length !== 4 || !Array.isArray(state.key)) {
      throw new TypeError('Rng.setState: expected { key: number[], s: [4 numbers], spareNormal }');
    }
    this.key.splice(0, this.key.length, ...state.key);
    this.s = [state.s[0] >>> 0, state.s[1] >>> 0, state.s[2] >>> 0, state.s[3] >>> 0];
    this.spareNormal = state.spareNormal;
  }

  static fromState(state: RngState): Rng {
    const rng = new Rng(0);
    rng.setState(state);
    return rng;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

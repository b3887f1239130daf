// Bounds: a few probes' heads fit; a flood of distinct heads only clears it now and then.
const MAX_HEADS = 64;
const MAX_HEAD_BYTES = 1024;

/**
 * Verdicts of recently answered heads, by their exact bytes. A platform's probe sends the same
 * head each time, and judging it again costs the sniffer 4.7 µs where a hit costs 0.9 µs
 * (docs/performance.md). It is shared by every connection, which is safe: a key is a copy of a
 * head's bytes (a string, never written into), and a verdict is what any connection sending the
 * same bytes would get; it holds no socket and no buffer of any connection.
 */
export class HeadMemo<V> {
  private readonly verdicts = new Map<string, V>();

  /** The key of a head, or undefined for a head too large to be worth keeping. */
  keyOf(head: Buffer, end: number): string | undefined {
    return end > MAX_HEAD_BYTES ? undefined : head.toString('latin1', 0, end);
  }

  get(key: string): V | undefined {
    return this.verdicts.get(key);
  }

  set(key: string, verdict: V): void {
    if (this.verdicts.size >= MAX_HEADS) this.verdicts.clear();
    this.verdicts.set(key, verdict);
  }
}

import autocannon from 'autocannon';

export interface LoadResult {
  requests: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  status: Record<string, number>;
  errors: number;
  timeouts: number;
}

/** POSTs one image over loopback for `seconds` with `connections` concurrent clients. */
export async function loadTest(url: string, body: Buffer, connections: number, seconds: number, contentType = 'image/png'): Promise<LoadResult> {
  if (!/^http:\/\/(127\.0\.0\.1|\[::1\]|localhost)[:/]/.test(url)) throw new Error(`load tests run on loopback only, got ${url}`);
  const r = await autocannon({ url, method: 'POST', body, headers: { 'content-type': contentType }, connections, duration: seconds, timeout: 30 });
  const status: Record<string, number> = {};
  for (const [code, s] of Object.entries(r.statusCodeStats ?? {})) status[code] = s.count;
  return {
    requests: r.requests.total,
    perSecond: r.requests.average,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    status,
    errors: r.errors,
    timeouts: r.timeouts,
  };
}

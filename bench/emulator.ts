/**
 * Emulator benchmark: `npx node bench/emulator.ts [--count N] [--dim D] [--namespaces K]
 * [--concurrency C]` prints JSON.
 *
 * A child process runs the emulator (rate limits off) and loads `count` generated records
 * in-process; this process then drains it the way a migration does: for every namespace a chain
 * of `list` calls (100 ids a page), and `fetch` calls of 1,000 ids, C at a time, over plain HTTP.
 * It reports records/s for the whole list+fetch scan, and the emulator's resident memory against
 * the raw float32 bytes of the vectors. One fetch response in 50 is parsed and compared, value by
 * value as float32 (`Math.fround` of what JSON.parse gives: the emulator writes the shortest
 * decimal that reads back as the float32, as Pinecone does), with the generator's record.
 * Defaults: 1,000,000 × 768-d, 4 namespaces.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { generateRecords, recordAt, startEmulator } from '@p2m/emulator';
import type { GeneratorOptions } from '@p2m/emulator';

const args = process.argv.slice(2);
const arg = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const COUNT = arg('count', 1_000_000);
const DIM = arg('dim', 768);
const NAMESPACES = arg('namespaces', 4);
const CONCURRENCY = arg('concurrency', 6);
const FORMAT_THREADS = args.includes('--format-threads') ? arg('format-threads', 1) : undefined;
const FETCH_BATCH = 1000;
const INDEX = 'bench';
const dataset: GeneratorOptions = { seed: 7, count: COUNT, dim: DIM, namespaces: NAMESPACES, edgeCases: false, float32: true };

interface Ready {
  host: string;
  apiKey: string;
  loadSeconds: number;
  rss: number;
}

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuOf(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

function rssOf(pid: number): { rss: number; peak: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(/\d+/.exec(status.split('\n').find((l) => l.startsWith(key)) ?? '0')![0]) * 1024;
  return { rss: kb('VmRSS:'), peak: kb('VmHWM:') };
}

// ---- child: the emulator -------------------------------------------------------------------

async function serve(): Promise<void> {
  const emulator = await startEmulator({ port: 0, rateLimits: false, ...(FORMAT_THREADS === undefined ? {} : { formatThreads: FORMAT_THREADS }) });
  await emulator.createIndex({ name: INDEX, dimension: DIM, metric: 'cosine' });
  const t0 = performance.now();
  // One values buffer for every generated record: load copies them into the slabs at once.
  emulator.load(INDEX, generateRecords({ ...dataset, valuesBuffer: new Float32Array(DIM) }));
  const loadSeconds = (performance.now() - t0) / 1000;
  (globalThis as { gc?: () => void }).gc?.();
  // EMULATOR_CPU_PROF=file.cpuprofile: profile the emulator during the scan only.
  const profile = process.env.EMULATOR_CPU_PROF;
  const session = profile ? new (await import('node:inspector/promises')).Session() : undefined;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  const ready: Ready = { host: emulator.indexHost(INDEX)!, apiKey: emulator.apiKey, loadSeconds, rss: process.memoryUsage().rss };
  process.send!(ready);
  process.on('message', (m) => {
    if (m !== 'stop') return;
    void (async () => {
      if (session) {
        const { profile: p } = (await session.post('Profiler.stop')) as { profile: unknown };
        fs.writeFileSync(profile!, JSON.stringify(p));
      }
      await emulator.close();
      process.exit(0);
    })();
  });
}

// ---- parent: the client --------------------------------------------------------------------

async function scan(ready: Ready): Promise<Record<string, number>> {
  const headers = { 'Api-Key': ready.apiKey, 'X-Pinecone-Api-Version': '2025-04' };
  const namespaces = Array.from({ length: NAMESPACES }, (_, j) => (j === 0 ? '' : `ns-${j}`));
  let listCalls = 0;
  let fetchCalls = 0;
  let records = 0;
  let bytes = 0;
  let verified = 0;
  const inFlight = new Set<Promise<void>>();

  const client = new RawHttpClient(new URL(ready.host), headers);
  const get = (path: string, keep: boolean): Promise<{ status: number; body: Buffer; size: number }> => client.get(path, keep);

  const fetchBatch = async (ns: string, ids: string[]): Promise<void> => {
    const qs = ids.map((id) => `ids=${encodeURIComponent(id)}`).join('&');
    const sample = ++fetchCalls % 50 === 1;
    const res = await get(`/vectors/fetch?${qs}&namespace=${encodeURIComponent(ns)}`, sample);
    if (res.status !== 200) throw new Error(`fetch: ${res.status} ${res.body.toString().slice(0, 200)}`);
    bytes += res.size;
    if (sample) {
      const parsed = JSON.parse(res.body.toString()) as { vectors: Record<string, { values: number[] }> };
      const got = Object.keys(parsed.vectors);
      if (got.length !== ids.length) throw new Error(`fetch returned ${got.length} of ${ids.length} records`);
      for (const id of ids.slice(0, 5)) verify(id, parsed.vectors[id]!.values);
      verified += 5;
      records += got.length;
    } else {
      records += ids.length;
    }
  };

  const idIndex = new Map<string, number>();
  const verify = (id: string, values: number[]): void => {
    const i = idIndex.get(id)!;
    const expected = recordAt(dataset, i).values as Float32Array;
    for (let d = 0; d < DIM; d++) {
      if (Math.fround(values[d]!) !== expected[d]) throw new Error(`record ${id} value ${d}: got ${values[d]}, want ${expected[d]}`);
    }
  };
  // Map id -> generator position for verification (ids are regular: doc-<i/8>#chunk-<i%8>).
  const position = (id: string): number => {
    const m = /^doc-(\d+)#chunk-(\d)$/.exec(id)!;
    return Number(m[1]) * 8 + Number(m[2]);
  };

  const listNamespace = async (ns: string): Promise<void> => {
    let token: string | undefined;
    let batch: string[] = [];
    do {
      const qs = new URLSearchParams({ namespace: ns, limit: '100' });
      if (token) qs.set('paginationToken', token);
      const res = await get(`/vectors/list?${qs}`, true);
      if (res.status !== 200) throw new Error(`list: ${res.status} ${res.body.toString()}`);
      const page = JSON.parse(res.body.toString()) as { vectors: { id: string }[]; pagination?: { next: string } };
      listCalls++;
      for (const { id } of page.vectors) {
        batch.push(id);
        if (listCalls % 50 === 1) idIndex.set(id, position(id));
      }
      if (batch.length >= FETCH_BATCH || !page.pagination) {
        const ids = batch;
        batch = [];
        for (const id of ids.slice(0, 5)) idIndex.set(id, position(id));
        while (inFlight.size >= CONCURRENCY) await Promise.race(inFlight);
        const p: Promise<void> = fetchBatch(ns, ids).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      token = page.pagination?.next;
    } while (token);
  };

  const t0 = performance.now();
  await Promise.all(namespaces.map(listNamespace));
  await Promise.all(inFlight);
  const seconds = (performance.now() - t0) / 1000;
  client.close();
  if (records !== COUNT) throw new Error(`scanned ${records} records, expected ${COUNT}`);
  return {
    seconds: round(seconds),
    recordsPerSecond: Math.round(records / seconds),
    records,
    listCalls,
    fetchCalls,
    responseMB: round(bytes / 1e6),
    verifiedRecords: verified,
  };
}

/**
 * A minimal keep-alive HTTP/1.1 GET client over `net` that reads into one reused buffer. The
 * client shares the machine with the emulator; node:http allocates a Buffer per socket read,
 * and collecting 1.6 GB of them costs the client more CPU than the emulator's own formatting.
 */
class RawHttpClient {
  private readonly idle: net.Socket[] = [];
  private readonly all = new Set<net.Socket>();
  private readonly readBuffer = Buffer.allocUnsafe(1 << 20);
  private readonly url: URL;
  private readonly headerText: string;

  constructor(url: URL, headers: Record<string, string>) {
    this.url = url;
    this.headerText = Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
  }

  get(path: string, keep: boolean): Promise<{ status: number; body: Buffer; size: number }> {
    return new Promise((resolve, reject) => {
      const parser = new ResponseParser(keep);
      const onChunk = (nread: number, buf: Buffer): boolean => {
        if (parser.feed(buf, nread)) {
          socket.removeListener('error', reject);
          this.idle.push(socket);
          resolve({ status: parser.status, body: Buffer.concat(parser.kept), size: parser.bodySize });
        }
        return true;
      };
      let socket = this.idle.pop()!;
      if (socket) (socket as net.Socket & { handler: typeof onChunk }).handler = onChunk;
      else {
        socket = net.connect({
          host: this.url.hostname,
          port: Number(this.url.port),
          onread: {
            buffer: this.readBuffer,
            callback: (n: number, b: Uint8Array) => (socket as net.Socket & { handler: typeof onChunk }).handler(n, b as Buffer),
          },
        });
        (socket as net.Socket & { handler: typeof onChunk }).handler = onChunk;
        socket.setNoDelay(true);
        this.all.add(socket);
      }
      socket.once('error', reject);
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${this.url.host}\r\n${this.headerText}\r\n`);
    });
  }

  close(): void {
    for (const s of this.all) s.destroy();
  }
}

/** Incremental HTTP/1.1 response parser (Content-Length or chunked), keeping the body on demand. */
class ResponseParser {
  status = 0;
  bodySize = 0;
  readonly kept: Buffer[] = [];
  private head = '';
  private inBody = false;
  private remaining = -1; // content-length bytes left, or bytes left in the current chunk
  private chunked = false;
  private sizeLine = '';
  private state: 'size' | 'data' | 'crlf' | 'trailer' = 'size';
  private readonly keep: boolean;

  constructor(keep: boolean) {
    this.keep = keep;
  }

  /** Returns true when the response is complete. */
  feed(buf: Buffer, n: number): boolean {
    let p = 0;
    if (!this.inBody) {
      const text = buf.toString('latin1', 0, n);
      const end = (this.head + text).indexOf('\r\n\r\n');
      if (end < 0) {
        this.head += text;
        return false;
      }
      const head = (this.head + text).slice(0, end);
      p = end + 4 - this.head.length;
      this.inBody = true;
      this.status = Number(head.slice(9, 12));
      const lower = head.toLowerCase();
      this.chunked = lower.includes('transfer-encoding: chunked');
      const cl = /content-length: (\d+)/.exec(lower);
      this.remaining = this.chunked ? 0 : cl ? Number(cl[1]) : 0;
      if (!this.chunked && this.remaining === 0) return true;
    }
    if (!this.chunked) {
      const take = Math.min(this.remaining, n - p);
      this.body(buf, p, take);
      this.remaining -= take;
      return this.remaining === 0;
    }
    while (p < n) {
      if (this.state === 'size') {
        const c = buf[p++]!;
        if (c === 10) {
          this.remaining = parseInt(this.sizeLine, 16);
          this.sizeLine = '';
          this.state = this.remaining === 0 ? 'trailer' : 'data';
        } else if (c !== 13) this.sizeLine += String.fromCharCode(c);
      } else if (this.state === 'data') {
        const take = Math.min(this.remaining, n - p);
        this.body(buf, p, take);
        p += take;
        this.remaining -= take;
        if (this.remaining === 0) {
          this.state = 'crlf';
          this.remaining = 2;
        }
      } else if (this.state === 'crlf') {
        p++;
        if (--this.remaining === 0) this.state = 'size';
      } else {
        // After the last chunk: an empty trailer line ends the response.
        const c = buf[p++]!;
        if (c === 10) {
          if (this.sizeLine === '') return true;
          this.sizeLine = '';
        } else if (c !== 13) this.sizeLine += String.fromCharCode(c);
      }
    }
    return false;
  }

  private body(buf: Buffer, p: number, n: number): void {
    this.bodySize += n;
    if (this.keep || this.status !== 200) this.kept.push(Buffer.from(buf.subarray(p, p + n)));
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

async function main(): Promise<void> {
  const child: ChildProcess = fork(new URL(import.meta.url).pathname, [...args, '--serve'], {
    execArgv: ['--expose-gc', '--max-old-space-size=8192'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const ready = await new Promise<Ready>((resolve, reject) => {
      child.once('message', (m) => resolve(m as Ready));
      child.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
    });
    const afterLoad = rssOf(child.pid!);
    const loadBefore = os.loadavg()[0]!;
    const cpu0 = cpuOf(child.pid!);
    const client0 = process.cpuUsage();
    const result = await scan(ready);
    const emulatorCpu = cpuOf(child.pid!) - cpu0;
    const clientCpu = process.cpuUsage(client0);
    const afterScan = rssOf(child.pid!);
    const raw = COUNT * DIM * 4;
    const report = {
      bench: 'emulator',
      count: COUNT,
      dim: DIM,
      namespaces: NAMESPACES,
      concurrency: CONCURRENCY,
      formatThreads: FORMAT_THREADS ?? 'default',
      // The machine is shared: the 1-minute load average before and after the scan, for context.
      machine: { cores: os.availableParallelism(), loadAverage: [round(loadBefore), round(os.loadavg()[0]!)] },
      load: { seconds: round(ready.loadSeconds), recordsPerSecond: Math.round(COUNT / ready.loadSeconds) },
      scan: {
        ...result,
        // The machine is shared: CPU time is the load-independent measure of what the emulator costs.
        emulatorCpuSeconds: round(emulatorCpu),
        emulatorRecordsPerCpuSecond: Math.round(COUNT / emulatorCpu),
        clientCpuSeconds: round((clientCpu.user + clientCpu.system) / 1e6),
      },
      memory: {
        rawFloat32MB: round(raw / 1e6),
        rssAfterLoadMB: round(afterLoad.rss / 1e6),
        rssAfterScanMB: round(afterScan.rss / 1e6),
        peakRssMB: round(afterScan.peak / 1e6),
        rssRatio: round(afterLoad.rss / raw),
        peakRssRatio: round(afterScan.peak / raw),
      },
      targets: {
        recordsPerSecondAtLeast20000: result.recordsPerSecond! >= 20_000,
        rssRatioAtMost1_5: afterScan.rss / raw <= 1.5,
      },
    };
    console.log(JSON.stringify(report, null, 2));
  } finally {
    child.send('stop');
    await new Promise((r) => child.once('exit', r));
  }
}

if (args.includes('--serve')) await serve();
else await main();

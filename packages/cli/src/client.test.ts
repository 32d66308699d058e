import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtlError, SpecError } from '@p2m/core';
import { ControllerClient, ControllerError, readStackEnv, resolveConnection } from './client.ts';
import { jobView } from './job-view.fixture.ts';

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}

/** A stand-in controller: answers by route from a table the test fills in. */
let server: Server;
let base: string;
const seen: Seen[] = [];
const answers = new Map<string, (req: IncomingMessage, res: ServerResponse) => void>();
const reply = (status: number, body: unknown) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/html' : 'application/json' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
};

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization, contentType: req.headers['content-type'], body });
      const handler = answers.get(`${req.method} ${req.url}`) ?? reply(404, { error: { code: 'NOT_FOUND', message: 'no route' } });
      handler(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('ControllerClient', () => {
  it('sends the bearer token and JSON, and unwraps the answers', async () => {
    const view = jobView({ id: 'job/1' });
    answers.set('GET /v1/jobs', reply(200, { jobs: [view] }));
    answers.set('POST /v1/jobs/job%2F1/replay', reply(201, { ...view, id: 'job-2' }));
    answers.set('GET /v1/jobs/job%2F1/errors?cursor=c+1&limit=5', reply(200, { entries: [], total: 0, next: null }));
    const client = new ControllerClient({ url: `${base}/`, token: 'tok' });
    expect(await client.list()).toEqual([view]);
    expect((await client.replay('job/1', { collection: 'copy' })).id).toBe('job-2');
    expect(await client.errors('job/1', { cursor: 'c 1', limit: 5 })).toEqual({ entries: [], total: 0, next: null });
    const [list, replay] = seen.slice(-3);
    expect(list).toMatchObject({ method: 'GET', authorization: 'Bearer tok', contentType: undefined });
    expect(replay).toMatchObject({ method: 'POST', contentType: 'application/json', body: '{"collection":"copy"}' });
  });

  it('turns a 400 with issues into a SpecError naming the fields', async () => {
    const issues = [{ path: 'target.collection', message: 'must start with a letter' }];
    answers.set('POST /v1/jobs', reply(400, { error: { code: 'SPEC_INVALID', message: 'x', hint: 'fix it', issues } }));
    const err = await new ControllerClient({ url: base, token: 't' }).create({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpecError);
    expect((err as SpecError).issues).toEqual(issues);
    expect((err as SpecError).message).toBe('target.collection: must start with a letter');
  });

  it('keeps the API code, message and hint of other refusals', async () => {
    answers.set('GET /v1/jobs/gone', reply(404, { error: { code: 'JOB_NOT_FOUND', message: 'no job "gone"', hint: 'npx p2m jobs list' } }));
    const err = await new ControllerClient({ url: base, token: 't' }).get('gone').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ControllerError);
    expect(err).toMatchObject({ code: 'JOB_NOT_FOUND', status: 404, message: 'no job "gone"', hint: 'npx p2m jobs list', retriable: false });

    answers.set('POST /v1/jobs/busy/cancel', reply(503, { error: { code: 'TARGET_UNAVAILABLE', message: 'Milvus is down' } }));
    expect(await new ControllerClient({ url: base }).cancel('busy').catch((e: unknown) => e)).toMatchObject({ code: 'TARGET_UNAVAILABLE', retriable: true });

    answers.set('GET /v1/jobs/odd', reply(413, { error: { code: 'PAYLOAD_TOO_LARGE', message: 'too large' } }));
    expect(await new ControllerClient({ url: base }).get('odd').catch((e: unknown) => e)).toMatchObject({ code: 'STACK', apiCode: 'PAYLOAD_TOO_LARGE' });
  });

  it('says where the refused token came from', async () => {
    answers.set('GET /v1/jobs', reply(401, { error: { code: 'UNAUTHORIZED', message: 'missing or invalid API token' } }));
    const none = (await new ControllerClient({ url: base }).list().catch((e: unknown) => e)) as EtlError;
    expect(none).toMatchObject({ status: 401, message: expect.stringMatching(/refused the API token/), hint: expect.stringMatching(/no API token was given/) });
    const fromEnv = (await new ControllerClient({ url: base, token: 'x', tokenSource: 'env' }).list().catch((e: unknown) => e)) as EtlError;
    expect(fromEnv.hint).toMatch(/P2M_API_TOKEN/);
  });

  it('reports a reply that is not the API’s', async () => {
    answers.set('GET /v1/jobs/proxy', reply(502, '<html>bad gateway</html>'));
    expect(await new ControllerClient({ url: base }).get('proxy').catch((e: unknown) => e)).toMatchObject({
      status: 502,
      message: expect.stringMatching(/HTTP 502/),
      retriable: true,
    });
    answers.set('GET /v1/jobs/html', reply(200, '<html></html>'));
    expect(await new ControllerClient({ url: base }).get('html').catch((e: unknown) => e)).toMatchObject({
      code: 'STACK',
      message: expect.stringMatching(/not JSON/),
    });
  });

  it('says how to start the controller when nothing answers, and gives up on a silent one', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const err = (await new ControllerClient({ url: `http://127.0.0.1:${port}` }).list().catch((e: unknown) => e)) as EtlError;
    expect(err).toMatchObject({ code: 'STACK', retriable: true, message: `cannot reach the controller at http://127.0.0.1:${port}` });
    expect(err.hint).toMatch(/p2m stack up/);

    answers.set('GET /v1/jobs/slow', () => undefined); // never answers
    const slow = (await new ControllerClient({ url: base, timeoutMs: 50 }).get('slow').catch((e: unknown) => e)) as EtlError;
    expect(slow).toMatchObject({ code: 'TRANSIENT', retriable: true });
  });
});

describe('resolveConnection', () => {
  const dir = mkdtempSync(join(tmpdir(), 'p2m-cli-'));
  mkdirSync(join(dir, '.p2m'));
  writeFileSync(join(dir, '.p2m', 'stack.env'), '# comment\nP2M_CONTROLLER_URL=http://127.0.0.1:9999\nexport P2M_API_TOKEN="from-file"\nOTHER=1\n');

  it('takes options, then the environment, then .p2m/stack.env, then the default', () => {
    expect(resolveConnection({ url: 'http://a', token: 'opt' }, { P2M_API_TOKEN: 'env' }, dir)).toEqual({
      url: 'http://a',
      token: 'opt',
      tokenSource: 'option',
    });
    expect(resolveConnection({}, { P2M_API_TOKEN: 'env', P2M_CONTROLLER_URL: 'http://env' }, dir)).toEqual({
      url: 'http://env',
      token: 'env',
      tokenSource: 'env',
    });
    expect(resolveConnection({}, {}, dir)).toEqual({ url: 'http://127.0.0.1:9999', token: 'from-file', tokenSource: 'stack.env' });
    expect(resolveConnection({}, {}, tmpdir())).toMatchObject({ url: 'http://127.0.0.1:8080', tokenSource: 'none' });
    expect(resolveConnection({}, { P2M_STACK_DIR: join(dir, '.p2m') }, tmpdir())).toMatchObject({ token: 'from-file' });
  });

  it('reads KEY=VALUE files', () => {
    expect(readStackEnv(join(dir, '.p2m', 'stack.env'))).toEqual({ P2M_CONTROLLER_URL: 'http://127.0.0.1:9999', P2M_API_TOKEN: 'from-file', OTHER: '1' });
    expect(readStackEnv(join(dir, 'missing.env'))).toEqual({});
  });
});

import { InvalidArgumentError, type Command } from 'commander';
import { JOB_STATUSES, TERMINAL_STATUSES, type DlqEntry, type JobStatus, type JobView, type NamespaceProgress } from '@p2m/core';
import { ControllerClient, resolveConnection } from '../client.ts';
import { planLines } from '../plan-lines.ts';
import { duration, eta, followJob, formatReport, formatTable, lag, nsLabel, num, percent, rate, type OutputStream } from '../follow.ts';

/**
 * `p2m jobs list|show|cancel|resume|replay|errors|plan|follow`: the controller's HTTP API from the
 * terminal. `--json` prints what the API returned; otherwise tables for people. Failures reach
 * main.ts as EtlErrors, which prints them as one `p2m: ...` line and exits non-zero.
 */

export interface JobsCommandIO {
  stdout: OutputStream;
  /** Progress bars go here when stdout carries --json. */
  stderr: OutputStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Connects to the controller; tests swap it. */
  connect: (options: GlobalOptions, io: JobsCommandIO) => JobsClient;
}

type JobsClient = Pick<ControllerClient, 'list' | 'listPage' | 'get' | 'cancel' | 'resume' | 'replay' | 'errors' | 'plan'>;

interface GlobalOptions {
  url?: string;
  token?: string;
  json?: boolean;
}

function defaultConnect(options: GlobalOptions, io: JobsCommandIO): JobsClient {
  return ControllerClient.fromConnection(resolveConnection({ url: options.url, token: options.token }, io.env, io.cwd));
}

function statusList(value: string): JobStatus[] {
  const statuses = value.split(',').map((s) => s.trim().toUpperCase().replace(/ /g, '_'));
  const unknown = statuses.filter((s) => !(JOB_STATUSES as readonly string[]).includes(s));
  if (unknown.length > 0 || statuses.length === 0)
    throw new InvalidArgumentError(`expected job statuses (${JOB_STATUSES.join(', ')}), comma-separated; not ${unknown.join(', ')}`);
  return statuses as JobStatus[];
}

function positiveInt(max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`expected an integer between 1 and ${max}`);
    return n;
  };
}

export function register(program: Command, overrides: Partial<JobsCommandIO> = {}): void {
  const io: JobsCommandIO = { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), connect: defaultConnect, ...overrides };
  const out = (text: string): void => {
    io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  };
  const json = (value: unknown): void => out(JSON.stringify(value, null, 2));

  const jobs = program
    .command('jobs')
    .description('list, inspect and drive migration jobs on the controller')
    .option('--url <url>', 'controller URL (default $P2M_CONTROLLER_URL, .p2m/stack.env, or http://127.0.0.1:8080)')
    .option('--token <token>', 'API token (default $P2M_API_TOKEN or .p2m/stack.env)')
    .option('--json', 'print the API answer as JSON');

  /** Options of `jobs` and of the subcommand, wherever on the line they were given. */
  const setup = (command: Command) => {
    const options = command.optsWithGlobals<GlobalOptions & Record<string, unknown>>();
    return { options, client: io.connect(options, io) };
  };

  jobs
    .command('list')
    .description('jobs with their status and progress, newest first (every job, or one page with --limit)')
    .option('--status <list>', `only jobs in these statuses, comma-separated (${JOB_STATUSES.join(', ')})`, statusList)
    .option('--limit <n>', 'jobs per page (1-1000)', positiveInt(1000))
    .option('--cursor <cursor>', 'start at this cursor (printed after each page)')
    .action(async (_opts: unknown, command: Command) => {
      const { options, client } = setup(command);
      const status = Array.isArray(options.status) ? (options.status as JobStatus[]) : undefined;
      const limit = typeof options.limit === 'number' ? options.limit : undefined;
      const cursor = typeof options.cursor === 'string' ? options.cursor : undefined;
      if (status === undefined && limit === undefined && cursor === undefined) {
        const list = await client.list();
        if (options.json) return json({ jobs: list });
        out(list.length === 0 ? 'No jobs. Start one with: npx p2m migrate --source-index NAME --collection NAME' : jobTable(list).join('\n'));
        return;
      }
      const page = await client.listPage({ status, limit, cursor });
      if (options.json) return json(page);
      if (page.total === 0) return out(`No jobs${status ? ` in ${status.join(', ')}` : ''}.`);
      if (page.jobs.length > 0) out(jobTable(page.jobs).join('\n'));
      const again = [status ? `--status ${status.join(',')}` : '', limit ? `--limit ${limit}` : ''].filter(Boolean).join(' ');
      out(`${num(page.jobs.length)} of ${num(page.total)} jobs${page.next !== null ? `; next page: npx p2m jobs list ${again} --cursor ${page.next}` : ''}`);
    });

  jobs
    .command('show')
    .description('one job: status, per-namespace progress, error, verification report')
    .argument('<id>', 'job id')
    .action(async (id: string, _opts: unknown, command: Command) => {
      const { options, client } = setup(command);
      const view = await client.get(id);
      if (options.json) return json(view);
      out(jobDetails(view).join('\n'));
    });

  jobs
    .command('cancel')
    .description('cancel an active job (resume it later from where it stopped)')
    .argument('<id>', 'job id')
    .action(async (id: string, _opts: unknown, command: Command) => {
      const { options, client } = setup(command);
      const view = await client.cancel(id);
      if (options.json) return json(view);
      out(`job ${view.id}: ${statusText(view)}`);
    });

  jobs
    .command('resume')
    .description('resume a failed or cancelled job from its checkpoints')
    .argument('<id>', 'job id')
    .option('--follow', 'show live progress until the job ends')
    .action(async (id: string, _opts: unknown, command: Command) => {
      const { options, client } = setup(command);
      const view = await client.resume(id);
      if (options.json && !options.follow) return json(view);
      if (!options.json) out(`job ${view.id}: ${statusText(view)}`);
      if (options.follow) await followAndReport(client, view.id, options, io, out);
    });

  jobs
    .command('replay')
    .description('re-read the job’s records topic into its collection or a new one (Pinecone is not read again)')
    .argument('<id>', 'job id')
    .option('--collection <name>', 'load into this new collection instead of the job’s own')
    .option('--follow', 'show live progress until the replay ends')
    .action(async (id: string, _opts: unknown, command: Command) => {
      const { options, client } = setup(command);
      const collection = typeof options.collection === 'string' ? options.collection : undefined;
      const view = await client.replay(id, { collection });
      if (options.json && !options.follow) return json(view);
      if (!options.json) {
        out(
          view.id === id
            ? `job ${id}: replaying into ${view.target.collection} (${statusText(view)})`
            : `replaying job ${id} into ${view.target.collection} as job ${view.id} (${statusText(view)})`,
        );
      }
      if (options.follow) await followAndReport(client, view.id, options, io, out);
    });

  jobs
    .command('errors')
    .description('records in the job’s dead-letter queue, with the reason each could not load')
    .argument('<id>', 'job id')
    .option('--limit <n>', 'entries per page (1-1000, default 100)', positiveInt(1000))
    .option('--cursor <cursor>', 'start at this cursor (printed after each page)')
    .option('--all', 'fetch every page')
    .action(async (id: string, _opts: unknown, command: Command) => {
      const { options, client } = setup(command);
      const limit = typeof options.limit === 'number' ? options.limit : undefined;
      let cursor = typeof options.cursor === 'string' ? options.cursor : undefined;
      const entries: DlqEntry[] = [];
      let total = 0;
      let next: string | null = null;
      do {
        const page = await client.errors(id, { cursor, limit });
        entries.push(...page.entries);
        total = page.total;
        next = page.next;
        cursor = next ?? undefined;
      } while (options.all && next !== null);
      if (options.json) return json({ entries, total, next });
      if (total === 0) return out(`job ${id}: no record went to the dead-letter queue`);
      const rows = entries.map((e) => [nsLabel(e.namespace), e.id, e.code, e.reason, e.at]);
      out(formatTable(['NAMESPACE', 'ID', 'CODE', 'REASON', 'AT'], rows).join('\n'));
      out(
        `${num(entries.length)} of ${num(total)} entries${next !== null ? `; next page: npx p2m jobs errors ${id} --cursor ${next}${limit ? ` --limit ${limit}` : ''}` : ''}`,
      );
    });

  jobs
    .command('plan')
    .description('the collection schema the job creates on the target')
    .argument('<id>', 'job id')
    .action(async (id: string, _opts: unknown, command: Command) => {
      const { options, client } = setup(command);
      const plan = await client.plan(id);
      if (options.json) return json(plan);
      out(planLines(plan).join('\n'));
    });

  jobs
    .command('follow')
    .description('live progress bars until the job ends, then its verification report')
    .argument('<id>', 'job id')
    .action(async (id: string, _opts: unknown, command: Command) => {
      const { options, client } = setup(command);
      await followAndReport(client, id, options, io, out);
    });
}

async function followAndReport(client: JobsClient, id: string, options: GlobalOptions, io: JobsCommandIO, out: (t: string) => void): Promise<void> {
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  try {
    const final = await followJob(client, id, { stream: options.json ? io.stderr : io.stdout, signal: abort.signal, summary: !options.json });
    if (options.json) out(JSON.stringify(final, null, 2));
    if (final.status !== 'SUCCESSFUL' || (final.report && !final.report.passed)) process.exitCode = 1;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

function statusText(view: JobView): string {
  return view.status.replace(/_/g, ' ');
}

export function jobTable(list: JobView[]): string[] {
  const rows = list.map((j) => {
    const t = j.progress.total;
    const active = !TERMINAL_STATUSES.has(j.status);
    return [
      j.id,
      statusText(j),
      j.source.index,
      j.target.collection,
      `${num(t.loaded)}/${num(t.sourceCount)}`,
      percent(t.loaded + t.failed, t.sourceCount, j.status === 'SUCCESSFUL'),
      num(t.failed),
      active ? rate(j) : '-',
      active ? eta(j) : '-',
      j.createdAt,
    ];
  });
  return formatTable(['ID', 'STATUS', 'SOURCE', 'COLLECTION', 'LOADED', 'DONE', 'IN DLQ', 'RATE', 'ETA', 'CREATED'], rows, [
    false,
    false,
    false,
    false,
    true,
    true,
    true,
    true,
    false,
    false,
  ]);
}

export function jobDetails(view: JobView): string[] {
  const p = view.progress;
  const t = p.total;
  const lines = [
    `Job ${view.id}  ${statusText(view)}  (${view.mode}${view.mode === 'replay' ? ` of ${view.topicJobId}` : ''}, generation ${view.generation})`,
    `Source    Pinecone index ${view.source.index}${view.source.controllerHostUrl ? ` at ${view.source.controllerHostUrl}` : ''}, namespaces: ${view.source.namespaces ? view.source.namespaces.map(nsLabel).join(', ') : 'all'}`,
    `Target    ${view.target.address} / ${view.target.collection} (${view.target.partitionKey ? 'partition key' : 'one partition per namespace'}, id max length ${view.target.maxIdLength})`,
    `Created   ${view.createdAt}   updated ${view.updatedAt}`,
    `Progress  ${num(t.loaded)} of ${num(t.sourceCount)} loaded (${percent(t.loaded + t.failed, t.sourceCount, view.status === 'SUCCESSFUL')}), ${num(t.extracted)} extracted, ${num(t.failed)} in DLQ`,
  ];
  if (!TERMINAL_STATUSES.has(view.status)) lines.push(`Rate      ${rate(view)}   ETA ${eta(view)}   consumer ${lag(view)}`);
  else lines.push(`Took      ${duration((Date.parse(view.updatedAt) - Date.parse(view.createdAt)) / 1000)}`);
  if (p.namespaces.length) {
    lines.push('');
    lines.push(
      ...formatTable(
        ['NAMESPACE', 'SOURCE', 'EXTRACTED', 'LOADED', 'IN DLQ', 'EXTRACTION'],
        p.namespaces.map((n) => [nsLabel(n.namespace), num(n.sourceCount), num(n.extracted), num(n.loaded), num(n.failed), extractionState(view, n)]),
        [false, true, true, true, true, false],
      ),
    );
  }
  if (view.error) {
    lines.push('', `Error     ${view.error.code}: ${view.error.message}${view.error.at ? ` (stopped at ${view.error.at})` : ''}`);
  }
  if (view.report) lines.push('', ...formatReport(view.report));
  return lines;
}

/** A namespace's extraction as it is: a job that no longer runs shows where it stopped, not "running". */
export function extractionState(view: JobView, ns: NamespaceProgress): string {
  if (ns.extractionDone) return 'done';
  switch (view.status) {
    case 'PENDING':
      return 'waiting';
    case 'IN_PROGRESS':
    case 'VERIFYING':
      return 'running';
    case 'CANCELLING':
      return 'stopping';
    default: {
      // The extractor names the namespace as Pinecone does: `__default__` for the default one.
      const at = /^namespace (.*), page (\d+)$/.exec(view.error?.at ?? '');
      const failed = at && (at[1] === '__default__' || at[1] === '(default)' ? '' : at[1]);
      if (view.status === 'FAILED' && failed === ns.namespace) return `failed at page ${at![2]}`;
      return `stopped at ${num(ns.extracted)}`;
    }
  }
}

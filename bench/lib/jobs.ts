import { TERMINAL_STATUSES } from '@p2m/core';
import type { Runtime } from '@p2m/cli';

/**
 * Cancels the given jobs (all active ones when `ids` is omitted) and waits, up to `timeoutMs`, until
 * each has ended, with `runtime`'s controller driving them meanwhile. A bench must not stop its
 * controller on a job left CANCELLING: no one finishes it, and every later controller of the stack
 * measures it on every tick (its topic deleted by the bench), which is CPU the bench then charges to
 * p2m. Returns the ids still not ended.
 */
export async function cancelAndSettle(runtime: Runtime, ids?: string[], timeoutMs = 30_000): Promise<string[]> {
  const jobs = runtime.jobs!;
  const views = ids ? await Promise.all(ids.map((id) => jobs.get(id))) : await jobs.list();
  let open = views.filter((v) => !TERMINAL_STATUSES.has(v.status)).map((v) => v.id);
  for (const v of views) if (!TERMINAL_STATUSES.has(v.status) && v.status !== 'CANCELLING') await jobs.cancel(v.id).catch(() => undefined);
  for (const until = Date.now() + timeoutMs; open.length > 0 && Date.now() < until;) {
    await new Promise((r) => setTimeout(r, 250));
    const views = await Promise.all(open.map((id) => jobs.get(id)));
    open = views.filter((v) => !TERMINAL_STATUSES.has(v.status)).map((v) => v.id);
  }
  return open;
}

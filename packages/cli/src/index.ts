/**
 * `@p2m/cli` as a library: the composition root that runs the services (`startRuntime`, used by
 * the embedded `p2m migrate`, the stack's processes, tests and benchmarks), the HTTP client of the
 * controller and the job follower. The `p2m` command itself is main.ts.
 */
export { startRuntime, RecordCodecs, type Roles, type Runtime } from './runtime.ts';
export { ControllerClient, ControllerError, type ControllerClientOptions, type ControllerConnection, type ErrorsQuery } from './client.ts';
export { followJob, type FollowOptions, type JobSource, type OutputStream } from './follow.ts';

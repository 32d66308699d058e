/** Test-only entry point (`@p2m/controller/testing`): the real controller over the fakes of @p2m/testing. */
export { createControllerWorld, fakeIndex, type ControllerWorld, type ControllerWorldOptions } from './world.ts';
export { ScriptedJobs } from './scripted-jobs.ts';
export { createHarness, type Harness } from '../http/harness.ts';

/** The server: configuration, the /api/v1 app, archive → engine wiring, and the serve/worker composition. */
export { DEFAULT_CONFIG, CONFIG_SCHEMA, ENV_KEYS, configEnv, loadConfig, redactConfig } from './config.ts';
export type { AllowedPeer, ConfigSources, DicomPeer, RoutingRule, ServerConfig } from './config.ts';
export { createApp, toHttpError } from './app.ts';
export type { AppOptions, DicomWebMount } from './app.ts';
export { API_PREFIX, ROUTES } from './routes.ts';
export type { ApiDeps, RouteDef } from './routes.ts';
export { OPENAPI_PATH, openApiDocument, openApiText } from './openapi.ts';
export { createJobHandler, loadArchivedSeries, routeSeries, LABEL_MAP_ATTACHMENT } from './engine-wiring.ts';
export type { ArchivedSeries, JobHandlerOptions } from './engine-wiring.ts';
export { enqueueForSeries, startStablePoller } from './stable-poller.ts';
export type { EnqueueOptions, Poller, StablePollerOptions } from './stable-poller.ts';
export { superviseWorker } from './supervisor.ts';
export type { SupervisorOptions, WorkerProcessCommand, WorkerSupervisor } from './supervisor.ts';
export { openStores, startServer, startWorker } from './runtime.ts';
export type { RunningServer, RunningWorker, StartOptions, Stores } from './runtime.ts';

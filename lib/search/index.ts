/** Hyperparameter search: spaces, strategies, and trial runners (this thread or worker threads). */
export { choice, checkSpace, integers, logUniform, MLP_SPACE, spaceFromJSON, uniform } from './space';
export type { ChoiceParam, Config, NumberParam, SearchParam, ParamValue, SearchSpace } from './space';
export { defaultBuild, SEARCH_METRICS } from './trial';
export type { BuildContext, BuildFunction, BuildSpec, SearchMetric, Trial, TrialData, TrialResult, TrialStatus } from './trial';
export type { TrialRunner } from './runner';
export { search, searchTableCsv } from './search';
export type { SearchBudget, SearchOptions, SearchResult, SearchStrategy } from './search';
export { DEFAULT_QUEUE_NAME, startQueueWorker } from './queue';
export type { QueueSpec, QueueWorker, QueueWorkerOptions } from './queue';

/**
 * Names for the API's models. The shapes come from `schema.d.ts`, which is generated from
 * the server's OpenAPI document (`jlpm api:types`); CI fails when it drifts.
 */
import type { components } from './schema';

type Schemas = components['schemas'];

export type StatusResponse = Schemas['StatusResponse'];
export type TrackingStatus = Schemas['TrackingStatus'];
export type ProjectStatus = Schemas['ProjectStatus'];
export type ContainerEngineStatus = Schemas['ContainerEngineStatus'];
export type ExperimentsResponse = Schemas['ExperimentsResponse'];
export type ExperimentSummary = Schemas['ExperimentSummary'];
export type ErrorBody = Schemas['ErrorBody'];
export type ParameterError = Schemas['ParameterError'];
export type FieldError = Schemas['FieldError'];

export interface IExperimentsQuery {
  search?: string;
  max_results?: number;
  include_deleted?: boolean;
}

export type RunsPage = Schemas['RunsPage'];
export type RunSummary = Schemas['RunSummary'];
export type RunDetails = Schemas['RunDetails'];
export type MetricHistory = Schemas['MetricHistory'];
export type ArtifactList = Schemas['ArtifactList'];
export type RunUpdate = Schemas['RunUpdate'];

export interface IRunsQuery {
  experiment_id: string;
  filter?: string;
  order_by?: string;
  max_results?: number;
  page_token?: string;
  include_deleted?: boolean;
}

export type JobInfo = Schemas['JobInfo'];
export type JobBuild = Schemas['JobBuild'];
export type JobDataPin = Schemas['JobDataPin'];
export type JobsList = Schemas['JobsList'];
export type ExportTargetInfo = Schemas['ExportTargetInfo'];
export type ExportTargetList = Schemas['ExportTargetList'];
export type ExportRequest = Schemas['ExportRequest'];
export type ExportCheck = Schemas['ExportCheck'];
export type JobWarning = Schemas['JobWarning'];
export type Deployment = Schemas['Deployment'];
export type BuildRequest = Schemas['BuildRequest'];
export type BuildProgressEvent = Schemas['BuildProgressEvent'];
export type TaskRecord = Schemas['TaskRecord'];
export type TaskList = Schemas['TaskList'];
export type JobRunRequest = Schemas['JobRunRequest'];
export type JobExecution = Schemas['JobExecution'];
export type JobExecutionList = Schemas['JobExecutionList'];

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

export interface IExperimentsQuery {
  search?: string;
  max_results?: number;
  include_deleted?: boolean;
}

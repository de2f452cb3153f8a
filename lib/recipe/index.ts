/** The lecture notes' training recipe over a model: sanity checks and the learning-rate range test. */
export { checkModel, expectedInitialLoss, runStartChecks } from './checks';
export type { CheckOptions, GradientCheck, GradientTensorCheck, InitialLossCheck, ModelCheckReport, OverfitCheck, UnitCheck } from './checks';
export { lrFinder, lrFinderSpec, lrFinderSvg, writeLrFinderPlot } from './lr-finder';
export type { LrFinderOptions, LrFinderResult } from './lr-finder';

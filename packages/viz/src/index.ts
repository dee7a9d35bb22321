/** @gradgraph/viz — DOT/SVG/PNG graph views, gradient flow, plots and HTML reports. */
import { registerLibraryPath } from '@gradgraph/core';

registerLibraryPath(new URL('.', import.meta.url).href);

export { toDot, buildDot, flowRange, type DotOptions, type DotResult, type UnitInfo } from './dot';
export { renderSvg, renderPng, graphvizVersion, RenderError, type SvgOptions, type PngOptions } from './render';
export { gradientFlow, gradientProbe, GradientProbe, flaggedLayers, DEFAULT_THRESHOLDS, type GradientProbeOptions } from './gradflow';
export {
  renderChart,
  lossChart,
  toHistory,
  gradientBarChart,
  gradientHistoryChart,
  activationChart,
  histogramChart,
  histograms,
  PlotError,
  type ChartSpec,
  type Histogram,
  type TrainHistoryLike,
} from './plots';
export { findActivations, activationCurves, ActivationError, type ActivationSite, type ActivationCurve, type CurveOptions } from './activations';
export { filterGrid, channelChart, FilterError, type FilterGridOptions, type ChannelSeries } from './filters';
export { passDot, passDiff, applyPatches, compiledOverlay } from './compiled';
export { report, defaultVersions, ReportError, type ReportOptions } from './report';
export { viewOf, type Viewable, type GraphView, type Phase } from './view';
export type * from './types';

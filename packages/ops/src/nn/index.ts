// @gradgraph/ops/nn — filled in by the toolkit work (issue 4).
export {};

// @gradgraph/ops/data — filled in by the toolkit work (issue 4).
export {};

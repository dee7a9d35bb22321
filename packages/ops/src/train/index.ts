// @gradgraph/ops/train — filled in by the toolkit work (issue 4).
export {};

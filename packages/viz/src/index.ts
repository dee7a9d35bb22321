/** @gradgraph/viz — DOT/SVG/PNG graph views, gradient flow, plots and HTML reports. */
import { registerLibraryPath } from '@gradgraph/core';

registerLibraryPath(new URL('.', import.meta.url).href);

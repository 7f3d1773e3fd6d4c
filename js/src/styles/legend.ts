// The stylesheet of panels/legend.ts (unscoped: styles/styles.ts scopes it under .nnviz-root).
export const legendCss = `
.nnviz-legend { box-sizing: border-box; display: flex; flex-wrap: wrap; align-items: center; align-content: flex-start; gap: 4px 12px;
  padding: 4px 8px; background: var(--nnviz-bg); color: var(--nnviz-fg);
  font: 12px/1.35 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
.nnviz-legend-title { font-weight: 600; flex: 1 1 100%; }
.nnviz-legend-sub { color: var(--nnviz-muted); font-weight: 400; margin-left: 4px; }
.nnviz-legend-scale { display: inline-flex; align-items: center; gap: 5px; font-variant-numeric: tabular-nums;
  flex: 1 1 220px; max-width: 340px; min-width: 0; }
.nnviz-legend-bar { display: inline-block; flex: 1 1 auto; min-width: 48px; height: 10px; border-radius: 3px;
  border: 1px solid var(--nnviz-line2); }
.nnviz-legend-num { color: var(--nnviz-fg2); font-size: 11.5px; min-width: 2ch; white-space: nowrap; }
.nnviz-legend-note { color: var(--nnviz-muted); font-size: 11.5px; }
.nnviz-legend-nan { display: inline-flex; align-items: center; gap: 4px; color: var(--nnviz-muted); font-size: 11.5px; }
.nnviz-legend-swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; }
`;

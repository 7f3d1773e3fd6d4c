// The stylesheet of panels/chart.ts (unscoped: styles/styles.ts scopes it under .nnviz-root).
export const chartCss = `
.nnviz-chart { box-sizing: border-box; position: relative; background: var(--nnviz-bg); color: var(--nnviz-fg); display: flex;
  flex-direction: column; font: 12px/1.35 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
.nnviz-chart-legend { display: flex; flex-wrap: wrap; gap: 2px 12px; padding: 4px 8px 2px 48px; min-height: 22px; }
.nnviz-chart-item { display: inline-flex; align-items: center; gap: 5px; cursor: pointer; border: 0; background: none;
  padding: 1px 2px; font: inherit; color: inherit; border-radius: 4px; }
.nnviz-chart-item:hover { background: var(--nnviz-soft); }
.nnviz-chart-item.nnviz-off { opacity: 0.4; text-decoration: line-through; }
.nnviz-chart-swatch { display: inline-block; width: 18px; height: 0; border-top-width: 2.5px; border-top-style: solid; }
.nnviz-chart-axis-note { color: var(--nnviz-muted); font-size: 11px; }
.nnviz-chart canvas { display: block; cursor: col-resize; touch-action: none; }
.nnviz-chart-side { flex-direction: row; }
.nnviz-chart-side .nnviz-chart-legend { flex: 0 0 auto; flex-direction: column; flex-wrap: nowrap; gap: 1px; max-width: 50%;
  padding: 6px 4px 4px 8px; overflow: hidden; }
.nnviz-chart-side .nnviz-chart-item { white-space: nowrap; justify-content: flex-start; }
.nnviz-chart-empty { color: var(--nnviz-muted); padding: 10px 12px; font-style: italic; }
`;

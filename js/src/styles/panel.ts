// The stylesheet of panels/panel.ts (unscoped: styles/styles.ts scopes it under .nnviz-root).
export const panelCss = `
.nnviz-panel { box-sizing: border-box; overflow: auto; padding: 10px 12px 12px; background: var(--nnviz-bg); color: var(--nnviz-fg);
  font: 12.5px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
.nnviz-panel * { box-sizing: border-box; }
.nnviz-panel-title { display: flex; align-items: center; gap: 6px; flex-wrap: wrap; margin: 0 0 2px; }
.nnviz-panel-name { font-weight: 650; font-size: 14px; overflow-wrap: anywhere; word-break: break-word; }
.nnviz-panel-chip { display: inline-block; font-size: 11px; line-height: 16px; padding: 0 7px; border-radius: 8px;
  color: #fff; white-space: nowrap; }
.nnviz-panel-op { color: var(--nnviz-fg2); margin-bottom: 6px; overflow-wrap: anywhere; }
.nnviz-panel-props { display: grid; grid-template-columns: max-content 1fr; gap: 1px 10px; margin: 0 0 4px; }
.nnviz-panel-key { color: var(--nnviz-muted); margin: 0; padding: 0; }
.nnviz-panel-val { margin: 0; padding: 0; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; min-width: 0; }
.nnviz-panel-h { font-size: 11px; font-weight: 600; color: var(--nnviz-muted); text-transform: uppercase; letter-spacing: .04em;
  margin: 8px 0 3px; border-top: 1px solid var(--nnviz-line); padding-top: 6px; }
.nnviz-panel-stats { display: grid; grid-template-columns: repeat(auto-fill, minmax(66px, 1fr)); gap: 3px 8px; }
.nnviz-panel-stat.nnviz-warn span { color: var(--nnviz-bad); }
.nnviz-panel-stat { display: flex; flex-direction: column; }
.nnviz-panel-stat span:first-child { color: var(--nnviz-muted); font-size: 11px; }
.nnviz-panel-stat span:last-child { font-variant-numeric: tabular-nums; font-weight: 550; }
.nnviz-panel-nonfinite { margin-top: 6px; color: var(--nnviz-muted); font-size: 12px; }
.nnviz-panel-nonfinite.nnviz-warn { color: var(--nnviz-bad); font-weight: 650; background: var(--nnviz-bad-bg); border: 1px solid var(--nnviz-bad-line);
  border-radius: 6px; padding: 3px 6px; }
.nnviz-panel-hist { display: block; margin-top: 2px; }
.nnviz-panel-note { color: var(--nnviz-muted); font-size: 11.5px; margin-top: 4px; }
.nnviz-panel-kinds { display: flex; flex-wrap: wrap; gap: 4px; margin: 2px 0 8px; }
.nnviz-panel-kind { display: inline-flex; align-items: center; gap: 4px; font-size: 11.5px; border: 1px solid var(--nnviz-line);
  border-radius: 10px; padding: 0 7px 0 5px; }
.nnviz-panel-kind .nnviz-panel-dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; }
.nnviz-panel-hint { margin-top: 10px; color: var(--nnviz-fg2); background: var(--nnviz-soft); border-radius: 6px; padding: 6px 8px; }
.nnviz-panel-warn { color: var(--nnviz-warn); background: var(--nnviz-warn-bg); border-radius: 6px; padding: 4px 8px; margin: 4px 0; font-size: 12px; }
`;

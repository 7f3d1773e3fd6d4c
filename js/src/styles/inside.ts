// The stylesheet of panels/inside/inside.ts (unscoped: styles/styles.ts scopes it under .nnviz-root).
export const insideCss = `
.nnviz-inside { box-sizing: border-box; overflow: auto; padding: 8px 10px 10px; background: var(--nnviz-bg); color: var(--nnviz-fg);
  font: 12px/1.35 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
.nnviz-inside * { box-sizing: border-box; }
.nnviz-inside-section { margin: 0 0 10px; }
.nnviz-inside-section + .nnviz-inside-section { border-top: 1px solid var(--nnviz-line); padding-top: 7px; }
.nnviz-inside-h { display: flex; justify-content: space-between; align-items: baseline; gap: 6px; margin: 0 0 4px;
  font-size: 11px; font-weight: 600; color: var(--nnviz-muted); text-transform: uppercase; letter-spacing: .04em; }
.nnviz-inside-h-right { text-transform: none; letter-spacing: 0; font-weight: 500; white-space: nowrap; }
.nnviz-inside-title { font-size: 12px; font-weight: 600; margin: 8px 0 3px; overflow-wrap: anywhere; word-break: break-word; }
.nnviz-inside-h + .nnviz-inside-title, .nnviz-inside-h + div > .nnviz-inside-title:first-child,
.nnviz-inside-toggle + .nnviz-inside-title { margin-top: 2px; }
.nnviz-inside-note { color: var(--nnviz-muted); font-size: 11px; margin: 2px 0; overflow-wrap: anywhere; }
.nnviz-inside-px { display: block; image-rendering: crisp-edges; image-rendering: pixelated; }
.nnviz-inside-probe { display: flex; gap: 10px; align-items: center; }
.nnviz-inside-probe-img { border: 1px solid var(--nnviz-line); }
.nnviz-inside-facts { display: flex; flex-direction: column; gap: 1px; font-variant-numeric: tabular-nums; }
.nnviz-inside-facts b { font-weight: 600; }
.nnviz-inside-ok { color: var(--nnviz-ok); font-weight: 600; }
.nnviz-inside-bad { color: var(--nnviz-bad); font-weight: 600; }
.nnviz-inside-plot { display: grid; grid-template-columns: auto auto; column-gap: 3px; width: max-content; }
.nnviz-inside-yaxis { display: flex; flex-direction: column; justify-content: space-between; align-items: flex-end;
  font-size: 10px; color: var(--nnviz-muted); font-variant-numeric: tabular-nums; }
.nnviz-inside-xaxis { display: flex; justify-content: space-between; font-size: 10px; color: var(--nnviz-muted);
  font-variant-numeric: tabular-nums; grid-column: 2; }
.nnviz-inside-box { position: relative; border: 1px solid var(--nnviz-line); }
.nnviz-inside-box canvas { position: absolute; left: 0; top: 0; }
.nnviz-inside-keys { display: flex; flex-wrap: wrap; gap: 2px 9px; font-size: 11px; color: var(--nnviz-fg2); margin: 3px 0 0; }
.nnviz-inside-key { display: inline-flex; align-items: center; gap: 3px; }
.nnviz-inside-key span.nnviz-inside-swatch, .nnviz-inside-key span.nnviz-inside-dot { display: inline-block; width: 9px; height: 9px; border-radius: 2px; border: 1px solid rgba(0,0,0,.12); }
.nnviz-inside-key span.nnviz-inside-dot { border-radius: 50%; border-color: var(--nnviz-bg); box-shadow: 0 0 0 1px rgba(0,0,0,.25); }
.nnviz-inside-fields { display: flex; flex-direction: column; gap: 3px; }
.nnviz-inside-field-name { font-size: 11px; color: var(--nnviz-fg2); overflow-wrap: anywhere; }
.nnviz-inside-tiles { display: flex; flex-wrap: wrap; gap: 3px; }
.nnviz-inside-tiles canvas { border: 1px solid var(--nnviz-line); }
.nnviz-inside-health { display: grid; grid-template-columns: minmax(0, max-content) auto; column-gap: 6px; row-gap: 2px;
  align-items: center; }
.nnviz-inside-hname { font-size: 11px; color: var(--nnviz-fg2); overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
  max-width: 110px; }
.nnviz-inside-hstrip { cursor: pointer; }
.nnviz-inside-hline { font-size: 11.5px; margin-top: 4px; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.nnviz-inside-hline.nnviz-inside-warn { color: var(--nnviz-bad); }
.nnviz-inside-tokens { display: flex; flex-wrap: wrap; gap: 3px; margin: 4px 0 2px; }
.nnviz-inside-tok { display: flex; flex-direction: column; align-items: flex-start; min-width: 22px; padding: 1px 4px 2px;
  border: 1px solid var(--nnviz-line); border-radius: 4px; background: var(--nnviz-soft); font-size: 11px; line-height: 1.25; }
.nnviz-inside-tok-in { white-space: pre; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; color: var(--nnviz-fg); }
.nnviz-inside-tok-next { white-space: pre; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; color: var(--nnviz-fg2); }
.nnviz-inside-tok-p { font-size: 10px; color: var(--nnviz-muted); font-variant-numeric: tabular-nums; }
.nnviz-inside-rows { display: flex; flex-direction: column; font-size: 10px; color: var(--nnviz-muted);
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; white-space: pre; overflow: hidden; }
.nnviz-inside-rows span { display: block; overflow: hidden; text-overflow: ellipsis; max-width: 70px; }
.nnviz-inside-seq { display: flex; gap: 4px; align-items: flex-start; }
.nnviz-inside-toggle { display: inline-flex; margin: 0 0 4px; border: 1px solid var(--nnviz-line2); border-radius: 5px; overflow: hidden; }
.nnviz-inside-toggle button { font: inherit; font-size: 11px; padding: 1px 8px; border: 0; background: var(--nnviz-bg); color: var(--nnviz-fg2);
  cursor: pointer; }
.nnviz-inside-toggle button + button { border-left: 1px solid var(--nnviz-line2); }
.nnviz-inside-toggle button.nnviz-inside-on { background: var(--nnviz-soft); color: var(--nnviz-fg); font-weight: 600; }
`;

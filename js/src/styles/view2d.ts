// The stylesheet of view2d/view2d.ts (unscoped: styles/styles.ts scopes it under .nnviz-root).
export const view2dCss = `
.nnviz-view2d { position: relative; overflow: hidden; background: var(--nnviz-bg); user-select: none;
  -webkit-user-select: none; touch-action: none; }
.nnviz-view2d canvas.nnviz-view2d-canvas { position: absolute; left: 0; top: 0; display: block; cursor: grab; outline: none; }
.nnviz-view2d canvas.nnviz-view2d-canvas.nnviz-dragging { cursor: grabbing; }
.nnviz-view2d canvas.nnviz-view2d-canvas.nnviz-pointing { cursor: pointer; }
.nnviz-view2d-tools { position: absolute; right: 8px; top: 8px; display: flex; gap: 4px; }
.nnviz-view2d-tools button { font: 12px/1 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  min-width: 28px; height: 26px; padding: 0 8px; border: 1px solid var(--nnviz-line2); border-radius: 6px;
  background: var(--nnviz-overlay); color: var(--nnviz-fg); cursor: pointer; }
.nnviz-view2d-tools button:hover { background: var(--nnviz-soft); border-color: var(--nnviz-edge); }
.nnviz-view2d-hint { position: absolute; left: 8px; bottom: 6px; font: 11px system-ui, -apple-system, "Segoe UI",
  Roboto, Helvetica, Arial, sans-serif; color: var(--nnviz-muted); pointer-events: none; background: var(--nnviz-overlay);
  padding: 1px 4px; border-radius: 4px; }
.nnviz-sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
  clip: rect(0,0,0,0); white-space: nowrap; border: 0; }
.nnviz-sr-only:focus-within { position: absolute; left: 8px; top: 40px; width: auto; height: auto; max-height: 60%;
  overflow: auto; clip: auto; white-space: normal; background: var(--nnviz-bg); border: 1px solid var(--nnviz-line2); border-radius: 6px;
  padding: 4px; margin: 0; z-index: 2; }
.nnviz-sr-only button { display: block; font: 12px system-ui, sans-serif; border: 0; background: none;
  padding: 2px 6px; text-align: left; cursor: pointer; }
.nnviz-sr-only button:focus { outline: 2px solid var(--nnviz-select); }
`;

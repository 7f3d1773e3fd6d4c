// The 2D view's input: drag to pan, ctrl / cmd + wheel (or a pinch) to zoom, shift + wheel to pan,
// hover for tooltips, click to select or expand, keys f / + / - / Escape. Reads and writes the
// view's state record; what it does to the view goes through `Actions`.
import { listen, type Disposer } from "../util/dom";
import { createWheelHint, isZoomWheel } from "../util/wheel";
import { hitTest, tooltipFor } from "./hit";
import type { View2DState } from "./state";
import { sameHit } from "./transform";

/** What the input asks of the view (view2d.ts implements them). */
export interface Actions {
  /** paint on the next frame */
  schedule(): void;
  /** hide the "drag to pan" hint (the user has found it) */
  hideHint(): void;
  /** write the user's pan / zoom to the shared camera */
  shareView(): void;
  zoomAt(f: number, sx: number, sy: number): void;
  zoomBy(f: number): void;
  fitAll(): void;
  /** a click on a node: expand a block, else select */
  activate(name: string): void;
  selectLayer(name: string): void;
}

/** Listen to `vs.canvas` (the wheel hint goes in `el`); `d` undoes it all. */
export function attachInput(vs: View2DState, el: HTMLElement, act: Actions, d: Disposer): void {
  const { canvas, ctx } = vs;
  const local = (e: MouseEvent) => {
    const r = canvas.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  };
  const onPointerDown = (e: PointerEvent) => {
    if (e.button !== 0) return;
    const p = local(e);
    vs.drag = { x: p.x, y: p.y, tx: vs.tx, ty: vs.ty, id: e.pointerId, moved: false };
    try {
      canvas.setPointerCapture(e.pointerId);
    } catch {
      /* synthetic events have no active pointer */
    }
  };
  const onPointerMove = (e: PointerEvent) => {
    const p = local(e);
    const down = vs.drag;
    if (down && e.pointerId === down.id) {
      const dx = p.x - down.x;
      const dy = p.y - down.y;
      if (!down.moved && dx * dx + dy * dy > 16) {
        down.moved = true;
        canvas.classList.add("nnviz-dragging");
        ctx.hideTooltip();
      }
      if (down.moved) {
        act.hideHint();
        vs.tx = down.tx + dx;
        vs.ty = down.ty + dy;
        act.shareView();
        act.schedule();
        return;
      }
    }
    const h = hitTest(vs, p.x, p.y);
    if (!sameHit(h, vs.hover)) {
      vs.hover = h;
      canvas.classList.toggle("nnviz-pointing", h !== null);
      act.schedule();
    }
    if (h) {
      const [title, rows] = tooltipFor(vs, h);
      ctx.showTooltip(e.clientX, e.clientY, title, rows);
    } else ctx.hideTooltip();
  };
  const onPointerUp = (e: PointerEvent) => {
    const down = vs.drag;
    if (!down || e.pointerId !== down.id) return;
    const wasDrag = down.moved;
    vs.drag = null;
    canvas.classList.remove("nnviz-dragging");
    try {
      canvas.releasePointerCapture(e.pointerId);
    } catch {
      /* not captured */
    }
    if (wasDrag) return;
    const p = local(e);
    const h = hitTest(vs, p.x, p.y);
    if (h) act.activate(h.layer);
    else act.selectLayer("");
  };
  const onPointerLeave = () => {
    if (vs.hover) {
      vs.hover = null;
      canvas.classList.remove("nnviz-pointing");
      act.schedule();
    }
    ctx.hideTooltip();
  };
  // a plain wheel scrolls the notebook (with a hint); ctrl / cmd + wheel (and a trackpad pinch)
  // zooms; shift + wheel and horizontal swipes pan along the graph
  const wheelHint = createWheelHint(el);
  const onWheel = (e: WheelEvent) => {
    const p = local(e);
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? vs.cssH : 1;
    if (isZoomWheel(e)) {
      e.preventDefault();
      act.hideHint();
      wheelHint.hide();
      // a pinch sends small deltas: scale them up, as for a ctrl + wheel
      const k = e.ctrlKey && Math.abs(e.deltaY * unit) < 50 ? 0.01 : 0.0015;
      act.zoomAt(Math.exp(-e.deltaY * unit * k), p.x, p.y);
      return;
    }
    if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
      e.preventDefault();
      act.hideHint();
      vs.tx -= (e.shiftKey && !e.deltaX ? e.deltaY : e.deltaX) * unit;
      act.shareView();
      act.schedule();
      return;
    }
    wheelHint.flash(); // the page scrolls
  };
  const onKey = (e: KeyboardEvent) => {
    if (e.key === "f") act.fitAll();
    else if (e.key === "+" || e.key === "=") act.zoomBy(1.25);
    else if (e.key === "-") act.zoomBy(0.8);
    else if (e.key === "Escape") act.selectLayer("");
    else return;
    e.preventDefault();
  };
  d.add(listen(canvas, "pointerdown", onPointerDown));
  d.add(listen(canvas, "pointermove", onPointerMove));
  d.add(listen(canvas, "pointerup", onPointerUp));
  d.add(listen(canvas, "pointercancel", onPointerUp));
  d.add(listen(canvas, "pointerleave", onPointerLeave));
  d.add(listen(canvas, "wheel", onWheel, { passive: false }));
  d.add(() => wheelHint.dispose());
  d.add(listen(canvas, "keydown", onKey));
}

// The standalone page written by `nnviz_widget.store.to_html` (bundled by build-standalone.mjs
// into nnviz_widget/static/standalone.js, an IIFE inlined into the page). No kernel, no widget
// manager, no CDN: the page holds the widget state as JSON (<script type="application/json"
// id="nnviz-state">: traits, and each snapshot's header + bytes as base64). This file builds a
// small in-page model with the anywidget model API over it, mounts the SAME widget code as the
// notebook (index.ts: initialize, then render), and adds plain HTML controls wired to that model
// (epoch slider + play, layer, 2D/3D, color, delta reference, probe sample), so the page behaves
// like the widget in a notebook.
import widget from "./index";
import { fromBase64, PageManager, PageModel } from "./data/pagemodel";
import type { SnapshotHeader } from "./data/types";
import { h } from "./util/dom";
import { createControls, HOSTED } from "./shell/controls";

/** What `to_html` embeds. */
export interface EmbeddedState {
  version: number;
  title?: string;
  traits: Record<string, unknown>;
  snapshots: { header: SnapshotHeader; data: string }[];
}

/** The NNViz model and its snapshot children, from the embedded state. */
export function modelsFor(state: EmbeddedState, manager = new PageManager()): PageModel {
  const refs = state.snapshots.map((s) => {
    const child = manager.create({ header: s.header, data: fromBase64(s.data) });
    return `IPY_MODEL_${child.id}`;
  });
  return manager.create({ ...state.traits, _snapshots: refs });
}

// ------------------------------------------------------------------------------------------------

function showError(host: HTMLElement, message: string): void {
  const box = h("div", "nnviz-page-error", `nnviz: ${message}`);
  box.setAttribute("role", "alert");
  box.style.cssText = "padding:12px;background:#fdecea;color:#8a1c12;border-radius:6px;";
  host.append(box);
}

/** Mount the page: read the embedded state, build the model, render the widget + controls. */
export async function mountPage(doc: Document = document): Promise<void> {
  const host = doc.getElementById("nnviz-app");
  const script = doc.getElementById("nnviz-state");
  if (!host || !script) return;
  let state: EmbeddedState;
  try {
    state = JSON.parse(script.textContent || "{}") as EmbeddedState;
    if (!state || typeof state !== "object" || !Array.isArray(state.snapshots) || typeof state.traits !== "object") {
      throw new Error("the page's embedded state is malformed");
    }
  } catch (err) {
    showError(host, `could not read the recorded run (${(err as Error).message})`);
    return;
  }
  const model = modelsFor(state);
  const epochs = state.snapshots.map((s) => Number(s.header.epoch)).filter(Number.isFinite);
  const controls = createControls(model, epochs);
  const view = doc.createElement("div");
  view.className = "nnviz-page-view";
  host.append(controls.top, view, controls.bottom);
  host.classList.add(HOSTED); // these controls stand around the view: it draws none of its own
  try {
    await widget.initialize({ model });
    await widget.render({ model, el: view });
  } catch (err) {
    console.error("nnviz:", err);
    showError(host, `the view failed to start (${(err as Error).message})`);
  }
  (window as unknown as { nnvizPage?: unknown }).nnvizPage = { model, controls };
}

if (typeof document !== "undefined") {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => void mountPage());
  else void mountPage();
}

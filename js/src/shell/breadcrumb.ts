// The breadcrumb above the main view: the chain of open modules down to the last one opened
// (layout/hierarchy.ts `trail`); a click on a step collapses it (and what is open inside it),
// the first step ("all") collapses everything. Text via textContent only (module paths are
// model text). Shared by the 3D and 2D views: it writes `expanded`, they redraw.
import { collapsePath, hierarchyOf, trail } from "../layout/hierarchy";
import type { ViewContext } from "../data/view";
import { Disposer, h } from "../util/dom";

export function createBreadcrumb(ctx: ViewContext): { el: HTMLElement; destroy(): void } {
  const el = h("nav", "nnviz-crumbs");
  el.setAttribute("aria-label", "open modules");
  const d = new Disposer();
  const refresh = () => {
    const st = ctx.state();
    const graph = ctx.store.graph;
    const hier = hierarchyOf(graph, st.expanded);
    el.replaceChildren();
    const steps = trail(hier, st.expanded);
    el.style.display = hier.modules.size && (steps.length || hier.blocks.size) ? "" : "none";
    if (!hier.modules.size) return;
    const button = (label: string, title: string, onClick: () => void) => {
      const b = h("button", "nnviz-crumb", label);
      b.type = "button";
      b.title = title;
      b.addEventListener("click", onClick);
      return b;
    };
    const root = button(graph.model_name || "model", "collapse everything", () => ctx.setExpanded([]));
    root.dataset.path = "";
    el.appendChild(root);
    for (const c of steps) {
      el.appendChild(h("span", "nnviz-crumb-sep", "›"));
      const b = button(c.label, `collapse ${c.path}`, () => {
        const now = ctx.state().expanded;
        ctx.setExpanded(collapsePath(hierarchyOf(ctx.store.graph, now), now, c.path));
      });
      b.dataset.path = c.path;
      el.appendChild(b);
    }
  };
  d.add(ctx.onState((changed) => {
    if (changed.has("expanded")) refresh();
  }));
  d.add(ctx.store.on(refresh));
  refresh();
  return {
    el,
    destroy() {
      d.run();
      el.remove();
    },
  };
}

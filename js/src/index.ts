// anywidget entry: `initialize` once per widget model (shell/model.ts: the store, the snapshots,
// the trait mirrors), `render` once per view (shell/widget.ts: the DOM shell and the views).
// The comparison's metrics chart (compare.py's CompareChart, `_kind` "compare-chart") shares the
// bundle: panels/comparechart.ts draws it.
import type { AnyModel } from "./data/types";
import { setup } from "./shell/model";
import { render } from "./shell/widget";
import { renderCompareChart } from "./panels/comparechart";

const isChart = (model: AnyModel) => model.get("_kind") === "compare-chart";

export default {
  initialize({ model }: { model: AnyModel }) {
    if (isChart(model)) return () => undefined;
    const shared = setup(model);
    return () => shared.dispose();
  },
  render({ model, el }: { model: AnyModel; el: HTMLElement }) {
    return isChart(model) ? renderCompareChart({ model, el }) : render({ model, el });
  },
};

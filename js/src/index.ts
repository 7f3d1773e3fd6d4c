// anywidget entry: `initialize` once per widget model (shell/model.ts: the store, the snapshots,
// the trait mirrors), `render` once per view (shell/widget.ts: the DOM shell and the views).
import type { AnyModel } from "./data/types";
import { setup } from "./shell/model";
import { render } from "./shell/widget";

export default {
  initialize({ model }: { model: AnyModel }) {
    const shared = setup(model);
    return () => shared.dispose();
  },
  render,
};

// anywidget entry (placeholder until the views land; see ARCHITECTURE.md).
export default {
  initialize() {},
  render({ el }: { el: HTMLElement }) {
    el.textContent = "nnviz";
  },
};

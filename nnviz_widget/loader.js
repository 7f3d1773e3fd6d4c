// Every NNViz's `_esm` is this small loader; the ~700 kB bundle itself lives once per kernel in
// a shared BundleModel (sync.py), so a saved notebook stores it once rather than once per
// widget. All widgets import the same module instance (keyed on globalThis), so they share one
// renderer.
const KEY = "__nnvizBundles";
const cache = (globalThis[KEY] = globalThis[KEY] || new Map());
async function load(model) {
  const ref = String(model.get("_bundle") || "");
  const id = ref.startsWith("IPY_MODEL_") ? ref.slice(10) : ref;
  const child = await model.widget_manager.get_model(id);
  const code = child.get("code");
  const key = child.get("digest") || code.length + ":" + code.slice(-64);
  if (!cache.has(key)) {
    const url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
    cache.set(key, import(url).then((m) => m.default).finally(() => URL.revokeObjectURL(url)));
  }
  return cache.get(key);
}
export default {
  async initialize(ctx) {
    const w = await load(ctx.model);
    return w.initialize && w.initialize(ctx);
  },
  async render(ctx) {
    try { const w = await load(ctx.model); return await w.render(ctx); }
    catch (e) { ctx.el.textContent = "nnviz-widget could not load its bundle: " + e; }
  },
};

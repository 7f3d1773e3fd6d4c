// Every NNViz's `_esm` is this small loader; the ~700 kB bundle itself lives once per kernel in
// a shared BundleModel (sync.py), so a saved notebook stores it once rather than once per
// widget. All widgets import the same module instance (keyed on globalThis), so they share one
// renderer. Where the front-end's widget manager can't resolve the BundleModel (a front-end
// with anywidget's model API only), the kernel sends the bundle in a custom message instead.
const KEY = "__nnvizBundles";
const cache = (globalThis[KEY] = globalThis[KEY] || new Map());
let asked = 0;

function within(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the widget manager did not answer")), ms);
    promise.then((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
  });
}

async function fromManager(model) {
  const manager = model.widget_manager;
  const ref = String(model.get("_bundle") || "");
  const id = ref.startsWith("IPY_MODEL_") ? ref.slice(10) : ref;
  if (!id || !manager || typeof manager.get_model !== "function") throw new Error("no widget manager");
  const child = await within(Promise.resolve(manager.get_model(id)), 10000);
  const code = child.get("code");
  if (typeof code !== "string" || !code) throw new Error("the bundle model holds no code");
  return { code, digest: child.get("digest") };
}

// {kind: "nnviz:bundle?", id} -> {kind: "nnviz:bundle", id, digest} + the bundle's UTF-8 bytes
function fromKernel(model) {
  if (typeof model.send !== "function") return Promise.reject(new Error("no kernel to ask"));
  const id = "bundle." + ++asked;
  return new Promise((resolve, reject) => {
    const onMsg = (msg, buffers) => {
      if (!msg || msg.kind !== "nnviz:bundle" || msg.id !== id) return;
      done();
      const b = Array.isArray(buffers) ? buffers[0] : null;
      const bytes = b instanceof ArrayBuffer ? new Uint8Array(b) : b && ArrayBuffer.isView(b) ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : null;
      if (!bytes) reject(new Error("the kernel sent no bundle"));
      else resolve({ code: new TextDecoder().decode(bytes), digest: msg.digest });
    };
    const timer = setTimeout(() => { done(); reject(new Error("the kernel did not send the bundle")); }, 30000);
    const done = () => { clearTimeout(timer); model.off("msg:custom", onMsg); };
    model.on("msg:custom", onMsg);
    model.send({ kind: "nnviz:bundle?", id });
  });
}

// one request per bundle reference: initialize and render (and a front-end's wrapper objects
// around one model) all wait on it
const inflight = new Map();
function load(model) {
  const ref = String(model.get("_bundle") || "");
  if (!inflight.has(ref)) {
    const p = fetchBundle(model);
    inflight.set(ref, p);
    p.catch(() => inflight.delete(ref));
  }
  return inflight.get(ref);
}

async function fetchBundle(model) {
  let got;
  try { got = await fromManager(model); }
  catch (e) { got = await fromKernel(model); }
  const { code } = got;
  const key = got.digest || code.length + ":" + code.slice(-64);
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

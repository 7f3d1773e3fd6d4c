// The inside panel's decision boundary of a 2-D-input model, with the probe points.
import { css as cssColor, type RGB } from "../../color/scales";
import { h } from "../../util/dom";
import { BOUNDARY_HIGH, BOUNDARY_LOW, boundaryImage, classColor, makeImage, planeToPixel, putImage, type Img } from "../../color/images";
import { BOUNDARY_CSS, type InsideKit, type Part, actAt, boundaryAt, fmtAxis, pxCanvas, sizeCss } from "./kit";

export function boundaryPart(k: InsideKit): Part | null {
  const { store, epochNow, probeInfo, sampleNow, avail, availH, section, predictionFacts } = k;
  const first = boundaryAt(store, epochNow()) ?? store.snapshots.find((s) => s.boundary) ?? null;
  if (!first?.boundary) return null;
  const meta = first.boundary.meta;
  const epochEl = h("span");
  const { sec } = section("decision boundary", epochEl);
  // the legend and the facts below the plot stay in view: the plot gives up height for them
  const size = Math.min(BOUNDARY_CSS, avail() - 34, availH(112));
  const plot = h("div", "nnviz-inside-plot");
  const yaxis = h("div", "nnviz-inside-yaxis");
  const [x0, x1, y0, y1] = meta.extent;
  yaxis.append(h("span", undefined, fmtAxis(y1)), h("span", undefined, "y"), h("span", undefined, fmtAxis(y0)));
  yaxis.style.height = `${size + 2}px`;
  const box = h("div", "nnviz-inside-box");
  box.style.width = `${size + 2}px`;
  box.style.height = `${size + 2}px`;
  const canvas = pxCanvas("nnviz-inside-boundary");
  sizeCss(canvas, size, size);
  const dots = document.createElement("canvas");
  dots.className = "nnviz-inside-points";
  sizeCss(dots, size, size);
  box.append(canvas, dots);
  const xaxis = h("div", "nnviz-inside-xaxis");
  xaxis.append(h("span", undefined, fmtAxis(x0)), h("span", undefined, "x"), h("span", undefined, fmtAxis(x1)));
  plot.append(yaxis, box, xaxis);
  sec.appendChild(plot);

  const keys = h("div", "nnviz-inside-keys");
  const key = (color: RGB, text: string, dot = false) => {
    const k = h("span", "nnviz-inside-key");
    const sw = h("span", dot ? "nnviz-inside-dot" : "nnviz-inside-swatch");
    sw.style.background = cssColor(color);
    k.append(sw, document.createTextNode(text));
    keys.appendChild(k);
  };
  if (meta.mode === "multiclass") {
    for (let c = 0; c < Math.min(meta.classes, 10); c++) key(classColor(c), `class ${c}`);
  } else if (meta.mode === "binary") {
    const labelled = !!probeInfo()?.labels;
    key(BOUNDARY_LOW, labelled ? "class 0 (output → 0)" : "output → 0");
    key(BOUNDARY_HIGH, labelled ? "class 1 (output → 1)" : "output → 1");
  } else {
    key(BOUNDARY_LOW, "low");
    key(BOUNDARY_HIGH, "high");
  }
  sec.appendChild(keys);
  const facts = h("div", "nnviz-inside-facts");
  facts.style.marginTop = "3px";
  // one line under the plot (a column of three would push the plot out of a short pane)
  facts.style.flexDirection = "row";
  facts.style.flexWrap = "wrap";
  facts.style.columnGap = "10px";
  sec.appendChild(facts);
  const drawFacts = predictionFacts(facts);

  let img: Img | null = null;
  // regression: one value range over every epoch, so colors compare while scrubbing
  let reg: { lo?: number; hi?: number } | null = null;
  const regressionRange = () => {
    if (!reg) {
      let lo = Infinity, hi = -Infinity;
      for (const s of store.snapshots) {
        const m = s.boundary?.meta;
        if (m?.mode !== "regression") continue;
        const a = Number(m.lo), b = Number(m.hi);
        if (Number.isFinite(a)) lo = Math.min(lo, a);
        if (Number.isFinite(b)) hi = Math.max(hi, b);
      }
      reg = hi > lo ? { lo, hi } : {};
    }
    return reg;
  };
  const draw = () => {
    const snap = boundaryAt(store, epochNow());
    if (!snap?.boundary) return;
    const b = snap.boundary;
    epochEl.textContent = snap.label;
    img = img && img.width === b.meta.res ? img : makeImage(b.meta.res, b.meta.res);
    boundaryImage(b, b.meta.mode === "regression" ? regressionRange() : {}, { img, x: 0, y: 0 });
    putImage(canvas, img);
    drawPoints(b.meta.extent, b.meta.mode);
    drawFacts();
  };

  function drawPoints(extent: [number, number, number, number], mode: string) {
    const dpr = Math.max(1, Math.min(3, globalThis.devicePixelRatio || 1));
    const px = Math.round(size * dpr);
    if (dots.width !== px) dots.width = px;
    if (dots.height !== px) dots.height = px;
    const g = dots.getContext("2d");
    if (!g) return;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, size, size);
    const p = probeInfo();
    if (!p?.input) return;
    const a = actAt(store, p.input, epochNow());
    if (!a || a.info.shape.reduce((x, y) => x * y, 1) !== 2) return;
    const pts = a.act;
    const n = Math.min(a.info.samples, pts.length / 2);
    const cur = sampleNow();
    const colorOf = (i: number): string => {
      const lab = p.labels?.[i];
      if (lab === undefined || !Number.isInteger(lab)) return "#4b5563";
      if (mode === "multiclass") return cssColor(classColor(lab));
      return cssColor(lab ? BOUNDARY_HIGH : BOUNDARY_LOW);
    };
    const order = [...Array(n).keys()].filter((i) => i !== cur);
    if (cur < n) order.push(cur); // the current sample on top
    for (const i of order) {
      const [x, y] = planeToPixel(pts[2 * i], pts[2 * i + 1], extent, size, size);
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      const on = i === cur;
      g.beginPath();
      g.arc(x, y, on ? 5.5 : 3.5, 0, Math.PI * 2);
      g.fillStyle = colorOf(i);
      g.fill();
      g.lineWidth = on ? 2 : 1;
      g.strokeStyle = on ? "#111827" : "#ffffff";
      g.stroke();
    }
  }
  return { el: sec, draw };
}

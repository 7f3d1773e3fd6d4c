// The inside panel's probe part: the probe input as an image (or, for other inputs, its label and prediction).
import { h } from "../../util/dom";
import { grayscaleImage, makeImage, putImage, rgbImage, type Img, type Place } from "../../color/images";
import { type InsideKit, PROBE_CSS, type Part, actAt, fitScale, pxCanvas, sizeCss } from "./kit";

export function probePart(k: InsideKit): Part | null {
  const { store, epochNow, probeInfo, sampleNow, section, predictionFacts } = k;
  const p = probeInfo();
  if (!p) return null;
  const hasImage = !!p.input && !!p.image_shape && p.image_shape.length >= 2 && !!actAt(store, p.input, epochNow());
  if (!hasImage) {
    if (!p.labels && !store.snapshots.some((s) => s.pred.length)) return null;
    const { sec } = section("probe input");
    const facts = h("div", "nnviz-inside-facts");
    sec.appendChild(facts);
    return { el: sec, draw: predictionFacts(facts) };
  }
  if (!p.input || !p.image_shape) return null;
  const [ih, iw, ic = 1] = p.image_shape;
  const { sec } = section("probe input");
  const row = h("div", "nnviz-inside-probe");
  const canvas = pxCanvas("nnviz-inside-probe-img");
  const s = fitScale(iw, ih, PROBE_CSS, PROBE_CSS);
  sizeCss(canvas, iw * s, ih * s);
  const facts = h("div", "nnviz-inside-facts");
  row.append(canvas, facts);
  sec.appendChild(row);
  const drawFacts = predictionFacts(facts);
  let img: Img | null = null;
  const draw = () => {
    const a = store.activation(p.input!, epochNow(), sampleNow());
    if (!a) return;
    const v = a.values;
    const n = ih * iw;
    img = img ?? makeImage(iw, ih);
    const at: Place = { img, x: 0, y: 0 };
    // channels first (C, H, W) after the recorder's canonical(); (H, W, C) when it stayed last
    const last = a.shape.length === 3 && a.shape[2] === ic && a.shape[0] === ih && ic > 1;
    if (ic === 3 && v.length >= 3 * n && !last) rgbImage(v, ih, iw, 0, at);
    else if (last) grayscaleImage(v, ih, iw, { ink: true, step: ic }, at);
    else grayscaleImage(v, ih, iw, { ink: true }, at);
    putImage(canvas, img);
    drawFacts();
  };
  return { el: sec, draw };
}

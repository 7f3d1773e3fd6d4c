// The inside panel's probe part: the probe input as an image (or, for other inputs, its label and prediction).
import { h } from "../../util/dom";
import { grayscaleImage, makeImage, putImage, rgbImage, type Img, type Place } from "../../color/images";
import type { ProbeInfo } from "../../data/types";
import { type InsideKit, PROBE_CSS, type Part, actAt, fitScale, predToken, probeToken, pxCanvas, sizeCss, targetAt, topAt, topSnapshot } from "./kit";

/** Most positions drawn in the token strip (the rest are counted in a note). */
export const MAX_STRIP_TOKENS = 128;

/** A token model's probe sample as a strip of tokens, each with the model's likeliest output at
 *  that position (its probability; the top 3 in the tooltip) at the shown epoch: a language
 *  model's next token, or a per-position task's output, marked against its target. */
function tokenPart(k: InsideKit, p: ProbeInfo): Part {
  const { store, epochNow, sampleNow, section, predictionFacts } = k;
  const perPosition = p.tokens?.task === "position";
  const { sec } = section("probe input");
  const facts = h("div", "nnviz-inside-facts");
  const strip = h("div", "nnviz-inside-tokens");
  strip.setAttribute("aria-label", perPosition ? "probe tokens and the model's output at each position" : "probe tokens and the predicted next token after each");
  strip.dataset.task = perPosition ? "position" : "next";
  const note = h("div", "nnviz-inside-note");
  sec.append(facts, strip, note);
  const drawFacts = predictionFacts(facts);
  return {
    el: sec,
    draw: () => {
      drawFacts();
      const s = sampleNow();
      const ids = p.tokens?.ids[s];
      const snap = topSnapshot(store, epochNow());
      strip.replaceChildren();
      if (!ids) {
        note.textContent = `tokens were kept for the first ${p.tokens?.ids.length ?? 0} probe samples only`;
        return;
      }
      const n = Math.min(ids.length, MAX_STRIP_TOKENS);
      for (let t = 0; t < n; t++) {
        const chip = h("div", "nnviz-inside-tok");
        chip.dataset.pos = String(t);
        chip.appendChild(h("span", "nnviz-inside-tok-in", probeToken(p, s, t) ?? ""));
        const top = snap ? topAt(snap, s, t) : [];
        const want = perPosition ? targetAt(p, s, t) : null;
        let title = `position ${t} (id ${ids[t]})`;
        if (top.length && snap) {
          const out = h("span", "nnviz-inside-tok-next", `→ ${predToken(snap, top[0].id)}`);
          if (want !== null) {
            out.classList.add(top[0].id === want ? "nnviz-inside-ok" : "nnviz-inside-bad");
            chip.dataset.correct = top[0].id === want ? "1" : "0";
          }
          chip.append(out, h("span", "nnviz-inside-tok-p", top[0].p.toFixed(2)));
          title += `; ${perPosition ? "output" : "next"}: ` + top.map((x) => `'${predToken(snap, x.id)}' ${x.p.toFixed(2)}`).join(", ");
        }
        if (want !== null) title += `; target '${snap ? predToken(snap, want) : `#${want}`}'`;
        chip.title = title;
        strip.appendChild(chip);
      }
      strip.dataset.tokens = String(n);
      const notes = [
        perPosition
          ? "each input token, and below it the model's output at that position (its probability; green: the target, red: not)"
          : "each token, and below it the token the model predicts next (its probability)",
      ];
      if (ids.length > n) notes.push(`first ${n} of ${ids.length} tokens`);
      note.textContent = notes.join(" — ");
    },
  };
}

export function probePart(k: InsideKit): Part | null {
  const { store, epochNow, probeInfo, sampleNow, section, predictionFacts } = k;
  const p = probeInfo();
  if (!p) return null;
  if (p.tokens) return tokenPart(k, p);
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

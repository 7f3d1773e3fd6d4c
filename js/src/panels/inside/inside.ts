// "Inside the network" (one part per file here: probe, boundary, fields, layer, health; kit.ts
// is what they share): the probe sample (image + label + prediction), the decision boundary of
// a 2-D-input model with each hidden neuron's field, the selected layer's images (feature maps,
// first-layer filters, a dense layer's incoming weights read as images, sequence heatmaps,
// attention layers' mean attention over heads) and a training-health strip. Built once per data / layer change; scrubbing the epoch or the sample
// only repaints the existing canvases (putImageData), no DOM rebuild.
// Layer names are untrusted: every string from the model goes through textContent.
import { h, injectStyle } from "../../util/dom";
import { insideCss } from "../../styles/inside";
import type { ProbeInfo } from "../../data/types";
import type { SubView, ViewContext } from "../../data/view";
import { boundaryPart } from "./boundary";
import { fieldsPart } from "./fields";
import { healthPart } from "./health";
import { createKit, type InsideKit, type Part } from "./kit";
import { layerPart } from "./layer";
import { probePart } from "./probe";

export function createInside(ctx: ViewContext, probe: () => ProbeInfo | null = () => null): SubView {
  injectStyle("nnviz-inside-style", insideCss);
  const store = ctx.store;
  const el = h("div", "nnviz-inside");
  el.setAttribute("aria-label", "inside the network");
  const kit = createKit(ctx, probe);
  const { st, epochNow, sampleNow } = kit;
  let parts: Part[] = [];
  let draws = 0;

  // -- build / draw ------------------------------------------------------------------------
  function rebuild() {
    el.replaceChildren();
    parts = [];
    kit.clearRanges();
    const names: string[] = [];
    const add = (name: string, make: (k: InsideKit) => Part | null) => {
      try {
        const p = make(kit);
        if (p) {
          p.el.dataset.part = name;
          el.appendChild(p.el);
          parts.push(p);
          names.push(name);
        }
      } catch (err) {
        console.error(`nnviz: the ${name} part failed`, err);
      }
    };
    if (store.snapshots.length) {
      const bnd = store.snapshots.some((s) => s.boundary);
      // a selected attention layer's map is what the user asked to see: it leads, so it is in
      // view when the panel opens (the probe's tokens, its rows and columns, come after it)
      const layer = st().layer;
      const mapFirst = !bnd && !!layer && !!store.attentionShape(layer);
      if (bnd) add("boundary", boundaryPart);
      else if (!mapFirst) add("probe", probePart);
      add("fields", fieldsPart);
      add("layer", layerPart);
      if (mapFirst) add("probe", probePart);
      add("health", healthPart);
    }
    el.dataset.parts = names.join(",");
    if (!names.length) el.appendChild(h("div", "nnviz-inside-note", "nothing recorded from the probe batch yet"));
  }

  function draw() {
    for (const p of parts) {
      try {
        p.draw();
      } catch (err) {
        console.error("nnviz: drawing inside the network failed", err);
      }
    }
    el.dataset.epoch = String(epochNow());
    el.dataset.sample = String(sampleNow());
    el.dataset.layer = st().layer;
    el.dataset.draws = String(++draws);
  }

  rebuild();
  draw();

  const offState = ctx.onState((changed) => {
    if (changed.has("layer")) {
      rebuild();
      draw();
    } else if (changed.has("epoch") || changed.has("sample")) {
      draw();
    }
  });
  const offData = store.on(() => {
    rebuild();
    draw();
  });
  // the scales' palette and the theme's colors have changed: the images and strips again
  const offTheme = ctx.onTheme(() => {
    rebuild();
    draw();
  });

  return {
    el,
    resize(w: number, hh?: number) {
      const tall = hh !== undefined && hh > 0 ? hh : kit.height;
      if (!(w > 0) || (Math.abs(w - kit.width) < 8 && Math.abs(tall - kit.height) < 8)) return;
      kit.width = w;
      kit.height = tall;
      rebuild();
      draw();
    },
    destroy() {
      offState();
      offData();
      offTheme();
      el.replaceChildren();
      parts = [];
    },
  };
}

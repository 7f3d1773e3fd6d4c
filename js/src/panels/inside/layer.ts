// The inside panel's selected (or default) layer: feature maps, filters, weight images, sequence heatmaps, attention.
import { h } from "../../util/dom";
import { modeRange, modeValues } from "../../color/modes";
import { divergingImage, gridImage, heatmapImage, makeImage, maxAbs, putImage, sequentialImage, type Img, type Place } from "../../color/images";
import type { LayerInfo } from "../../data/types";
import { ATTN_CELL_MAX, ATTN_MAX_H, type Draw, GRID_MAX_H, type InsideKit, MAX_TILES, type Part, actAt, fitGrid, probeToken, pxCanvas, sizeCss } from "./kit";

export function layerPart(k: InsideKit): Part | null {
  const { store, st, epochNow, probeInfo, sampleNow, avail, availH, actRange, section } = k;
  // the selected (or default) layer's images
  function firstConv(): LayerInfo | undefined {
    return store.graph.layers.find((l) => l.kind === "conv");
  }

  function imageDense(l: LayerInfo | undefined): boolean {
    const p = probeInfo();
    const img = p?.image_shape;
    if (!l || l.kind !== "dense" || !p?.input || !img || img.length < 2) return false;
    if (store.graph.neuron_source[l.name] !== p.input) return false;
    const shape = store.fullShape(l.name);
    const pixels = img.reduce((a, b) => a * b, 1);
    return !!shape && shape.length === 2 && shape[1] === pixels;
  }

  function defaultLayer(): LayerInfo | undefined {
    return store.graph.layers.find((l) => imageDense(l)) ?? firstConv();
  }

  /** A titled grid of tiles in one canvas; `fill(at, i)` paints tile i for the current state. */
  function gridBlock(box: HTMLElement, cls: string, title: string, n: number, th: number, tw: number,
    fill: (i: number, at: Place) => boolean, total = n): Draw {
    box.appendChild(h("div", "nnviz-inside-title", title));
    const { grid, scale } = fitGrid(n, th, tw, avail(), GRID_MAX_H);
    const canvas = pxCanvas(cls);
    sizeCss(canvas, grid.width * scale, grid.height * scale);
    box.appendChild(canvas);
    if (total > n) box.appendChild(h("div", "nnviz-inside-note", `first ${n} of ${total}`));
    let img: Img | null = null;
    return () => {
      let ok = true;
      img = gridImage(grid, (i, at) => {
        if (!fill(i, at)) ok = false;
      }, img ?? undefined);
      canvas.style.visibility = ok ? "" : "hidden";
      putImage(canvas, img);
    };
  }

  function part(): Part | null {
    const selected = st().layer;
    const l = selected ? store.layer(selected) : defaultLayer();
    if (!l) return null;
    const { sec } = section(selected ? "selected layer" : "inside a layer", h("span", undefined, selected ? "" : "select a layer for more"));
    const draws: Draw[] = [];
    const p = probeInfo();

    // filters of the first conv layer: (out, in, kh, kw), mean over the input channels
    const wshape = store.fullShape(l.name);
    if (l.kind === "conv" && firstConv()?.name === l.name && wshape && wshape.length === 4 && !store.sampleIndices(l.name)) {
      const [out, cin, kh, kw] = wshape;
      const n = Math.min(out, MAX_TILES);
      const per = kh * kw;
      const scratch = new Float32Array(per);
      draws.push(gridBlock(sec, "nnviz-inside-filters", `filters of ${l.name}${cin > 1 ? ` (mean of ${cin} input channels)` : ""}`, n, kh, kw, (i, at) => {
        const w = store.weight(l.name, epochNow());
        if (!w || w.length < out * cin * per) return false;
        scratch.fill(0);
        for (let c = 0; c < cin; c++) {
          const base = (i * cin + c) * per;
          for (let k = 0; k < per; k++) scratch[k] += w[base + k] / cin;
        }
        divergingImage(scratch, kh, kw, modeRange(store, l.name, { colorBy: "weight" }), {}, at);
        return true;
      }, out));
    }

    // a dense layer reading the image input: each neuron's incoming weights as an image, or
    // what training changed since init (the init noise taken away)
    if (imageDense(l) && p?.image_shape && wshape && !store.sampleIndices(l.name)) {
      const [ih, iw, ic = 1] = p.image_shape;
      const [out, fanIn] = wshape;
      const n = Math.min(out, MAX_TILES);
      const last = store.graph.data_format === "channels_last";
      const plane = ih * iw;
      const scratch = new Float32Array(plane);
      const toggle = h("div", "nnviz-inside-toggle");
      const buttons = (["weight", "delta"] as const).map((m) => {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = m === "weight" ? "weights" : "change since init";
        b.dataset.mode = m;
        toggle.appendChild(b);
        return b;
      });
      sec.appendChild(toggle);
      let cache: { epoch: number; mode: string; values: Float32Array | null; range: number } | null = null;
      const current = () => {
        const e = epochNow();
        if (!cache || cache.epoch !== e || cache.mode !== k.weightMode) {
          const values = k.weightMode === "delta" ? modeValues(store, l.name, e, { colorBy: "delta", deltaRef: "init" }) : store.weight(l.name, e);
          const range = k.weightMode === "delta" ? modeRange(store, l.name, { colorBy: "delta", deltaRef: "init" }) : modeRange(store, l.name, { colorBy: "weight" });
          cache = { epoch: e, mode: k.weightMode, values, range };
        }
        return cache;
      };
      const drawGrid = gridBlock(sec, "nnviz-inside-weights", "", n, ih, iw, (i, at) => {
        const { values: w, range } = current();
        if (!w || w.length < out * fanIn) return false;
        if (ic === 1) {
          divergingImage(w, ih, iw, range, { offset: i * fanIn }, at);
          return true;
        }
        for (let k = 0; k < plane; k++) {
          let sum = 0;
          for (let c = 0; c < ic; c++) sum += w[i * fanIn + (last ? k * ic + c : c * plane + k)];
          scratch[k] = sum / ic;
        }
        divergingImage(scratch, ih, iw, range, {}, at);
        return true;
      }, out);
      const title = toggle.nextElementSibling as HTMLElement;
      const note = h("div", "nnviz-inside-note");
      sec.appendChild(note);
      const drawAll = () => {
        for (const b of buttons) b.classList.toggle("nnviz-inside-on", b.dataset.mode === k.weightMode);
        title.textContent = k.weightMode === "delta"
          ? `what ${l.name}'s incoming weights learned since init, one image per neuron`
          : `incoming weights of ${l.name}, one image per neuron`;
        note.textContent = k.weightMode === "delta"
          ? "weights now minus weights at init; red: grew, blue: shrank"
          : "red: input there excites the neuron; blue: inhibits it";
        drawGrid();
      };
      for (const b of buttons) {
        b.addEventListener("click", () => {
          k.weightMode = b.dataset.mode === "delta" ? "delta" : "weight";
          drawAll();
        });
      }
      draws.push(drawAll);
    }

    // feature maps (C, H, W) for the current sample; a conv followed by its own activation
    // layer (torch's Conv2d -> ReLU) shows the maps after it, as Keras' Conv2D(activation=) does
    const latestEpoch = store.latest()?.epoch ?? epochNow();
    const next = store.graph.edges.filter(([x]) => x === l.name).map(([, y]) => store.layer(y));
    const after = l.kind === "conv" && next.length === 1 && next[0]?.kind === "activation" && actAt(store, next[0].name, latestEpoch)
      ? next[0] : null;
    const mapsOf = after ?? l;
    const a0 = actAt(store, mapsOf.name, latestEpoch);
    if (a0 && (a0.info.mode === "full" || a0.info.mode === "maps") && a0.info.shape.length === 3 && l.kind !== "input") {
      const [cch, mh, mw] = a0.info.shape;
      const n = Math.min(cch, MAX_TILES);
      const block = h("div");
      const draw = gridBlock(block, "nnviz-inside-maps", "", n, mh, mw, (i, at) => {
        const a = actAt(store, mapsOf.name, epochNow());
        const s = sampleNow();
        if (!a || s >= a.info.samples) return false;
        const r = actRange(mapsOf.name);
        const offset = s * cch * mh * mw + i * mh * mw;
        if (r.lo >= 0) sequentialImage(a.act, mh, mw, r.abs, { offset }, at);
        else divergingImage(a.act, mh, mw, r.abs, { offset }, at);
        return true;
      }, cch);
      const titleNode = block.firstChild as HTMLElement;
      const note = h("div", "nnviz-inside-note");
      block.appendChild(note);
      sec.appendChild(block);
      draws.push(() => {
        const s = sampleNow();
        titleNode.textContent = `feature maps of ${l.name}${after ? ` (after ${after.name})` : ""} for sample ${s}`;
        const a = actAt(store, mapsOf.name, epochNow());
        note.textContent = a && s >= a.info.samples ? `feature maps were kept for the first ${a.info.samples} probe samples only` : "";
        note.style.display = note.textContent ? "" : "none";
        draw();
      });
    }

    // attention layers: the current sample's attention averaged over heads (queries x keys),
    // first: where each position looks is what the layer is for; its output heatmap follows
    const attnShape = l.kind === "attention" ? store.attentionShape(l.name) : null;
    if (attnShape) draws.push(attentionBlock(sec, l.name, attnShape[1], attnShape[2]));
    const headsShape = l.kind === "attention" ? headsShapeOf(l.name) : null;
    if (headsShape) draws.push(headsBlock(sec, l.name, headsShape));

    const a1 = actAt(store, l.name, latestEpoch);
    // sequences: (tokens, features) as a heatmap
    if (a1 && a1.info.mode === "full" && a1.info.shape.length === 2 && l.kind !== "input") {
      const [tok, feat] = a1.info.shape;
      const titleNode = h("div", "nnviz-inside-title");
      const canvas = pxCanvas("nnviz-inside-heatmap");
      // a language model's layer: its rows are the probe's tokens, labelled with them
      const labelled = !!p?.tokens && (p.tokens.ids[0]?.length ?? -1) === tok;
      const rows = labelled ? h("div", "nnviz-inside-rows") : null;
      const width = labelled ? avail() - 74 : avail();
      const sW = width / feat;
      const sH = labelled ? Math.min(14, Math.max(2, 320 / tok)) : Math.min(Math.max(sW, 160 / tok), 12, 200 / tok);
      const height = Math.max(tok * sH, 8);
      sizeCss(canvas, width, height);
      if (rows) {
        rows.style.height = `${Math.round(height)}px`;
        const every = Math.max(1, Math.ceil(11 / sH)); // a label fits in ~11 px
        for (let t = 0; t < tok; t++) {
          const span = h("span");
          span.style.height = `${sH}px`;
          span.style.lineHeight = `${sH}px`;
          rows.appendChild(span);
          if (t % every) span.style.visibility = "hidden";
        }
        const box = h("div", "nnviz-inside-seq");
        box.append(rows, canvas);
        sec.append(titleNode, box);
      } else sec.append(titleNode, canvas);
      sec.append(h("div", "nnviz-inside-note", `rows: ${tok} tokens · columns: ${feat} features`));
      let img: Img | null = null;
      draws.push(() => {
        const s = sampleNow();
        titleNode.textContent = `output of ${l.name} for sample ${s} (tokens × features)`;
        if (rows && p) {
          rows.dataset.sample = String(s);
          rows.childNodes.forEach((c, t) => {
            c.textContent = probeToken(p, s, t) ?? String(t);
          });
        }
        const a = actAt(store, l.name, epochNow());
        if (!a || s >= a.info.samples) return;
        const r = actRange(l.name);
        img = img ?? makeImage(feat, tok);
        heatmapImage(a.act, tok, feat, { scale: r.lo >= 0 ? "sequential" : "diverging", range: r.abs, offset: s * tok * feat }, { img, x: 0, y: 0 });
        putImage(canvas, img);
      });
    }

    if (!draws.length) return null;
    return { el: sec, draw: () => draws.forEach((d) => d()) };
  }

  function headsShapeOf(name: string): [number, number, number, number] | null {
    for (const snap of store.snapshots) {
      const sh = snap.acts.get(name)?.headsShape;
      if (sh) return sh;
    }
    return null;
  }

  /** Each head's queries x keys map for the current sample, small multiples on one scale. */
  function headsBlock(sec: HTMLElement, name: string, shape: [number, number, number, number]): Draw {
    const [, nh, tq, tk] = shape;
    const n = Math.min(nh, MAX_TILES);
    const box = h("div");
    const draw = gridBlock(box, "nnviz-inside-heads", "", n, tq, tk, (i, at) => {
      const e = epochNow();
      const s = sampleNow();
      for (let j = store.indexAt(e); j >= 0; j--) {
        const a = store.snapshots[j].acts.get(name);
        if (!a?.heads || !a.headsShape) continue;
        const [ns, hh, q, kk] = a.headsShape;
        if (s >= ns || i >= hh) return false;
        heatmapImage(a.heads, q, kk, { scale: "sequential", range: 1, offset: ((s * hh) + i) * q * kk }, at);
        return true;
      }
      return false;
    }, nh);
    const titleNode = box.firstChild as HTMLElement;
    box.appendChild(h("div", "nnviz-inside-note", `one map per head, left to right: heads 0–${nh - 1} · rows: queries · columns: keys · scale 0–1`));
    sec.appendChild(box);
    return () => {
      titleNode.textContent = `attention per head of ${name} for sample ${sampleNow()}`;
      draw();
    };
  }

  /** A queries x keys heatmap of a layer's mean attention over heads for the current sample at
   *  the current epoch, on a fixed 0..max scale across epochs (so scrubbing compares). */
  function attentionBlock(sec: HTMLElement, name: string, tq: number, tk: number): Draw {
    const titleNode = h("div", "nnviz-inside-title");
    // the title above and the note below stay in view: the map gives up height for them
    const cell = Math.max(1, Math.min(ATTN_CELL_MAX, (avail() - 30) / tk, ATTN_MAX_H / tq, availH(140) / tq));
    const w = tk * cell;
    const hh = tq * cell;
    const plot = h("div", "nnviz-inside-plot");
    const yaxis = h("div", "nnviz-inside-yaxis");
    yaxis.append(h("span", undefined, "0"), h("span", undefined, "query"), h("span", undefined, String(tq - 1)));
    yaxis.style.height = `${Math.round(hh) + 2}px`;
    const box = h("div", "nnviz-inside-box");
    box.style.width = `${Math.round(w) + 2}px`;
    box.style.height = `${Math.round(hh) + 2}px`;
    const canvas = pxCanvas("nnviz-inside-attention");
    sizeCss(canvas, w, hh);
    canvas.dataset.queries = String(tq);
    canvas.dataset.keys = String(tk);
    box.appendChild(canvas);
    const xaxis = h("div", "nnviz-inside-xaxis");
    xaxis.append(h("span", undefined, "0"), h("span", undefined, "key"), h("span", undefined, String(tk - 1)));
    plot.append(yaxis, box, xaxis);
    const note = h("div", "nnviz-inside-note");
    sec.append(titleNode, plot, note);
    let max = 0;
    for (const snap of store.snapshots) {
      const a = snap.acts.get(name)?.attn;
      if (a) max = Math.max(max, maxAbs(a));
    }
    const range = max > 0 ? max : 1;
    let img: Img | null = null;
    let shown: Float32Array | null = null;
    canvas.addEventListener("mousemove", (e) => {
      const r = canvas.getBoundingClientRect();
      const j = Math.floor(((e.clientX - r.left) / Math.max(1, r.width)) * tk);
      const i = Math.floor(((e.clientY - r.top) / Math.max(1, r.height)) * tq);
      const v = shown && i >= 0 && i < tq && j >= 0 && j < tk ? shown[i * tk + j] : undefined;
      const p = probeInfo();
      const tokOf = (t: number) => (p && p.tokens ? ` '${probeToken(p, sampleNow(), t) ?? ""}'` : "");
      canvas.title = v === undefined ? "" : `query ${i}${tokOf(i)} → key ${j}${tokOf(j)}: ${v.toFixed(3)}`;
    });
    return () => {
      const s = sampleNow();
      const e = epochNow();
      titleNode.textContent = `mean attention over heads of ${name} for sample ${s}`;
      const a = store.attention(name, e, s);
      shown = a ? a.values : null;
      canvas.dataset.sample = String(s);
      canvas.dataset.epoch = a ? String(a.epoch) : "";
      canvas.style.visibility = a ? "" : "hidden";
      const kept = store.at(e)?.acts.get(name)?.attnShape?.[0] ?? store.attentionShape(name)?.[0] ?? 0;
      const notes = [`${tq} queries × ${tk} keys · each row sums to 1 · darker = more attention, 0–${range.toFixed(2)}`];
      if (!a && s >= kept) notes.push(`attention maps were kept for the first ${kept} probe samples only`);
      else if (!a) notes.push("no attention map recorded at this epoch");
      else if (store.at(e) && a.epoch !== store.at(e)!.epoch) notes.push(`shown from epoch ${a.epoch} (this epoch was thinned)`);
      note.textContent = notes.join(" — ");
      if (!a) return;
      img = img ?? makeImage(tk, tq);
      heatmapImage(a.values, tq, tk, { scale: "sequential", range }, { img, x: 0, y: 0 });
      putImage(canvas, img);
    };
  }
  return part();
}

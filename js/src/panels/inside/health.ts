// The inside panel's training-health strip.
import { h } from "../../util/dom";
import { HEALTH_COLORS, hasHealth, healthBadges, healthLine, healthState, mergedHealth, type HealthState } from "../../data/health";
import type { Snapshot } from "../../data/types";
import { HEALTH_ROW, type InsideKit, type Part, sizeCss } from "./kit";

export function healthPart(k: InsideKit): Part | null {
  const { store, ctx, st, epochNow, avail, section } = k;
  // training health
  const mergedHealthAt = (snap: Snapshot, name: string) => mergedHealth(store.graph, snap.health, name);

  function part(): Part | null {
    const snaps = store.snapshots;
    if (!snaps.length) return null;
    const selected = st().layer;
    const names = selected
      ? [selected]
      : store.graph.layers.map((l) => l.name).filter((n) => snaps.some((s) => hasHealth(s.health[n])));
    const rows = names
      .map((name) => ({ name, cells: snaps.map((s) => (selected ? mergedHealthAt(s, name) : s.health[name] ?? null)) }))
      .filter((r) => r.cells.some((c) => hasHealth(c)));
    if (!rows.length) return null;
    const { sec } = section("training health", h("span", undefined, `${snaps.length} epochs`));
    const grid = h("div", "nnviz-inside-health");
    const n = snaps.length;
    const stripW = Math.max(40, avail() - (selected ? 0 : 90));
    // whole pixels per epoch when they fit, else fractional: the strip never overflows
    const cellW = stripW / n >= 2 ? Math.min(16, Math.floor(stripW / n)) : stripW / n;
    const strips: { canvas: HTMLCanvasElement; states: HealthState[] }[] = [];
    for (const r of rows) {
      if (!selected) grid.appendChild(h("span", "nnviz-inside-hname", r.name)).setAttribute("title", r.name);
      const canvas = document.createElement("canvas");
      canvas.className = "nnviz-inside-hstrip";
      sizeCss(canvas, Math.max(1, Math.round(cellW * n)), HEALTH_ROW);
      canvas.title = `${r.name}: click an epoch to go there`;
      grid.appendChild(canvas);
      strips.push({ canvas, states: r.cells.map((c) => healthState(c)) });
    }
    if (selected) grid.style.gridTemplateColumns = "auto";
    sec.appendChild(grid);
    // keys for the states that occur (plus ok)
    const seen = new Set<HealthState>(["ok"]);
    for (const s of strips) for (const x of s.states) if (x !== "none") seen.add(x);
    const keys = h("div", "nnviz-inside-keys");
    for (const stt of ["ok", "dead", "saturated", "vanishing", "exploding", "nan"] as HealthState[]) {
      if (!seen.has(stt)) continue;
      const k = h("span", "nnviz-inside-key");
      const sw = h("span", "nnviz-inside-swatch");
      sw.style.background = HEALTH_COLORS[stt];
      k.append(sw, document.createTextNode(stt === "nan" ? "NaN" : stt));
      keys.appendChild(k);
    }
    sec.appendChild(keys);
    const line = h("div", "nnviz-inside-hline");
    sec.appendChild(line);

    const onClick = (e: MouseEvent) => {
      const c = e.currentTarget as HTMLCanvasElement;
      const rect = c.getBoundingClientRect();
      const i = Math.floor(((e.clientX - rect.left) / Math.max(1, rect.width)) * n);
      if (i >= 0 && i < n) ctx.setEpoch(snaps[i].epoch);
    };
    for (const s of strips) s.canvas.addEventListener("click", onClick);

    const draw = () => {
      const cur = store.indexAt(epochNow());
      const dpr = Math.max(1, Math.min(3, globalThis.devicePixelRatio || 1));
      for (const s of strips) {
        const W = Math.round(Math.max(1, Math.round(cellW * n)) * dpr);
        const H = Math.round(HEALTH_ROW * dpr);
        if (s.canvas.width !== W) s.canvas.width = W;
        if (s.canvas.height !== H) s.canvas.height = H;
        const g = s.canvas.getContext("2d");
        if (!g) continue;
        g.setTransform(dpr, 0, 0, dpr, 0, 0);
        g.clearRect(0, 0, cellW * n, HEALTH_ROW);
        const gap = cellW >= 5 ? 1 : 0;
        const th = ctx.theme();
        for (let i = 0; i < n; i++) {
          // "nothing recorded" is a quiet cell of the theme; the states keep their colors
          g.fillStyle = s.states[i] === "none" ? (th.dark ? th.line : HEALTH_COLORS.none) : HEALTH_COLORS[s.states[i]];
          g.fillRect(i * cellW, 1, cellW - gap, HEALTH_ROW - 2);
        }
        if (cur >= 0) {
          // the current epoch: a dark ring with a white inner ring (visible on every state color)
          const x = cur * cellW;
          const w = Math.max(2, cellW - gap);
          g.strokeStyle = th.dark ? "#f3f4f6" : "#111827";
          g.lineWidth = 1.5;
          g.strokeRect(x + 0.75, 0.75, Math.max(0.5, w - 1.5), HEALTH_ROW - 1.5);
          if (w >= 6) {
            g.strokeStyle = th.dark ? "#111827" : "#ffffff";
            g.lineWidth = 1;
            g.strokeRect(x + 2, 2, w - 4, HEALTH_ROW - 4);
          }
        }
      }
      const snap = cur >= 0 ? snaps[cur] : null;
      if (!snap) return;
      if (selected) {
        const hh = mergedHealthAt(snap, selected);
        const b = healthBadges(hh);
        const txt = healthLine(hh);
        line.textContent = `${snap.label}: ${txt || "nothing recorded"}${b.length ? ` — ${b.join(", ")}` : ""}`;
        line.classList.toggle("nnviz-inside-warn", b.length > 0);
      } else {
        const flagged = rows
          .map((r) => [r.name, healthBadges(snap.health[r.name])] as const)
          .filter(([, b]) => b.length);
        line.textContent = flagged.length
          ? `${snap.label}: ${flagged.map(([nm, b]) => `${nm} ${b.join("/")}`).join(" · ")}`
          : `${snap.label}: no warnings`;
        line.classList.toggle("nnviz-inside-warn", flagged.length > 0);
      }
    };
    return { el: sec, draw };
  }
  return part();
}
